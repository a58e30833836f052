package faces

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// TestConvPoolMatchesLayers holds the detector's banded conv0, pooling and
// leaky ReLU to nn.Conv2d, nn.MaxPool2d and nn.LeakyReLU on the whole input, at the
// detector's sizes and at sizes whose convolution rows are odd (the last
// one is dropped by the pooling's floor). nn.Conv2d cuts a single image
// into bands of its own choosing, and OpenBLAS sums GEMMs of other widths
// in other blocks, so the two agree to rounding rather than bit for bit.
func TestConvPoolMatchesLayers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	w, b := tensor.New(16, 3, 3, 3), tensor.New(16)
	for i := range w.Data {
		w.Data[i] = float32(r.NormFloat64() * 0.3)
	}
	for i := range b.Data {
		b.Data[i] = float32(r.NormFloat64())
	}
	conv := nn.NewConv2d(3, 16, 3, 1, 0, true, r)
	conv.Weight.Value, conv.Bias.Value = w, b
	conv.SetTraining(false)
	pool := nn.NewMaxPool2d(2, 2, 0)
	pool.SetTraining(false)
	leaky := nn.NewLeakyReLU(leakySlope, false)
	leaky.SetTraining(false)
	cp := &convPool{weight: w, bias: b}
	for _, c := range []struct{ h, w int }{{416, 416}, {512, 512}, {608, 608}, {320, 320}, {37, 52}, {4, 4}, {5, 9}} {
		t.Run(fmt.Sprint(c.h, "x", c.w), func(t *testing.T) {
			x := tensor.New(1, 3, c.h, c.w)
			for i := range x.Data {
				x.Data[i] = float32(r.Float64()*2 - 1)
			}
			want := forwardAll(t, x, conv, pool, leaky)
			got := forwardAll(t, x, cp)
			if !tensor.ShapeEq(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			for i, v := range want.Data {
				g := got.Data[i]
				if math.Abs(float64(g-v)) > 1e-6*(1+math.Abs(float64(v))) {
					t.Fatalf("element %d = %v, want %v", i, g, v)
				}
			}
		})
	}
	if _, err := cp.Forward(tensor.New(2, 3, 8, 8)); err == nil {
		t.Error("a batch of 2 was accepted")
	}
	if _, err := cp.Forward(tensor.New(1, 3, 3, 8)); err == nil {
		t.Error("an input of 3 rows was accepted")
	}
}

// TestSamePoolMatchesPadThenPool holds samePool to a -Inf ConstantPad2d at
// the bottom and right followed by nn.MaxPool2d, on odd and even maps
// (even ones need no padding) and on maps of one row or column, where no
// window lies wholly inside.
func TestSamePoolMatchesPadThenPool(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, sz := range [][4]int{{1, 32, 207, 207}, {1, 3, 8, 10}, {2, 2, 7, 4}, {1, 2, 1, 5}, {1, 1, 5, 1}, {1, 1, 1, 1}} {
		t.Run(fmt.Sprint(sz), func(t *testing.T) {
			x := tensor.New(sz[0], sz[1], sz[2], sz[3])
			for i := range x.Data {
				x.Data[i] = float32(r.NormFloat64())
			}
			pad := nn.NewConstantPad2d(0, sz[3]%2, 0, sz[2]%2, float32(math.Inf(-1)))
			pool := nn.NewMaxPool2d(2, 2, 0)
			pool.SetTraining(false)
			want := forwardAll(t, x, pad, pool)
			got := forwardAll(t, x, &samePool{pool: nn.NewMaxPool2d(2, 2, 0)})
			if !tensor.ShapeEq(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			for i, v := range want.Data {
				if got.Data[i] != v {
					t.Fatalf("element %d = %v, want %v", i, got.Data[i], v)
				}
			}
		})
	}
}
