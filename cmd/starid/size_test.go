package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 12's size rules, checked so a change cannot quietly break them: no
// non-test function of the module over 100 lines, and cmd/starid (flags
// and wiring only; logic lives in internal packages) at most 1,500 lines of
// non-test code.
const (
	maxFuncLines = 100
	maxCmdLines  = 1500
)

func TestSizeLimits(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	cmdLines := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if filepath.Dir(rel) == filepath.Join("cmd", "starid") {
			cmdLines += strings.Count(string(src), "\n")
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s is %d lines, more than %d", rel, fn.Name.Name, n, maxFuncLines)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cmdLines > maxCmdLines {
		t.Errorf("cmd/starid has %d lines of non-test code, more than %d: move logic into internal packages", cmdLines, maxCmdLines)
	}
	if cmdLines == 0 {
		t.Error("found no code in cmd/starid: the walk is looking in the wrong place")
	}
}
