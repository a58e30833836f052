package faces

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"
)

// realPipeline loads the three nets from the fetched weights, or skips.
func realPipeline(t testing.TB) (*Pipeline, string) {
	t.Helper()
	return loadReal(t, LoadPipeline)
}

// scaled resizes img by f with plain bilinear sampling, a second view of
// the same faces.
func scaled(img *Image, f float64) *Image {
	w, h := int(float64(img.W)*f), int(float64(img.H)*f)
	out := NewImage(w, h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			sx, sy := (float64(x)+0.5)/f-0.5, (float64(y)+0.5)/f-0.5
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			fx, fy := float32(sx-float64(x0)), float32(sy-float64(y0))
			for c := 0; c < 3; c++ {
				at := func(x, y int) float32 { return img.At(min(max(x, 0), img.W-1), min(max(y, 0), img.H-1), c) }
				top := at(x0, y0)*(1-fx) + at(x0+1, y0)*fx
				bot := at(x0, y0+1)*(1-fx) + at(x0+1, y0+1)*fx
				out.Pix[(y*w+x)*3+c] = top*(1-fy) + bot*fy
			}
		}
	}
	return out
}

func TestPipelineSample1(t *testing.T) {
	p, dir := realPipeline(t)
	img := loadPhoto(t, filepath.Join(dir, "demo", "sample1.jpg"))
	found, err := p.Faces(img)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 3 {
		t.Fatalf("sample1 has three women, found %d faces", len(found))
	}
	for i, f := range found {
		if i > 0 && f.Box.Area() > found[i-1].Box.Area() {
			t.Errorf("face %d is larger than face %d: not sorted largest first", i, i-1)
		}
		if len(f.Landmarks) != 68 || len(f.Descriptor) != 128 {
			t.Fatalf("face %d: %d landmarks, %d descriptor values", i, len(f.Landmarks), len(f.Descriptor))
		}
		// The nose tip (point 30) lies inside the face box.
		n := f.Landmarks[30]
		if n.X < f.Box.X || n.X > f.Box.Right() || n.Y < f.Box.Y || n.Y > f.Box.Bottom() {
			t.Errorf("face %d: nose tip %v outside box %+v", i, n, f.Box)
		}
	}
	// Three different people: their descriptors are far apart (dlib's
	// same-person distance is below 0.6).
	for i := range found {
		for j := i + 1; j < len(found); j++ {
			if d := Distance(found[i].Descriptor, found[j].Descriptor); d < 0.6 {
				t.Errorf("faces %d and %d are different women but only %.3f apart", i, j, d)
			}
		}
	}
	// The same photo at 80%: the same three faces, each much closer to its
	// own first descriptor than to anyone else's.
	small, err := p.Faces(scaled(img, 0.8))
	if err != nil {
		t.Fatal(err)
	}
	if len(small) != 3 {
		t.Fatalf("the 80%% photo gives %d faces", len(small))
	}
	// Faces of similar size may swap places, so pair them by box centre.
	for _, f := range small {
		cx, cy := (f.Box.X+f.Box.W/2)/0.8, (f.Box.Y+f.Box.H/2)/0.8
		best, bestD := -1, math.Inf(1)
		for i, g := range found {
			if d := math.Hypot(g.Box.X+g.Box.W/2-cx, g.Box.Y+g.Box.H/2-cy); d < bestD {
				best, bestD = i, d
			}
		}
		if d := Distance(f.Descriptor, found[best].Descriptor); d > 0.3 {
			t.Errorf("face at %+v: descriptor moved %.3f when the photo shrank to 80%%", found[best].Box, d)
		}
	}
}

func TestPipelineNoFaceAndTiny(t *testing.T) {
	p, _ := realPipeline(t)
	for _, img := range []*Image{NewImage(640, 480), NewImage(7, 3), NewImage(1, 1)} {
		for i := range img.Pix {
			img.Pix[i] = float32(i % 7 * 30)
		}
		found, err := p.Faces(img)
		if err != nil {
			t.Errorf("%dx%d: %v", img.W, img.H, err)
		}
		if len(found) != 0 {
			t.Errorf("%dx%d pattern: %d faces found", img.W, img.H, len(found))
		}
	}
}

func TestPipelineConcurrent(t *testing.T) {
	p, img, _ := sampleFaces(t, "sample2.jpg")
	// With the SSD's group look (the profile the tiny detector misses),
	// so its pool of nets is under test too.
	want, err := p.Faces(img)
	if err != nil {
		t.Fatal(err)
	}
	concurrently(t, 4, func(int) error {
		got, err := p.Faces(img)
		if err != nil || len(got) != len(want) {
			return fmt.Errorf("%d faces, %v; want %d faces", len(got), err, len(want))
		}
		for i := range got {
			if Distance(got[i].Descriptor, want[i].Descriptor) != 0 || got[i].Box != want[i].Box {
				return errors.New("concurrent calls give different results")
			}
		}
		return nil
	})
}

// A photo that is already a face crop, the face filling the frame as in a
// 112 px thumbnail, is found: the detector alone sees nothing in it, the
// bordered second look does.
func TestPipelineFindsFaceThumbnail(t *testing.T) {
	p, img, found := sampleFaces(t, "sample1.jpg")
	// dlib's mean face shape without padding: the face fills the chip.
	fill := Template{LeftEye: Point{0.2255, 0.2160}, RightEye: Point{0.7548, 0.2160}, Mouth: Point{0.4901, 0.8042}, Size: 112}
	thumb, err := AlignedChip(img, found[0].Landmarks, fill, nil)
	if err != nil {
		t.Fatal(err)
	}
	off, on := *p, *p
	off.Border, on.Border = 0, BorderRetry
	// The fixture must be one the detector alone misses.
	withSecondLook(t, "the border", thumb, &off, &on, 0, func(got []Face) {
		if len(got) != 1 {
			t.Fatalf("thumbnail: %d faces, want 1", len(got))
		}
		// Found on the bordered copy, reported on the thumbnail: the nose
		// tip lies inside it, and the face is the one cropped.
		nose := got[0].Landmarks[30]
		if nose.X < 0 || nose.Y < 0 || nose.X > float64(thumb.W) || nose.Y > float64(thumb.H) {
			t.Errorf("nose tip %v outside the %dx%d thumbnail", nose, thumb.W, thumb.H)
		}
		if d := Distance(got[0].Descriptor, found[0].Descriptor); d > 0.4 {
			t.Errorf("thumbnail's descriptor is %.3f from the photo's face, want the same person (< 0.4)", d)
		}
	})
}

func TestBordered(t *testing.T) {
	img := NewImage(2, 1)
	copy(img.Pix, []float32{1, 2, 3, 4, 5, 6})
	out, off := Bordered(img, 0.5, 9)
	if out.W != 4 || out.H != 3 || off != (Point{1, 1}) {
		t.Fatalf("bordered %dx%d at %v, want 4x3 at (1,1)", out.W, out.H, off)
	}
	if out.At(1, 1, 0) != 1 || out.At(2, 1, 2) != 6 || out.At(0, 0, 0) != 9 || out.At(3, 2, 1) != 9 {
		t.Errorf("bordered pixels wrong: %v", out.Pix)
	}
}
