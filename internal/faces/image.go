package faces

import (
	"fmt"
	"image"
	"image/draw"
	"math"

	"starid/internal/tensor"
)

// Image is a photo as float32 RGB values in 0..255, row-major with the
// channels interleaved (H, W, 3): the layout of face-api's image tensors,
// so crops and resizes here index pixels exactly as its TF.js code does.
type Image struct {
	W, H int
	Pix  []float32 // len 3*W*H
}

// NewImage returns a black image.
func NewImage(w, h int) *Image {
	return &Image{W: w, H: h, Pix: make([]float32, 3*w*h)}
}

// FromImage converts a decoded photo, dropping alpha (data.Decode has
// already flattened it onto white and applied EXIF orientation).
func FromImage(src image.Image) *Image {
	b := src.Bounds()
	rgba, ok := src.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(rgba, rgba.Rect, src, b.Min, draw.Src)
		b = rgba.Rect
	}
	m := NewImage(b.Dx(), b.Dy())
	for y := 0; y < m.H; y++ {
		row := rgba.Pix[(y+b.Min.Y-rgba.Rect.Min.Y)*rgba.Stride+(b.Min.X-rgba.Rect.Min.X)*4:]
		dst := m.Pix[y*m.W*3 : (y+1)*m.W*3]
		for x := 0; x < m.W; x++ {
			dst[3*x] = float32(row[4*x])
			dst[3*x+1] = float32(row[4*x+1])
			dst[3*x+2] = float32(row[4*x+2])
		}
	}
	return m
}

// At returns the value of channel c at (x, y); outside the image it is 0,
// the value face-api's zero padding gives.
func (m *Image) At(x, y, c int) float32 {
	if x < 0 || y < 0 || x >= m.W || y >= m.H {
		return 0
	}
	return m.Pix[(y*m.W+x)*3+c]
}

// Crop copies the pixels of an integer rectangle, which must lie inside the
// image.
func (m *Image) Crop(r image.Rectangle) (*Image, error) {
	if r.Empty() || !r.In(image.Rect(0, 0, m.W, m.H)) {
		return nil, fmt.Errorf("faces: crop %v outside the %dx%d image", r, m.W, m.H)
	}
	c := NewImage(r.Dx(), r.Dy())
	for y := 0; y < c.H; y++ {
		src := m.Pix[((r.Min.Y+y)*m.W+r.Min.X)*3:]
		copy(c.Pix[y*c.W*3:(y+1)*c.W*3], src)
	}
	return c, nil
}

// ClipBox is face-api's Box.clipAtImageBorders: the box cut to the image and
// its corner and size floored to whole pixels. The result may be empty when
// the box lies outside the image.
func (m *Image) ClipBox(b Box) image.Rectangle {
	x, y := max(b.X, 0), max(b.Y, 0)
	w := min(b.Right()-x, float64(m.W)-x)
	h := min(b.Bottom()-y, float64(m.H)-y)
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	r := image.Rect(x0, y0, x0+int(math.Floor(w)), y0+int(math.Floor(h)))
	if w <= 0 || h <= 0 {
		return image.Rectangle{}
	}
	return r.Intersect(image.Rect(0, 0, m.W, m.H))
}

// SquarePad is where face-api's padToSquare puts an image inside its square:
// the square's side and the image's offset in it. Centred padding gives the
// far side round(diff/2) and the near side the rest; otherwise all padding
// goes to the bottom or right.
func SquarePad(w, h int, center bool) (side, offX, offY int) {
	side = max(w, h)
	diff := side - min(w, h)
	if !center || diff == 0 {
		return side, 0, 0
	}
	far := int(math.Round(float64(diff) * 0.5))
	near := diff - far
	if h > w {
		return side, near, 0
	}
	return side, 0, near
}

