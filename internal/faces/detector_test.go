package faces

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"starid/internal/tensor"
	"starid/internal/testkit"
)

// fakeDetectorWeights returns weights of the right names and shapes with
// random values scaled so that activations stay of order one through the
// net (the real weights are only available after `starid models fetch`).
func fakeDetectorWeights(seed uint64) *Weights {
	rng := rand.New(rand.NewPCG(seed, 99))
	return randomWeights(detectorSpecs(), func(s tensorSpec, data []float32) {
		fanIn := 1
		if len(s.shape) == 4 {
			fanIn = s.shape[0] * s.shape[1] * s.shape[2]
			if s.shape[3] == 1 && strings.Contains(s.name, "depthwise") {
				fanIn = s.shape[0] * s.shape[1]
			}
		}
		bound := math.Sqrt(6 / float64(fanIn))
		if len(s.shape) == 1 {
			bound = 0.1
		}
		for i := range data {
			data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	})
}

func TestNewDetectorValidatesWeights(t *testing.T) {
	checkWeightChecks(t, detectorManifest, fakeDetectorWeights, NewDetector, []weightCase{
		{"complete", func(*Weights) {}, ""},
		{"extra tensor ignored", func(w *Weights) { w.Tensors["conv6/bias"] = tensor.New(3) }, ""},
		{"missing tensor", func(w *Weights) { delete(w.Tensors, "conv3/pointwise_filter") },
			`"conv3/pointwise_filter" is missing`},
		{"wrong shape", func(w *Weights) { w.Tensors["conv5/pointwise_filter"] = tensor.New(1, 1, 256, 256) },
			`"conv5/pointwise_filter" has shape [1, 1, 256, 256], want [1, 1, 256, 512]`},
		{"wrong rank", func(w *Weights) { w.Tensors["conv0/bias"] = tensor.New(1, 16) },
			`"conv0/bias" has shape [1, 16], want [16]`},
		{"two problems", func(w *Weights) { delete(w.Tensors, "conv8/bias"); delete(w.Tensors, "conv1/bias") },
			`"conv1/bias" is missing and 1 more`},
	})
}

func TestLoadDetectorMissingFolder(t *testing.T) {
	_, err := LoadDetector(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), TinyFaceDetector) {
		t.Fatalf("LoadDetector on an empty folder: %v, want an error naming the manifest", err)
	}
}

func TestWeightLayouts(t *testing.T) {
	// TF conv filter [kh=2, kw=3, in=2, out=4]: value encodes its indices.
	f := tensor.New(2, 3, 2, 4)
	for y := range 2 {
		for x := range 3 {
			for i := range 2 {
				for o := range 4 {
					f.Data[((y*3+x)*2+i)*4+o] = float32(1000*y + 100*x + 10*i + o)
				}
			}
		}
	}
	g := hwioToOIHW(f)
	if !slices.Equal(g.Shape, []int{4, 2, 2, 3}) {
		t.Fatalf("shape %v", g.Shape)
	}
	// Weight[o=3][i=1][y=1][x=2] is filter[1][2][1][3].
	if v := g.Data[((3*2+1)*2+1)*3+2]; v != 1213 {
		t.Errorf("OIHW[3][1][1][2] = %v, want 1213", v)
	}
	if v := g.Data[((2*2+0)*2+0)*3+1]; v != 102 {
		t.Errorf("OIHW[2][0][0][1] = %v, want 102", v)
	}
	// TF depthwise [kh=3, kw=3, c=4, 1].
	dw := tensor.New(3, 3, 4, 1)
	for y := range 3 {
		for x := range 3 {
			for c := range 4 {
				dw.Data[(y*3+x)*4+c] = float32(100*y + 10*x + c)
			}
		}
	}
	h := depthwiseToC1HW(dw)
	if !slices.Equal(h.Shape, []int{4, 1, 3, 3}) {
		t.Fatalf("shape %v", h.Shape)
	}
	if v := h.Data[(2*3+1)*3+0]; v != 102 {
		t.Errorf("C1HW[2][0][1][0] = %v, want 102", v)
	}
}

