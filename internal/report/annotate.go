package report

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var goRegular = sync.OnceValues(func() (*opentype.Font, error) { return opentype.Parse(goregular.TTF) })

// FontFace is Go Regular at px pixels, the one font of every picture starid
// draws. A face caches glyphs and is not safe
// for concurrent use, so each call gets its own (parsing is done once).
func FontFace(px int) (font.Face, error) {
	f, err := goRegular()
	if err != nil {
		return nil, err
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: float64(px), DPI: 72, Hinting: font.HintingFull})
}

// Mark is one thing to draw on a photo: a box with a label above it and
// optional points (landmarks) inside.
type Mark struct {
	Box    image.Rectangle
	Label  string
	Points []image.Point
	Color  color.RGBA // zero means the default green
}

var defaultMarkColor = color.RGBA{0, 200, 80, 255}

// Annotate returns a copy of img with the marks drawn: boxes with lines
// thick enough to see on a large photo, landmark dots, and each label in
// white on a band of the box's colour, above the box or inside it when the
// box touches the top edge.
func Annotate(img image.Image, marks []Mark) (*image.RGBA, error) {
	b := img.Bounds()
	if b.Empty() {
		return nil, fmt.Errorf("annotate: empty image")
	}
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	// Labels grow with the photo so that they stay readable when a large
	// photo is shown scaled down.
	ff, err := FontFace(max(13, max(b.Dx(), b.Dy())/50))
	if err != nil {
		return nil, fmt.Errorf("annotate: font: %w", err)
	}
	// About 1/300 of the photo's size, so lines stay visible when the
	// photo is shown scaled down.
	thick := max(2, max(b.Dx(), b.Dy())/300)
	for _, m := range marks {
		c := m.Color
		if c == (color.RGBA{}) {
			c = defaultMarkColor
		}
		r := m.Box.Canon()
		strokeRect(out, r, thick, c)
		dot := max(1, thick/2+1)
		for _, p := range m.Points {
			fillRect(out, image.Rect(p.X-dot, p.Y-dot, p.X+dot+1, p.Y+dot+1), c)
		}
		if m.Label != "" {
			drawLabel(out, ff, m.Label, r, c)
		}
	}
	return out, nil
}

func strokeRect(dst *image.RGBA, r image.Rectangle, t int, c color.RGBA) {
	fillRect(dst, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+t), c)
	fillRect(dst, image.Rect(r.Min.X, r.Max.Y-t, r.Max.X, r.Max.Y), c)
	fillRect(dst, image.Rect(r.Min.X, r.Min.Y, r.Min.X+t, r.Max.Y), c)
	fillRect(dst, image.Rect(r.Max.X-t, r.Min.Y, r.Max.X, r.Max.Y), c)
}

// fillRect paints r clipped to dst, so marks partly outside the photo are
// drawn as far as they are visible.
func fillRect(dst *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(dst, r.Intersect(dst.Rect), image.NewUniform(c), image.Point{}, draw.Src)
}

func drawLabel(dst *image.RGBA, ff font.Face, s string, box image.Rectangle, c color.RGBA) {
	d := &font.Drawer{Dst: dst, Src: image.NewUniform(color.White), Face: ff}
	m := ff.Metrics()
	h := (m.Ascent + m.Descent).Ceil() + 4
	w := d.MeasureString(s).Ceil() + 6
	y0 := box.Min.Y - h
	if y0 < 0 {
		y0 = max(box.Min.Y, 0)
	}
	x0 := min(max(box.Min.X, 0), max(dst.Rect.Dx()-w, 0))
	fillRect(dst, image.Rect(x0, y0, x0+w, y0+h), c)
	d.Dot = fixed.P(x0+3, y0+2+m.Ascent.Ceil())
	d.DrawString(s)
}
