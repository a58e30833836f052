package faces

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"starid/internal/tensor"
)

// fakeSSDWeights returns weights of the SSD detector's names and shapes
// with random values that keep activations of order one (and inside
// ReLU6's range often enough that the clip is exercised on both sides).
func fakeSSDWeights(seed uint64) *Weights {
	rng := rand.New(rand.NewPCG(seed, 7))
	w := &Weights{Tensors: map[string]*tensor.Tensor{}}
	for _, s := range ssdSpecs() {
		t := tensor.New(s.shape...)
		uniform := func(lo, hi float64) {
			for i := range t.Data {
				t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
			}
		}
		switch {
		case s.name == "Output/extra_dim":
			fakePriors(t.Data, rng)
		case strings.HasSuffix(s.name, "moving_variance"):
			uniform(0.5, 2)
		case strings.HasSuffix(s.name, "gamma"):
			uniform(0.5, 1.5)
		case len(s.shape) == 4:
			fanIn := s.shape[0] * s.shape[1] * s.shape[2]
			if strings.Contains(s.name, "depthwise") {
				fanIn = s.shape[0] * s.shape[1]
			}
			b := math.Sqrt(6 / float64(fanIn))
			uniform(-b, b)
		default:
			uniform(-0.3, 0.5)
		}
		w.Names = append(w.Names, s.name)
		w.Tensors[s.name] = t
	}
	return w
}

// fakePriors fills ymin, xmin, ymax, xmax boxes inside the unit square.
func fakePriors(d []float32, rng *rand.Rand) {
	for i := 0; i < len(d); i += 4 {
		y, x := rng.Float64()*0.8, rng.Float64()*0.8
		d[i], d[i+1] = float32(y), float32(x)
		d[i+2], d[i+3] = float32(y+0.05+0.15*rng.Float64()), float32(x+0.05+0.15*rng.Float64())
	}
}

func TestNewSSDValidatesWeights(t *testing.T) {
	checkWeightChecks(t, ssdManifest, fakeSSDWeights, NewSSD, []weightCase{
		{"complete", func(*Weights) {}, ""},
		{"graph constants ignored", func(w *Weights) { w.Tensors["concat_1/axis"] = tensor.New(1) }, ""},
		{"missing", func(w *Weights) { delete(w.Tensors, "MobilenetV1/Conv2d_7_depthwise/BatchNorm/gamma") },
			`"MobilenetV1/Conv2d_7_depthwise/BatchNorm/gamma" is missing`},
		{"wrong shape", func(w *Weights) { w.Tensors["Output/extra_dim"] = tensor.New(1, 5000, 4) },
			`"Output/extra_dim" has shape [1, 5000, 4], want [1, 5118, 4]`},
	})
}

func TestLoadSSDMissingFolder(t *testing.T) {
	_, err := LoadSSD(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), ssdManifest) {
		t.Fatalf("error %v, want one naming %s", err, ssdManifest)
	}
}

// nhwc is a plain TF-layout feature map for the reference implementation.
type nhwc struct {
	h, w, c int
	v       []float64
}

func (m nhwc) at(y, x, c int) float64 {
	if y < 0 || x < 0 || y >= m.h || x >= m.w {
		return 0
	}
	return m.v[(y*m.w+x)*m.c+c]
}

// refConv is TF's conv2d (or depthwise, multiplier 1) with SAME padding,
// straight from its definition: the output is ceil(in/stride) and the
// padding before is half the total, rounded down. It reads the TF-layout
// filter, so it checks the layout conversions too.
func refConv(in nhwc, f *tensor.Tensor, stride int, depthwise bool) nhwc {
	k, outC := f.Shape[0], f.Shape[3]
	if depthwise {
		outC = in.c
	}
	oh, ow := (in.h+stride-1)/stride, (in.w+stride-1)/stride
	padY := max((oh-1)*stride+k-in.h, 0) / 2
	padX := max((ow-1)*stride+k-in.w, 0) / 2
	out := nhwc{oh, ow, outC, make([]float64, oh*ow*outC)}
	for y := range oh {
		for x := range ow {
			for o := range outC {
				s := 0.0
				for dy := range k {
					for dx := range k {
						iy, ix := y*stride+dy-padY, x*stride+dx-padX
						if depthwise {
							s += in.at(iy, ix, o) * float64(f.Data[(dy*k+dx)*in.c+o])
							continue
						}
						for i := range in.c {
							s += in.at(iy, ix, i) * float64(f.Data[((dy*k+dx)*in.c+i)*outC+o])
						}
					}
				}
				out.v[(y*ow+x)*outC+o] = s
			}
		}
	}
	return out
}

