package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"starid/internal/tensor"
)

// distinctTensor holds a shuffled ramp spaced 0.1 apart, so no two values
// are within a finite-difference step (1e-2) of each other and max-pool
// has no ties.
func distinctTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i, j := range r.Perm(len(t.Data)) {
		t.Data[i] = 0.1*float32(j) - 0.05*float32(len(t.Data))
	}
	return t
}

// naiveMaxPool is the definition with -inf padding, returning values and
// the flat input index of each maximum (first one on ties).
func naiveMaxPool(x *tensor.Tensor, k, s, p int) ([]float32, []int) {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	var vals []float32
	var idx []int
	for pl := 0; pl < n*c; pl++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				best, at := math.Inf(-1), -1
				for ki := 0; ki < k; ki++ {
					for kj := 0; kj < k; kj++ {
						iy, ix := oy*s-p+ki, ox*s-p+kj
						if iy < 0 || iy >= h || ix < 0 || ix >= w {
							continue
						}
						if v := float64(x.Data[(pl*h+iy)*w+ix]); v > best {
							best, at = v, (pl*h+iy)*w+ix
						}
					}
				}
				vals = append(vals, float32(best))
				idx = append(idx, at)
			}
		}
	}
	return vals, idx
}

// windowCase is a layer that slides a k x k window with stride s and
// padding p over an n x c x h x w input.
type windowCase struct{ n, c, h, w, k, s, p int }

// input is a random input of the case's shape.
func (tc windowCase) input(r *rand.Rand) *tensor.Tensor {
	return randTensor(r, tc.n, tc.c, tc.h, tc.w)
}

// eachWindowCase runs fn as a subtest per case.
func eachWindowCase(t *testing.T, cases []windowCase, fn func(t *testing.T, tc windowCase)) {
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc), func(t *testing.T) { fn(t, tc) })
	}
}

// forwardPool runs l on a random input of tc's shape drawn from r.
func forwardPool(t *testing.T, tc windowCase, r *rand.Rand, l Layer) (x, y *tensor.Tensor) {
	t.Helper()
	x = tc.input(r)
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	return x, y
}

// maxPoolMatches runs a MaxPool2d of tc in the given mode on a random
// input drawn from r and holds its output to the definition exactly. It
// returns the layer, input and output, and the definition's argmax.
func maxPoolMatches(t *testing.T, tc windowCase, r *rand.Rand, training bool) (*MaxPool2d, *tensor.Tensor, *tensor.Tensor, []int) {
	t.Helper()
	l := NewMaxPool2d(tc.k, tc.s, tc.p)
	l.SetTraining(training)
	x, y := forwardPool(t, tc, r, l)
	want, idx := naiveMaxPool(x, tc.k, tc.s, tc.p)
	if d := tensor.MaxAbsDiff(y.Data, want); d != 0 {
		t.Fatalf("forward differs by %g", d)
	}
	return l, x, y, idx
}

var poolCases = []windowCase{
	{2, 3, 8, 8, 2, 2, 0},
	{1, 2, 7, 9, 2, 2, 0},
	{3, 2, 7, 9, 3, 2, 1},
	{1, 1, 7, 9, 3, 1, 1},
	{2, 2, 6, 5, 2, 1, 0},
	{1, 2, 9, 7, 5, 2, 2},
	{1, 1, 5, 5, 5, 1, 0},
}

func TestMaxPool2dMatchesDefinition(t *testing.T) {
	eachWindowCase(t, poolCases, func(t *testing.T, tc windowCase) {
		r := rand.New(rand.NewPCG(1, uint64(tc.k)))
		l, x, y, idx := maxPoolMatches(t, tc, r, true)
		dy := randTensor(r, y.Shape...)
		dx, err := l.Backward(dy.Clone())
		if err != nil {
			t.Fatal(err)
		}
		wdx := make([]float32, len(x.Data))
		for i, j := range idx {
			wdx[j] += dy.Data[i]
		}
		if d := tensor.MaxAbsDiff(dx.Data, wdx); d > 1e-6 {
			t.Fatalf("backward differs by %g", d)
		}
	})
}

func TestMaxPool2dGradCheck(t *testing.T) {
	eachWindowCase(t, poolCases, func(t *testing.T, tc windowCase) {
		x := distinctTensor(rand.New(rand.NewPCG(2, 3)), tc.n, tc.c, tc.h, tc.w)
		gradCheck{}.run(t, NewMaxPool2d(tc.k, tc.s, tc.p), x)
	})
}

