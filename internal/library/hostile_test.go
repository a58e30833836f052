package library

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenAFolder: a --db that is a folder is refused naming it, with a
// file path to give instead, and nothing is created inside it.
func TestOpenAFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), dir+": a folder") || !strings.Contains(err.Error(), filepath.Join(dir, "library.db")) {
		t.Fatalf("Open(folder): %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Open left %d files in the folder", len(entries))
	}
}

// immutable makes path unwritable even for root (chattr +i), or skips.
func immutable(t *testing.T, path string) {
	t.Helper()
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		f.Close()
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("cannot make %s read-only for this user: %v %s", path, err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	}
}

// TestReadOnlyLibrary: a library file that cannot be written still
// answers reads; a write fails with ErrReadOnly, saying so, and the
// library is left as it was.
func TestReadOnlyLibrary(t *testing.T) {
	dir := t.TempDir()
	loc := filepath.Join(dir, "lib.db")
	photos := t.TempDir()
	writePhotos(t, photos, manyPhotos(4))
	s := openTest(t, loc)
	index(t, s, &fakeDescriber{}, photos)
	if _, err := s.Group(context.Background(), GroupOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	before := dump(t, openTest(t, loc))
	immutable(t, loc)

	s = openTest(t, loc)
	ps, err := s.People(context.Background())
	if err != nil || len(ps) == 0 {
		t.Fatalf("reading a read-only library: %d people, %v", len(ps), err)
	}
	writePhotos(t, photos, map[string]string{"new.jpg": "face 7 1\n"})
	ix := &Indexer{Store: s, Describer: &fakeDescriber{}, Pipeline: "test-1"}
	_, err = ix.Index(context.Background(), []string{photos})
	if err = Explain(err); !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "cannot be written") {
		t.Fatalf("indexing into a read-only library: %v", err)
	}
	if err := Explain(s.Name(context.Background(), ps[0].ID, "Ann")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("naming in a read-only library: %v", err)
	}
	if after := dump(t, s); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("the read-only library changed:\n%v\n%v", after, before)
	}
}
