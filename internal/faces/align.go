package faces

import (
	"errors"
	"fmt"
	"math"

	"starid/internal/tensor"
)

// Template says where a face's reference points go in an aligned chip:
// positions in the unit square (x right, y down; (0,0) and (1,1) are the
// chip's first and last pixel) and the chip's side in pixels. The reference
// points are those face-api aligns with (FaceLandmarks68's
// getRefPointsForAlignment): the centre of each eye and of the mouth, each
// the mean of its landmarks.
type Template struct {
	LeftEye  Point // centre of points 36-41, the eye on the image's left
	RightEye Point // centre of points 42-47
	Mouth    Point // centre of points 48-67
	Size     int   // chip side in pixels
}

// DefaultTemplate makes the chips the recognition net was trained on:
// dlib's 150x150 face chips with padding 0.25 (dlib's face recognition
// model documents get_face_chip_details(shape, 150, 0.25)). dlib maps its
// mean 68-point face shape, whose points span about the unit square, to
// (padding + m) / (1 + 2*padding) of the chip. The centres of the mean
// shape's eyes are (0.2255, 0.2160) and (0.7548, 0.2160), of its mouth
// (0.4901, 0.8042); with padding 0.25 that is eyes at (0.3170, 0.3107) and
// (0.6698, 0.3107) and the mouth at (0.4934, 0.7028): the eyes 53 pixels
// apart on a 150 chip, the mouth 59 pixels below them, about 30 pixels of
// forehead and hair above the brows. The mean shape's midline is at 0.4901,
// not 0.5, and is kept so: the chips are what the net saw. dlib fits its
// similarity to 51 points (all but the jaw) rather than these three
// centres; for a face shaped like the mean the two fits agree.
var DefaultTemplate = Template{
	LeftEye:  Point{0.3170, 0.3107},
	RightEye: Point{0.6698, 0.3107},
	Mouth:    Point{0.4934, 0.7028},
	Size:     150,
}

// MaxChipSize bounds a template's side: a chip is a small face image, and
// a wild size would allocate without limit.
const MaxChipSize = 4096

// Similarity returns the similarity transform (rotation, uniform scale and
// translation, no reflection) that maps src onto dst with the least sum of
// squared distances:
//
//	x' = a*x - b*y + tx
//	y' = b*x + a*y + ty
//
// so the scale is hypot(a, b) and the angle atan2(b, a). It uses the first
// min(len(src), len(dst)) pairs. Without pairs, or when the source points
// all coincide, rotation and scale are undetermined: it returns a = b = 0
// and the translation to dst's centroid (the smallest least-squares
// solution), which callers recognise by a = b = 0.
func Similarity(src, dst []Point) (a, b, tx, ty float64) {
	n := min(len(src), len(dst))
	if n == 0 {
		return 0, 0, 0, 0
	}
	// With both sets centred the translation drops out and the normal
	// equations decouple: a and b are the projections of dst onto src and
	// onto src turned by 90 degrees.
	var sx, sy, dx, dy float64
	for i := range n {
		sx += src[i].X
		sy += src[i].Y
		dx += dst[i].X
		dy += dst[i].Y
	}
	fn := float64(n)
	sx, sy, dx, dy = sx/fn, sy/fn, dx/fn, dy/fn
	var dot, cross, norm float64
	for i := range n {
		px, py := src[i].X-sx, src[i].Y-sy
		qx, qy := dst[i].X-dx, dst[i].Y-dy
		dot += px*qx + py*qy
		cross += px*qy - py*qx
		norm += px*px + py*py
	}
	if norm > 0 {
		a, b = dot/norm, cross/norm
	}
	return a, b, dx - (a*sx - b*sy), dy - (b*sx + a*sy)
}

// refPoints are the centres of the eyes and the mouth, in the order of
// Template's fields.
func refPoints(lm []Point) [3]Point {
	mean := func(pts []Point) Point {
		var p Point
		for _, q := range pts {
			p.X += q.X
			p.Y += q.Y
		}
		return Point{p.X / float64(len(pts)), p.Y / float64(len(pts))}
	}
	return [3]Point{mean(lm[36:42]), mean(lm[42:48]), mean(lm[48:68])}
}

func finitePoint(p Point) bool {
	return !math.IsNaN(p.X) && !math.IsInf(p.X, 0) && !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0)
}