// logit is the inverse of the sigmoid.
func logit(p float64) float32 { return float32(math.Log(p / (1 - p))) }

func TestDecode(t *testing.T) {
	type cell struct {
		row, col, anchor int
		tx, ty, tw, th   float32
		score            float64
	}
	tests := []struct {
		name      string
		w, h      int
		size      int
		cells     []cell
		minScore  float64
		wantBoxes []Box
	}{
		{
			// 832x416 at 416: scaled to 416x208, so a cell is 32 net
			// pixels = 64 image pixels both ways.
			name: "wide photo", w: 832, h: 416, size: 416, minScore: 0.1,
			cells: []cell{{row: 3, col: 5, anchor: 2, score: 0.9}},
			wantBoxes: []Box{{
				X: 5.5*64 - 2.882459*64/2, Y: 3.5*64 - 3.518061*64/2,
				W: 2.882459 * 64, H: 3.518061 * 64,
			}},
		},
		{
			// 333x1000 at 320: scale 0.32, width 106.56 rounds to 107, so
			// x maps back by 333/107 per net pixel (face-api's rounding),
			// y by 1000/320.
			name: "rounded side", w: 333, h: 1000, size: 320, minScore: 0.1,
			cells: []cell{{row: 1, col: 2, anchor: 0, tx: logit(0.25), ty: logit(0.75), tw: float32(math.Log(2)), th: 0, score: 0.6}},
			wantBoxes: func() []Box {
				fx, fy := 333.0/107*32, 1000.0/320*32
				w, h := 2*1.603231*fx, 2.094468*fy
				return []Box{{X: 2.25*fx - w/2, Y: 1.75*fy - h/2, W: w, H: h}}
			}(),
		},
		{
			name: "threshold is strict and sorts best first", w: 416, h: 416, size: 416, minScore: 0.5,
			cells: []cell{
				{row: 0, col: 0, anchor: 0, score: 0.5},   // not above 0.5
				{row: 12, col: 12, anchor: 4, score: 0.7}, // kept, second
				{row: 6, col: 0, anchor: 1, score: 0.8},   // kept, first
			},
			wantBoxes: []Box{
				{X: 0.5*32 - 6.041143*16, Y: 6.5*32 - 7.080126*16, W: 6.041143 * 32, H: 7.080126 * 32},
				{X: 12.5*32 - 9.041765*16, Y: 12.5*32 - 10.66308*16, W: 9.041765 * 32, H: 10.66308 * 32},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.size / 32
			out := tensor.New(1, detOutputs, k, k)
			out.Fill(-30) // every other anchor scores sigmoid(-30) ~ 1e-13
			for _, c := range tc.cells {
				set := func(j int, v float32) { out.Data[(c.anchor*5+j)*k*k+c.row*k+c.col] = v }
				set(0, c.tx)
				set(1, c.ty)
				set(2, c.tw)
				set(3, c.th)
				set(4, logit(c.score))
			}
			got := NMS(decode(out, tc.w, tc.h, tc.size, tc.minScore), DetectorIoU)
			if len(got) != len(tc.wantBoxes) {
				t.Fatalf("got %d detections %v, want %d", len(got), got, len(tc.wantBoxes))
			}
			for i, want := range tc.wantBoxes {
				g := got[i]
				if g.Size != tc.size {
					t.Errorf("detection %d: Size %d, want %d", i, g.Size, tc.size)
				}
				for _, p := range [][2]float64{{g.Box.X, want.X}, {g.Box.Y, want.Y}, {g.Box.W, want.W}, {g.Box.H, want.H}} {
					if math.Abs(p[0]-p[1]) > 1e-4 {
						t.Fatalf("detection %d: box %+v, want %+v", i, g.Box, want)
					}
				}
			}
		})
	}
}

