package bench

import (
	"encoding/json"
	"errors"
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
}

// failsOn fails on photos taller than wide, as a pipeline error would.
type failsOn struct{}

func (failsOn) Faces(img *faces.Image) ([]faces.Face, error) {
	if img.H > img.W {
		return nil, errors.New("pipeline broke")
	}
	return nil, nil
}

// A photo that cannot be read, or that the pipeline fails on, is skipped
// and listed with why; the others are timed. With none timed, the error
// names the folder.
func TestFacesSkipsBrokenPhotos(t *testing.T) {
	dir := t.TempDir()
	good, tall, bad := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png"), filepath.Join(dir, "c.png")
	writePhoto(t, good, 20, 10)
	writePhoto(t, tall, 10, 20)
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	var done []int
	res, err := FacesOn(failsOn{}, []string{dir}, FacesOptions{Steps: 1, Progress: func(d, _ int) { done = append(done, d) }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Photos != 1 || len(res.PerPhoto) != 1 || res.PerPhoto[0].Image != good || len(res.Skipped) != 2 || len(done) != 3 {
		t.Fatalf("result %+v, progress %v", res, done)
	}
	if res.Skipped[0].Path != tall || !strings.Contains(res.Skipped[0].Reason, "pipeline broke") ||
		res.Skipped[1].Path != bad || !strings.HasPrefix(res.Skipped[1].Reason, "not an image") {
		t.Errorf("skipped %+v", res.Skipped)
	}
	var text strings.Builder
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "skipped "+bad+": ") || !strings.Contains(text.String(), "1 photos timed, 2 skipped") {
		t.Errorf("text:\n%s", text.String())
	}
	b, _ := json.Marshal(res)
	if !strings.Contains(string(b), `"skipped":[{"path":"`+tall+`","reason":`) {
		t.Errorf("json: %s", b)
	}
	// Nothing timed: an error naming the folder and the first reason.
	if err := os.Remove(good); err != nil {
		t.Fatal(err)
	}
	if _, err := FacesOn(failsOn{}, []string{dir}, FacesOptions{Steps: 1}); err == nil ||
		!strings.Contains(err.Error(), dir+": no photo could be timed") || !strings.Contains(err.Error(), "pipeline broke") {
		t.Errorf("no photo timed: %v", err)
	}
}

// With every photo timed, skipped is an empty list, not null.
func TestFacesNoneSkipped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.png")
	writePhoto(t, p, 20, 10)
	res, err := Faces([]string{p}, failsOn{}, FacesOptions{Steps: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(res); !strings.Contains(string(b), `"skipped":[]`) {
		t.Errorf("json: %s", b)
	}
}