// NetInput is face-api's NetInput.toBatchTensor for one image followed by
// the net's normalization: the image zero-padded to a square (centred or at
// the bottom/right), resized to size x size with TF's legacy bilinear
// resize (align_corners and half_pixel_centers both false), then
// (p - mean[c]) / div per channel, returned as a [1, 3, size, size] NCHW
// tensor. The padded square is never built: samples that fall in the
// padding read 0, exactly as they would from the padded tensor.
//
// The result is written into out when it has the right shape (out may be
// nil). Rows are split across the workers; each output value is computed
// with the same operations in the same order whichever path computes it,
// so the result does not depend on the worker count.
func (m *Image) NetInput(out *tensor.Tensor, size int, center bool, mean [3]float32, div float32) *tensor.Tensor {
	out = tensor.Reuse(out, 1, 3, size, size)
	side, offX, offY := SquarePad(m.W, m.H, center)
	// Rows of the padded square that lie outside the image read this
	// row of zeros, so only the columns at the image's left and right
	// edges need bounds checks.
	var zeros []float32
	if m.H < side {
		zeros = make([]float32, 3*m.W)
	}
	row := func(y int) []float32 {
		if y -= offY; y < 0 || y >= m.H {
			return zeros
		}
		return m.Pix[y*m.W*3 : (y+1)*m.W*3]
	}
	// Below ~16 rows a goroutine costs more than it saves.
	const minRows = 16
	plane := size * size
	if side == size {
		// No resize: TF skips it, so copy (with padding) exactly.
		tensor.ParallelMin(size, minRows, func(lo, hi int) {
			for oy := lo; oy < hi; oy++ {
				src := row(oy)
				for c := range 3 {
					dst := out.Data[c*plane+oy*size : c*plane+(oy+1)*size]
					for ox := range dst {
						var v float32
						if x := ox - offX; x >= 0 && x < m.W {
							v = src[3*x+c]
						}
						dst[ox] = (v - mean[c]) / div
					}
				}
			}
		})
		return out
	}
	ratio := float64(side) / float64(size)
	// Per output column: the two source columns (as offsets of their red
	// values in an image row) and the weight, shared by every row. The
	// columns whose two taps both lie inside the image form one range
	// [in0, in1), since the taps grow with the column.
	taps := make([]resizeTap, size)
	in0, in1 := size, 0
	for ox := range size {
		x0, x1, fx := resizeTaps(ox, ratio, side)
		x0, x1 = x0-offX, x1-offX
		taps[ox] = resizeTap{3 * x0, 3 * x1, fx}
		if x0 >= 0 && x1 < m.W {
			in0, in1 = min(in0, ox), ox+1
		}
	}
	if in1 < in0 {
		in0, in1 = 0, 0
	}
	// edge computes the three channels of one output pixel whose taps may
	// fall in the padding; dst starts at its red value.
	edge := func(dst []float32, plane int, r0, r1 []float32, t resizeTap, fy float64) {
		for c := range 3 {
			at := func(r []float32, x int) float32 {
				if x < 0 || x >= 3*m.W {
					return 0
				}
				return r[x+c]
			}
			v := lerp2(at(r0, t.x0), at(r0, t.x1), at(r1, t.x0), at(r1, t.x1), t.fx, fy)
			dst[c*plane] = (v - mean[c]) / div
		}
	}
	tensor.ParallelMin(size, minRows, func(lo, hi int) {
		for oy := lo; oy < hi; oy++ {
			y0, y1, fy := resizeTaps(oy, ratio, side)
			r0, r1 := row(y0), row(y1)
			d0 := out.Data[oy*size : (oy+1)*size]
			d1 := out.Data[plane+oy*size : plane+(oy+1)*size]
			d2 := out.Data[2*plane+oy*size : 2*plane+(oy+1)*size]
			for ox := in0; ox < in1; ox++ {
				t := taps[ox]
				a0, a1 := r0[t.x0:t.x0+3:t.x0+3], r0[t.x1:t.x1+3:t.x1+3]
				b0, b1 := r1[t.x0:t.x0+3:t.x0+3], r1[t.x1:t.x1+3:t.x1+3]
				d0[ox] = (lerp2(a0[0], a1[0], b0[0], b1[0], t.fx, fy) - mean[0]) / div
				d1[ox] = (lerp2(a0[1], a1[1], b0[1], b1[1], t.fx, fy) - mean[1]) / div
				d2[ox] = (lerp2(a0[2], a1[2], b0[2], b1[2], t.fx, fy) - mean[2]) / div
			}
			// The columns at the edges, where a tap may fall in the
			// padding.
			for ox := range in0 {
				edge(out.Data[oy*size+ox:], plane, r0, r1, taps[ox], fy)
			}
			for ox := in1; ox < size; ox++ {
				edge(out.Data[oy*size+ox:], plane, r0, r1, taps[ox], fy)
			}
		}
	})
	return out
}

// resizeTap is one output column's bilinear taps: the offsets of the red
// values of its two source pixels in an image row (negative or past the
// row in the padding) and the weight of the second.
type resizeTap struct {
	x0, x1 int
	fx     float64
}

// lerp2 is TF's legacy bilinear interpolation of one value from the top
// left, top right, bottom left and bottom right samples, in float64 as the
// JavaScript computes it.
func lerp2(tl, tr, bl, br float32, fx, fy float64) float32 {
	t0, t1 := float64(tl), float64(tr)
	b0, b1 := float64(bl), float64(br)
	top := t0 + (t1-t0)*fx
	bot := b0 + (b1-b0)*fx
	return float32(top + (bot-top)*fy)
}

// resizeTaps is TF.js's legacy bilinear sampling position for output index
// o: source = o*ratio, its floor and the next index (clamped to the input)
// and the fraction between them. It works in float64, as the JavaScript
// does.
func resizeTaps(o int, ratio float64, in int) (lo, hi int, frac float64) {
	src := ratio * float64(o)
	lo = max(0, int(math.Floor(src)))
	hi = min(in-1, int(math.Ceil(src)))
	return lo, hi, src - float64(lo)
}
