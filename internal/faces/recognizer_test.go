package faces

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// fakeRecognizerWeights returns random weights of the recognition net's
// exact shapes, scaled so activations stay of order one through the 14
// blocks (He-like filters, a damped second unit per block), so that a
// wiring mistake changes the descriptor by far more than rounding does.
// The tensors are made once per seed and shared (nothing writes to them);
// the map is the caller's to change.
func fakeRecognizerWeights(seed uint64) *Weights {
	recFakeMu.Lock()
	defer recFakeMu.Unlock()
	w := recFake[seed]
	if w == nil {
		w = makeFakeRecognizerWeights(seed)
		recFake[seed] = w
	}
	c := &Weights{Names: append([]string(nil), w.Names...), Tensors: map[string]*tensor.Tensor{}}
	for k, v := range w.Tensors {
		c.Tensors[k] = v
	}
	return c
}

var (
	recFakeMu sync.Mutex
	recFake   = map[uint64]*Weights{}
)

func makeFakeRecognizerWeights(seed uint64) *Weights {
	rng := rand.New(rand.NewPCG(seed, 99))
	uni := func(t []float32, lo, hi float64) {
		for i := range t {
			t[i] = float32(lo + (hi-lo)*rng.Float64())
		}
	}
	return randomWeights(recognizerSpecs(), func(s tensorSpec, t []float32) {
		switch {
		case strings.HasSuffix(s.name, "/filters"):
			fanIn := float64(s.shape[0] * s.shape[1] * s.shape[2])
			b := math.Sqrt(6 / fanIn)
			uni(t, -b, b)
		case strings.HasSuffix(s.name, "/conv/bias"), strings.HasSuffix(s.name, "/scale/biases"):
			uni(t, -0.1, 0.1)
		case strings.HasSuffix(s.name, "conv2/scale/weights"):
			uni(t, 0.2, 0.5)
		case strings.HasSuffix(s.name, "/scale/weights"):
			uni(t, 0.5, 1.5)
		default: // fc
			uni(t, -0.1, 0.1)
		}
	})
}

// recRandomInput is a prepared net input with values like a normalized
// photo's (about -0.5 to 0.5).
func recRandomInput(n int, seed uint64) *tensor.Tensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := tensor.New(n, 3, RecognizerInputSize, RecognizerInputSize)
	for i := range x.Data {
		x.Data[i] = float32(rng.Float64() - 0.5)
	}
	return x
}

// recRandomImage is a noisy face-sized RGB image.
func recRandomImage(w, h int, seed uint64) *Image {
	rng := rand.New(rand.NewPCG(seed, 11))
	m := NewImage(w, h)
	for i := range m.Pix {
		m.Pix[i] = float32(rng.IntN(256))
	}
	return m
}

// realRecognizer loads the recognizer from the fetched weights, or skips.
func realRecognizer(t testing.TB) (*Recognizer, string) {
	t.Helper()
	return loadReal(t, LoadRecognizer)
}

func TestNewRecognizerValidatesWeights(t *testing.T) {
	checkWeightChecks(t, FaceRecognition, fakeRecognizerWeights, NewRecognizer, []weightCase{
		{"complete", func(*Weights) {}, ""},
		{"extra tensors are ignored", func(w *Weights) { w.Tensors["unused"] = tensor.New(3) }, ""},
		{"missing filter", func(w *Weights) { delete(w.Tensors, "conv128_1/conv2/conv/filters") },
			`tensor "conv128_1/conv2/conv/filters" is missing`},
		{"missing fc", func(w *Weights) { delete(w.Tensors, "fc") }, `tensor "fc" is missing`},
		{"transposed fc", func(w *Weights) { w.Tensors["fc"] = tensor.New(128, 256) },
			`tensor "fc" has shape [128, 256], want [256, 128]`},
		{"wrong input channels", func(w *Weights) { w.Tensors["conv64_down/conv1/conv/filters"] = tensor.New(3, 3, 64, 64) },
			`tensor "conv64_down/conv1/conv/filters" has shape [3, 3, 64, 64], want [3, 3, 32, 64]`},
		{"short scale", func(w *Weights) { w.Tensors["conv32_down/scale/weights"] = tensor.New(31) },
			`tensor "conv32_down/scale/weights" has shape [31], want [32]`},
		{"several problems counted", func(w *Weights) {
			delete(w.Tensors, "conv32_1/conv1/conv/bias")
			delete(w.Tensors, "conv32_1/conv2/conv/bias")
			delete(w.Tensors, "conv32_2/conv2/conv/bias")
		}, `tensor "conv32_1/conv1/conv/bias" is missing and 2 more`},
	})
}

