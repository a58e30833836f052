package faces

import (
	"errors"
	"image"
	"image/draw"
	"math"
)

// CropLargest cuts the largest of the found faces of img out of it, with
// margin times the face's size around it (1.4: the face and a little of
// the head): a person's photo made from a group photo, which enroll
// refuses as unclear.
func CropLargest(img image.Image, found []Face, margin float64) (*image.RGBA, error) {
	if len(found) == 0 {
		return nil, errors.New("no face found")
	}
	big := found[0].Box
	for _, f := range found[1:] {
		if f.Box.W*f.Box.H > big.W*big.H {
			big = f.Box
		}
	}
	side := margin * max(big.W, big.H)
	cx, cy := big.X+big.W/2, big.Y+big.H/2
	r := image.Rect(int(math.Floor(cx-side/2)), int(math.Floor(cy-side/2)), int(math.Ceil(cx+side/2)), int(math.Ceil(cy+side/2))).
		Add(img.Bounds().Min).Intersect(img.Bounds())
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Rect, img, r.Min, draw.Src)
	return out, nil
}
