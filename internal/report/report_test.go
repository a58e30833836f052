package report

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"starid/internal/testkit"

	"gonum.org/v1/plot"
)

// keepDir, when set (STARID_REPORT_DIR=/tmp/x go test), keeps the pictures
// for a look by eye.
func outPath(t *testing.T, name string) string {
	if d := os.Getenv("STARID_REPORT_DIR"); d != "" {
		return filepath.Join(d, name)
	}
	return filepath.Join(t.TempDir(), name)
}

func decode(t *testing.T, path string, w, h int) image.Image {
	t.Helper()
	img := testkit.ReadPNG(t, path)
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("%s: %dx%d, want %dx%d", path, b.Dx(), b.Dy(), w, h)
	}
	return img
}

// distinct counts pixels in r that differ from bg.
func distinct(img image.Image, r image.Rectangle, bg color.Color) int {
	br, bgg, bb, _ := bg.RGBA()
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cr != br || cg != bgg || cb != bb {
				n++
			}
		}
	}
	return n
}

// countColor counts pixels within 40/255 of c per channel.
func countColor(img image.Image, r image.Rectangle, c color.RGBA) int {
	n := 0
	near := func(a uint32, b uint8) bool { return math.Abs(float64(a>>8)-float64(b)) < 40 }
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, c.R) && near(cg, c.G) && near(cb, c.B) {
				n++
			}
		}
	}
	return n
}

func history(n int) []EpochRecord {
	h := make([]EpochRecord, n)
	for i := range h {
		e := float64(i + 1)
		h[i] = EpochRecord{Epoch: i + 1, TrainAcc: 1 - 0.9/e, TrainLoss: 2 / e, TestAcc: 0.8 - 0.7/e, TestLoss: 2.2/e + 0.02*e, LR: 1e-4}
	}
	return h
}

func TestCurves(t *testing.T) {
	path := outPath(t, "curves.png")
	h := history(12)
	h[0].Best, h[4].Best = true, true
	if err := Curves(h, CurvesText{Title: "run1 (vgg16-bn): best epoch 5 of 12, test accuracy 66.0%"}, path); err != nil {
		t.Fatal(err)
	}
	img := decode(t, path, CurvesWidth, CurvesHeight)
	left := image.Rect(0, 0, CurvesWidth/2, CurvesHeight)
	right := image.Rect(CurvesWidth/2, 0, CurvesWidth, CurvesHeight)
	// Both series are drawn in both halves, in their own colours.
	for name, r := range map[string]image.Rectangle{"accuracy": left, "loss": right} {
		if n := countColor(img, r, trainColor); n < 200 {
			t.Errorf("%s plot: %d train-coloured pixels", name, n)
		}
		if n := countColor(img, r, testColor); n < 200 {
			t.Errorf("%s plot: %d test-coloured pixels", name, n)
		}
	}
	// The title band (text) differs from the white background.
	if n := distinct(img, image.Rect(0, 0, CurvesWidth, 30), color.White); n < 50 {
		t.Errorf("title band has %d non-white pixels", n)
	}
	// The best epoch's line and rings, on both plots.
	for name, r := range map[string]image.Rectangle{"accuracy": left, "loss": right} {
		if n := countColor(img, r, bestColor); n < 100 {
			t.Errorf("%s plot: %d best-coloured pixels, want the best epoch marked", name, n)
		}
	}
	// No temporary file left beside it.
	entries, _ := os.ReadDir(filepath.Dir(path))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// The marked epoch's legend says why the run keeps it: "best" unless
// told otherwise, and a face run's "kept (last)" changes the picture.
func TestCurvesMark(t *testing.T) {
	h := history(6)
	h[1].Best, h[5].Best = true, true
	render := func(mark string) []byte {
		path := outPath(t, "curves-mark-"+strings.ReplaceAll(mark, " ", "_")+".png")
		if err := Curves(h, CurvesText{Title: "run", Mark: mark}, path); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	def, best, kept := render(""), render("best"), render("kept (last)")
	if !bytes.Equal(def, best) {
		t.Error(`an empty mark is not drawn as "best"`)
	}
	if bytes.Equal(best, kept) {
		t.Error("the mark's words do not reach the picture")
	}
	if got := markLegend("kept (last)", h[5]); got != "kept (last): epoch 6, test "+strconv.FormatFloat(100*h[5].TestAcc, 'f', 1, 64)+"%" {
		t.Errorf("legend %q", got)
	}
}

func TestCurvesOneEpochAndNaN(t *testing.T) {
	h := history(3)
	h[2].TestLoss = math.NaN()
	h[1].TrainLoss = math.Inf(1)
	for name, hist := range map[string][]EpochRecord{"one": history(1), "nan": h} {
		path := outPath(t, "curves-"+name+".png")
		if err := Curves(hist, CurvesText{}, path); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		img := decode(t, path, CurvesWidth, CurvesHeight)
		if n := countColor(img, img.Bounds(), testColor); n < 20 {
			t.Errorf("%s: %d test-coloured pixels", name, n)
		}
		if n := countColor(img, img.Bounds(), bestColor); n != 0 {
			t.Errorf("%s: no epoch is marked best, but %d pixels are best-coloured", name, n)
		}
	}
}

func TestCurvesErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Curves(nil, CurvesText{}, filepath.Join(dir, "c.png")); err == nil || !strings.Contains(err.Error(), "empty history") {
		t.Errorf("empty history: %v", err)
	}
	if err := Curves(history(2), CurvesText{}, filepath.Join(dir, "missing", "c.png")); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "c.png")); !os.IsNotExist(err) {
		t.Errorf("a failed Curves left a file: %v", err)
	}
}

