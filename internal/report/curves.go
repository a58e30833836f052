package report

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// EpochRecord is one row of a run's history. Accuracies are fractions in
// [0, 1] (plotted as percent); losses are mean cross-entropies.
type EpochRecord struct {
	Epoch     int
	TrainAcc  float64
	TrainLoss float64
	TestAcc   float64
	TestLoss  float64
	LR        float64
	// Best marks an epoch the run's best.safetensors held; the last marked
	// is the epoch the run keeps, which Curves marks on both plots.
	Best bool
}

// CurvesText is the words of a curves picture.
type CurvesText struct {
	// Title goes above both plots: the run, its model and its result, so
	// a picture alone says what it shows.
	Title string
	// Mark names the marked epoch in the accuracy plot's legend, that is
	// why the run keeps it ("best" when empty, as in a VGG run).
	Mark string
}

// Size of the curves picture in pixels: two plots side by side.
const (
	CurvesWidth  = 1200
	CurvesHeight = 480
)

var (
	trainColor = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	testColor  = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	bestColor  = color.RGBA{R: 44, G: 160, B: 44, A: 255}
)

// titleBand is the height of the picture-wide title above the plots.
const titleBand = 28

// Curves draws accuracy (left) and loss (right) per epoch, train against
// test, into a CurvesWidth x CurvesHeight PNG under text.Title, with the
// kept epoch (the last record marked Best) marked on both plots. Values
// that are not finite (a diverged loss) are left out of their line rather
// than failing the plot, since the picture is most needed exactly when
// training went wrong.
func Curves(history []EpochRecord, text CurvesText, path string) error {
	if len(history) == 0 {
		return errors.New("curves: empty history, nothing to plot")
	}
	acc, err := linePlot("Accuracy", "accuracy (%)", history,
		func(r EpochRecord) float64 { return 100 * r.TrainAcc },
		func(r EpochRecord) float64 { return 100 * r.TestAcc })
	if err != nil {
		return err
	}
	loss, err := linePlot("Loss", "cross-entropy loss", history,
		func(r EpochRecord) float64 { return r.TrainLoss },
		func(r EpochRecord) float64 { return r.TestLoss })
	if err != nil {
		return err
	}
	// A fixed 0-100% scale lets two runs' pictures be compared at a glance.
	acc.Y.Min, acc.Y.Max = 0, 100
	mark := text.Mark
	if mark == "" {
		mark = "best"
	}
	if err := markBest(acc, loss, history, lossTop(history), mark); err != nil {
		return err
	}
	top := lossTop(history)
	placeLegend(acc, history, 0, 100, func(r EpochRecord) [2]float64 { return [2]float64{100 * r.TrainAcc, 100 * r.TestAcc} })
	placeLegend(loss, history, 0, top, func(r EpochRecord) [2]float64 { return [2]float64{r.TrainLoss, r.TestLoss} })

	img := image.NewRGBA(image.Rect(0, 0, CurvesWidth, CurvesHeight))
	c := vgimg.NewWith(vgimg.UseImage(img))
	dc := draw.New(c)
	if text.Title != "" {
		dc = drawTitle(dc, acc.Title.TextStyle, text.Title)
	}
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(12), PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	cells := plot.Align([][]*plot.Plot{{acc, loss}}, tiles, dc)
	acc.Draw(cells[0][0])
	loss.Draw(cells[0][1])
	return WritePNG(c.Image(), path)
}

// markBest draws a vertical line at the kept epoch on both plots and
// rings its test points; the accuracy plot's legend says which epoch it
// is, after mark.
func markBest(acc, loss *plot.Plot, history []EpochRecord, top float64, mark string) error {
	var best *EpochRecord
	for i := range history {
		if history[i].Best {
			best = &history[i]
		}
	}
	if best == nil {
		return nil
	}
	x := float64(best.Epoch)
	for _, m := range []struct {
		p      *plot.Plot
		lo, hi float64
		at     float64
	}{{acc, 0, 100, 100 * best.TestAcc}, {loss, 0, top, best.TestLoss}} {
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: m.lo}, {X: x, Y: m.hi}})
		if err != nil {
			return fmt.Errorf("curves: best epoch: %w", err)
		}
		l.Color, l.Width, l.Dashes = bestColor, vg.Points(1.2), []vg.Length{vg.Points(4), vg.Points(3)}
		ring, err := plotter.NewScatter(plotter.XYs{{X: x, Y: m.at}})
		if err != nil {
			return fmt.Errorf("curves: best epoch: %w", err)
		}
		ring.Color, ring.Radius, ring.Shape = bestColor, vg.Points(5), draw.RingGlyph{}
		m.p.Add(l, ring)
		if m.p == acc {
			acc.Legend.Add(markLegend(mark, *best), l, ring)
		}
	}
	return nil
}