// refAffine applies per-channel x*scale + add, then clips to [0, 6] if
// asked.
func refAffine(m nhwc, scale, add func(c int) float64, clip bool) nhwc {
	for i := range m.v {
		c := i % m.c
		v := m.v[i]*scale(c) + add(c)
		if clip {
			v = min(max(v, 0), 6)
		}
		m.v[i] = v
	}
	return m
}

// refSSDMaps is the SSD net computed in TF's layout and order from the raw
// weights: the six predictor outputs, NHWC.
func refSSDMaps(w *Weights, img nhwc) []nhwc {
	g := func(n string) *tensor.Tensor { return w.Tensors[n] }
	one := func(int) float64 { return 1 }
	bias := func(n string) func(int) float64 { return func(c int) float64 { return float64(g(n).Data[c]) } }
	pw := func(x nhwc, p string, stride int) nhwc {
		return refAffine(refConv(x, g(p+"weights"), stride, false), one, bias(p+"convolution_bn_offset"), true)
	}
	x := pw(img, "MobilenetV1/Conv2d_0_pointwise/", 2)
	var feats []nhwc
	for i := 1; i <= 13; i++ {
		p := "MobilenetV1/Conv2d_" + strconv.Itoa(i) + "_depthwise/"
		stride := 1
		if ssdStride2[i] {
			stride = 2
		}
		x = refConv(x, g(p+"depthwise_weights"), stride, true)
		gamma, beta, mean, vr := g(p+"BatchNorm/gamma"), g(p+"BatchNorm/beta"), g(p+"BatchNorm/moving_mean"), g(p+"BatchNorm/moving_variance")
		inv := func(c int) float64 { return float64(gamma.Data[c]) / math.Sqrt(float64(vr.Data[c])+ssdBNEpsilon) }
		x = refAffine(x, inv, func(c int) float64 { return float64(beta.Data[c]) - float64(mean.Data[c])*inv(c) }, true)
		x = pw(x, "MobilenetV1/Conv2d_"+strconv.Itoa(i)+"_pointwise/", 1)
		if i == 11 || i == 13 {
			feats = append(feats, x)
		}
	}
	for i := range 8 {
		x = pw(x, "Prediction/Conv2d_"+strconv.Itoa(i)+"_pointwise/", 1+i%2)
		if i%2 == 1 {
			feats = append(feats, x)
		}
	}
	var out []nhwc
	for i, f := range feats {
		p := "Prediction/BoxPredictor_" + strconv.Itoa(i) + "/"
		box := refAffine(refConv(f, g(p+"BoxEncodingPredictor/weights"), 1, false), one, bias(p+"BoxEncodingPredictor/biases"), false)
		cls := refAffine(refConv(f, g(p+"ClassPredictor/weights"), 1, false), one, bias(p+"ClassPredictor/biases"), false)
		out = append(out, box, cls)
	}
	return out
}

// TestSSDForwardMatchesReference runs the engine's net at 64x64 (the net
// is fully convolutional; only the priors fix 512) and compares all six
// predictor maps with the reference written from TF's definitions.
func TestSSDForwardMatchesReference(t *testing.T) {
	w := fakeSSDWeights(3)
	s, err := NewSSD(fakeSSDWeights(3))
	if err != nil {
		t.Fatal(err)
	}
	const size = 64
	rng := rand.New(rand.NewPCG(5, 6))
	img := nhwc{size, size, 3, make([]float64, size*size*3)}
	in := tensor.New(1, 3, size, size)
	for y := range size {
		for x := range size {
			for c := range 3 {
				v := float32(2*rng.Float64() - 1)
				img.v[(y*size+x)*3+c] = float64(v)
				in.Data[(c*size+y)*size+x] = v
			}
		}
	}
	net := s.newNet()
	net.in = in
	maps, err := net.forward()
	if err != nil {
		t.Fatal(err)
	}
	want := refSSDMaps(w, img)
	for i, m := range maps {
		box, cls := want[2*i], want[2*i+1]
		h, wd := m.Shape[2], m.Shape[3]
		if h != box.h || wd != box.w || m.Shape[1] != box.c+cls.c {
			t.Fatalf("map %d: shape %v, reference %dx%d with %d+%d channels", i, m.Shape, box.h, box.w, box.c, cls.c)
		}
		worst := 0.0
		for y := range h {
			for x := range wd {
				for c := range m.Shape[1] {
					var ref float64
					if c < box.c {
						ref = box.at(y, x, c)
					} else {
						ref = cls.at(y, x, c-box.c)
					}
					worst = max(worst, math.Abs(float64(m.Data[(c*h+y)*wd+x])-ref))
				}
			}
		}
		if worst > 1e-3 {
			t.Errorf("map %d (%dx%d): differs from the reference by up to %g", i, h, wd, worst)
		}
	}
}

