// Package facecrop is the one place that says how a VGG run trained on
// faces sees a photo: the crop mode model.json records, the square cut
// around a face box (crop=face), and the aligned chip (crop=aligned).
// Training, evaluation, prediction and the server all cut through it, so
// a face is cut at test time exactly as it was in training.
package facecrop

import (
	"fmt"
	"image"
	"math"

	"starid/internal/faces"
)

// Mode is what a VGG run's network is shown of each photo.
type Mode string

const (
	None    Mode = "none"    // the whole photo
	Face    Mode = "face"    // a square around the largest face (Around)
	Aligned Mode = "aligned" // the face turned and scaled onto a template (AlignedChip)
)

// ParseMode reads a --crop value or a model.json "crop" entry: "" is None
// (runs from before crop modes existed).
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case "", None:
		return None, nil
	case Face, Aligned:
		return m, nil
	}
	return None, fmt.Errorf("--crop %q: want face, aligned or none", s)
}

// FindsFaces says whether photos must go through the face pipeline first.
func (m Mode) FindsFaces() bool { return m == Face || m == Aligned }

// DefaultMargin is the margin of face crops: a quarter of the face box's
// longer side on each side keeps the hair line, ears and chin that the
// detector's tight box cuts off, yet leaves little background.
const DefaultMargin = 0.25

// DefaultAlignPadding is the chip padding of aligned runs: half the mean
// face's size on each side keeps the hair line, ears and chin in the chip
// (dlib's 0.25, the recognition net's, cuts through the forehead).
const DefaultAlignPadding = 0.5

// MaxMargin bounds --crop-margin: beyond it a crop of a portrait is mostly
// the whole photo again.
const MaxMargin = 2.0

// Around is the region of a photo with bounds b that crop=face runs see
// for a face: a square centred on the face box whose side is the box's
// longer side plus margin times that side on each side. A square that
// sticks out of the photo is moved back inside rather than cut, so that the
// resize to the network's square input does not stretch the face; only a
// square larger than the photo is clipped to it.
func Around(face faces.Box, b image.Rectangle, margin float64) image.Rectangle {
	side := math.Max(face.W, face.H) * (1 + 2*margin)
	s := max(int(math.Round(side)), 1)
	place := func(center float64, lo, hi int) (int, int) {
		start := lo + int(math.Round(center-side/2))
		if s <= hi-lo {
			start = min(max(start, lo), hi-s)
		}
		return max(start, lo), min(start+s, hi)
	}
	x0, x1 := place(face.X+face.W/2, b.Min.X, b.Max.X)
	y0, y1 := place(face.Y+face.H/2, b.Min.Y, b.Max.Y)
	if r := image.Rect(x0, y0, x1, y1); !r.Empty() {
		return r
	}
	return b // only for an empty photo
}

// ChipSide is the side of the chips an aligned run cuts for input size
// size: twice the input, so that the loader's resize to size still
// averages over the warp's bilinear samples, but at most 224 (the chip
// then holds more detail than a 64..112 pixel input can use, and a larger
// one costs memory in the loader's cache), and never below size.
func ChipSide(size int) int { return max(size, min(2*size, 224)) }

// AlignedChip cuts the aligned chip of one face: the face pipeline's own
// similarity alignment (faces.AlignedChip: eye and mouth centres onto the
// template) with dlib's chip geometry at the given padding, side x side
// pixels, rounded back to 8-bit RGB for the loader's resize.
func AlignedChip(img *faces.Image, landmarks []faces.Point, padding float64, side int) (*image.RGBA, error) {
	chip, err := faces.AlignedChip(img, landmarks, faces.ChipTemplate(side, padding), nil)
	if err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, chip.W, chip.H))
	for i := 0; i < chip.W*chip.H; i++ {
		for c := range 3 {
			out.Pix[4*i+c] = uint8(min(max(math.Round(float64(chip.Pix[3*i+c])), 0), 255))
		}
		out.Pix[4*i+3] = 255
	}
	return out, nil
}