// AlignedChip cuts the face with the given 68 landmarks out of img as a
// t.Size x t.Size chip, turned, scaled and moved so that its eye and mouth
// centres land as close as a similarity transform allows to the template's
// (least squares over the three points). Each chip pixel is sampled
// bilinearly from img through the inverse transform; what falls outside
// the photo is black. When the chip shrinks the face by more than a factor
// of 1.5, each chip pixel averages a grid of bilinear samples over its
// footprint (2x2 up to 4x4), as dlib's chip extraction downsamples through
// a pyramid rather than skip pixels: without it a large face's chip is
// aliased (hair and skin texture turn into noise).
//
// Coordinates follow dlib's chips: template point u lands on chip pixel
// index u*Size, and landmarks, whose origin is the top-left corner of the
// top-left pixel, are taken at pixel index x-0.5, y-0.5.
//
// The chip is written into out when it has the right size (out may be
// nil) and returned. Fewer or more than 68 landmarks, non-finite ones, or
// landmarks whose reference points coincide give an error.
func AlignedChip(img *Image, landmarks []Point, t Template, out *Image) (*Image, error) {
	if img == nil || img.W < 1 || img.H < 1 || len(img.Pix) != 3*img.W*img.H {
		return nil, errors.New("align: not a valid RGB image")
	}
	if len(landmarks) != NumLandmarks {
		return nil, fmt.Errorf("align: %d landmarks, want %d", len(landmarks), NumLandmarks)
	}
	for i, p := range landmarks {
		if !finitePoint(p) {
			return nil, fmt.Errorf("align: landmark %d is (%g, %g)", i, p.X, p.Y)
		}
	}
	if t.Size < 1 || t.Size > MaxChipSize {
		return nil, fmt.Errorf("align: template size %d outside 1..%d", t.Size, MaxChipSize)
	}
	tpl := [3]Point{t.LeftEye, t.RightEye, t.Mouth}
	for _, p := range tpl {
		if !finitePoint(p) {
			return nil, fmt.Errorf("align: template point (%g, %g) is not finite", p.X, p.Y)
		}
	}
	// A template whose points coincide would map every face to one point.
	if ta, tb, _, _ := Similarity(tpl[:], []Point{{0, 0}, {1, 0}, {0, 1}}); ta == 0 && tb == 0 {
		return nil, errors.New("align: degenerate template: its reference points coincide")
	}
	size := float64(t.Size)
	src := refPoints(landmarks)
	var dst [3]Point
	for i := range src {
		src[i].X -= 0.5
		src[i].Y -= 0.5
		dst[i] = Point{tpl[i].X * size, tpl[i].Y * size}
	}
	a, b, tx, ty := Similarity(src[:], dst[:])
	s2 := a*a + b*b
	if !(s2 > 1e-12) || math.IsInf(s2, 0) {
		return nil, fmt.Errorf("align: degenerate landmarks (eye and mouth centres %v)", refPoints(landmarks))
	}
	// Inverse: p = R⁻¹(q - t) with R⁻¹ = [a b; -b a] / s².
	ia, ib := a/s2, b/s2
	ox := -(ia*tx + ib*ty)
	oy := -(-ib*tx + ia*ty)

	if out == nil || out.W != t.Size || out.H != t.Size || len(out.Pix) != 3*t.Size*t.Size {
		out = NewImage(t.Size, t.Size)
	}
	// Image pixels per chip pixel is 1/scale. Samples at most 1.5 image
	// pixels apart, each a bilinear tap spanning two, cover the footprint
	// well enough at a quarter of the cost of one per image pixel; at most
	// 4x4 per chip pixel.
	n := 1
	if inv := 1 / math.Sqrt(s2); inv > 1.5 {
		n = min(4, int(math.Ceil(inv/1.5)))
	}
	w := 1 / float32(n*n)
	// Rows are independent; a chip is small, so only split it in two
	// when there are enough samples to pay for a goroutine.
	tensor.ParallelMin(t.Size, max(1, 16384/(t.Size*n*n)), func(j0, j1 int) {
		alignRows(img, out, j0, j1, n, w, ia, ib, ox, oy)
	})
	return out, nil
}

// alignRows fills chip rows [j0, j1): each pixel averages n x n bilinear
// samples (weight w each) of img at p = [ia ib; -ib ia]·q + (ox, oy).
func alignRows(img, out *Image, j0, j1, n int, w float32, ia, ib, ox, oy float64) {
	size := out.W
	var acc [3]float32
	for j := j0; j < j1; j++ {
		for i := 0; i < size; i++ {
			acc = [3]float32{}
			for sj := 0; sj < n; sj++ {
				// Sub-sample offsets centred on the pixel: for n = 1, 0.
				qy := float64(j) + (float64(sj)+0.5)/float64(n) - 0.5
				for si := 0; si < n; si++ {
					qx := float64(i) + (float64(si)+0.5)/float64(n) - 0.5
					x := ia*qx + ib*qy + ox
					y := -ib*qx + ia*qy + oy
					img.bilinear(x, y, &acc)
				}
			}
			px := out.Pix[(j*size+i)*3:]
			px[0], px[1], px[2] = acc[0]*w, acc[1]*w, acc[2]*w
		}
	}
}

// bilinear adds the image's value at pixel index coordinates (x, y) to acc,
// reading 0 outside the image.
func (m *Image) bilinear(x, y float64, acc *[3]float32) {
	if !(x > -1 && y > -1 && x < float64(m.W) && y < float64(m.H)) {
		return // every tap is outside (also catches NaN)
	}
	// x, y > -1, so shifting by one makes the conversion's truncation a
	// floor (math.Floor is a call per tap here).
	x0, y0 := int(x+1)-1, int(y+1)-1
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	w00, w10 := (1-fx)*(1-fy), fx*(1-fy)
	w01, w11 := (1-fx)*fy, fx*fy
	if x0 >= 0 && y0 >= 0 && x0+1 < m.W && y0+1 < m.H {
		// Interior: all four taps exist, no bounds checks per tap.
		p := m.Pix[(y0*m.W+x0)*3:]
		q := p[m.W*3:]
		for c := range 3 {
			acc[c] += w00*p[c] + w10*p[3+c] + w01*q[c] + w11*q[3+c]
		}
		return
	}
	for c := range 3 {
		acc[c] += w00*m.At(x0, y0, c) + w10*m.At(x0+1, y0, c) + w01*m.At(x0, y0+1, c) + w11*m.At(x0+1, y0+1, c)
	}
}
