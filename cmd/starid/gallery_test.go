package main

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
	"starid/internal/recognize"
)

// greenFaceFinder sees one face, the box red marks, in photos whose
// top-left pixel is green, and none elsewhere; it counts its calls.
type greenFaceFinder struct{ calls int }

var thumbFaceBox = faces.Box{X: 40, Y: 10, W: 10, H: 10}

func (f *greenFaceFinder) Faces(img *faces.Image) ([]faces.Face, error) {
	f.calls++
	if img.Pix[1] > 200 && img.Pix[0] < 50 {
		return []faces.Face{{Detection: faces.Detection{Box: thumbFaceBox, Score: 0.9}}}, nil
	}
	return nil, nil
}

type failingFinder struct{}

func (failingFinder) Faces(*faces.Image) ([]faces.Face, error) { return nil, errors.New("net broke") }

// writeThumbPhoto writes a 60x40 PNG of one colour with the thumbFaceBox
// area painted red.
func writeThumbPhoto(t *testing.T, path string, c color.RGBA) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 60, 40))
	for y := range 40 {
		for x := range 60 {
			img.SetRGBA(x, y, c)
			if image.Pt(x, y).In(image.Rect(40, 10, 50, 20)) {
				img.SetRGBA(x, y, color.RGBA{255, 0, 0, 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// thumbCentre decodes a thumbnail, checks its size and returns its centre
// pixel.
func thumbCentre(t *testing.T, name string, b []byte) color.RGBA {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if img.Bounds() != image.Rect(0, 0, recognize.ThumbSide, recognize.ThumbSide) {
		t.Fatalf("%s: thumbnail %v", name, img.Bounds())
	}
	return color.RGBAModel.Convert(img.At(recognize.ThumbSide/2, recognize.ThumbSide/2)).(color.RGBA)
}

func near(c, want color.RGBA) bool {
	d := func(a, b uint8) int { return max(int(a)-int(b), int(b)-int(a)) }
	return d(c.R, want.R) < 40 && d(c.G, want.G) < 40 && d(c.B, want.B) < 40
}

func TestLoadGallery(t *testing.T) {
	blue, green := color.RGBA{0, 0, 255, 255}, color.RGBA{0, 255, 0, 255}
	red := color.RGBA{255, 0, 0, 255}
	dir := t.TempDir()
	// Ann: a broken file, a photo without a face, then one with a face.
	if err := os.MkdirAll(filepath.Join(dir, "Ann"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Ann", "0.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeThumbPhoto(t, filepath.Join(dir, "Ann", "1.png"), blue)
	writeThumbPhoto(t, filepath.Join(dir, "Ann", "2.png"), green)
	// Bob: more faceless photos than are tried.
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		writeThumbPhoto(t, filepath.Join(dir, "Bob", n+".png"), blue)
	}
	// Cy: only a broken file. Di: no folder at all.
	if err := os.MkdirAll(filepath.Join(dir, "Cy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Cy", "x.jpg"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	classes := []string{"Ann", "Bob", "Cy", "Di"}

	finder := &greenFaceFinder{}
	var stderr strings.Builder
	g, err := loadGallery(dir, classes, finder, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 2 {
		t.Fatalf("thumbnails for %d people, want Ann and Bob", len(g))
	}
	if c := thumbCentre(t, "Ann", g["Ann"]); !near(c, red) {
		t.Errorf("Ann's thumbnail centre %v: not the face", c)
	}
	if c := thumbCentre(t, "Bob", g["Bob"]); !near(c, blue) {
		t.Errorf("Bob's thumbnail centre %v: not his first photo", c)
	}
	if want := 2 + recognize.ThumbTries; finder.calls != want {
		t.Errorf("face finder ran %d times, want %d (2 for Ann, %d for Bob)", finder.calls, want, recognize.ThumbTries)
	}
	if !strings.Contains(stderr.String(), "2 of 4 people: Cy, Di") {
		t.Errorf("stderr %q does not name the people without a photo", stderr.String())
	}

	// Without face models: Ann's first readable photo, top-middle square.
	g, err = loadGallery(dir, classes, nil, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c := thumbCentre(t, "Ann", g["Ann"]); !near(c, blue) {
		t.Errorf("Ann's thumbnail without a finder: centre %v, want her first readable photo", c)
	}

	if _, err := loadGallery(dir, classes, failingFinder{}, &stderr); err == nil || !strings.Contains(err.Error(), "net broke") ||
		!strings.Contains(err.Error(), filepath.Join("Ann", "1.png")) {
		t.Errorf("a failing face pipeline: %v, want the error with the photo", err)
	}
	for _, bad := range []string{filepath.Join(dir, "nowhere"), filepath.Join(dir, "Ann", "1.png")} {
		if _, err := loadGallery(bad, classes, nil, &stderr); err == nil || !strings.Contains(err.Error(), "--gallery") ||
			!strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v, want an error naming --gallery and the path", bad, err)
		}
	}
}
