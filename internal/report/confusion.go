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
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Confusion-matrix layout in pixels: a fixed cell, plus room for the title,
// the axis names and the class names (rotated on the x axis).
const (
	confCell   = 40
	confMargin = 200
	// MaxLabel is the longest class name drawn in full; longer names are
	// cut with an ellipsis so the matrix keeps its size. All 17 celebrity
	// names fit.
	MaxLabel = 20
)

// ConfusionSize is the pixel size ConfusionPNG uses for a matrix with the
// given number of rows (true classes) and columns (predicted classes).
func ConfusionSize(rows, cols int) (w, h int) {
	// A floor keeps the title and axis names whole for two or three classes.
	return max(confMargin+confCell*cols, 360), max(confMargin+confCell*rows, 360)
}

// ConfusionPNG draws m (rows = true class, columns = predicted class) as a
// heat map with the count in every cell. Row i is classes[i]; m may have
// one extra column, which is labelled "unknown" (open-set rejections). The
// colour is the cell's share of its row, i.e. the recall of the diagonal,
// so that classes with few photos are as readable as those with many.
// title (lines split at "\n") says what was evaluated; "" gives a plain
// "Confusion matrix".
func ConfusionPNG(m [][]int, classes []string, title, path string) error {
	if len(m) == 0 {
		return errors.New("confusion: empty matrix")
	}
	if len(m) != len(classes) {
		return fmt.Errorf("confusion: %d rows for %d classes", len(m), len(classes))
	}
	cols := len(m[0])
	if cols != len(classes) && cols != len(classes)+1 {
		return fmt.Errorf("confusion: %d columns for %d classes (want %d, or %d with an unknown column)",
			cols, len(classes), len(classes), len(classes)+1)
	}
	for i, row := range m {
		if len(row) != cols {
			return fmt.Errorf("confusion: row %d has %d columns, row 0 has %d", i, len(row), cols)
		}
		for j, v := range row {
			if v < 0 {
				return fmt.Errorf("confusion: negative count %d at row %d column %d", v, i, j)
			}
		}
	}
	colNames := make([]string, cols)
	for j := range cols {
		if j < len(classes) {
			colNames[j] = abbreviate(classes[j])
		} else {
			colNames[j] = "unknown"
		}
	}
	rows := len(m)
	rowNames := make([]string, rows) // bottom to top, so classes[0] is the top row
	for i := range rows {
		rowNames[rows-1-i] = abbreviate(classes[i])
	}

	g := confGrid{m: m, share: rowShares(m)}
	p := plot.New()
	p.Title.Text = title
	if title == "" {
		p.Title.Text = "Confusion matrix"
	}
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "true"
	p.X.Padding, p.Y.Padding = 0, 0
	hm := plotter.NewHeatMap(g, whiteToBlue(64))
	hm.Min, hm.Max = 0, 1
	p.Add(hm)
	p.NominalX(colNames...)
	p.NominalY(rowNames...)
	p.X.Tick.Label.Rotation = math.Pi / 2
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter

	var pts plotter.XYs
	var texts []string
	var dark []bool
	for i, row := range m {
		for j, v := range row {
			pts = append(pts, plotter.XY{X: float64(j), Y: float64(rows - 1 - i)})
			texts = append(texts, strconv.Itoa(v))
			dark = append(dark, g.share[i][j] > 0.55)
		}
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: pts, Labels: texts})
	if err != nil {
		return fmt.Errorf("confusion: %w", err)
	}
	for k := range labels.TextStyle {
		st := &labels.TextStyle[k]
		st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
		st.Font.Size = vg.Points(9)
		switch {
		case dark[k]:
			st.Color = color.White
		case texts[k] == "0":
			st.Color = color.Gray{Y: 170}
		default:
			st.Color = color.Black
		}
	}
	p.Add(labels)

	w, h := ConfusionSize(rows, cols)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	c := vgimg.NewWith(vgimg.UseImage(img))
	p.Draw(draw.New(c))
	return WritePNG(c.Image(), path)
}

func abbreviate(s string) string {
	r := []rune(s)
	if len(r) <= MaxLabel {
		return s
	}
	return string(r[:MaxLabel-1]) + "…"
}

func rowShares(m [][]int) [][]float64 {
	s := make([][]float64, len(m))
	for i, row := range m {
		s[i] = make([]float64, len(row))
		total := 0
		for _, v := range row {
			total += v
		}
		for j, v := range row {
			if total > 0 {
				s[i][j] = float64(v) / float64(total)
			}
		}
	}
	return s
}

// confGrid adapts the matrix to plotter.GridXYZ; grid row r is drawn at
// height r, so matrix row i lives at grid row len(m)-1-i.
type confGrid struct {
	m     [][]int
	share [][]float64
}

func (g confGrid) Dims() (c, r int)   { return len(g.m[0]), len(g.m) }
func (g confGrid) Z(c, r int) float64 { return g.share[len(g.m)-1-r][c] }
func (g confGrid) X(c int) float64    { return float64(c) }
func (g confGrid) Y(r int) float64    { return float64(r) }

// palette of n colours from white to a dark blue.
type rampPalette []color.Color

func (p rampPalette) Colors() []color.Color { return p }

func whiteToBlue(n int) rampPalette {
	p := make(rampPalette, n)
	lo := [3]float64{255, 255, 255}
	hi := [3]float64{8, 48, 107}
	for i := range p {
		t := float64(i) / float64(n-1)
		p[i] = color.RGBA{
			R: uint8(lo[0] + t*(hi[0]-lo[0]) + 0.5),
			G: uint8(lo[1] + t*(hi[1]-lo[1]) + 0.5),
			B: uint8(lo[2] + t*(hi[2]-lo[2]) + 0.5),
			A: 255,
		}
	}
	return p
}
