package train

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"starid/internal/data"
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

// makeShapes writes classes x perClass 16x16 PNGs of data.Synthesize's
// shapes (class A circles, B squares, C triangles, ...) into
// root/<class>/NN.png, and returns root: the tests name their photos
// classA/01.png and so on, whatever the shape.
func makeShapes(t testing.TB, classes, perClass int) string {
	t.Helper()
	root := t.TempDir()
	if err := data.Synthesize(root, classes, perClass, 16, 7); err != nil {
		t.Fatal(err)
	}
	for c, shape := range data.SynthShapes[:classes] {
		dir := filepath.Join(root, fmt.Sprintf("class%c", 'A'+c))
		if err := os.Rename(filepath.Join(root, shape), dir); err != nil {
			t.Fatal(err)
		}
		for i := range perClass {
			from := filepath.Join(dir, fmt.Sprintf("%s_%03d.png", shape, i))
			if err := os.Rename(from, filepath.Join(dir, fmt.Sprintf("%02d.png", i))); err != nil {
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
