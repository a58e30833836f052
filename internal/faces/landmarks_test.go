package faces

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"starid/internal/cpu"
	"starid/internal/tensor"
)

// randomLandmarkWeights returns a complete set of the net's tensors, with
// small random values, for tests that need no real weights.
func randomLandmarkWeights(seed uint64) *Weights {
	rng := rand.New(rand.NewPCG(seed, 7))
	return randomWeights(landmarkSpecs(), func(_ tensorSpec, data []float32) {
		for i := range data {
			data[i] = float32(rng.NormFloat64() * 0.2)
		}
	})
}

func TestNewLandmarkerValidates(t *testing.T) {
	checkWeightChecks(t, FaceLandmark68, randomLandmarkWeights, NewLandmarker, []weightCase{
		{"complete", func(*Weights) {}, ""},
		// Every problem is counted, not only the first.
		{"empty", func(w *Weights) { clear(w.Tensors) }, `"dense0/conv0/filters" is missing and `},
		{"no fc bias", func(w *Weights) { delete(w.Tensors, "fc/bias") }, `tensor "fc/bias" is missing`},
		{"tiny net's pointwise", func(w *Weights) { w.Tensors["dense1/conv0/pointwise_filter"] = tensor.New(1, 1, 32, 32) },
			`tensor "dense1/conv0/pointwise_filter" has shape [1, 1, 32, 32], want [1, 1, 32, 64]`},
		{"fc transposed", func(w *Weights) { w.Tensors["fc/weights"] = tensor.New(136, 256) },
			`"fc/weights" has shape [136, 256], want [256, 136]`},
	})
}

func TestLandmarkerRawShapes(t *testing.T) {
	l, err := NewLandmarker(randomLandmarkWeights(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{{1, 3, 112, 111}, {2, 3, 112, 112}, {1, 1, 112, 112}, {3, 112, 112}} {
		if _, err := l.Raw(tensor.New(shape...)); err == nil || !strings.Contains(err.Error(), "[1, 3, 112, 112]") {
			t.Errorf("Raw(%v): %v, want a shape error", shape, err)
		}
	}
	if _, err := l.Raw(nil); err == nil {
		t.Error("Raw(nil) gave no error")
	}
	out, err := l.Raw(goldenPattern(112).NetInput(nil, 112, true, lmMean, lmDiv))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 136 {
		t.Fatalf("Raw gave %d values, want 136", len(out))
	}
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("output %d is %g", i, v)
		}
	}
}