var celebs = []string{"Angelina Jolie", "Brad Pitt", "Denzel Washington", "Hugh Jackman", "Jennifer Lawrence",
	"Johnny Depp", "Kate Winslet", "Leonardo DiCaprio", "Megan Fox", "Natalie Portman", "Nicole Kidman",
	"Robert Downey Jr", "Sandra Bullock", "Scarlett Johansson", "Tom Cruise", "Tom Hanks", "Will Smith"}

func TestConfusionPNG(t *testing.T) {
	for _, unknown := range []bool{false, true} {
		n := len(celebs)
		cols := n
		if unknown {
			cols++
		}
		m := make([][]int, n)
		for i := range m {
			m[i] = make([]int, cols)
			m[i][i] = 10 + i
			m[i][(i+1)%n] = 2
			if unknown {
				m[i][n] = 1
			}
		}
		path := outPath(t, map[bool]string{false: "confusion.png", true: "confusion-unknown.png"}[unknown])
		if err := ConfusionPNG(m, celebs, "celebs (face)\naccuracy 80.1% on 300 photos (test split)", path); err != nil {
			t.Fatal(err)
		}
		w, h := ConfusionSize(n, cols)
		img := decode(t, path, w, h)
		// Dark diagonal cells: each holds most of its row.
		if got := countColor(img, img.Bounds(), color.RGBA{R: 8, G: 48, B: 107}); got < n*confCell*confCell/4 {
			t.Errorf("unknown=%v: %d dark pixels, want the %d diagonal cells", unknown, got, n)
		}
		// The left margin holds the class names.
		if d := distinct(img, image.Rect(0, confMargin/4, confMargin/2, h-confMargin/2), color.White); d < 500 {
			t.Errorf("unknown=%v: label margin has only %d non-white pixels", unknown, d)
		}
	}
}

func TestConfusionErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.png")
	cases := []struct {
		m       [][]int
		classes []string
		msg     string
	}{
		{nil, nil, "empty"},
		{[][]int{{1, 0}, {0, 1}}, []string{"a"}, "2 rows for 1 classes"},
		{[][]int{{1, 0, 0, 0}, {0, 1, 0, 0}}, []string{"a", "b"}, "4 columns"},
		{[][]int{{1, 0}, {0}}, []string{"a", "b"}, "row 1 has 1 columns"},
		{[][]int{{1, -1}, {0, 1}}, []string{"a", "b"}, "negative"},
	}
	for _, c := range cases {
		if err := ConfusionPNG(c.m, c.classes, "", path); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v %v: %v, want %q", c.m, c.classes, err, c.msg)
		}
	}
}

func TestAbbreviate(t *testing.T) {
	if got := abbreviate("Leonardo DiCaprio"); got != "Leonardo DiCaprio" {
		t.Errorf("short name changed: %q", got)
	}
	long := "Daniel Michael Blake Day-Lewis"
	if got := abbreviate(long); len([]rune(got)) != MaxLabel || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "Daniel Michael") {
		t.Errorf("abbreviate(%q) = %q", long, got)
	}
}

func solid(w, h int, c color.RGBA) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
	}
	return img
}

