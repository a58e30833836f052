package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/cpu"
	"starid/internal/tensor"
)

// TestClampRules: clamp to [0, 6] keeps NaN, makes -0 and every negative
// +0, and caps at 6, on the vector and the Go path alike.
func TestClampRules(t *testing.T) {
	nan := float32(math.NaN())
	negZero := float32(math.Copysign(0, -1))
	in := []float32{-1, negZero, 0, 3, 6, 7, float32(math.Inf(1)), float32(math.Inf(-1)), nan, 5.999, 1e-30, -1e-30, 2, 8, -8, 0.5}
	want := []float32{0, 0, 0, 3, 6, 6, 6, 0, nan, 5.999, 1e-30, 0, 2, 6, 0, 0.5}
	for _, level := range []cpu.Level{cpu.Current(), cpu.Generic} {
		restore := cpu.SetLevel(level)
		x := append([]float32(nil), in...)
		clamp(x, x, 0, 6)
		restore()
		for i := range x {
			if !sameValue(x[i], want[i], true) {
				t.Errorf("%v: clamp(%v) = %v (bits %#x), want %v", level, in[i], x[i], math.Float32bits(x[i]), want[i])
			}
		}
	}
}

// TestClampVectorMatchesGo holds the AVX2 clamp kernel to clampGo bit for
// bit, NaN payloads included, at lengths around its 8-value vectors and
// for other bounds than ReLU6's.
func TestClampVectorMatchesGo(t *testing.T) {
	if !cpu.HasAVX2FMA() {
		t.Skip("skipping: no vector clamp kernel on this CPU or architecture")
	}
	r := rand.New(rand.NewPCG(4, 5))
	for _, n := range []int{8, 16, 24, 64, 1000} {
		for _, b := range [][2]float32{{0, 6}, {-1, 1}, {0, float32(math.Inf(1))}} {
			x := simdRows(r, 1, n, true)[0]
			for i := range x {
				x[i] *= 4
			}
			want := make([]float32, n)
			clampGo(want, x, b[0], b[1])
			clampVector(x, x, b[0], b[1])
			for i := range x {
				if math.Float32bits(x[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n=%d bounds %v [%d]: vector %v (%#x), Go %v (%#x)", n, b, i,
						x[i], math.Float32bits(x[i]), want[i], math.Float32bits(want[i]))
				}
			}
		}
	}
}

// TestReLU6ForwardBackward: in and out of place, the output is the clamp
// and the gradient passes only where 0 < y < 6.
func TestReLU6ForwardBackward(t *testing.T) {
	in := []float32{-2, 0, 0.5, 5.5, 6, 9}
	wantY := []float32{0, 0, 0.5, 5.5, 6, 6}
	wantG := []float32{0, 0, 3, 4, 0, 0}
	for _, inplace := range []bool{false, true} {
		r := NewReLU6(inplace)
		r.SetTraining(true)
		x := tensor.FromData(append([]float32(nil), in...), 1, 6)
		y, err := r.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if (y == x) != inplace {
			t.Errorf("inplace=%v: output is the input: %v", inplace, y == x)
		}
		if !inplace && x.Data[0] != -2 {
			t.Errorf("out of place Forward changed its input: %v", x.Data)
		}
		dx, err := r.Backward(tensor.FromData([]float32{1, 2, 3, 4, 5, 6}, 1, 6))
		if err != nil {
			t.Fatal(err)
		}
		for i := range in {
			if y.Data[i] != wantY[i] || dx.Data[i] != wantG[i] {
				t.Errorf("inplace=%v [%d]: y %v dx %v, want %v %v", inplace, i, y.Data[i], dx.Data[i], wantY[i], wantG[i])
			}
		}
	}
	if _, err := NewReLU6(true).Backward(tensor.New(1, 6)); err == nil {
		t.Error("Backward before Forward: no error")
	}
}

// TestFusedReLU6MatchesSeparate: convolutions (the band, split, direct
// and Winograd paths) and depthwise convolutions with an in-place ReLU6
// after them compute, fused, bit for bit what the separate layers do, in
// training (outputs and gradients) and in evaluation.
func TestFusedReLU6MatchesSeparate(t *testing.T) {
	defer func(on bool) { FuseLayers = on }(FuseLayers)
	nets := []struct {
		arenaNet
		fused int
	}{
		{arenaNet{"mobilenet-batch-1", func(rng *rand.Rand) *Sequential {
			return NewSequential(NewConv2d(3, 16, 3, 2, 1, true, rng), NewReLU6(true),
				NewDepthwiseConv2d(16, 3, 1, 1, true, rng), NewReLU6(true),
				NewConv2d(16, 64, 1, 1, 0, true, rng), NewReLU6(true),
				NewDepthwiseConv2d(64, 3, 2, 1, true, rng), NewReLU6(true),
				NewConv2d(64, 64, 1, 1, 0, true, rng), NewReLU6(true),
				NewDepthwiseConv2d(64, 5, 1, 2, true, rng), NewReLU6(true),
				NewFlatten(), NewLinear(64*5*5, 3, true, rng))
		}, []int{1, 3, 20, 20}}, 6},
		{arenaNet{"batch-2", func(rng *rand.Rand) *Sequential {
			return NewSequential(NewConv2d(3, 64, 3, 1, 1, true, rng), NewReLU6(true),
				NewConv2d(64, 64, 3, 1, 1, true, rng), NewReLU6(true),
				NewDepthwiseConv2d(64, 3, 1, 1, false, rng), NewReLU6(false),
				NewFlatten(), NewLinear(64*8*8, 2, true, rng))
		}, []int{2, 3, 8, 8}}, 2},
	}
	for _, tc := range nets {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(rand.New(rand.NewPCG(1, 2)), tc.in...)
			for i := range x.Data {
				x.Data[i] *= 8 // reach past 6 too
			}
			FuseLayers = false
			want := runNet(t, tc.build(rand.New(rand.NewPCG(9, 9))), x)
			FuseLayers = true
			fused := tc.build(rand.New(rand.NewPCG(9, 9)))
			got := runNet(t, fused, x)
			if n := countFused(fused); n != tc.fused {
				t.Fatalf("%d layers fused an activation, want %d", n, tc.fused)
			}
			sameResults(t, got, want)
		})
	}
}
