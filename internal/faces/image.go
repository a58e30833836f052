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
// nil).
func (m *Image) NetInput(out *tensor.Tensor, size int, center bool, mean [3]float32, div float32) *tensor.Tensor {
	out = tensor.Reuse(out, 1, 3, size, size)
	side, offX, offY := SquarePad(m.W, m.H, center)
	plane := size * size
	if side == size {
		// No resize: TF skips it, so copy (with padding) exactly.
		for oy := 0; oy < size; oy++ {
			for ox := 0; ox < size; ox++ {
				for c := 0; c < 3; c++ {
					v := m.At(ox-offX, oy-offY, c)
					out.Data[c*plane+oy*size+ox] = (v - mean[c]) / div
				}
			}
		}
		return out
	}
	ratio := float64(side) / float64(size)
	// Per output column: the two source columns and the weight, shared by
	// every row.
	x0s, x1s := make([]int, size), make([]int, size)
	fx := make([]float64, size)
	for ox := range size {
		x0s[ox], x1s[ox], fx[ox] = resizeTaps(ox, ratio, side)
	}
	for oy := 0; oy < size; oy++ {
		y0, y1, fy := resizeTaps(oy, ratio, side)
		for ox := 0; ox < size; ox++ {
			for c := 0; c < 3; c++ {
				tl := float64(m.At(x0s[ox]-offX, y0-offY, c))
				tr := float64(m.At(x1s[ox]-offX, y0-offY, c))
				bl := float64(m.At(x0s[ox]-offX, y1-offY, c))
				br := float64(m.At(x1s[ox]-offX, y1-offY, c))
				top := tl + (tr-tl)*fx[ox]
				bot := bl + (br-bl)*fx[ox]
				v := float32(top + (bot-top)*fy)
				out.Data[c*plane+oy*size+ox] = (v - mean[c]) / div
			}
		}
	}
	return out
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