func TestMaxPool2dTiesAndNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name   string
		k, s   int
		in     []float32 // one 2x2 plane... or 3x3 for k=3
		h      int
		wantAt int // input index that receives the gradient
		isNaN  bool
	}{
		{"tie goes to the first (2x2 fast path)", 2, 2, []float32{1, 5, 5, 5}, 2, 1, false},
		{"tie goes to the first (general path)", 3, 1, []float32{0, 2, 0, 2, 0, 2, 0, 0, 2}, 3, 1, false},
		{"NaN wins (2x2 fast path)", 2, 2, []float32{1, nan, 3, 2}, 2, 1, true},
		{"NaN wins (general path)", 3, 1, []float32{9, 1, 1, 1, nan, 1, 1, 1, 1}, 3, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewMaxPool2d(tc.k, tc.s, 0)
			l.SetTraining(true)
			y, err := l.Forward(tensor.FromData(tc.in, 1, 1, tc.h, tc.h))
			if err != nil {
				t.Fatal(err)
			}
			if got := math.IsNaN(float64(y.Data[0])); got != tc.isNaN {
				t.Fatalf("output %v, NaN expected %v", y.Data[0], tc.isNaN)
			}
			dx, err := l.Backward(tensor.FromData([]float32{1}, 1, 1, 1, 1))
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range dx.Data {
				if want := float32(0); i == tc.wantAt && v != 1 || i != tc.wantAt && v != want {
					t.Fatalf("gradient %v, want all of it at %d", dx.Data, tc.wantAt)
				}
			}
		})
	}
}

func TestMaxPool2dPaddingIsNegInf(t *testing.T) {
	// All-negative input: a zero padding would win, -inf never does.
	x := tensor.FromData([]float32{-4, -3, -2, -1}, 1, 1, 2, 2)
	l := NewMaxPool2d(2, 1, 1)
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-4, -3, -3, -2, -1, -1, -2, -1, -1}
	if d := tensor.MaxAbsDiff(y.Data, want); d != 0 {
		t.Errorf("got %v, want %v", y.Data, want)
	}
}

// poolLayerErrors checks the shape errors and the Backward preconditions
// every pooling layer shares.
// refusesShapes checks that l's Forward refuses each input shape with an
// error naming the layer, the shape and the expected one.
func refusesShapes(t *testing.T, l Layer, bad [][]int, expected string) {
	t.Helper()
	for _, shape := range bad {
		_, err := l.Forward(tensor.New(shape...))
		if err == nil {
			t.Errorf("input %v accepted", shape)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, l.String()) || !strings.Contains(msg, tensor.ShapeString(shape)) || !strings.Contains(msg, expected) {
			t.Errorf("message %q does not name the layer and both shapes", msg)
		}
	}
}

func poolLayerErrors(t *testing.T, l Layer, bad [][]int, good []int) {
	t.Helper()
	for _, shape := range bad {
		_, err := l.Forward(tensor.New(shape...))
		var se *ShapeError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), l.String()) ||
			!strings.Contains(err.Error(), tensor.ShapeString(shape)) || !strings.Contains(err.Error(), "[N, C, H, W]") {
			t.Errorf("%s on %v: got error %v, want a ShapeError naming the layer and both shapes", l, shape, err)
		}
		if _, err := l.OutputShape(shape); err == nil {
			t.Errorf("%s: OutputShape(%v) accepted it", l, shape)
		}
	}
	if _, err := l.Backward(tensor.New(1)); err == nil {
		t.Errorf("%s: Backward before Forward succeeded", l)
	}
	l.SetTraining(false)
	if _, err := l.Forward(tensor.New(good...)); err != nil {
		t.Fatal(err)
	}
	out, _ := l.OutputShape(good)
	if _, err := l.Backward(tensor.New(out...)); err == nil {
		t.Errorf("%s: Backward after an eval-mode Forward succeeded", l)
	}
	l.SetTraining(true)
	if _, err := l.Forward(tensor.New(good...)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backward(tensor.New(append([]int{out[0] + 1}, out[1:]...)...)); err == nil {
		t.Errorf("%s: Backward with a wrongly shaped gradient succeeded", l)
	}
}

func TestMaxPool2dErrorsAndString(t *testing.T) {
	l := NewMaxPool2d(3, 2, 1)
	if got, want := l.String(), "MaxPool2d(kernel_size=3, stride=2, padding=1)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	poolLayerErrors(t, l, [][]int{{2, 4, 4}, {1, 1, 0, 4}, {1, 1, 4, 0}, {1, 2, 3, 4, 5}}, []int{2, 3, 5, 5})
	got, err := NewMaxPool2d(2, 2, 0).OutputShape([]int{4, 64, 7, 9})
	if err != nil || !tensor.ShapeEq(got, []int{4, 64, 3, 4}) {
		t.Errorf("OutputShape = %v, %v; want [4 64 3 4] (floor mode)", got, err)
	}
	for _, args := range [][3]int{{0, 1, 0}, {2, 0, 0}, {2, 2, 2}, {3, 1, -1}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMaxPool2d%v did not panic", args)
				}
			}()
			NewMaxPool2d(args[0], args[1], args[2])
		}()
	}
}

func BenchmarkMaxPool2d(b *testing.B) {
	x := randTensor(rand.New(rand.NewPCG(1, 1)), 32, 64, 224, 224)
	l := NewMaxPool2d(2, 2, 0)
	l.SetTraining(true)
	y, _ := l.Forward(x)
	dy := y.Clone()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Forward(x); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Backward(dy); err != nil {
			b.Fatal(err)
		}
	}
}
