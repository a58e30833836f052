package recognize

import (
	"context"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/faces"
)

func TestOpenErrorsNameTheFolder(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "absent"), Options{}); err == nil || !strings.Contains(err.Error(), "no such run directory") {
		t.Errorf("absent folder: %v", err)
	}
	if _, err := Open(dir, Options{}); err == nil || !strings.Contains(err.Error(), "is not a training run") {
		t.Errorf("empty folder: %v", err)
	}
}

// A photo given in one form yields the other once, with the same pixels.
func TestPhotoForms(t *testing.T) {
	m := image.NewRGBA(image.Rect(0, 0, 3, 2))
	m.Set(1, 1, color.RGBA{R: 200, G: 100, B: 7, A: 255})
	p := FromRGBA(m)
	f := p.Faces()
	if f != p.Faces() {
		t.Error("the face pipeline's form was made twice")
	}
	if f.W != 3 || f.H != 2 || f.Pix[3*(1*3+1)] != 200 || f.Pix[3*(1*3+1)+2] != 7 {
		t.Errorf("converted %dx%d %v", f.W, f.H, f.Pix)
	}
	back := FromFaces(f).RGBA()
	if back.RGBAAt(1, 1) != (color.RGBA{R: 200, G: 100, B: 7, A: 255}) || back.RGBAAt(0, 0) != (color.RGBA{A: 255}) {
		t.Errorf("round trip: %v %v", back.RGBAAt(1, 1), back.RGBAAt(0, 0))
	}
}

// A recognizer without a finder names faces found elsewhere but says why
// it cannot find them itself.
func TestNoFinder(t *testing.T) {
	r := &faceRun{}
	if _, err := r.Recognize(context.Background(), FromFaces(&faces.Image{W: 1, H: 1, Pix: make([]float32, 3)})); err == nil ||
		!strings.Contains(err.Error(), "no face finder") {
		t.Errorf("err = %v", err)
	}
}

func TestRoundBox(t *testing.T) {
	if got := RoundBox(faces.Box{X: 1.5, Y: 2.49, W: 10.5, H: 0.2}); got != [4]int{2, 2, 11, 0} {
		t.Errorf("RoundBox = %v", got)
	}
}