func TestDecodeTieOrderMatchesFaceAPI(t *testing.T) {
	// Two disjoint-anchor candidates with the same score: face-api sorts
	// ascending and pops, so the one scanned last (higher row) comes first.
	out := tensor.New(1, detOutputs, 2, 2)
	out.Fill(-30)
	out.Data[4*4+0*2+0] = 2 // row 0, col 0, anchor 0 objectness
	out.Data[4*4+1*2+1] = 2 // row 1, col 1
	got := NMS(decode(out, 64, 64, 64, 0.5), DetectorIoU)
	if len(got) != 2 || got[0].Box.Y < got[1].Box.Y {
		t.Fatalf("got %v, want the row-1 box first", got)
	}
}

func TestDetectInputChecks(t *testing.T) {
	d, err := NewDetector(fakeDetectorWeights(2))
	if err != nil {
		t.Fatal(err)
	}
	img := NewImage(40, 30)
	for _, size := range []int{0, 31, 100, 416 + 16, MaxDetectorSize + 32} {
		if _, err := d.Detect(img, size, 0.5); err == nil || !strings.Contains(err.Error(), "multiple of 32") {
			t.Errorf("size %d: %v, want a size error", size, err)
		}
	}
	bad := []*Image{nil, {W: 0, H: 3}, {W: 2, H: 2, Pix: make([]float32, 5)}}
	for _, im := range bad {
		if _, err := d.Detect(im, 64, 0.5); err == nil {
			t.Errorf("image %+v accepted", im)
		}
	}
	if _, err := d.DetectMulti(img, nil, 0.5); err == nil {
		t.Error("DetectMulti with no sizes succeeded")
	}
	if _, err := d.DetectMulti(img, []int{64, 65}, 0.5); err == nil {
		t.Error("DetectMulti with a bad size succeeded")
	}
	if _, err := d.DetectFallback(img, []int{64, 65}, 0.5); err == nil {
		t.Error("DetectFallback with a bad size succeeded")
	}
}

func TestDetectFallback(t *testing.T) {
	d, err := NewDetector(fakeDetectorWeights(6))
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(90, 70, 7)
	// Every anchor scores above 0: the first size settles it.
	dets, err := d.DetectFallback(img, []int{96, 64}, 0)
	if err != nil || len(dets) == 0 || dets[0].Size != 96 {
		t.Fatalf("threshold 0: %v, %v; want detections from size 96", dets, err)
	}
	// No score exceeds 1: every size runs and the result is empty.
	dets, err = d.DetectFallback(img, []int{96, 64}, 1)
	if err != nil || dets == nil || len(dets) != 0 {
		t.Fatalf("threshold 1: %v, %v; want an empty, non-nil slice", dets, err)
	}
}

// randomImage fills an image with smooth random colour blobs.
func randomImage(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 5))
	m := NewImage(w, h)
	fx, fy := rng.Float64()*0.2, rng.Float64()*0.2
	for i := range m.Pix {
		p := i / 3
		x, y := float64(p%w), float64(p/w)
		m.Pix[i] = float32(127.5 + 100*math.Sin(fx*x+float64(i%3))*math.Cos(fy*y) + 20*rng.Float64())
	}
	return m
}

func TestDetectShapesAndOddImages(t *testing.T) {
	d, err := NewDetector(fakeDetectorWeights(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ w, h, size int }{
		{10, 5, 64}, {5, 10, 32}, {1, 1, 96}, {3000, 12, 64}, {12, 3000, 64}, {4000, 1, 32}, {64, 64, 64},
	} {
		img := randomImage(tc.w, tc.h, uint64(tc.w*tc.h))
		raw, err := d.Raw(img, tc.size)
		if err != nil {
			t.Fatalf("%dx%d at %d: %v", tc.w, tc.h, tc.size, err)
		}
		k := tc.size / 32
		if !slices.Equal(raw.Shape, []int{1, detOutputs, k, k}) {
			t.Fatalf("%dx%d at %d: raw shape %v", tc.w, tc.h, tc.size, raw.Shape)
		}
		// Threshold 0 keeps every anchor: all must map to finite boxes.
		dets, err := d.Detect(img, tc.size, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(dets) == 0 {
			t.Fatalf("%dx%d at %d: no candidates at threshold 0", tc.w, tc.h, tc.size)
		}
		for _, det := range dets {
			b := det.Box
			for _, v := range []float64{b.X, b.Y, b.W, b.H, det.Score} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("%dx%d at %d: non-finite detection %+v", tc.w, tc.h, tc.size, det)
				}
			}
			if det.Size != tc.size {
				t.Fatalf("Size %d, want %d", det.Size, tc.size)
			}
		}
	}
}

