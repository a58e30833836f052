package main

import (
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPackageOrder keeps the README's package table honest: every package
// of the module is listed, and each imports only packages listed above it,
// so the table can be read top-down without meeting a name not yet met.
func TestPackageOrder(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `((?:internal|cmd)/[a-z/]+)` \\|")
	rank := map[string]int{}
	var order []string
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		rank["starid/"+m[1]] = len(order)
		order = append(order, "starid/"+m[1])
	}
	if len(order) == 0 {
		t.Fatal("README.md has no package table")
	}
	root := filepath.Join("..", "..")
	for _, top := range []string{"internal", "cmd"} {
		entries, err := os.ReadDir(filepath.Join(root, top))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			path := "starid/" + top + "/" + e.Name()
			pkg, err := build.ImportDir(filepath.Join(root, top, e.Name()), 0)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			r, ok := rank[path]
			if !ok {
				t.Errorf("%s is missing from the README's package table", path)
				continue
			}
			for _, imp := range pkg.Imports {
				if !strings.HasPrefix(imp, "starid/") {
					continue
				}
				if ir, ok := rank[imp]; ok && ir >= r {
					t.Errorf("%s imports %s, which the README's table lists below it", path, imp)
				}
			}
		}
	}
}