func TestLoadRecognizerMissingFolder(t *testing.T) {
	_, err := LoadRecognizer(filepath.Join(t.TempDir(), "nowhere"))
	if err == nil || !strings.Contains(err.Error(), FaceRecognition) {
		t.Fatalf("error %v, want one naming the %s manifest", err, FaceRecognition)
	}
}

func TestRecognizerInputErrors(t *testing.T) {
	r, err := NewRecognizer(fakeRecognizerWeights(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{
		{3, 150, 150},
		{1, 1, 150, 150},
		{1, 3, 112, 112},
		{1, 3, 150, 151},
		{0, 3, 150, 150},
		{1, 150, 150, 3}, // NHWC by mistake
	} {
		_, err := r.Forward(tensor.New(shape...))
		var se *nn.ShapeError
		if !errors.As(err, &se) || !tensor.ShapeEq(se.Got, shape) || se.Expected != "[N, 3, 150, 150]" ||
			!strings.Contains(err.Error(), "FaceRecognitionNet") {
			t.Errorf("Forward(%v): error %v, want a ShapeError naming FaceRecognitionNet, the shape and [N, 3, 150, 150]", shape, err)
		}
	}
	if _, err := r.Forward(nil); err == nil {
		t.Error("Forward(nil) succeeded")
	}
	for _, img := range []*Image{nil, {W: 0, H: 5}, {W: 4, H: 4, Pix: make([]float32, 10)}} {
		if _, err := r.Describe(img); err == nil {
			t.Errorf("Describe(%v) succeeded", img)
		}
	}
	if _, err := r.DescribeAll([]*Image{recRandomImage(20, 30, 1), nil}); err == nil || !strings.Contains(err.Error(), "face 1") {
		t.Errorf("DescribeAll with a nil face: error %v, want one naming face 1", err)
	}
}

// TestFoldUnitMatchesUnfolded checks the folding of each kind of conv unit
// (the 7x7 stride-2 stem, a 3x3 SAME unit, a 3x3 stride-2 VALID unit)
// against the unfolded computation face-api does: conv with the TF filters
// and bias, then times scale plus offset.
func TestFoldUnitMatchesUnfolded(t *testing.T) {
	w := fakeRecognizerWeights(3)
	for _, tc := range []struct {
		prefix       string
		stride, pad  int
		size, images int
	}{
		{"conv32_down", 2, 0, 41, 1},
		{"conv64_1/conv1", 1, 1, 17, 2},
		{"conv128_down/conv1", 2, 0, 17, 3},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			f := w.Tensors[tc.prefix+"/conv/filters"]
			b := w.Tensors[tc.prefix+"/conv/bias"]
			s := w.Tensors[tc.prefix+"/scale/weights"]
			o := w.Tensors[tc.prefix+"/scale/biases"]
			k, in, out := f.Shape[0], f.Shape[2], f.Shape[3]
			u := foldUnit(f, b, s, o)
			rng := rand.New(rand.NewPCG(4, 4))
			folded := nn.NewConv2d(in, out, k, tc.stride, tc.pad, true, rng)
			folded.Weight.Value, folded.Bias.Value = u.w, u.b
			plain := nn.NewConv2d(in, out, k, tc.stride, tc.pad, true, rng)
			// Unfolded weights, transposed from HWIO by their definition.
			for o2 := range out {
				for i := range in {
					for y := range k {
						for x := range k {
							plain.Weight.Value.Data[((o2*in+i)*k+y)*k+x] = f.Data[((y*k+x)*in+i)*out+o2]
						}
					}
				}
			}
			copy(plain.Bias.Value.Data, b.Data)
			x := tensor.New(tc.images, in, tc.size, tc.size)
			for i := range x.Data {
				x.Data[i] = float32(rng.NormFloat64())
			}
			got, ref := forwardAll(t, x, folded), forwardAll(t, x, plain)
			plane := ref.Shape[2] * ref.Shape[3]
			worst, scale := 0.0, 0.0
			for i, v := range ref.Data {
				c := (i / plane) % out
				want := float64(v*s.Data[c] + o.Data[c])
				worst = max(worst, math.Abs(float64(got.Data[i])-want))
				scale = max(scale, math.Abs(want))
			}
			// float32 rounding of a sum of up to 1152 products: a few
			// ulps of the largest values, far below any wiring error.
			if worst > 1e-5*scale {
				t.Errorf("folded differs from conv+bias then scale+offset by %g (values up to %g)", worst, scale)
			}
		})
	}
}

