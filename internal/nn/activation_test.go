package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

// awayFromZero is a random tensor whose values keep at least 0.1 from the
// kink at 0, more than gradCheck's step.
func awayFromZero(r *rand.Rand, shape ...int) *tensor.Tensor {
	x := randTensor(r, shape...)
	for i, v := range x.Data {
		x.Data[i] = float32(math.Copysign(math.Abs(float64(v))+0.1, float64(v)))
	}
	return x
}

func TestActivationValues(t *testing.T) {
	nan := float32(math.NaN())
	negNaN := math.Float32frombits(0xffc00000) // the NaN x86 arithmetic produces
	inf := float32(math.Inf(1))
	in := []float32{-2, -0.5, 0, 0.25, 3, nan, negNaN, -inf}
	cases := []struct {
		name string
		l    Layer
		want []float32
	}{
		{"relu", NewReLU(false), []float32{0, 0, 0, 0.25, 3, nan, nan, 0}},
		{"relu inplace", NewReLU(true), []float32{0, 0, 0, 0.25, 3, nan, nan, 0}},
		{"leaky", NewLeakyReLU(0.1, false), []float32{-0.2, -0.05, 0, 0.25, 3, nan, nan, -inf}},
		{"leaky inplace", NewLeakyReLU(0.1, true), []float32{-0.2, -0.05, 0, 0.25, 3, nan, nan, -inf}},
		{"leaky negative slope", NewLeakyReLU(-0.5, true), []float32{1, 0.25, 0, 0.25, 3, nan, nan, inf}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x := tensor.FromData(append([]float32(nil), in...), 2, 4)
			y, err := c.l.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range c.want {
				if g := y.Data[i]; g != w && !(math.IsNaN(float64(g)) && math.IsNaN(float64(w))) {
					t.Errorf("f(%g) = %g, want %g", in[i], g, w)
				}
			}
			inplace := false
			switch l := c.l.(type) {
			case *ReLU:
				inplace = l.Inplace
			case *LeakyReLU:
				inplace = l.Inplace && l.Slope >= 0
			}
			if same := &y.Data[0] == &x.Data[0]; same != inplace {
				t.Errorf("output shares the input's memory: %v, want %v", same, inplace)
			}
			if !inplace && x.Data[0] != in[0] {
				t.Error("out-of-place Forward changed its input")
			}
			// Backward: the slope where x <= 0, 1 where x > 0; written into dy.
			dy := tensor.FromData([]float32{1, 1, 1, 1, 1, 1, 1, 1}, 2, 4)
			dx, err := c.l.Backward(dy)
			if err != nil {
				t.Fatal(err)
			}
			// At NaN PyTorch's ReLU lets the gradient through (its mask is
			// output <= 0) while LeakyReLU scales it (its mask is x > 0).
			slope, atNaN := float32(0), float32(1)
			if l, ok := c.l.(*LeakyReLU); ok {
				slope, atNaN = l.Slope, l.Slope
			}
			for i, w := range []float32{slope, slope, slope, 1, 1, atNaN, atNaN, slope} {
				if dx.Data[i] != w {
					t.Errorf("dx at x=%g is %g, want %g", in[i], dx.Data[i], w)
				}
			}
		})
	}
}

func TestActivationGradCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		l    Layer
	}{
		{"relu", NewReLU(false)},
		{"relu inplace", NewReLU(true)},
		{"leaky", NewLeakyReLU(0.1, false)},
		{"leaky inplace", NewLeakyReLU(0.1, true)},
		{"leaky negative slope", NewLeakyReLU(-0.3, false)},
		{"leaky negative slope inplace", NewLeakyReLU(-0.3, true)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 9))
			gradCheck{}.run(t, c.l, awayFromZero(r, 3, 4, 5, 2))
		})
	}
}

