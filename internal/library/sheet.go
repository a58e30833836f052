package library

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"strconv"
	"sync"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"

	"starid/internal/data"
	"starid/internal/faces"
	"starid/internal/recognize"
	"starid/internal/report"
	"starid/internal/tensor"
)

// SheetOptions lays out a contact sheet.
type SheetOptions struct {
	Thumb      int // thumbnail side in pixels; 0: 96
	PerPerson  int // faces shown per person; 0: 10
	MaxPeople  int // rows; 0: 200 (a sheet of thousands of rows helps nobody)
	LabelWidth int // the name column; 0: 200
}

const sheetPad = 6

var (
	sheetBackground = color.RGBA{R: 250, G: 250, B: 250, A: 255}
	sheetMissing    = color.RGBA{R: 200, G: 200, B: 200, A: 255}
)

// Sheet draws one row per person: its label (name, or "person ID" when
// unnamed, and the face count), then thumbnails of its faces cut from the
// photos, and writes the PNG to path. A photo that cannot be read leaves
// a grey tile instead of failing the sheet.
func Sheet(ctx context.Context, ps []Person, path string, opt SheetOptions) error {
	img, err := SheetImage(ctx, ps, opt)
	if err != nil {
		return err
	}
	return report.WritePNG(img, path)
}

// SheetImage is Sheet without the file.
func SheetImage(ctx context.Context, ps []Person, opt SheetOptions) (*image.RGBA, error) {
	opt = opt.withDefaults()
	if len(ps) == 0 {
		return nil, fmt.Errorf("contact sheet: the library has no people yet (index photos first)")
	}
	ps = ps[:min(len(ps), opt.MaxPeople)]
	cols := 0
	for _, p := range ps {
		cols = max(cols, min(len(p.Faces), opt.PerPerson))
	}
	w := sheetPad + opt.LabelWidth + cols*(opt.Thumb+sheetPad)
	h := sheetPad + len(ps)*(opt.Thumb+sheetPad)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.Draw(out, out.Bounds(), image.NewUniform(sheetBackground), image.Point{}, xdraw.Src)
	if err := drawLabels(out, ps, opt); err != nil {
		return nil, err
	}
	// Rows are independent and decoding dominates: one row per worker.
	tensor.ForEach(len(ps), func(_, r int) {
		if ctx.Err() != nil {
			return
		}
		y := sheetPad + r*(opt.Thumb+sheetPad)
		for c, f := range ps[r].Faces[:min(len(ps[r].Faces), opt.PerPerson)] {
			x := sheetPad + opt.LabelWidth + c*(opt.Thumb+sheetPad)
			drawFace(out, image.Rect(x, y, x+opt.Thumb, y+opt.Thumb), f)
		}
	})
	return out, ctx.Err()
}

func (o SheetOptions) withDefaults() SheetOptions {
	if o.Thumb <= 0 {
		o.Thumb = 96
	}
	if o.PerPerson <= 0 {
		o.PerPerson = 10
	}
	if o.MaxPeople <= 0 {
		o.MaxPeople = 200
	}
	if o.LabelWidth <= 0 {
		o.LabelWidth = 200
	}
	return o
}

// drawFace scales the square around the face's box into dst; each call
// decodes its photo (a face's photo rarely holds another shown face).
func drawFace(out *image.RGBA, dst image.Rectangle, f PersonFace) {
	img, err := data.DecodeFile(f.Photo, data.DefaultMaxPixels)
	if err != nil {
		xdraw.Draw(out, dst, image.NewUniform(sheetMissing), image.Point{}, xdraw.Src)
		return
	}
	box := faces.Box{X: f.Box[0], Y: f.Box[1], W: f.Box[2], H: f.Box[3]}
	xdraw.ApproxBiLinear.Scale(out, dst, img, recognize.ThumbRect(img.Bounds(), &box), xdraw.Src, nil)
}

func drawLabels(out *image.RGBA, ps []Person, opt SheetOptions) error {
	ff, err := sheetFont()
	if err != nil {
		return fmt.Errorf("contact sheet: font: %w", err)
	}
	d := &font.Drawer{Dst: out, Src: image.NewUniform(color.Black), Face: ff}
	for r, p := range ps {
		y := sheetPad + r*(opt.Thumb+sheetPad) + opt.Thumb/2
		name := p.Name
		if name == "" {
			name = "person " + strconv.FormatInt(p.ID, 10)
		}
		lines := []string{name, fmt.Sprintf("id %d, %d faces", p.ID, len(p.Faces))}
		for i, l := range lines {
			d.Dot = fixed.P(sheetPad, y+i*18)
			d.DrawString(fitWidth(d, l, opt.LabelWidth-sheetPad))
		}
	}
	return nil
}

// fitWidth cuts s with an ellipsis until it is at most width pixels wide.
func fitWidth(d *font.Drawer, s string, width int) string {
	r := []rune(s)
	for t := s; ; t = string(r) + "…" {
		if d.MeasureString(t).Ceil() <= width || len(r) == 0 {
			return t
		}
		r = r[:len(r)-1]
	}
}

var sheetFont = sync.OnceValues(func() (font.Face, error) { return report.FontFace(14) })
