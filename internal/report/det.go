package report

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"starid/internal/eval"
)

// Size of the DET picture in pixels.
const (
	DETWidth  = 640
	DETHeight = 560
)

// detFloor is where rates of zero are drawn on the logarithmic axes
// (0.01%): a log axis has no zero, and a rule that names no stranger is
// exactly what the picture must show.
const detFloor = 1e-4

// DET draws a detection-error trade-off curve, false acceptance (strangers
// named) against false rejection (known people refused), both in percent
// on logarithmic axes, with the chosen operating point marked, into a
// DETWidth x DETHeight PNG.
func DET(points []eval.DETPoint, op eval.DETPoint, title, path string) error {
	if len(points) == 0 {
		return errors.New("det: no points to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "strangers given a name, FAR (%)"
	p.Y.Label.Text = "known people refused, FRR (%)"
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Scale = plot.LogScale{}
		ax.Tick.Marker = plot.LogTicks{Prec: -1}
		ax.Min, ax.Max = 100*detFloor, 100
	}
	p.Add(plotter.NewGrid())
	at := func(q eval.DETPoint) plotter.XY {
		return plotter.XY{X: 100 * math.Max(q.FAR, detFloor), Y: 100 * math.Max(q.FRR, detFloor)}
	}
	pts := make(plotter.XYs, 0, len(points))
	for _, q := range points {
		pts = append(pts, at(q))
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("det: %w", err)
	}
	l.Color, l.Width = trainColor, vg.Points(1.5)
	mark, err := plotter.NewScatter(plotter.XYs{at(op)})
	if err != nil {
		return fmt.Errorf("det: operating point: %w", err)
	}
	mark.Color, mark.Radius, mark.Shape = testColor, vg.Points(5), draw.CircleGlyph{}
	p.Add(l, mark)
	p.Legend.Add("threshold swept", l)
	p.Legend.Add(fmt.Sprintf("operating point (FAR %.2f%%, FRR %.2f%%)", 100*op.FAR, 100*op.FRR), mark)
	p.Legend.Left = true // the curve runs from top left to bottom right
	img := image.NewRGBA(image.Rect(0, 0, DETWidth, DETHeight))
	c := vgimg.NewWith(vgimg.UseImage(img))
	draw.New(c).SetColor(color.White)
	p.Draw(draw.New(c))
	return WritePNG(c.Image(), path)
}
