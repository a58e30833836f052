package faces

import (
	"path/filepath"
	"testing"
)

// paste copies src into dst with its top-left corner at (x, y).
func paste(dst, src *Image, x, y int) {
	for r := range src.H {
		copy(dst.Pix[((y+r)*dst.W+x)*3:], src.Pix[r*src.W*3:(r+1)*src.W*3])
	}
}

// A face found by the first detector size must not hide smaller ones: in
// a wide strip of one large face and five small copies of it, 320 finds
// the large one only; the small-face look at the whole strip finds some
// copies, and its look in squares (Pipeline.Tiles) all five.
func TestPipelineFindsSmallFacesBesideALargeOne(t *testing.T) {
	p, img, found := sampleFaces(t, "sample1.jpg")
	// A square of twice the largest face's box around it.
	b := found[0].Box
	side := int(2 * max(b.W, b.H))
	x0, y0 := max(0, int(b.X+b.W/2)-side/2), max(0, int(b.Y+b.H/2)-side/2)
	tile, err := img.Crop(img.ClipBox(Box{float64(x0), float64(y0), float64(side), float64(side)}))
	if err != nil {
		t.Fatal(err)
	}
	big := scaled(tile, 400/float64(tile.W))
	small := scaled(tile, smallTile/float64(tile.W))
	strip := NewImage(big.W+smallCount*(small.W+40), max(big.H, 200+small.H))
	paste(strip, big, 0, 0)
	for k := range smallCount {
		paste(strip, small, big.W+40+k*(small.W+40), 200)
	}
	// The tiny detector's looks are under test: the SSD (which finds the
	// copies by itself) stays out.
	off, on := *p, *p
	off.SmallFaces, off.Tiles, off.SSDUse = 0, 0, 0
	on.SmallFaces, on.Tiles, on.SSDUse = SmallFaceShare, 0, 0
	// The fixture must be one where the first size's face hides the others.
	withSecondLook(t, "the small-face look", strip, &off, &on, 1, func(got []Face) {
		if len(got) < 2 {
			t.Fatalf("%d faces found: the large face hid the small ones", len(got))
		}
		for _, f := range got[1:] {
			if f.Box.X < float64(big.W) {
				t.Errorf("face %v is not one of the small copies right of the large face", f.Box)
			}
		}
		if len(got) == 1+smallCount {
			t.Fatalf("the whole-strip looks found all %d faces: the fixture no longer needs the squares", len(got))
		}
	})
	// In squares along the 4:1 strip the net sees the small faces at a
	// size it can box: all of them are found.
	got, err := p.Faces(strip)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1+smallCount {
		t.Errorf("with the squares %d faces found in the strip, want %d", len(got), 1+smallCount)
	}
}

const (
	smallTile  = 260
	smallCount = 5
)

// A weak face found must not hide a close-up that fills the frame: in a
// face-filling chip with a small face inset in its corner (as in a
// magazine photo) the first look finds only the inset; a photo whose
// surest face is below Pipeline.Unsure gets the bordered look as well, and
// the faces of both looks are kept.
func TestPipelineUnsureLookFindsCloseUp(t *testing.T) {
	p, img, found := sampleFaces(t, "sample1.jpg")
	fill := Template{LeftEye: Point{0.2255, 0.2160}, RightEye: Point{0.7548, 0.2160}, Mouth: Point{0.4901, 0.8042}, Size: unsureCloseUp}
	closeUp, err := AlignedChip(img, found[0].Landmarks, fill, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := found[0].Box
	side := 2 * max(b.W, b.H)
	tile, err := img.Crop(img.ClipBox(Box{b.X + b.W/2 - side/2, b.Y + b.H/2 - side/2, side, side}))
	if err != nil {
		t.Fatal(err)
	}
	small := scaled(tile, float64(unsureSmall)/float64(tile.W))
	// The small face is an inset in the close-up's top-right corner, as
	// in a magazine photo.
	photo := closeUp
	paste(photo, small, closeUp.W-small.W, 0)

	q := *p
	q.Unsure = 0
	first, err := q.Faces(photo)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture must be one where the first look finds the small face
	// only, or this test no longer tests the unsure look.
	if len(first) != 1 || first[0].Box.X < float64(closeUp.W-small.W-small.W/4) {
		t.Fatalf("first look found %d faces (%v), want the small one only", len(first), boxes(first))
	}
	q.Unsure = first[0].Score + 0.01
	got, err := q.Faces(photo)
	if err != nil {
		t.Fatal(err)
	}
	var sawSmall, sawCloseUp bool
	for _, f := range got {
		sawSmall = sawSmall || f.Box.X > float64(closeUp.W-small.W-small.W/4) && f.Box.W < 1.5*float64(small.W)
		sawCloseUp = sawCloseUp || f.Box.W > float64(closeUp.W)/2
	}
	if !sawSmall || !sawCloseUp {
		t.Fatalf("unsure look found %d faces %v: small %v, close-up %v", len(got), boxes(got), sawSmall, sawCloseUp)
	}
	// Boxes are on the photo, not on the bordered copy.
	if got[0].Box.X > float64(photo.W) || got[0].Box.Y > float64(photo.H) {
		t.Errorf("box %v is not on the %dx%d photo", got[0].Box, photo.W, photo.H)
	}
}

// The close-up chip's size and the inset's; any of 200-300 and 60-100
// makes a first look that finds the inset only.
const (
	unsureCloseUp = 200
	unsureSmall   = 80
)

func boxes(fs []Face) []Box {
	var b []Box
	for _, f := range fs {
		b = append(b, f.Box)
	}
	return b
}

// sampleFaces loads the real pipeline and one of the models' demo photos
// with the faces it finds there (at least one).
func sampleFaces(t *testing.T, name string) (*Pipeline, *Image, []Face) {
	t.Helper()
	p, dir := realPipeline(t)
	img := loadPhoto(t, filepath.Join(dir, "demo", name))
	// The fixtures are cut around the tiny detector's faces, as they
	// were made before the SSD (its boxes give other landmarks).
	tiny := *p
	tiny.SSDUse = 0
	found, err := tiny.Faces(img)
	if err != nil || len(found) == 0 {
		t.Fatalf("%s: %d faces, %v", name, len(found), err)
	}
	return p, img, found
}
