package identify

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"math"

	"starid/internal/faces"
)

// Augmentation makes one perturbed aligned chip of a face found in a photo:
// the photo as it might have been taken otherwise (mirrored, shaken, darker,
// compressed, framed a little differently). Describing training faces also
// through these puts descriptors where such test photos land, at training
// time only: recognition pays nothing.
//
// The perturbations act on the aligned chip, not the photo, so a face costs
// one recognizer pass per augmentation and no detection. A shake of the
// photo is a shake of the chip, scaled (the chip is a similarity transform
// of the photo); the chip's border pixels see less of the blur than the
// photo's would, which the net hardly looks at.
type Augmentation struct {
	Name string
	// Zoom and Shift move the landmarks before aligning: Zoom > 1 makes the
	// face larger in the chip, Shift moves it right and down, in units of
	// the distance between the eyes. Zero values: as found.
	Zoom   float64
	ShiftX float64
	ShiftY float64
	// Chip, when not nil, changes the aligned chip.
	Chip func(chip *faces.Image) (*faces.Image, error)
}

// DefaultAugmentations are the perturbations a face run's training faces
// are also described under.
func DefaultAugmentations() []Augmentation {
	var a []Augmentation
	a = append(a, Augmentation{Name: "mirror", Chip: func(c *faces.Image) (*faces.Image, error) { return mirrorChip(c), nil }})
	for _, n := range []int{7, 13} {
		for _, deg := range []int{0, 45, 90, 135} {
			a = append(a, Augmentation{Name: fmt.Sprintf("blur%d@%d", n, deg),
				Chip: func(c *faces.Image) (*faces.Image, error) { return motionBlurChip(c, n, float64(deg)), nil }})
		}
	}
	for _, g := range []float64{0.6, 1.7} {
		a = append(a, Augmentation{Name: fmt.Sprintf("gamma%.1f", g), Chip: func(c *faces.Image) (*faces.Image, error) { return gammaChip(c, g), nil }})
	}
	a = append(a,
		Augmentation{Name: "gray", Chip: func(c *faces.Image) (*faces.Image, error) { return grayChip(c), nil }},
		Augmentation{Name: "jpeg25", Chip: func(c *faces.Image) (*faces.Image, error) { return jpegChip(c, 25) }},
		Augmentation{Name: "zoom1.08", Zoom: 1.08},
		Augmentation{Name: "zoom0.93", Zoom: 0.93},
		Augmentation{Name: "shift", ShiftX: 0.06, ShiftY: -0.04},
	)
	return a
}

// Augment describes face f of img once per augmentation, in one batched
// recognizer pass. f must carry its landmarks.
func Augment(p *faces.Pipeline, img *faces.Image, f faces.Face, augs []Augmentation) ([][]float32, error) {
	if len(f.Landmarks) != faces.NumLandmarks {
		return nil, fmt.Errorf("augment: the face has %d landmarks, want %d", len(f.Landmarks), faces.NumLandmarks)
	}
	chips := make([]*faces.Image, len(augs))
	for i, a := range augs {
		chip, err := faces.AlignedChip(img, movedMarks(f.Landmarks, a), p.Template, nil)
		if err != nil {
			return nil, fmt.Errorf("augment %s: %w", a.Name, err)
		}
		if a.Chip != nil {
			if chip, err = a.Chip(chip); err != nil {
				return nil, fmt.Errorf("augment %s: %w", a.Name, err)
			}
		}
		chips[i] = chip
	}
	return p.Rec.DescribeAll(chips)
}

// movedMarks zooms the landmarks about their mean (a zoom of the face in
// the chip is the inverse zoom of the landmarks the chip is aligned to)
// and shifts them.
func movedMarks(marks []faces.Point, a Augmentation) []faces.Point {
	if a.Zoom == 0 && a.ShiftX == 0 && a.ShiftY == 0 {
		return marks
	}
	var c faces.Point
	for _, p := range marks {
		c.X += p.X / float64(len(marks))
		c.Y += p.Y / float64(len(marks))
	}
	// Eye centres: points 36-41 and 42-47.
	var l, r faces.Point
	for i := range 6 {
		l.X, l.Y = l.X+marks[36+i].X/6, l.Y+marks[36+i].Y/6
		r.X, r.Y = r.X+marks[42+i].X/6, r.Y+marks[42+i].Y/6
	}
	eyes := math.Hypot(r.X-l.X, r.Y-l.Y)
	s := 1.0
	if a.Zoom > 0 {
		s = 1 / a.Zoom
	}
	out := make([]faces.Point, len(marks))
	for i, p := range marks {
		out[i] = faces.Point{X: c.X + s*(p.X-c.X) - a.ShiftX*eyes, Y: c.Y + s*(p.Y-c.Y) - a.ShiftY*eyes}
	}
	return out
}