func TestDetectorConcurrent(t *testing.T) {
	d, err := NewDetector(fakeDetectorWeights(4))
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{64, 96, 128}
	imgs := []*Image{randomImage(80, 60, 1), randomImage(50, 120, 2), randomImage(100, 100, 3)}
	want := make([][]float32, len(imgs))
	for i, im := range imgs {
		raw, err := d.Raw(im, sizes[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = raw.Data
	}
	concurrently(t, 24, func(g int) error {
		i := g % len(imgs)
		raw, err := d.Raw(imgs[i], sizes[i])
		if err == nil && !tensor.SameBits(raw.Data, want[i]) {
			err = fmt.Errorf("goroutine %d: image %d differs from the sequential run", g, i)
		}
		return err
	})
}

// TestDetectorMatchesTorch runs the net on random weights in starid and in
// PyTorch, which gets the weights in their TF layouts and rebuilds every TF
// op from its definition (VALID convolution, SAME pooling computed per
// dimension, depthwise convolution as groups=C), so a wrong transpose, pad
// or pooling order shows up. It skips when /usr/bin/python3 has no torch.
func TestDetectorMatchesTorch(t *testing.T) {
	python := testkit.NeedTorch(t)
	w := fakeDetectorWeights(5)
	d, err := NewDetector(w)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeF32 := func(name string, v []float32) {
		b := make([]byte, 0, 4*len(v))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		if err := os.WriteFile(filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".bin"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range detectorSpecs() {
		writeF32(s.name, w.Tensors[s.name].Data)
	}
	sizes := []int{96, 160}
	raws := make([]*tensor.Tensor, len(sizes))
	args := []string{"-c", torchDetector, dir}
	for i, size := range sizes {
		img := randomImage(150, 110, uint64(size))
		in := img.NetInput(nil, size, false, detMean, 255)
		writeF32(fmt.Sprintf("input%d", size), in.Data)
		if raws[i], err = d.Raw(img, size); err != nil {
			t.Fatal(err)
		}
		args = append(args, fmt.Sprint(size))
	}
	// One interpreter for every size: importing torch takes seconds.
	if out, err := exec.Command(python, args...).CombinedOutput(); err != nil {
		t.Fatalf("torch reference: %v\n%s", err, out)
	}
	for i, size := range sizes {
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out%d.bin", size)))
		if err != nil {
			t.Fatal(err)
		}
		ref := make([]float32, len(b)/4)
		for j := range ref {
			ref[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
		if len(ref) != len(raws[i].Data) {
			t.Fatalf("size %d: torch gives %d values, starid %d", size, len(ref), len(raws[i].Data))
		}
		if diff := tensor.MaxAbsDiff(raws[i].Data, ref); diff > 1e-4 {
			t.Errorf("size %d: max |starid - torch| = %g", size, diff)
		}
	}
}

// torchDetector is the PyTorch reference for TestDetectorMatchesTorch:
// argv = folder, input sizes; reads the TF-layout weights and the NCHW
// inputs and writes conv8's NCHW outputs.
const torchDetector = `
import sys, math, numpy as np, torch, torch.nn.functional as F
torch.set_num_threads(1)
d = sys.argv[1]
def ld(name, shape):
    return torch.from_numpy(np.fromfile(d + "/" + name.replace("/", "_") + ".bin", dtype="<f4").reshape(shape))
def same_pool(x, stride):
    # TF SAME: out = ceil(n/stride), total pad = max((out-1)*stride + 2 - n, 0), the extra at the end.
    pads = []
    for n in (x.shape[3], x.shape[2]):
        out = -(-n // stride)
        total = max((out - 1) * stride + 2 - n, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=-math.inf), 2, stride)
def leaky(x):
    m = x * 0.1
    return F.relu(x - m) + m
ch = [16, 32, 64, 128, 256, 512]
for size in map(int, sys.argv[2:]):
    x = ld("input%d" % size, (1, 3, size, size))
    x = leaky(F.conv2d(x, ld("conv0/filters", (3, 3, 3, 16)).permute(3, 2, 0, 1), ld("conv0/bias", (16,))))
    for i in range(1, 6):
        x = same_pool(x, 2)
        c, o = ch[i - 1], ch[i]
        x = F.pad(x, [1, 1, 1, 1])
        x = F.conv2d(x, ld("conv%d/depthwise_filter" % i, (3, 3, c, 1)).permute(2, 3, 0, 1), groups=c)
        x = F.conv2d(x, ld("conv%d/pointwise_filter" % i, (1, 1, c, o)).permute(3, 2, 0, 1), ld("conv%d/bias" % i, (o,)))
        x = leaky(x)
    x = same_pool(x, 1)
    x = F.conv2d(x, ld("conv8/filters", (1, 1, 512, 25)).permute(3, 2, 0, 1), ld("conv8/bias", (25,)))
    x.contiguous().numpy().astype("<f4").tofile(d + "/out%d.bin" % size)
`

// realDetector loads the detector from the fetched weights, or skips.
func realDetector(t testing.TB) (*Detector, string) {
	t.Helper()
	return loadReal(t, LoadDetector)
}

func TestDetectRealEdgeCases(t *testing.T) {
	d, _ := realDetector(t)
	gray := NewImage(640, 480)
	for i := range gray.Pix {
		gray.Pix[i] = 128
	}
	for _, tc := range []struct {
		name string
		img  *Image
	}{
		{"black", NewImage(640, 480)},
		{"gray", gray},
		{"tiny 10x5", randomImage(10, 5, 1)},
		{"very wide", randomImage(4000, 30, 2)},
		{"very tall", randomImage(7, 1500, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dets, err := d.DetectMulti(tc.img, []int{320, 416, 608}, 0.5)
			if err != nil {
				t.Fatal(err)
			}
			if dets == nil || len(dets) != 0 {
				t.Fatalf("got %v, want an empty, non-nil slice", dets)
			}
		})
	}
}

func TestDetectSamplePhotos(t *testing.T) {
	d, dir := realDetector(t)
	// sample1 shows three women; the detector must find each once.
	img := loadPhoto(t, SamplePhotos(dir)[0])
	dets, err := d.Detect(img, 416, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != 3 {
		t.Fatalf("sample1 at 416: %d faces %v, want 3", len(dets), dets)
	}
	for i, det := range dets {
		if i > 0 && det.Score > dets[i-1].Score {
			t.Errorf("detections not best first: %v", dets)
		}
		if r := img.ClipBox(det.Box); r.Dx() < 20 || r.Dy() < 20 {
			t.Errorf("face %d: box %+v clips to %v, too small for a face", i, det.Box, r)
		}
	}
	multi, err := d.DetectMulti(img, []int{320, 416, 512, 608}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if len(multi) != 3 {
		t.Fatalf("sample1 at four sizes: %d faces %v, want 3 after merging", len(multi), multi)
	}
}

// golden is the part of testdata/golden.json the detector checks.
type golden struct {
	Images []struct {
		File          string `json:"file"`
		Width, Height int
		Detections    map[string][]struct {
			Box   [4]float64 `json:"box"`
			Score float64    `json:"score"`
		} `json:"detections"`
	} `json:"images"`
	Synthetic struct {
		Detector struct {
			Size     int       `json:"size"`
			RawFirst []float64 `json:"raw_first"`
			RawSum   float64   `json:"raw_sum"`
			Shape    []int     `json:"shape"`
		} `json:"detector"`
	} `json:"synthetic"`
}

func TestDetectorGoldenRaw(t *testing.T) {
	g := readGolden[golden](t)
	d, _ := realDetector(t)
	sd := g.Synthetic.Detector
	if sd.Size == 0 || len(sd.RawFirst) == 0 {
		t.Fatal("golden.json has no synthetic detector output")
	}
	raw, err := d.Raw(goldenPattern(sd.Size), sd.Size)
	if err != nil {
		t.Fatal(err)
	}
	// TF.js's output is NHWC: [1, k, k, 25].
	k := sd.Size / 32
	if !slices.Equal(sd.Shape, []int{1, k, k, detOutputs}) {
		t.Fatalf("golden shape %v, want [1 %d %d %d]", sd.Shape, k, k, detOutputs)
	}
	nhwc := make([]float64, 0, len(raw.Data))
	sum := 0.0
	for y := range k {
		for x := range k {
			for c := range detOutputs {
				v := float64(raw.Data[c*k*k+y*k+x])
				nhwc = append(nhwc, v)
				sum += v
			}
		}
	}
	checkNearGolden(t, "first raw outputs", nhwc[:min(len(sd.RawFirst), len(nhwc))], sd.RawFirst)
	if math.Abs(sum-sd.RawSum) > 1e-4*float64(len(nhwc)) {
		t.Errorf("raw sum %g, TF.js %g", sum, sd.RawSum)
	}
}

func TestDetectorGoldenPhotos(t *testing.T) {
	g := readGolden[golden](t)
	d, dir := realDetector(t)
	for _, gi := range g.Images {
		img := loadPhoto(t, filepath.Join(dir, "demo", gi.File))
		if img.W != gi.Width || img.H != gi.Height {
			t.Fatalf("%s: decoded %dx%d, golden %dx%d", gi.File, img.W, img.H, gi.Width, gi.Height)
		}
		for sizeStr, want := range gi.Detections {
			var size int
			if _, err := fmt.Sscan(sizeStr, &size); err != nil {
				t.Fatalf("%s: size %q", gi.File, sizeStr)
			}
			// face-api ran with its default threshold 0.5 unless the golden
			// holds lower scores.
			minScore := 0.5
			for _, w := range want {
				minScore = min(minScore, w.Score-1e-3)
			}
			got, err := d.Detect(img, size, minScore)
			if err != nil {
				t.Fatal(err)
			}
			matchGolden(t, fmt.Sprintf("%s at %d", gi.File, size), got, len(want), func(i int) (Box, float64) {
				b := want[i].Box
				return Box{b[0], b[1], b[2], b[3]}, want[i].Score
			})
		}
	}
}

// matchGolden compares detections with n golden ones in order: boxes within
// a pixel, scores within 1e-3. A detection whose score lies within 1e-3 of
// the threshold may legitimately be present on one side only; any other
// count mismatch fails.
func matchGolden(t *testing.T, what string, got []Detection, n int, want func(int) (Box, float64)) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%s: %d detections, golden %d: %v", what, len(got), n, got)
		return
	}
	for i := range n {
		wb, ws := want(i)
		gb := got[i].Box
		if math.Abs(got[i].Score-ws) > 1e-3 ||
			math.Abs(gb.X-wb.X) > 1 || math.Abs(gb.Y-wb.Y) > 1 || math.Abs(gb.W-wb.W) > 1 || math.Abs(gb.H-wb.H) > 1 {
			t.Errorf("%s: detection %d: %+v score %.5f, golden %+v score %.5f", what, i, gb, got[i].Score, wb, ws)
		}
	}
}
