package bench

import (
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/testkit"
)

// oneFaceEvery finds a face in photos wider than they are tall, and counts
// its calls.
type oneFaceEvery struct{ calls int }

func (f *oneFaceEvery) Faces(img *faces.Image) ([]faces.Face, error) {
	f.calls++
	if img.W > img.H {
		return []faces.Face{{}}, nil
	}
	return nil, nil
}

func writePhoto(t *testing.T, path string, w, h int) {
	t.Helper()
	testkit.WritePNG(t, path, image.NewRGBA(image.Rect(0, 0, w, h)))
}

func TestFacesTimesEachPhotoAndReportsProgress(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for i, size := range [][2]int{{20, 10}, {10, 20}, {30, 10}} {
		p := filepath.Join(dir, string(rune('a'+i))+".png")
		writePhoto(t, p, size[0], size[1])
		files = append(files, p)
	}
	finder := &oneFaceEvery{}
	var done []int
	res, err := Faces(files, finder, FacesOptions{Steps: 2, Warmup: 1, Progress: func(d, total int) {
		if total != len(files) {
			t.Errorf("progress total %d, want %d", total, len(files))
		}
		done = append(done, d)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if finder.calls != 9 || res.Photos != 3 || res.Faces != 2 || res.NoFace != 1 || len(res.PerPhoto) != 3 {
		t.Errorf("calls %d, result %+v", finder.calls, res)
	}
	if res.PerPhoto[1].Width != 10 || res.PerPhoto[1].Height != 20 || res.MinMS > res.MedianMS || res.MedianMS > res.MaxMS {
		t.Errorf("per photo %+v, min %v median %v max %v", res.PerPhoto, res.MinMS, res.MedianMS, res.MaxMS)
	}
	if len(done) != 3 || done[0] != 1 || done[2] != 3 {
		t.Errorf("progress %v, want 1, 2, 3", done)
	}
	// A broken photo stops the run with its name.
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Faces([]string{files[0], bad}, finder, FacesOptions{Steps: 1}); err == nil || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("broken photo: %v", err)
	}
}