func mirrorChip(m *faces.Image) *faces.Image {
	out := faces.NewImage(m.W, m.H)
	for y := range m.H {
		for x := range m.W {
			s, d := (y*m.W+x)*3, (y*m.W+m.W-1-x)*3
			copy(out.Pix[d:d+3], m.Pix[s:s+3])
		}
	}
	return out
}

// motionBlurChip averages n samples along a line at deg degrees through
// each pixel (a straight shake of the camera), clamped at the edges.
func motionBlurChip(m *faces.Image, n int, deg float64) *faces.Image {
	out := faces.NewImage(m.W, m.H)
	sin, cos := math.Sincos(deg * math.Pi / 180)
	for y := range m.H {
		for x := range m.W {
			var acc [3]float32
			for t := range n {
				d := float64(t) - float64(n-1)/2
				sx := min(max(int(math.Round(float64(x)+d*cos)), 0), m.W-1)
				sy := min(max(int(math.Round(float64(y)+d*sin)), 0), m.H-1)
				for ch := range 3 {
					acc[ch] += m.Pix[(sy*m.W+sx)*3+ch]
				}
			}
			for ch := range 3 {
				out.Pix[(y*m.W+x)*3+ch] = acc[ch] / float32(n)
			}
		}
	}
	return out
}

func gammaChip(m *faces.Image, g float64) *faces.Image {
	out := faces.NewImage(m.W, m.H)
	for i, v := range m.Pix {
		out.Pix[i] = float32(255 * math.Pow(max(float64(v), 0)/255, g))
	}
	return out
}

func grayChip(m *faces.Image) *faces.Image {
	out := faces.NewImage(m.W, m.H)
	for i := range m.W * m.H {
		y := 0.299*m.Pix[3*i] + 0.587*m.Pix[3*i+1] + 0.114*m.Pix[3*i+2]
		out.Pix[3*i], out.Pix[3*i+1], out.Pix[3*i+2] = y, y, y
	}
	return out
}

// jpegChip round-trips the chip through JPEG at quality q.
func jpegChip(m *faces.Image, q int) (*faces.Image, error) {
	rgba := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := range m.W * m.H {
		for ch := range 3 {
			rgba.Pix[4*i+ch] = uint8(min(max(math.Round(float64(m.Pix[3*i+ch])), 0), 255))
		}
		rgba.Pix[4*i+3] = 255
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, rgba, &jpeg.Options{Quality: q}); err != nil {
		return nil, err
	}
	dec, err := jpeg.Decode(&b)
	if err != nil {
		return nil, err
	}
	return faces.FromImage(dec), nil
}

// augmentVersion names DefaultAugmentations in the cache: change it when
// they change, so that old augmented descriptors are not reused.
const augmentVersion = "augment-1"

// Augmenter describes a face of a photo under augmentations (Augment).
// Train wraps a *faces.Pipeline as one; a test's fake describer may be one.
type Augmenter interface {
	AugmentFace(img *faces.Image, f faces.Face, augs []Augmentation) ([][]float32, error)
}

type pipelineAugmenter struct{ p *faces.Pipeline }

func (a pipelineAugmenter) AugmentFace(img *faces.Image, f faces.Face, augs []Augmentation) ([][]float32, error) {
	return Augment(a.p, img, f, augs)
}

// augmenterOf is d as an Augmenter, or an error saying it cannot augment.
func augmenterOf(d Describer) (Augmenter, error) {
	switch v := d.(type) {
	case *faces.Pipeline:
		return pipelineAugmenter{v}, nil
	case Augmenter:
		return v, nil
	}
	return nil, fmt.Errorf("identify: the face describer (%T) cannot describe augmented faces", d)
}

// AugmentFace loads the nets if needed and augments with them.
func (l *lazy) AugmentFace(img *faces.Image, f faces.Face, augs []Augmentation) ([][]float32, error) {
	d, err := l.get()
	if err != nil {
		return nil, err
	}
	a, err := augmenterOf(d)
	if err != nil {
		return nil, err
	}
	return a.AugmentFace(img, f, augs)
}