func TestSSDDecode(t *testing.T) {
	// One 1x2 map with 2 anchors: 4 priors.
	priors := []float64{
		0.1, 0.2, 0.3, 0.6, // centre (0.2, 0.4), size (0.2, 0.4)
		0, 0, 1, 1,
		0.5, 0.5, 0.7, 0.9,
		0.2, 0.2, 0.4, 0.4,
	}
	m := tensor.New(1, 2*7, 1, 2)
	set := func(ch, cell int, v float32) { m.Data[ch*2+cell] = v }
	// Cell 0, anchor 0: shift the centre by one size down and half right,
	// double the height, keep the width; face logit 0 (score 0.5).
	set(0, 0, 10)
	set(1, 0, 5)
	set(2, 0, float32(5*math.Log(2)))
	// Cell 0, anchor 1: zero encodings give the prior; a high face logit
	// and a higher background one (only the face logit counts).
	set(8+3+1, 0, 3)
	set(8+3, 0, 9)
	// Cell 1, anchor 0: face logit -2.
	set(8+1, 1, -2)
	r := &SSDRaw{}
	r.add(m, 2, priors)
	want := []struct {
		box   [4]float64
		score float64
	}{
		{[4]float64{0.2, 0.4, 0.6, 0.8}, 0.5},
		{[4]float64{0, 0, 1, 1}, sigmoid(3)},
		{[4]float64{0.5, 0.5, 0.7, 0.9}, sigmoid(-2)},
		{[4]float64{0.2, 0.2, 0.4, 0.4}, 0.5},
	}
	if len(r.Scores) != 4 {
		t.Fatalf("%d predictions, want 4", len(r.Scores))
	}
	for i, w := range want {
		for k := range 4 {
			if math.Abs(r.Boxes[i][k]-w.box[k]) > 1e-6 {
				t.Errorf("prior %d: box %v, want %v", i, r.Boxes[i], w.box)
				break
			}
		}
		if math.Abs(r.Scores[i]-w.score) > 1e-7 {
			t.Errorf("prior %d: score %g, want %g", i, r.Scores[i], w.score)
		}
	}
}

func TestSSDDetections(t *testing.T) {
	r := &SSDRaw{
		Boxes: [][4]float64{
			{0.1, 0.1, 0.3, 0.3},   // best
			{0.1, 0.15, 0.3, 0.35}, // IoU 0.6 with the best: dropped
			{0.1, 0.2, 0.3, 0.4},   // IoU 1/3: kept
			{0.5, 0.5, 0.6, 0.6},   // at the threshold: not kept (strictly above)
			{-0.1, 0.8, 0.2, 1.2},  // past the square: cut to it
		},
		Scores: []float64{0.9, 0.8, 0.7, 0.4, 0.6},
	}
	// A 1000x500 photo fills the square's top half: x scales by 1000,
	// y by 1000 too (the padding below is part of the square).
	got := r.Detections(1000, 500, 0.4)
	want := []Box{
		{X: 100, Y: 100, W: 200, H: 200},
		{X: 200, Y: 100, W: 200, H: 200},
		{X: 800, Y: 0, W: 200, H: 200},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d detections %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i].Box
		if math.Abs(g.X-w.X) > 1e-9 || math.Abs(g.Y-w.Y) > 1e-9 || math.Abs(g.W-w.W) > 1e-9 || math.Abs(g.H-w.H) > 1e-9 {
			t.Errorf("detection %d: %+v, want %+v", i, g, w)
		}
		if got[i].Size != SSDSize {
			t.Errorf("detection %d: size %d, want %d", i, got[i].Size, SSDSize)
		}
	}
	if got[0].Score != 0.9 || got[1].Score != 0.7 || got[2].Score != 0.6 {
		t.Errorf("scores %v %v %v, want 0.9 0.7 0.6 (best first)", got[0].Score, got[1].Score, got[2].Score)
	}
}

