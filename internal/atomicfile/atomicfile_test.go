package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteReplacesWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("half of the new"))
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v should wrap the cause and name %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("failed write changed the file to %q", b)
	}
	if err := WriteBytes(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Fatalf("got %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", st.Mode().Perm())
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "f"), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("write into a missing folder: %v", err)
	}
}

// A failure inside the write names the file the caller gave, not the
// temporary one, and kill -9 leftovers are cleaned.
func TestErrorsNameTheRealFileAndStaleTempsGo(t *testing.T) {
	dir := t.TempDir()
	if got := hideTemp(&os.PathError{Op: "sync", Path: "/x/.f.tmp-9", Err: errors.New("no space left on device")}, "/x/.f.tmp-9"); strings.Contains(got.Error(), "tmp") {
		t.Errorf("hideTemp kept the temporary name: %v", got)
	}
	if got := hideTemp(&os.LinkError{Op: "rename", Old: "/x/.f.tmp-9", New: "/x/f", Err: errors.New("cross-device")}, "/x/.f.tmp-9"); strings.Contains(got.Error(), "tmp") {
		t.Errorf("hideTemp kept the temporary name: %v", got)
	}

	stale := filepath.Join(dir, ".best.safetensors.tmp-4242")
	if err := os.WriteFile(stale, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	keep := filepath.Join(dir, ".hidden")
	os.WriteFile(keep, nil, 0o600)
	if got := CleanStale(dir, time.Hour); len(got) != 0 {
		t.Errorf("removed a fresh temporary file: %v", got)
	}
	if got := CleanStale(dir, 0); len(got) != 1 || got[0] != filepath.Base(stale) {
		t.Errorf("CleanStale removed %v, want the one temporary file", got)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("CleanStale removed a file that is not Write's: %v", err)
	}
}