// TestRecognizerMatchesTorch runs the net in starid and in PyTorch, which
// gets the weights unfolded in their TF layouts and rebuilds every TF op of
// forwardInput from its definition (SAME padding computed per dimension,
// bias then scale then offset, the avg-pool shortcut with zero channels and
// the zero row and column), so a wrong transpose, pad, fold or shortcut
// shows up. Random weights always, the real ones too when fetched, in one
// Python run (importing torch takes seconds). It skips when
// /usr/bin/python3 has no torch.
func TestRecognizerMatchesTorch(t *testing.T) {
	const python = "/usr/bin/python3"
	sets := map[string]*Weights{"random": fakeRecognizerWeights(5)}
	if dir, err := ModelDir(); err == nil {
		w, err := LoadManifest(ManifestPath(dir, FaceRecognition))
		if err != nil {
			t.Fatal(err)
		}
		sets["real"] = w
	} else {
		t.Logf("real weights not fetched, checking random ones only: %v", err)
	}
	// Two faces: a prepared photo-like image and noise.
	x := tensor.New(2, 3, 150, 150)
	a := recRandomImage(90, 120, 8).NetInput(nil, 150, true, recMean, recDiv)
	copy(x.Data, a.Data)
	copy(x.Data[len(a.Data):], recRandomInput(1, 9).Data)
	root := t.TempDir()
	recWriteF32(t, filepath.Join(root, "input.bin"), x.Data)
	got := map[string][]float32{}
	args := []string{"-c", torchRecognizer, root, "2"}
	for name, w := range sets {
		r, err := NewRecognizer(w)
		if err != nil {
			t.Fatal(err)
		}
		if got[name], err = r.Forward(x); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		shapes := map[string][]int{}
		for _, s := range recognizerSpecs() {
			recWriteF32(t, filepath.Join(dir, strings.ReplaceAll(s.name, "/", "_")+".bin"), w.Tensors[s.name].Data)
			shapes[s.name] = s.shape
		}
		js, _ := json.Marshal(shapes)
		if err := os.WriteFile(filepath.Join(dir, "shapes.json"), js, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	out, err := exec.Command(python, args...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 77 || errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		t.Skipf("skipping: %s cannot import torch (install python3-torch): %v %s", python, err, out)
	}
	if err != nil {
		t.Fatalf("torch reference: %v\n%s", err, out)
	}
	for name := range sets {
		ref := recReadF32(t, filepath.Join(root, name, "out.bin"))
		if len(ref) != len(got[name]) {
			t.Fatalf("%s: torch gives %d values, starid %d", name, len(ref), len(got[name]))
		}
		scale := 0.0
		for _, v := range ref {
			scale = max(scale, math.Abs(float64(v)))
		}
		if scale == 0 {
			t.Fatalf("%s: torch reference is all zeros: the check would be vacuous", name)
		}
		if diff := tensor.MaxAbsDiff(got[name], ref); diff > 1e-5*max(scale, 1) {
			t.Errorf("%s weights: max |starid - torch| = %g (descriptor values up to %g)", name, diff, scale)
		}
	}
}

// torchRecognizer is the PyTorch reference for TestRecognizerMatchesTorch:
// argv = folder, batch size, weight sets; reads the NCHW input from the
// folder and, per set, its sub-folder's shapes.json and TF-layout weights,
// and writes the [N, 128] descriptors there. Exit code 77: no torch.
const torchRecognizer = `
import sys, json, math
try:
    import numpy as np, torch, torch.nn.functional as F
except ImportError as e:
    print(e)
    sys.exit(77)
root, n = sys.argv[1], int(sys.argv[2])
def ld(name):
    return torch.from_numpy(np.fromfile(d + "/" + name.replace("/", "_") + ".bin", dtype="<f4").reshape(shapes[name]))
def tf_conv(x, filters, stride, padding):
    k = filters.shape[0]
    if padding == "same":
        pads = []
        for size in (x.shape[3], x.shape[2]):
            out = -(-size // stride)
            total = max((out - 1) * stride + k - size, 0)
            pads += [total // 2, total - total // 2]
        x = F.pad(x, pads)
    return F.conv2d(x, filters.permute(3, 2, 0, 1), stride=stride)
def unit(x, p, stride, padding, relu):
    y = tf_conv(x, ld(p + "/conv/filters"), stride, padding) + ld(p + "/conv/bias").view(1, -1, 1, 1)
    y = y * ld(p + "/scale/weights").view(1, -1, 1, 1) + ld(p + "/scale/biases").view(1, -1, 1, 1)
    return F.relu(y) if relu else y
def residual(x, p):
    y = unit(unit(x, p + "/conv1", 1, "same", True), p + "/conv2", 1, "same", False)
    return F.relu(y + x)
def residual_down(x, p):
    y = unit(unit(x, p + "/conv1", 2, "valid", True), p + "/conv2", 1, "same", False)
    pooled = F.avg_pool2d(x, 2, 2)
    if pooled.shape[2] != y.shape[2] or pooled.shape[3] != y.shape[3]:
        y = torch.cat([y, torch.zeros(y.shape[0], y.shape[1], 1, y.shape[3])], 2)
        y = torch.cat([y, torch.zeros(y.shape[0], y.shape[1], y.shape[2], 1)], 3)
    if pooled.shape[1] != y.shape[1]:
        pooled = torch.cat([pooled, torch.zeros_like(pooled)], 1)
    return F.relu(pooled + y)
blocks = ["conv32_1", "conv32_2", "conv32_3", "conv64_down", "conv64_1", "conv64_2", "conv64_3",
          "conv128_down", "conv128_1", "conv128_2", "conv256_down", "conv256_1", "conv256_2", "conv256_down_out"]
inp = torch.from_numpy(np.fromfile(root + "/input.bin", dtype="<f4").reshape(n, 3, 150, 150))
for name in sys.argv[3:]:
    d = root + "/" + name
    shapes = json.load(open(d + "/shapes.json"))
    x = unit(inp, "conv32_down", 2, "valid", True)
    x = F.max_pool2d(x, 3, 2)
    for b in blocks:
        x = residual_down(x, b) if "down" in b else residual(x, b)
    x = x.mean(dim=(2, 3)) @ ld("fc")
    x.contiguous().numpy().astype("<f4").tofile(d + "/out.bin")
`

func recWriteF32(t *testing.T, path string, v []float32) {
	t.Helper()
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func recReadF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// TestRecognizerBatchAndDescribeAgree checks that Describe is Forward on
// NetInput's result, and that batches (including one larger than a chunk)
// give each face the descriptor it gets alone, up to the rounding of
// differently shaped GEMMs.
func TestRecognizerBatchAndDescribeAgree(t *testing.T) {
	r, err := NewRecognizer(fakeRecognizerWeights(6))
	if err != nil {
		t.Fatal(err)
	}
	const n = recChunk + 2
	faces := make([]*Image, n)
	for i := range faces {
		faces[i] = recRandomImage(40+7*i, 60+3*i, uint64(i))
	}
	single := make([][]float32, n)
	for i, f := range faces {
		d, err := r.Describe(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != DescriptorSize {
			t.Fatalf("descriptor has %d values", len(d))
		}
		single[i] = d
	}
	fwd, err := r.Forward(faces[0].NetInput(nil, 150, true, recMean, recDiv))
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameBits(fwd, single[0]) {
		t.Errorf("Describe differs from Forward(NetInput): max diff %g", tensor.MaxAbsDiff(fwd, single[0]))
	}
	if Distance(single[0], single[1]) < 1e-3 {
		t.Fatal("two different images gave the same descriptor: the batch check would be vacuous")
	}
	all, err := r.DescribeAll(faces)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("DescribeAll returned %d descriptors for %d faces", len(all), n)
	}
	for i := range faces {
		if d := tensor.MaxAbsDiff(all[i], single[i]); d > 1e-5 {
			t.Errorf("face %d: batched descriptor differs from the single one by %g", i, d)
		}
	}
}

// TestRecognizerConcurrent describes different faces from many goroutines
// at once; each must get exactly the descriptor it gets alone.
func TestRecognizerConcurrent(t *testing.T) {
	r, err := NewRecognizer(fakeRecognizerWeights(7))
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	faces := make([]*Image, n)
	want := make([][]float32, n)
	for i := range faces {
		faces[i] = recRandomImage(50+i, 70, uint64(100+i))
		if want[i], err = r.Describe(faces[i]); err != nil {
			t.Fatal(err)
		}
	}
	concurrently(t, 3*n, func(k int) error {
		got, err := r.Describe(faces[k%n])
		if err == nil && !tensor.SameBits(got, want[k%n]) {
			err = fmt.Errorf("face %d: concurrent descriptor differs by %g", k%n, tensor.MaxAbsDiff(got, want[k%n]))
		}
		return err
	})
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b []float32
		want float64
	}{
		{[]float32{0, 0}, []float32{3, 4}, 5},
		{[]float32{1, 2, 3}, []float32{1, 2, 3}, 0},
		{[]float32{-1}, []float32{1}, 2},
		{nil, nil, 0},
		{[]float32{1}, []float32{1, 0}, math.Inf(1)},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%v, %v) = %g, want %g", tc.a, tc.b, got, tc.want)
		}
	}
}

