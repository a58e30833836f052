package recognize

import (
	"bytes"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/report"
)

// TestNameDrawer is `predict --out`: every photo that was read is drawn
// as NAME.png, a second photo with the same file name gets NAME-2.png
// rather than overwriting the first, failed photos are skipped, and each
// still reaches the wrapped callback.
func TestNameDrawer(t *testing.T) {
	dir := t.TempDir()
	var photos []string
	for _, sub := range []string{"a", "b"} {
		p := filepath.Join(dir, sub, "group.png")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := report.WritePNG(image.NewRGBA(image.Rect(0, 0, 40, 30)), p); err != nil {
			t.Fatal(err)
		}
		photos = append(photos, p)
	}
	out := filepath.Join(dir, "drawn")
	d := &NameDrawer{Dir: out}
	seen := 0
	each := d.Wrap(func(Prediction) { seen++ })
	each(Prediction{Image: photos[0], Faces: []Answer{{Box: [4]int{2, 2, 10, 10}, Name: "Tom Hanks", Confidence: 0.9}}})
	each(Prediction{Image: photos[1], Faces: []Answer{{Box: [4]int{5, 5, 8, 8}, Name: "unknown", Unknown: true}}})
	each(Prediction{Image: filepath.Join(dir, "broken.jpg"), Error: "unreadable"})
	var msg bytes.Buffer
	if err := d.Finish(&msg); err != nil {
		t.Fatal(err)
	}
	if seen != 3 || !strings.Contains(msg.String(), out) {
		t.Errorf("callback saw %d predictions; message %q", seen, msg.String())
	}
	for _, name := range []string{"group.png", "group-2.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	if entries, _ := os.ReadDir(out); len(entries) != 2 {
		t.Errorf("%d pictures drawn, want 2", len(entries))
	}
	// A photo that vanished before drawing is the drawer's error.
	d = &NameDrawer{Dir: out}
	d.Wrap(nil)(Prediction{Image: filepath.Join(dir, "gone.png")})
	if err := d.Finish(&msg); err == nil || !strings.Contains(err.Error(), "gone.png") {
		t.Errorf("missing photo: %v", err)
	}
}

// TestNameDrawerKeepsFiles: `predict --out photos photos` once drew
// x.jpg's names over the user's x.png. A name already on disk is never
// written over, and an --out that is a file is refused before any work.
func TestNameDrawerKeepsFiles(t *testing.T) {
	dir := t.TempDir()
	photo := filepath.Join(dir, "x.jpg")
	keep := filepath.Join(dir, "x.png")
	for _, p := range []string{photo, keep} {
		if err := report.WritePNG(image.NewRGBA(image.Rect(0, 0, 20, 20)), p); err != nil {
			t.Fatal(err)
		}
	}
	before, err := os.ReadFile(keep)
	if err != nil {
		t.Fatal(err)
	}
	d := &NameDrawer{Dir: dir}
	d.Wrap(nil)(Prediction{Image: photo, Faces: []Answer{{Box: [4]int{2, 2, 10, 10}, Name: "Ann"}}})
	if err := d.Finish(io.Discard); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(keep); !bytes.Equal(before, after) {
		t.Error("the drawing replaced x.png, a photo already in the folder")
	}
	if _, err := os.Stat(filepath.Join(dir, "x-2.png")); err != nil {
		t.Errorf("the drawing is not x-2.png: %v", err)
	}
	if err := (&NameDrawer{Dir: keep}).CheckDir(); err == nil || !strings.Contains(err.Error(), "x.png is a file") {
		t.Errorf("--out a file: %v", err)
	}
	for _, ok := range []string{"", dir, filepath.Join(dir, "new")} {
		if err := (&NameDrawer{Dir: ok}).CheckDir(); err != nil {
			t.Errorf("CheckDir(%q): %v", ok, err)
		}
	}
}