// TestLandmarkerConcurrent runs different inputs at once: each call must
// get the result it gets alone, bit for bit.
func TestLandmarkerConcurrent(t *testing.T) {
	l, err := NewLandmarker(randomLandmarkWeights(3))
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	inputs := make([]*tensor.Tensor, n)
	want := make([][]float32, n)
	for i := range inputs {
		img := goldenPattern(112 + 9*i) // resized: a different input each
		inputs[i] = img.NetInput(nil, 112, true, lmMean, lmDiv)
		if want[i], err = l.Raw(inputs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if tensor.SameBits(want[0], want[1]) {
		t.Fatal("different inputs gave the same output: the test could not see a mix-up")
	}
	concurrently(t, 3*n, func(k int) error {
		got, err := l.Raw(inputs[k%n])
		if err == nil && !tensor.SameBits(got, want[k%n]) {
			err = errors.New("concurrent result differs from the sequential one")
		}
		return err
	})
}

// TestCropLandmarks pins face-api's mapping from the padded square back to
// the crop with values worked out by hand.
func TestCropLandmarks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		w, h   int
		dx, dy float64
		raw    []float32
		want   []Point
	}{
		// 112/200 = 0.56: the crop becomes 112x56, 28 rows of padding
		// above and below.
		{"wide", 200, 100, 10, 20, []float32{0, 0.25, 1, 0.75, 0.5, 0.5},
			[]Point{{10, 20}, {210, 120}, {110, 70}}},
		// 112/300: 56x112, 28 columns each side.
		{"tall", 150, 300, 0, 0, []float32{0.25, 0, 0.75, 1, 0.5, 0.5},
			[]Point{{0, 0}, {150, 300}, {75, 150}}},
		{"square", 224, 224, 5, 7, []float32{0.25, 0.5, 1, 0},
			[]Point{{61, 119}, {229, 7}}},
		// An odd difference: face-api removes 0.5 * 1 * 112/241 from x.
		{"odd", 240, 241, 0, 0, []float32{0.5, 0.5},
			[]Point{{120, 120.5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := cropLandmarks(tc.raw, tc.w, tc.h, tc.dx, tc.dy)
			if len(got) != len(tc.want) {
				t.Fatalf("%d points, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if math.Abs(got[i].X-tc.want[i].X) > 1e-4 || math.Abs(got[i].Y-tc.want[i].Y) > 1e-4 {
					t.Errorf("point %d: %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestLandmarksFollowTheCrop checks where Landmarks puts its points: moving
// the face and its box by whole pixels moves every point by as much, and
// moving only the box's corner within a pixel (the same crop) moves none.
// face-api would shift by the box's fractional corner instead (see
// Landmarks).
func TestLandmarksFollowTheCrop(t *testing.T) {
	l, err := NewLandmarker(randomLandmarkWeights(4))
	if err != nil {
		t.Fatal(err)
	}
	face := goldenPattern(90)
	place := func(w, h, x0, y0 int) *Image {
		img := NewImage(w, h)
		for y := range face.H {
			copy(img.Pix[((y0+y)*w+x0)*3:], face.Pix[y*face.W*3:(y+1)*face.W*3])
		}
		return img
	}
	a, err := l.Landmarks(place(200, 150, 10, 20), Box{10, 20, 90, 80})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Landmarks(place(240, 170, 47, 33), Box{47, 33, 90, 80})
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Landmarks(place(240, 170, 47, 33), Box{47.9, 33.6, 90.3, 80.2})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != NumLandmarks || len(b) != NumLandmarks || len(c) != NumLandmarks {
		t.Fatalf("%d, %d, %d points, want %d", len(a), len(b), len(c), NumLandmarks)
	}
	for i := range a {
		if math.Abs(b[i].X-a[i].X-37) > 1e-9 || math.Abs(b[i].Y-a[i].Y-13) > 1e-9 {
			t.Fatalf("point %d: %v then %v, want a shift of (37, 13)", i, a[i], b[i])
		}
		if b[i] != c[i] {
			t.Fatalf("point %d: %v, with the box's corner moved within its pixel %v", i, b[i], c[i])
		}
	}
}

func TestLandmarksRefusesBadInput(t *testing.T) {
	l, err := NewLandmarker(randomLandmarkWeights(5))
	if err != nil {
		t.Fatal(err)
	}
	img := goldenPattern(64)
	for _, tc := range []struct {
		name string
		img  *Image
		box  Box
	}{
		{"nil image", nil, Box{0, 0, 10, 10}},
		{"short pixels", &Image{W: 4, H: 4, Pix: make([]float32, 10)}, Box{0, 0, 2, 2}},
		{"box right of the image", img, Box{70, 10, 20, 20}},
		{"box above the image", img, Box{10, -30, 20, 20}},
		{"box under a pixel", img, Box{10.2, 10.2, 0.5, 0.5}},
		{"NaN box", img, Box{math.NaN(), 0, 20, 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if pts, err := l.Landmarks(tc.img, tc.box); err == nil {
				t.Fatalf("no error, %d points", len(pts))
			}
		})
	}
}

// realLandmarker loads the net from the fetched weights, or skips.
func realLandmarker(t testing.TB) (*Landmarker, string) {
	t.Helper()
	return loadReal(t, LoadLandmarker)
}

// sample1Boxes are the tiny face detector's 416 boxes on the demo photo
// sample1.jpg (pinned by its checksum), so these tests need no detector.
var sample1Boxes = []Box{
	{776.4727, 445.2103, 312.4573, 255.7618},
	{1421.8183, 215.6711, 307.0193, 282.6737},
	{336.4133, 396.4166, 305.0867, 251.7769},
}

// TestLandmarksAnatomy runs the real net on sample1's three faces and
// checks what any correct result satisfies: points near the box, the
// eye on the image's left left of the other, brows above eyes above the
// nose tip above the mouth above the chin.
func TestLandmarksAnatomy(t *testing.T) {
	l, dir := realLandmarker(t)
	img := loadPhoto(t, filepath.Join(dir, "demo", "sample1.jpg"))
	for i, box := range sample1Boxes {
		pts, err := l.Landmarks(img, box)
		if err != nil {
			t.Fatal(err)
		}
		mx, my := box.W*0.15, box.H*0.15
		for k, p := range pts {
			if p.X < box.X-mx || p.X > box.Right()+mx || p.Y < box.Y-my || p.Y > box.Bottom()+my {
				t.Errorf("face %d: point %d %v far outside the box %+v", i, k, p, box)
			}
		}
		ref := refPoints(pts)
		brow := (pts[19].Y + pts[24].Y) / 2
		eyes := (ref[0].Y + ref[1].Y) / 2
		if !(ref[0].X < ref[1].X) {
			t.Errorf("face %d: left eye %v not left of right eye %v", i, ref[0], ref[1])
		}
		if !(brow < eyes && eyes < pts[30].Y && pts[30].Y < ref[2].Y && ref[2].Y < pts[8].Y) {
			t.Errorf("face %d: brows %.1f, eyes %.1f, nose tip %.1f, mouth %.1f, chin %.1f not in order",
				i, brow, eyes, pts[30].Y, ref[2].Y, pts[8].Y)
		}
	}
}

// lmGolden is the part of testdata/golden.json the landmark net checks.
type lmGolden struct {
	Images []struct {
		File          string `json:"file"`
		Width, Height int
		Faces         []struct {
			Box          [4]float64   `json:"box"`
			Crop         [4]float64   `json:"crop"`
			Landmarks    [][2]float64 `json:"landmarks"`
			LandmarksRaw []float64    `json:"landmarks_raw"`
		} `json:"faces"`
	} `json:"images"`
	Synthetic struct {
		Landmarks struct {
			Size int       `json:"size"`
			Raw  []float64 `json:"raw"`
		} `json:"landmarks"`
	} `json:"synthetic"`
}

func TestLandmarksGoldenSynthetic(t *testing.T) {
	g := readGolden[lmGolden](t)
	l, _ := realLandmarker(t)
	s := g.Synthetic.Landmarks
	if s.Size != LandmarkInputSize || len(s.Raw) != lmOutputs {
		t.Fatalf("golden synthetic landmarks: size %d with %d values, want %d and %d",
			s.Size, len(s.Raw), LandmarkInputSize, lmOutputs)
	}
	raw, err := l.Raw(goldenPattern(s.Size).NetInput(nil, LandmarkInputSize, true, lmMean, lmDiv))
	if err != nil {
		t.Fatal(err)
	}
	checkNearGolden(t, "synthetic", raw, s.Raw)
}

// TestLandmarksGoldenFaces compares every golden face: the crop, the raw
// outputs and the points. face-api shifts the points by the detection box's
// corner where Landmarks uses the crop's (see Landmarks), so the golden
// points are moved from the one to the other before comparing.
func TestLandmarksGoldenFaces(t *testing.T) {
	g := readGolden[lmGolden](t)
	l, dir := realLandmarker(t)
	faces := 0
	for _, gi := range g.Images {
		img := loadPhoto(t, filepath.Join(dir, "demo", gi.File))
		if img.W != gi.Width || img.H != gi.Height {
			t.Fatalf("%s: decoded %dx%d, golden %dx%d", gi.File, img.W, img.H, gi.Width, gi.Height)
		}
		for fi, f := range gi.Faces {
			faces++
			what := fmt.Sprintf("%s face %d", gi.File, fi)
			box := Box{f.Box[0], f.Box[1], f.Box[2], f.Box[3]}
			r := img.ClipBox(box)
			if got := [4]float64{float64(r.Min.X), float64(r.Min.Y), float64(r.Dx()), float64(r.Dy())}; got != f.Crop {
				t.Errorf("%s: crop %v, golden %v", what, got, f.Crop)
				continue
			}
			crop, err := img.Crop(r)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := l.Raw(crop.NetInput(nil, LandmarkInputSize, true, lmMean, lmDiv))
			if err != nil {
				t.Fatal(err)
			}
			checkNearGolden(t, what, raw, f.LandmarksRaw)
			pts, err := l.Landmarks(img, box)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Landmarks) != len(pts) {
				t.Fatalf("%s: %d golden points, got %d", what, len(f.Landmarks), len(pts))
			}
			sx, sy := float64(r.Min.X)-box.X, float64(r.Min.Y)-box.Y
			for k, p := range pts {
				wx, wy := f.Landmarks[k][0]+sx, f.Landmarks[k][1]+sy
				if d := math.Hypot(p.X-wx, p.Y-wy); !(d <= 0.5) {
					t.Errorf("%s: point %d at %v, golden (%.3f, %.3f) moved to the crop: %.3f px apart", what, k, p, wx, wy, d)
				}
			}
		}
	}
	if faces == 0 {
		t.Fatal("golden.json has no faces")
	}
}

// TestReluSumKernelMatchesGo holds the AVX2 relu-sum kernel to the Go
// loop bit for bit (a NaN only as a NaN), for two, three and four terms,
// lengths with and without a tail, and the values where a ReLU can go
// wrong: -0 (Go's max gives +0), NaN (kept), infinities and sums that
// cancel.
func TestReluSumKernelMatchesGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("skipping: no AVX2 kernel on this machine")
	}
	r := rand.New(rand.NewPCG(11, 12))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), 1, -1, 1e-30, -1e-30}
	for _, n := range []int{8, 13, 64, 1001} {
		for terms := 2; terms <= 4; terms++ {
			t.Run(fmt.Sprintf("n%d/terms%d", n, terms), func(t *testing.T) {
				in := make([][]float32, 4)
				for k := range in {
					in[k] = make([]float32, n)
					for i := range in[k] {
						if r.IntN(4) == 0 {
							in[k][i] = special[r.IntN(len(special))]
						} else {
							in[k][i] = float32(r.NormFloat64())
						}
					}
				}
				c, d := in[2], in[3]
				if terms < 4 {
					d = nil
				}
				if terms < 3 {
					c = nil
				}
				got, want := make([]float32, n), make([]float32, n)
				reluSumRange(got, in[0], in[1], c, d)
				restore := cpu.SetLevel(cpu.Generic)
				reluSumRange(want, in[0], in[1], c, d)
				restore()
				for i := range want {
					if got[i] != got[i] && want[i] != want[i] {
						continue // both NaN; the payload's sign may differ
					}
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("value %d: kernel %v (%#x), Go %v (%#x)", i, got[i], math.Float32bits(got[i]),
							want[i], math.Float32bits(want[i]))
					}
				}
			})
		}
	}
}