// recGolden is the part of testdata/golden.json the recognizer checks.
type recGolden struct {
	Images []struct {
		File  string `json:"file"`
		Faces []struct {
			Crop       [4]float64 `json:"crop"`
			Descriptor []float64  `json:"descriptor"`
			// The dlib-style aligned square face-api describes in
			// withFaceDescriptors, clipped and floored the same way.
			AlignedCrop       [4]float64 `json:"aligned_crop"`
			AlignedDescriptor []float64  `json:"aligned_descriptor"`
		} `json:"faces"`
	} `json:"images"`
	Synthetic struct {
		Recognition struct {
			Size       int       `json:"size"`
			Descriptor []float64 `json:"descriptor"`
		} `json:"recognition"`
	} `json:"synthetic"`
}

func TestRecognizerGoldenSynthetic(t *testing.T) {
	g := readGolden[recGolden](t)
	r, _ := realRecognizer(t)
	sr := g.Synthetic.Recognition
	if sr.Size == 0 || len(sr.Descriptor) == 0 {
		t.Fatal("golden.json has no synthetic recognition descriptor")
	}
	d, err := r.Describe(goldenPattern(sr.Size))
	if err != nil {
		t.Fatal(err)
	}
	checkNearGolden(t, "synthetic pattern", d, sr.Descriptor)
}

func TestRecognizerGoldenPhotos(t *testing.T) {
	g := readGolden[recGolden](t)
	r, dir := realRecognizer(t)
	checked := 0
	for _, gi := range g.Images {
		if len(gi.Faces) == 0 {
			continue
		}
		img := loadPhoto(t, filepath.Join(dir, "demo", gi.File))
		for k, f := range gi.Faces {
			for _, c := range []struct {
				what string
				rect [4]float64
				want []float64
			}{
				{"detection crop", f.Crop, f.Descriptor},
				{"aligned crop", f.AlignedCrop, f.AlignedDescriptor},
			} {
				what := fmt.Sprintf("%s face %d %s", gi.File, k, c.what)
				x, y := int(c.rect[0]), int(c.rect[1])
				crop, err := img.Crop(image.Rect(x, y, x+int(c.rect[2]), y+int(c.rect[3])))
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				d, err := r.Describe(crop)
				if err != nil {
					t.Fatal(err)
				}
				checkNearGolden(t, what, d, c.want)
				checked++
			}
		}
	}
	if checked == 0 {
		t.Fatal("golden.json has no faces to check")
	}
}