func TestGrid(t *testing.T) {
	red := color.RGBA{R: 220, A: 255}
	var imgs []image.Image
	var labels []string
	for i := range 12 {
		// Landscape, portrait and square photos of different sizes.
		w, h := 300+20*i, 200+30*(i%4)
		imgs = append(imgs, solid(w, h, red))
		labels = append(labels, celebs[i])
	}
	labels[11] = "A name far too long to fit under one picture"
	path := outPath(t, "grid.png")
	if err := Grid(imgs, labels, 4, path); err != nil {
		t.Fatal(err)
	}
	w, h := GridSize(12, 4)
	img := decode(t, path, w, h)
	for i := range 12 {
		x0 := gridPad + (i%4)*(Thumb+gridPad)
		y0 := gridPad + (i/4)*(Thumb+LabelBand+gridPad)
		// The centre of each cell shows the picture.
		if n := countColor(img, image.Rect(x0+Thumb/2-10, y0+Thumb/2-10, x0+Thumb/2+10, y0+Thumb/2+10), red); n != 400 {
			t.Errorf("cell %d: centre has %d red pixels of 400", i, n)
		}
		// The band under it carries text, and the text stays in its cell.
		band := image.Rect(x0, y0+Thumb, x0+Thumb, y0+Thumb+LabelBand)
		if n := distinct(img, band, gridBackground); n < 30 {
			t.Errorf("cell %d: label band has %d non-background pixels", i, n)
		}
		gap := image.Rect(x0+Thumb, y0+Thumb, x0+Thumb+gridPad, y0+Thumb+LabelBand)
		if n := distinct(img, gap, gridBackground); n != 0 {
			t.Errorf("cell %d: label spills into the gap (%d pixels)", i, n)
		}
	}
	// A portrait image is letterboxed: the cell's left edge stays background.
	img2, err := GridImage([]image.Image{solid(100, 200, red)}, []string{"tall"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n := distinct(img2, image.Rect(gridPad, gridPad, gridPad+30, gridPad+Thumb), gridBackground); n != 0 {
		t.Errorf("portrait image not centred: %d pixels in the left margin", n)
	}
}

func TestGridErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.png")
	one := []image.Image{solid(4, 4, color.RGBA{A: 255})}
	cases := []struct {
		imgs   []image.Image
		labels []string
		cols   int
		msg    string
	}{
		{nil, nil, 4, "no images"},
		{one, []string{"a", "b"}, 4, "2 labels for 1 images"},
		{one, []string{"a"}, 0, "0 columns"},
		{[]image.Image{image.NewRGBA(image.Rect(0, 0, 0, 0))}, []string{"a"}, 1, "empty"},
	}
	for _, c := range cases {
		if err := Grid(c.imgs, c.labels, c.cols, path); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%d images %v cols %d: %v, want %q", len(c.imgs), c.labels, c.cols, err, c.msg)
		}
	}
}

func TestEpochTicks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		want   string
	}{
		{1, 1, "1"},
		{1, 2, "1 2"},
		{0.8, 3.2, "1 2 3"},
		{1, 12, "2 4 6 8 10 12"},
		{1, 40, "5 10 15 20 25 30 35 40"},
		{1, 300, "50 100 150 200 250 300"},
		{1.2, 1.8, ""},
	}
	for _, c := range cases {
		var labels []string
		for _, tk := range (epochTicks{}).Ticks(c.lo, c.hi) {
			labels = append(labels, tk.Label)
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("Ticks(%v, %v) = %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
}

func TestAnnotate(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 200, 120))
	draw.Draw(src, src.Rect, image.NewUniform(color.RGBA{40, 40, 40, 255}), image.Point{}, draw.Src)
	red := color.RGBA{255, 0, 0, 255}
	marks := []Mark{
		{Box: image.Rect(50, 40, 120, 110), Label: "Tom Hanks 97%", Points: []image.Point{{80, 70}}, Color: red},
		{Box: image.Rect(-10, -10, 30, 30), Label: "unknown"}, // cut by the border: drawn as far as visible
	}
	out, err := Annotate(src, marks)
	if err != nil {
		t.Fatal(err)
	}
	if out.RGBAAt(50, 80) != red || out.RGBAAt(119, 80) != red || out.RGBAAt(80, 40) != red {
		t.Error("box edges not drawn in the mark's colour")
	}
	if out.RGBAAt(80, 70) != red {
		t.Error("landmark dot not drawn")
	}
	if out.RGBAAt(90, 90) != (color.RGBA{40, 40, 40, 255}) {
		t.Error("inside of the box must stay untouched")
	}
	// The label band sits above the box and holds white text.
	white := 0
	for y := 0; y < 40; y++ {
		for x := 50; x < 150; x++ {
			if out.RGBAAt(x, y) == (color.RGBA{255, 255, 255, 255}) {
				white++
			}
		}
	}
	if white == 0 {
		t.Error("no label text above the box")
	}
	if out.RGBAAt(29, 24) != defaultMarkColor || out.RGBAAt(20, 24) == defaultMarkColor {
		t.Error("the clipped box's right edge is missing")
	}
	if src.RGBAAt(50, 80) == red {
		t.Error("Annotate must not draw on its input")
	}
	if _, err := Annotate(image.NewRGBA(image.Rectangle{}), nil); err == nil {
		t.Error("an empty image must be refused")
	}
}

// The legend goes where the curves are not: below a run that is right
// almost at once, above one that stays low.
func TestLegendAvoidsTheCurves(t *testing.T) {
	high, low := make([]EpochRecord, 20), make([]EpochRecord, 20)
	for i := range high {
		high[i] = EpochRecord{Epoch: i + 1, TrainAcc: 0.99, TestAcc: 0.98}
		low[i] = EpochRecord{Epoch: i + 1, TrainAcc: 0.2, TestAcc: 0.1}
	}
	acc := func(r EpochRecord) [2]float64 { return [2]float64{100 * r.TrainAcc, 100 * r.TestAcc} }
	p := plot.New()
	placeLegend(p, high, 0, 100, acc)
	if p.Legend.Top {
		t.Error("high accuracy: legend on top of the curves")
	}
	placeLegend(p, low, 0, 100, acc)
	if !p.Legend.Top {
		t.Error("low accuracy: legend under the curves")
	}
}
