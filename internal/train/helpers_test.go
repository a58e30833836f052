package train

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"starid/internal/models"
	"starid/internal/runs"
	"starid/internal/safetensors"
)

// tinyModel is a network small enough that an epoch over a few dozen 16x16
// images takes milliseconds, with every layer kind whose state must
// survive a resume: convolutions, BatchNorm (running statistics), dropout
// (masks), linear.
const tinyModel = "tiny-test"

func init() {
	testModels[tinyModel] = func(classes int) models.Spec {
		return models.Spec{Name: tinyModel, InChannels: 3, Classes: classes, Layers: []models.LayerSpec{
			{Name: "0", Kind: models.KindConv2d, In: 3, Out: 8, Kernel: 3, Stride: 1, Padding: 1},
			{Name: "1", Kind: models.KindReLU},
			{Name: "2", Kind: models.KindBatchNorm2d, In: 8},
			{Name: "3", Kind: models.KindMaxPool2d, Kernel: 2, Stride: 2},
			{Name: "4", Kind: models.KindConv2d, In: 8, Out: 16, Kernel: 3, Stride: 1, Padding: 1},
			{Name: "5", Kind: models.KindReLU},
			{Name: "6", Kind: models.KindAdaptiveAvgPool2d, OutH: 1, OutW: 1},
			{Name: "7", Kind: models.KindFlatten},
			{Name: "8", Kind: models.KindDropout, P: 0.25},
			{Name: "9", Kind: models.KindLinear, In: 16, Out: classes},
		}}
	}
}

// makeShapes writes classes x perClass 16x16 PNGs of coloured shapes
// (class 0 squares, 1 discs, 2 crosses, ...) at random places and colours
// on a noisy background into root/<class>/NN.png, and returns root.
func makeShapes(t testing.TB, classes, perClass int) string {
	t.Helper()
	root := t.TempDir()
	rng := rand.New(rand.NewPCG(7, uint64(classes)))
	const s = 16
	for c := 0; c < classes; c++ {
		dir := filepath.Join(root, fmt.Sprintf("class%c", 'A'+c))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perClass; i++ {
			img := image.NewRGBA(image.Rect(0, 0, s, s))
			fg := color.RGBA{uint8(80 + rng.IntN(176)), uint8(80 + rng.IntN(176)), uint8(80 + rng.IntN(176)), 255}
			r := 3 + rng.IntN(2)
			cy, cx := r+rng.IntN(s-2*r), r+rng.IntN(s-2*r)
			for y := 0; y < s; y++ {
				for x := 0; x < s; x++ {
					dy, dx := math.Abs(float64(y-cy)), math.Abs(float64(x-cx))
					var in bool
					switch c % 3 {
					case 0:
						in = dy <= float64(r) && dx <= float64(r)
					case 1:
						in = dy*dy+dx*dx <= float64(r*r)
					case 2:
						in = (dy == 0 && dx <= float64(r)) || (dx == 0 && dy <= float64(r))
					}
					n := uint8(rng.IntN(40))
					if in {
						img.SetRGBA(x, y, fg)
					} else {
						img.SetRGBA(x, y, color.RGBA{n, n, n, 255})
					}
				}
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.png", i)), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// tinyConfig trains tinyModel on data into out.
func tinyConfig(data, out string, epochs int) Config {
	c := DefaultConfig()
	c.Data, c.Out, c.Model, c.Size, c.Epochs, c.Batch, c.LR = data, out, tinyModel, 16, epochs, 8, 3e-3
	c.Schedule = "step:0.5:1"
	c.Workers = 2
	return c
}

// runOutput collects what a run prints.
type runOutput struct {
	stdout, stderr bytes.Buffer
}

func (o *runOutput) output(h *hooks) Output {
	return Output{Output: runs.Output{Stdout: &o.stdout, Stderr: &o.stderr}, hooks: h}
}

func mustTrain(t *testing.T, cfg Config, h *hooks) (*Summary, *runOutput) {
	t.Helper()
	var o runOutput
	s, err := Train(context.Background(), cfg, o.output(h))
	if err != nil {
		t.Fatalf("Train: %v\nstderr:\n%s", err, o.stderr.String())
	}
	return s, &o
}

// tensorBits reads every tensor of a safetensors file as raw bits, so
// comparisons are exact (NaN-safe, -0 != +0).
func tensorBits(t *testing.T, path string) map[string][]uint64 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]uint64{}
	for _, info := range f.Tensors {
		var bits []uint64
		if info.DType.IsInteger() {
			v, err := f.Int64(info.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range v {
				bits = append(bits, uint64(x))
			}
		} else {
			v, err := f.Float32(info.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range v {
				bits = append(bits, uint64(math.Float32bits(x)))
			}
		}
		out[info.Name] = bits
	}
	return out
}

// sameTensors reports the first tensor that differs between two maps.
func sameTensors(a, b map[string][]uint64) (bool, string) {
	if len(a) != len(b) {
		return false, fmt.Sprintf("%d tensors vs %d", len(a), len(b))
	}
	for name, av := range a {
		bv, ok := b[name]
		if !ok {
			return false, name + " missing"
		}
		if len(av) != len(bv) {
			return false, name + " length"
		}
		for i := range av {
			if av[i] != bv[i] {
				return false, fmt.Sprintf("%s[%d]", name, i)
			}
		}
	}
	return true, ""
}
