package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
)

// TestModelsCommand checks the command's wiring and its messages; fetching
// itself is tested in internal/faces with a fake npm.
func TestModelsCommand(t *testing.T) {
	failingNPM := t.TempDir()
	script := "#!/bin/sh\necho 'npm ERR! code ECONNREFUSED' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(failingNPM, "npm"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		path string // PATH for the run; "" keeps none at all
		code int
		want string
	}{
		{"no subcommand", []string{"models"}, "", exitUsage, "missing sub-command: fetch, path"},
		{"unknown subcommand", []string{"models", "list"}, "", exitUsage, `unknown sub-command "list" (want fetch, path)`},
		{"mistyped subcommand", []string{"models", "fecth"}, "", exitUsage, "did you mean fetch?"},
		{"stray argument", []string{"models", "fetch", "x"}, "", exitUsage, "takes no arguments"},
		{"npm missing", []string{"models", "fetch", "--dir", "DIR"}, "", exitInput, "apt-get install npm"},
		{"npm fails", []string{"models", "fetch", "--dir", "DIR"}, failingNPM, exitInput, "ECONNREFUSED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("PATH", c.path)
			args := append([]string(nil), c.args...)
			for i, a := range args {
				if a == "DIR" {
					args[i] = dir
				}
			}
			var out, errb bytes.Buffer
			if code := run(args, &out, &errb); code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, errb.String())
			}
			if !strings.Contains(errb.String(), c.want) {
				t.Errorf("stderr %q lacks %q", errb.String(), c.want)
			}
		})
	}
}

func TestModelsPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(faces.EnvModels, dir)
	code, _, errOut := runCLI("models", "path")
	if code != exitInput || !strings.Contains(errOut, "starid models fetch") {
		t.Errorf("incomplete folder: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI("models", "path", "extra"); code != exitUsage {
		t.Errorf("extra argument: exit %d", code)
	}
}

func TestModelsDirHint(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(faces.EnvModels, dir)
	if h := faces.DirHint(dir + string(filepath.Separator)); h != "" {
		t.Errorf("the folder the commands use: hint %q", h)
	}
	other := filepath.Join(dir, "other")
	if h := faces.DirHint(other); !strings.Contains(h, faces.EnvModels+"="+other) {
		t.Errorf("another folder: hint %q does not say how to use it", h)
	}
}
