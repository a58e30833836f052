package serve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestKeepFileNeverOverwrites: the same photo is kept once; a file of
// other content, a folder or a link under the photo's name is left as it
// is and the photo takes the next name.
func TestKeepFileNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	photo := []byte("photo bytes")
	h := sha(photo)
	p, err := keepFile(dir, h, ".jpg", photo, h)
	if err != nil || p != filepath.Join(dir, h+".jpg") {
		t.Fatalf("first keep: %q, %v", p, err)
	}
	if again, err := keepFile(dir, h, ".jpg", photo, h); err != nil || again != p {
		t.Fatalf("the same photo again: %q, %v", again, err)
	}
	other := []byte("someone else's file")
	mine := []byte("another photo")
	hm := sha(mine)
	os.WriteFile(filepath.Join(dir, hm+".png"), other, 0o644)
	os.Mkdir(filepath.Join(dir, hm+"-1.png"), 0o755)
	os.Symlink(p, filepath.Join(dir, hm+"-2.png"))
	got, err := keepFile(dir, hm, ".png", mine, hm)
	if err != nil || got != filepath.Join(dir, hm+"-3.png") {
		t.Fatalf("keep beside taken names: %q, %v", got, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, hm+".png")); !bytes.Equal(b, other) {
		t.Errorf("the file under the photo's name was written over: %q", b)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, mine) {
		t.Errorf("kept %q", b)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, photo) {
		t.Errorf("the link's target changed: %q", b)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".upload.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// A temporary file a killed server left an hour ago goes at the
	// first upload into its folder; a recent one (a live upload's) stays.
	sub := filepath.Join(dir, "ab")
	os.Mkdir(sub, 0o755)
	stale, live := filepath.Join(sub, ".upload.tmp-1"), filepath.Join(sub, ".upload.tmp-2")
	os.WriteFile(stale, photo, 0o644)
	os.WriteFile(live, photo, 0o644)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	if _, err := keepFile(sub, h, ".jpg", photo, h); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale temporary file was kept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live upload's temporary file was removed: %v", err)
	}
	// A file where the folder should be: an error naming it.
	blocked := filepath.Join(dir, "blocked")
	os.WriteFile(blocked, nil, 0o644)
	if _, err := keepFile(filepath.Join(blocked, "ab"), h, ".jpg", photo, h); err == nil {
		t.Error("keeping under a file: no error")
	}
}
