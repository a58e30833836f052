package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"starid/internal/tensor"
)

func TestDropoutEvalIsIdentity(t *testing.T) {
	l := NewDropout(0.5, rand.New(rand.NewPCG(1, 2)))
	l.SetTraining(false)
	x := randTensor(rand.New(rand.NewPCG(3, 4)), 4, 5)
	want := x.Clone()
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if tensor.MaxAbsDiff(y.Data, want.Data) != 0 {
		t.Error("eval-mode dropout changed its input")
	}
	dy := randTensor(rand.New(rand.NewPCG(5, 6)), 4, 5)
	wantDy := dy.Clone()
	dx, err := l.Backward(dy)
	if err != nil || tensor.MaxAbsDiff(dx.Data, wantDy.Data) != 0 {
		t.Errorf("eval-mode Backward is not the identity (err %v)", err)
	}
}

func TestDropoutMaskStatistics(t *testing.T) {
	for _, p := range []float64{0.1, 0.5, 0.8} {
		l := NewDropout(p, rand.New(rand.NewPCG(7, uint64(p*100))))
		l.SetTraining(true)
		const n = 1 << 20
		x := tensor.New(n)
		x.Fill(1)
		y, err := l.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		scale := float32(1 / (1 - p))
		zeros, pairs := 0, 0
		for i, v := range y.Data {
			switch v {
			case 0:
				zeros++
				if i%2 == 1 && y.Data[i-1] == 0 {
					pairs++ // both values from one 64-bit draw dropped
				}
			case scale:
			default:
				t.Fatalf("p=%g: output %g is neither 0 nor 1/(1-p) = %g", p, v, scale)
			}
		}
		// Binomial standard deviations are below 5e-4 here; allow 10.
		if f := float64(zeros) / n; math.Abs(f-p) > 5e-3 {
			t.Errorf("p=%g: dropped fraction %g", p, f)
		}
		if f := float64(pairs) / (n / 2); math.Abs(f-p*p) > 5e-3 {
			t.Errorf("p=%g: both halves of a draw dropped in %g of pairs, want %g", p, f, p*p)
		}
	}
}

// dropoutMask runs one training Forward of ones through a fresh layer
// seeded with seed, with the given number of workers.
func dropoutMask(t *testing.T, seed uint64, workers, n int) []float32 {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(workers))
	l := NewDropout(0.5, rand.New(rand.NewPCG(seed, 1)))
	l.SetTraining(true)
	x := tensor.New(n)
	x.Fill(1)
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), y.Data...)
}

func TestDropoutDeterministic(t *testing.T) {
	n := 5*dropBlock + 3
	a := dropoutMask(t, 42, 1, n)
	for _, w := range []int{2, 3, 8} {
		if b := dropoutMask(t, 42, w, n); tensor.MaxAbsDiff(a, b) != 0 {
			t.Errorf("mask with %d workers differs from the single-worker mask", w)
		}
	}
	if b := dropoutMask(t, 43, 1, n); tensor.MaxAbsDiff(a, b) == 0 {
		t.Error("different rng seeds gave the same mask")
	}
	// Blocks must not repeat one another's pattern.
	if tensor.MaxAbsDiff(a[:dropBlock], a[dropBlock:2*dropBlock]) == 0 {
		t.Error("two blocks share a mask")
	}
}

func TestDropoutBackwardUsesForwardMask(t *testing.T) {
	l := NewDropout(0.3, rand.New(rand.NewPCG(8, 9)))
	l.SetTraining(true)
	x := tensor.New(3, 7, 11)
	x.Fill(1)
	y, _ := l.Forward(x)
	first := append([]float32(nil), y.Data...)
	dy := tensor.New(3, 7, 11)
	dy.Fill(1)
	dx, err := l.Backward(dy)
	if err != nil {
		t.Fatal(err)
	}
	if tensor.MaxAbsDiff(dx.Data, first) != 0 {
		t.Error("Backward applied a different mask than Forward")
	}
	y, _ = l.Forward(x)
	if tensor.MaxAbsDiff(y.Data, first) == 0 {
		t.Error("two training Forwards drew the same mask")
	}
}

func TestDropoutGradCheck(t *testing.T) {
	l := NewDropout(0.4, rand.New(rand.NewPCG(10, 11)))
	l.reuseMask = true
	gradCheck{}.run(t, l, randTensor(rand.New(rand.NewPCG(12, 13)), 2, 3, 4, 5))
}

func TestDropoutEdgeProbabilities(t *testing.T) {
	x := randTensor(rand.New(rand.NewPCG(1, 1)), 10, 10)
	for _, c := range []struct {
		p    float64
		want func(v float32) float32
	}{{0, func(v float32) float32 { return v }}, {1, func(float32) float32 { return 0 }}} {
		l := NewDropout(c.p, rand.New(rand.NewPCG(1, 2)))
		l.SetTraining(true)
		y, err := l.Forward(x.Clone())
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x.Data {
			if y.Data[i] != c.want(v) {
				t.Fatalf("p=%g: %g became %g", c.p, v, y.Data[i])
			}
		}
	}
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewDropout(%g) did not panic", p)
				}
			}()
			NewDropout(p, rand.New(rand.NewPCG(1, 2)))
		}()
	}
	if got := NewDropout(0.5, nil).String(); got != "Dropout(p=0.5, inplace=False)" {
		t.Errorf("String() = %q", got)
	}
	if _, err := NewDropout(0.5, nil).Backward(x); err == nil {
		t.Error("Backward before Forward succeeded")
	}
}