func TestSSDDetectionsCapsResults(t *testing.T) {
	r := &SSDRaw{}
	for i := range 150 {
		y := float64(i/15) * 0.1
		x := float64(i%15) * 0.06
		r.Boxes = append(r.Boxes, [4]float64{y, x, y + 0.05, x + 0.05})
		r.Scores = append(r.Scores, 0.9-float64(i)*0.001)
	}
	if got := r.Detections(512, 512, 0.5); len(got) != ssdMaxResults {
		t.Fatalf("%d detections, want face-api's cap of %d", len(got), ssdMaxResults)
	}
}

func TestSSDInputChecks(t *testing.T) {
	s, err := NewSSD(fakeSSDWeights(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Detect(&Image{W: 4, H: 4, Pix: make([]float32, 5)}, 0.5); err == nil {
		t.Error("Detect accepted an image with the wrong number of values")
	}
	if _, err := s.Detect(nil, 0.5); err == nil {
		t.Error("Detect accepted no image")
	}
	// A 1-pixel-high strip still maps its boxes without dividing by zero.
	dets, err := s.Detect(NewImage(300, 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dets {
		if math.IsNaN(d.Box.Y) || math.IsInf(d.Box.H, 0) {
			t.Fatalf("box %+v on a 300x1 image", d.Box)
		}
	}
}

func TestPreferSSD(t *testing.T) {
	ssd := []Detection{
		{Box: Box{X: 100, Y: 100, W: 100, H: 120}, Score: 0.99},
		{Box: Box{X: 400, Y: 100, W: 100, H: 120}, Score: 0.6},
	}
	tiny := []Detection{
		{Box: Box{X: 80, Y: 80, W: 150, H: 150}, Score: 0.9},  // the first face, boxed larger: dropped
		{Box: Box{X: 170, Y: 100, W: 90, H: 90}, Score: 0.8},  // shares 33% with it: dropped
		{Box: Box{X: 700, Y: 100, W: 90, H: 90}, Score: 0.7},  // a small face the SSD missed: kept
		{Box: Box{X: 480, Y: 200, W: 95, H: 95}, Score: 0.95}, // shares 4% of the second: kept
		{Box: Box{X: 300, Y: 0, W: 300, H: 300}, Score: 0.65}, // a close-up holding the second: kept
	}
	got := preferSSD(append([]Detection(nil), ssd...), tiny)
	want := []float64{0.99, 0.95, 0.7, 0.65, 0.6}
	if len(got) != len(want) {
		t.Fatalf("got %d faces %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i].Score != w {
			t.Errorf("face %d: score %v, want %v (best first)", i, got[i].Score, w)
		}
	}
	if got := preferSSD(nil, tiny[2:3]); len(got) != 1 || got[0] != tiny[2] {
		t.Errorf("without SSD faces the tiny detector's must stay, got %+v", got)
	}
}

// In a group photo's pooled look the tiny detector's boxes stay and the
// SSD only adds the faces it alone found.
func TestAddNewFaces(t *testing.T) {
	tiny := []Detection{
		{Box: Box{X: 80, Y: 80, W: 150, H: 150}, Score: 0.9},
		{Box: Box{X: 700, Y: 100, W: 90, H: 90}, Score: 0.7},
	}
	ssd := []Detection{
		{Box: Box{X: 100, Y: 100, W: 100, H: 120}, Score: 0.99}, // the first tiny face: not added
		{Box: Box{X: 400, Y: 100, W: 100, H: 120}, Score: 0.6},  // a turned face only the SSD saw
	}
	got := addNewFaces(tiny, ssd)
	want := []Detection{tiny[0], tiny[1], ssd[1]}
	if len(got) != len(want) {
		t.Fatalf("got %d faces %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("face %d: %+v, want %+v", i, got[i], w)
		}
	}
}

func TestOverlapOfSmaller(t *testing.T) {
	a := Box{X: 0, Y: 0, W: 10, H: 10}
	for _, tc := range []struct {
		b    Box
		want float64
	}{
		{Box{X: 2, Y: 2, W: 4, H: 4}, 1},     // inside
		{Box{X: 5, Y: 0, W: 10, H: 10}, 0.5}, // half
		{Box{X: 20, Y: 20, W: 5, H: 5}, 0},   // apart
		{Box{X: 0, Y: 0, W: 0, H: 5}, 0},     // empty
		{Box{X: -5, Y: -5, W: 40, H: 40}, 1}, // around
	} {
		if got := overlapOfSmaller(a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("overlapOfSmaller(%v, %v) = %v, want %v", a, tc.b, got, tc.want)
		}
	}
}
