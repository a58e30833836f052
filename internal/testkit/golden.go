package testkit

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// Golden compares got with the file at path, or, when update is set,
// writes got there (making the folder) for a person to read in the diff.
// rerun is the command that rewrites the file, named when it is missing.
func Golden(t testing.TB, path, got string, update bool, rerun string) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run %s to create it)", err, rerun)
	}
	if got != string(want) {
		t.Errorf("%s: the output changed\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// RoundFloats rounds every number in s written with more than decimals
// digits after the point to decimals digits, so that a golden file does
// not change when a refactor reorders a sum within float32 noise.
func RoundFloats(s string, decimals int) string {
	long := regexp.MustCompile(fmt.Sprintf(`-?\d+\.\d{%d,}(e-?\d+)?`, decimals+1))
	return long.ReplaceAllStringFunc(s, func(f string) string {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return f
		}
		return strconv.FormatFloat(v, 'f', decimals, 64)
	})
}
