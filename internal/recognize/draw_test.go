package recognize

import (
	"bytes"
	"image"
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