// TestActivationLargeParallel runs the elementwise loops on a tensor large
// enough to be split across workers and checks every value.
func TestActivationLargeParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	x := randTensor(r, 3*elementwiseChunk+17)
	l := NewLeakyReLU(0.25, false)
	y, _ := l.Forward(x)
	dy := randTensor(r, x.Shape...)
	want := dy.Clone()
	dx, _ := l.Backward(dy)
	for i, v := range x.Data {
		f := float32(1)
		if v <= 0 {
			f = 0.25
		}
		if y.Data[i] != v*f || dx.Data[i] != want.Data[i]*f {
			t.Fatalf("element %d: y %g dx %g for x %g dy %g", i, y.Data[i], dx.Data[i], v, want.Data[i])
		}
	}
}

func TestActivationStringsAndErrors(t *testing.T) {
	for _, c := range []struct {
		l    Layer
		want string
	}{
		{NewReLU(true), "ReLU(inplace=True)"},
		{NewReLU(false), "ReLU()"},
		{NewLeakyReLU(0.1, false), "LeakyReLU(negative_slope=0.1)"},
		{NewLeakyReLU(0.01, true), "LeakyReLU(negative_slope=0.01, inplace=True)"},
	} {
		if got := c.l.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
		if _, err := c.l.Backward(tensor.New(2)); err == nil {
			t.Errorf("%s: Backward before Forward succeeded", c.want)
		}
		if _, err := c.l.Forward(tensor.New(2, 3)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.l.Backward(tensor.New(3, 2)); err == nil {
			t.Errorf("%s: Backward with a wrongly shaped gradient succeeded", c.want)
		}
	}
}

func TestFormatPyFloat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		bits int
		want string
	}{
		{1e-5, 64, "1e-05"}, {0.1, 64, "0.1"}, {0.5, 64, "0.5"}, {1, 64, "1.0"}, {0.0001, 64, "0.0001"},
		{1e16, 64, "1e+16"}, {123456789012345.0, 64, "123456789012345.0"}, {-2.5e-7, 64, "-2.5e-07"},
		{float64(float32(0.1)), 32, "0.1"}, {math.Inf(-1), 64, "-inf"},
	} {
		if got := formatPyFloat(c.v, c.bits); got != c.want {
			t.Errorf("formatPyFloat(%v, %d) = %q, want %q", c.v, c.bits, got, c.want)
		}
	}
}

// TestReLUKernelsMatchScalar holds the two-lanes-per-word kernels to the
// plain definition on special values, for every length and alignment
// (including buffers 4 bytes out of step, which cannot be paired).
func TestReLUKernelsMatchScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xffc00000), math.Float32frombits(0x7f800001),
		math.Float32frombits(0xff800001), math.Float32frombits(0x80000001), math.Float32frombits(1)}
	value := func() float32 {
		if r.IntN(3) == 0 {
			return special[r.IntN(len(special))]
		}
		return float32(r.NormFloat64())
	}
	wantY := func(v float32) uint32 {
		if v > 0 || v != v {
			return math.Float32bits(v)
		}
		return 0
	}
	for n := 0; n < 21; n++ {
		for _, off := range [][2]int{{0, 0}, {1, 1}, {0, 1}, {1, 0}} {
			src := make([]float32, n+2)
			for i := range src {
				src[i] = value()
			}
			x := src[off[0] : off[0]+n]
			y := make([]float32, n+2)[off[1] : off[1]+n]
			reluForward(y, x)
			for i, v := range x {
				if math.Float32bits(y[i]) != wantY(v) {
					t.Fatalf("n=%d offsets %v: relu(%#x) = %#x, want %#x", n, off, math.Float32bits(v), math.Float32bits(y[i]), wantY(v))
				}
			}
			g := make([]float32, n+2)[off[0] : off[0]+n]
			for i := range g {
				g[i] = float32(i + 1)
			}
			reluBackward(g, y)
			for i, v := range y {
				want := float32(i + 1)
				if math.Float32bits(v) == 0 {
					want = 0
				}
				if g[i] != want {
					t.Fatalf("n=%d offsets %v: gradient at y=%#x is %g, want %g", n, off, math.Float32bits(v), g[i], want)
				}
			}
			// In place, as the layer runs after a convolution.
			in := append([]float32(nil), x...)
			reluForward(in, in)
			for i := range in {
				if math.Float32bits(in[i]) != math.Float32bits(y[i]) {
					t.Fatalf("n=%d: in-place result differs at %d", n, i)
				}
			}
		}
	}
}
