package main

import (
	"encoding/json"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/recognize"
	"starid/internal/testkit"
)

// fakeFinder "finds" one face per 20 pixels of photo width, so the tests
// know what to expect without the model files.
type fakeFinder struct{ calls int }

func (f *fakeFinder) Faces(img *faces.Image) ([]faces.Face, error) {
	f.calls++
	var out []faces.Face
	for x := 0; x+20 <= img.W; x += 20 {
		face := faces.Face{Detection: faces.Detection{Box: faces.Box{X: float64(x) + 2.25, Y: 1, W: 15.5, H: 12}, Score: 0.875}}
		for i := 0; i < 68; i++ {
			face.Landmarks = append(face.Landmarks, faces.Point{X: float64(x) + 5 + float64(i%10), Y: 4 + float64(i/10)})
		}
		face.Descriptor = make([]float32, 128)
		out = append(out, face)
	}
	return out, nil
}

func withFakeFinder(t *testing.T) *fakeFinder {
	t.Helper()
	f := &fakeFinder{}
	findWith(t, f)
	return f
}

func TestFacesJSONAndAnnotated(t *testing.T) {
	finder := withFakeFinder(t)
	dir := t.TempDir()
	two := filepath.Join(dir, "two.png") // 40 wide: two faces
	none := filepath.Join(dir, "none.png")
	writePNG(t, two, 40, 16, color.RGBA{90, 90, 90, 255}, 1)
	writePNG(t, none, 10, 16, color.RGBA{90, 90, 90, 255}, 2)
	broken := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(broken, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "drawn")
	code, out, errOut := runCLI("faces", two, none, broken, "--json", "--out", outDir)
	if code != exitInput || !strings.Contains(errOut, "1 of 3 images") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	var got []recognize.FoundFaces
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got) != 3 || len(got[0].Faces) != 2 || len(got[1].Faces) != 0 || got[2].Error == "" {
		t.Fatalf("results %+v", got)
	}
	f := got[0].Faces[1]
	if f.Box != [4]int{22, 1, 16, 12} || f.Score != 0.875 || len(f.Landmarks) != 68 || f.Descriptor != nil {
		t.Errorf("second face %+v", f)
	}
	if got[0].Width != 40 || got[0].Height != 16 {
		t.Errorf("size %dx%d", got[0].Width, got[0].Height)
	}
	if finder.calls != 2 {
		t.Errorf("pipeline ran %d times, want 2 (the broken file never reaches it)", finder.calls)
	}
	if img := testkit.ReadPNG(t, filepath.Join(outDir, "two-faces.png")); img.Bounds().Dx() != 40 {
		t.Fatalf("annotated PNG is %v, want 40 wide", img.Bounds())
	}
	if _, err := os.Stat(filepath.Join(outDir, "broken-faces.png")); !errors.Is(err, os.ErrNotExist) {
		t.Error("no annotated file may be written for a photo that failed")
	}
}

func TestFacesText(t *testing.T) {
	withFakeFinder(t)
	dir := t.TempDir()
	one := filepath.Join(dir, "one.png")
	writePNG(t, one, 20, 16, color.RGBA{90, 90, 90, 255}, 1)
	code, out, errOut := runCLI("faces", one, "--descriptors")
	if code != 0 || !strings.Contains(out, "one.png: 1 face") || !strings.Contains(out, "score 0.88") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestFacesBadOut(t *testing.T) {
	withFakeFinder(t)
	dir := t.TempDir()
	one := filepath.Join(dir, "one.png")
	writePNG(t, one, 20, 16, color.RGBA{90, 90, 90, 255}, 1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"faces"}, "at least one image"},
		{[]string{"faces", one, "--out", one}, "overwrite the input"},
		{[]string{"faces", one, "--out", filepath.Join(dir, "x.jpg")}, "PNG"},
	} {
		code, _, errOut := runCLI(c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

func TestFacesWithoutModels(t *testing.T) {
	t.Setenv(faces.EnvModels, filepath.Join(t.TempDir(), "nothing-here"))
	code, _, errOut := runCLI("faces", "whatever.jpg")
	if code == 0 || !strings.Contains(errOut, "starid models fetch") {
		t.Errorf("exit %d, stderr %q: must say how to get the models", code, errOut)
	}
}

// TestFacesWalksFolders: faces takes a folder as predict does, every
// photo under it at any depth (other files skipped), and draws each into
// --out; before, a folder was "not a regular file".
func TestFacesWalksFolders(t *testing.T) {
	withFakeFinder(t)
	dir := t.TempDir()
	photos := filepath.Join(dir, "photos")
	writePNG(t, filepath.Join(photos, "a.png"), 40, 16, color.RGBA{90, 90, 90, 255}, 1)
	writePNG(t, filepath.Join(photos, "deeper", "b.png"), 20, 16, color.RGBA{90, 90, 90, 255}, 2)
	if err := os.WriteFile(filepath.Join(photos, "notes.txt"), []byte("not a photo"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "drawn")
	var got []recognize.FoundFaces
	if err := json.Unmarshal([]byte(cli(t, "faces", photos, "--json", "--out", out)), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0].Faces) != 2 || len(got[1].Faces) != 1 || got[1].Image != filepath.Join(photos, "deeper", "b.png") {
		t.Fatalf("faces of a folder: %+v", got)
	}
	for _, name := range []string{"a-faces.png", "b-faces.png"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("not drawn: %v", err)
		}
	}
}
