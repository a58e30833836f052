package data

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestListPhotosGoesPastALockedFolder: a subfolder that cannot be read
// is listed as itself (so that reading it fails naming it) and the other
// photos of the folder are listed; only the folder given failing stops
// the listing. Before, one locked subfolder stopped predict on the whole
// folder. (Root reads any folder, so the walk's error is fed to its
// function directly.)
func TestListPhotosGoesPastALockedFolder(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.jpg", "notes.txt", "sub/b.png"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var files []string
	walk := photoEntry(dir, &files)
	if err := filepath.WalkDir(dir, walk); err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "locked")
	if err := walk(locked, nil, fs.ErrPermission); err != nil {
		t.Errorf("a locked subfolder stopped the walk: %v", err)
	}
	want := []string{filepath.Join(dir, "a.jpg"), filepath.Join(dir, "sub", "b.png"), locked}
	if !slices.Equal(files, want) {
		t.Errorf("listed %q, want %q", files, want)
	}
	if err := walk(dir, nil, fs.ErrPermission); err == nil {
		t.Error("the folder given failing did not stop the walk")
	}
}
