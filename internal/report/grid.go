package report

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"sync"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"
)

// Grid cell layout in pixels: each image is fitted (aspect ratio kept) into
// a Thumb x Thumb square, with a LabelBand-high strip for its name below.
const (
	Thumb     = 160
	LabelBand = 24
	gridPad   = 6
)

// GridSize is the pixel size Grid uses for n images in cols columns.
func GridSize(n, cols int) (w, h int) {
	rows := (n + cols - 1) / cols
	return gridPad + cols*(Thumb+gridPad), gridPad + rows*(Thumb+LabelBand+gridPad)
}

var (
	gridBackground = color.RGBA{R: 250, G: 250, B: 250, A: 255}
	labelFace      font.Face
	labelFaceErr   error
	labelFaceOnce  sync.Once
)

// face is the Go Regular font at 13 px, parsed once.
func face() (font.Face, error) {
	labelFaceOnce.Do(func() { labelFace, labelFaceErr = FontFace(13) })
	return labelFace, labelFaceErr
}

// Grid lays images out in rows of cols, each scaled to fit a Thumb-pixel
// square and centred, with labels[i] centred under image i (cut with an
// ellipsis when wider than the cell), and writes the PNG to path.
func Grid(images []image.Image, labels []string, cols int, path string) error {
	img, err := GridImage(images, labels, cols)
	if err != nil {
		return err
	}
	return WritePNG(img, path)
}

// GridImage is Grid without the file.
func GridImage(images []image.Image, labels []string, cols int) (*image.RGBA, error) {
	if len(images) == 0 {
		return nil, errors.New("grid: no images")
	}
	if len(labels) != len(images) {
		return nil, fmt.Errorf("grid: %d labels for %d images", len(labels), len(images))
	}
	if cols < 1 {
		return nil, fmt.Errorf("grid: %d columns, need at least 1", cols)
	}
	for i, im := range images {
		if im == nil || im.Bounds().Empty() {
			return nil, fmt.Errorf("grid: image %d (%q) is empty", i, labels[i])
		}
	}
	ff, err := face()
	if err != nil {
		return nil, fmt.Errorf("grid: font: %w", err)
	}
	w, h := GridSize(len(images), cols)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.Draw(out, out.Bounds(), image.NewUniform(gridBackground), image.Point{}, xdraw.Src)
	d := &font.Drawer{Dst: out, Src: image.NewUniform(color.Black), Face: ff}
	ascent := ff.Metrics().Ascent.Ceil()
	for i, im := range images {
		x0 := gridPad + (i%cols)*(Thumb+gridPad)
		y0 := gridPad + (i/cols)*(Thumb+LabelBand+gridPad)
		b := im.Bounds()
		tw, th := Thumb, Thumb
		if b.Dx() >= b.Dy() {
			th = max(1, (b.Dy()*Thumb+b.Dx()/2)/b.Dx())
		} else {
			tw = max(1, (b.Dx()*Thumb+b.Dy()/2)/b.Dy())
		}
		at := image.Pt(x0+(Thumb-tw)/2, y0+(Thumb-th)/2)
		dst := image.Rectangle{Min: at, Max: at.Add(image.Pt(tw, th))}
		xdraw.CatmullRom.Scale(out, dst, im, b, xdraw.Src, nil)

		text := fitText(d, labels[i], Thumb)
		tx := x0 + (Thumb-d.MeasureString(text).Ceil())/2
		ty := y0 + Thumb + (LabelBand-ascent)/2 + ascent - 2
		d.Dot = fixed.P(tx, ty)
		d.DrawString(text)
	}
	return out, nil
}

// fitText cuts s with an ellipsis until it is at most width pixels wide.
func fitText(d *font.Drawer, s string, width int) string {
	if d.MeasureString(s).Ceil() <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 {
		r = r[:len(r)-1]
		t := string(r) + "…"
		if d.MeasureString(t).Ceil() <= width {
			return t
		}
	}
	return ""
}