// markLegend is the legend entry of the marked epoch r: "best: epoch 5,
// test 66.0%", or with mark "kept (last)" for a run that keeps its last.
func markLegend(mark string, r EpochRecord) string {
	return fmt.Sprintf("%s: epoch %d, test %.1f%%", mark, r.Epoch, 100*r.TestAcc)
}

// lossTop is the highest finite loss in history (0 without one).
func lossTop(history []EpochRecord) float64 {
	top := 0.0
	for _, r := range history {
		for _, v := range []float64{r.TrainLoss, r.TestLoss} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				top = max(top, v)
			}
		}
	}
	return top
}

// placeLegend puts p's legend in the corner that the fewest points of
// the curves pass through (a box of 40% x 35% of the plot, points from
// get, y spanning lo to hi), so it hides as little as possible: a run
// whose accuracy reaches 99% in two epochs fills the top, one that stays
// at 30% the bottom. Ties go to the right, then the top.
func placeLegend(p *plot.Plot, history []EpochRecord, lo, hi float64, get func(EpochRecord) [2]float64) {
	first, last := float64(history[0].Epoch), float64(history[len(history)-1].Epoch)
	span := max(last-first, 1)
	count := func(top, left bool) int {
		n := 0
		for _, r := range history {
			fx := (float64(r.Epoch) - first) / span
			if left != (fx <= 0.4) {
				continue
			}
			for _, v := range get(r) {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					continue
				}
				fy := (v - lo) / max(hi-lo, 1e-12)
				if top == (fy >= 0.65) {
					n++
				}
			}
		}
		return n
	}
	best, bestN := [2]bool{true, false}, -1
	for _, c := range [][2]bool{{true, false}, {false, false}, {true, true}, {false, true}} {
		if n := count(c[0], c[1]); bestN < 0 || n < bestN {
			best, bestN = c, n
		}
	}
	p.Legend.Top, p.Legend.Left = best[0], best[1]
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(6)
	if best[0] {
		p.Legend.YOffs = -vg.Points(6)
	}
	if !best[1] {
		p.Legend.XOffs = -vg.Points(8)
	}
}

// drawTitle writes title centred in a band at the top of dc and returns
// the canvas below it.
func drawTitle(dc draw.Canvas, sty text.Style, title string) draw.Canvas {
	sty.Font.Size = vg.Points(13)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	band := vg.Length(titleBand) * dc.Max.Y / vg.Length(CurvesHeight)
	dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y - band/2}, title)
	return draw.Crop(dc, 0, 0, 0, -band)
}

func linePlot(title, ylabel string, history []EpochRecord, train, test func(EpochRecord) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.X.Tick.Marker = epochTicks{}
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		get  func(EpochRecord) float64
		col  color.Color
	}{{"train", train, trainColor}, {"test", test, testColor}} {
		pts := make(plotter.XYs, 0, len(history))
		for _, r := range history {
			if v := s.get(r); !math.IsNaN(v) && !math.IsInf(v, 0) {
				pts = append(pts, plotter.XY{X: float64(r.Epoch), Y: v})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, fmt.Errorf("curves: %s %s: %w", s.name, title, err)
		}
		l.Color, l.Width = s.col, vg.Points(1.5)
		sc.Color, sc.Radius = s.col, vg.Points(2)
		sc.Shape = draw.CircleGlyph{}
		p.Add(l, sc)
		p.Legend.Add(s.name, l, sc)
	}
	return p, nil
}

// epochTicks labels whole epochs only, every 1, 2, 5, 10, 20, 50, ...
// epochs so that at most about ten labels show.
type epochTicks struct{}

func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := math.Ceil(lo), math.Floor(hi)
	if last < first {
		return nil
	}
	step := 1.0
	for mult := 0; (last-first)/step > 10; mult++ {
		step = []float64{2, 5, 10}[mult%3] * math.Pow(10, float64(mult/3))
	}
	var ticks []plot.Tick
	for v := math.Ceil(first/step) * step; v <= last; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	if len(ticks) == 0 { // a range shorter than one step: label its first epoch
		ticks = append(ticks, plot.Tick{Value: first, Label: strconv.Itoa(int(first))})
	}
	return ticks
}
