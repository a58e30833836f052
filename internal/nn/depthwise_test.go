package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"starid/internal/tensor"
)

// naiveDepthwise is the definition, in float64: output, and the gradients
// of L = sum(dy * y) for weight, bias and input.
func naiveDepthwise(x, wt, bias, dy []float32, n, c, h, w, k, s, p int) (y, dw, db, dx []float64) {
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	y = make([]float64, n*c*ho*wo)
	dw = make([]float64, c*k*k)
	db = make([]float64, c)
	dx = make([]float64, n*c*h*w)
	for img := 0; img < n; img++ {
		for ch := 0; ch < c; ch++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					o := ((img*c+ch)*ho+oy)*wo + ox
					sum := 0.0
					if bias != nil {
						sum = float64(bias[ch])
					}
					g := 0.0
					if dy != nil {
						g = float64(dy[o])
					}
					db[ch] += g
					for ki := 0; ki < k; ki++ {
						for kj := 0; kj < k; kj++ {
							iy, ix := oy*s-p+ki, ox*s-p+kj
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							i := ((img*c+ch)*h+iy)*w + ix
							wi := (ch*k+ki)*k + kj
							sum += float64(wt[wi]) * float64(x[i])
							dw[wi] += g * float64(x[i])
							dx[i] += g * float64(wt[wi])
						}
					}
					y[o] = sum
				}
			}
		}
	}
	return y, dw, db, dx
}

func closeTo64(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*(1+math.Abs(want[i]))) {
			t.Fatalf("%s[%d] = %.7g, want %.7g", what, i, got[i], want[i])
		}
	}
}

// depthwiseCases cover the specialised kernels (3x3 at stride 1 and 2,
// padding 0 and 1, widths around the vector width) and the general path.
var depthwiseCases = []windowCase{
	{2, 3, 7, 9, 3, 1, 1},
	{1, 5, 13, 13, 3, 1, 1},
	{1, 4, 8, 8, 3, 2, 1},
	{2, 3, 9, 11, 3, 2, 0},
	{1, 2, 6, 7, 3, 2, 1},
	{2, 2, 5, 6, 3, 1, 0},
	{1, 3, 3, 3, 3, 1, 1},
	{1, 2, 1, 1, 3, 1, 1},
	{1, 2, 2, 2, 3, 2, 1},
	{1, 3, 20, 37, 3, 1, 1},
	{1, 3, 21, 35, 3, 2, 1},
	{2, 3, 7, 8, 1, 1, 0},
	{1, 2, 9, 7, 5, 2, 2},
	{1, 2, 8, 9, 4, 3, 1},
	{1, 1, 2, 5, 3, 1, 2},
	{1, 2, 7, 8, 3, 2, 2},
	{1, 1, 3, 4, 3, 1, 3},
}

func TestDepthwiseConv2dMatchesDefinition(t *testing.T) {
	for _, tc := range depthwiseCases {
		for _, bias := range []bool{true, false} {
			t.Run(fmt.Sprint(tc, bias), func(t *testing.T) {
				r := rand.New(rand.NewPCG(3, uint64(tc.h*100+tc.w)))
				l := NewDepthwiseConv2d(tc.c, tc.k, tc.s, tc.p, bias, r)
				l.SetTraining(true)
				x := tc.input(r)
				y, err := l.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				dy := randTensor(r, y.Shape...)
				var bv []float32
				if bias {
					bv = l.Bias.Value.Data
				}
				wy, wdw, wdb, wdx := naiveDepthwise(x.Data, l.Weight.Value.Data, bv, dy.Data, tc.n, tc.c, tc.h, tc.w, tc.k, tc.s, tc.p)
				if want := []int{tc.n, tc.c, (tc.h+2*tc.p-tc.k)/tc.s + 1, (tc.w+2*tc.p-tc.k)/tc.s + 1}; !tensor.ShapeEq(y.Shape, want) {
					t.Fatalf("output shape %v, want %v", y.Shape, want)
				}
				closeTo64(t, "y", y.Data, wy, 1e-5)
				// Backward twice: the parameter gradients must accumulate.
				for step := 1; step <= 2; step++ {
					dx, err := l.Backward(dy.Clone())
					if err != nil {
						t.Fatal(err)
					}
					closeTo64(t, "dx", dx.Data, wdx, 1e-5)
				}
				closeTo64(t, "dweight", l.Weight.Grad.Data, scale64(wdw, 2), 1e-5)
				if bias {
					closeTo64(t, "dbias", l.Bias.Grad.Data, scale64(wdb, 2), 1e-5)
				}
				// Evaluation mode computes the same output.
				l.SetTraining(false)
				y2, err := l.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				closeTo64(t, "eval y", y2.Data, wy, 1e-5)
			})
		}
	}
}

func scale64(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}

func TestDepthwiseConv2dGradCheck(t *testing.T) {
	for _, s := range []int{1, 2} {
		for _, p := range []int{0, 1} {
			for _, bias := range []bool{true, false} {
				t.Run(fmt.Sprintf("s%d_p%d_bias%v", s, p, bias), func(t *testing.T) {
					r := rand.New(rand.NewPCG(5, uint64(s*10+p)))
					l := NewDepthwiseConv2d(3, 3, s, p, bias, r)
					gradCheck{}.run(t, l, randTensor(r, 2, 3, 7, 9))
				})
			}
		}
	}
}

// Without an input gradient Backward returns nil but still fills the
// parameter gradients.
func TestDepthwiseConv2dNoInputGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := NewDepthwiseConv2d(2, 3, 1, 1, true, r)
	l.SetNeedInputGrad(false)
	gradCheck{NoInput: true}.run(t, l, randTensor(r, 1, 2, 5, 6))
}

func TestDepthwiseConv2dMatchesPyTorch(t *testing.T) {
	ref := loadDepthwiseReference(t)
	for _, c := range ref.Conv {
		t.Run(c.Name, func(t *testing.T) {
			l := NewDepthwiseConv2d(c.Shape[1], c.Kernel, c.Stride, c.Padding, c.Bias != nil, rand.New(rand.NewPCG(1, 1)))
			if l.String() != c.Repr {
				t.Errorf("String() = %q, PyTorch prints %q", l.String(), c.Repr)
			}
			copy(l.Weight.Value.Data, c.Weight)
			if c.Bias != nil {
				copy(l.Bias.Value.Data, c.Bias)
			}
			l.SetTraining(true)
			y, err := l.Forward(tensor.FromData(c.X, c.Shape...))
			if err != nil {
				t.Fatal(err)
			}
			if !tensor.ShapeEq(y.Shape, c.YShape) {
				t.Fatalf("output shape %v, PyTorch %v", y.Shape, c.YShape)
			}
			closeTo(t, "y", y.Data, c.Y, 1e-5, 1e-5)
			dx, err := l.Backward(tensor.FromData(c.Dy, c.YShape...))
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, "dx", dx.Data, c.Dx, 1e-5, 1e-5)
			closeTo(t, "dweight", l.Weight.Grad.Data, c.Dweight, 1e-5, 1e-5)
			if c.Bias != nil {
				closeTo(t, "dbias", l.Bias.Grad.Data, c.Dbias, 1e-5, 1e-5)
			}
		})
	}
}

// depthwiseReference is testdata/depthwise_reference.json, written by
// testdata/gen_depthwise.py with PyTorch 1.13.
type depthwiseReference struct {
	Conv []struct {
		Name                    string
		Shape                   []int
		Kernel, Stride, Padding int
		Repr                    string
		Weight, Bias            []float32
		X, Y, Dy, Dx            []float32
		YShape                  []int `json:"y_shape"`
		Dweight, Dbias          []float32
	}
	Pad []struct {
		Name        string
		Shape       []int
		Padding     []int
		Value, Repr string
		X, Dy, Dx   []float32
		YShape      []int `json:"y_shape"`
	}
}

func loadDepthwiseReference(t *testing.T) *depthwiseReference {
	t.Helper()
	raw, err := os.ReadFile("testdata/depthwise_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref depthwiseReference
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Conv) == 0 || len(ref.Pad) == 0 {
		t.Fatal("depthwise_reference.json has no cases")
	}
	return &ref
}

func TestDepthwiseConv2dInitAndShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	l := NewDepthwiseConv2d(64, 3, 2, 1, true, r)
	if !tensor.ShapeEq(l.Weight.Value.Shape, []int{64, 1, 3, 3}) || !tensor.ShapeEq(l.Bias.Value.Shape, []int{64}) {
		t.Fatalf("parameter shapes %v %v", l.Weight.Value.Shape, l.Bias.Value.Shape)
	}
	if ps := l.Params(); len(ps) != 2 || ps[0].Name != "weight" || ps[1].Name != "bias" {
		t.Fatalf("Params %v", ps)
	}
	// PyTorch's bound is 1/sqrt(K*K) = 1/3; the draws should fill it.
	for _, p := range l.Params() {
		lo, hi := 1.0, -1.0
		for _, v := range p.Value.Data {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		if lo < -1.0/3 || hi > 1.0/3 || lo > -0.25 || hi < 0.25 {
			t.Errorf("%s drawn in [%g, %g], want U(-1/3, 1/3)", p.Name, lo, hi)
		}
	}
	if nb := NewDepthwiseConv2d(4, 3, 1, 1, false, r); nb.Bias != nil || len(nb.Params()) != 1 {
		t.Fatal("bias=false still has a bias")
	}
	if got, err := l.OutputShape([]int{1, 64, 208, 208}); err != nil || !tensor.ShapeEq(got, []int{1, 64, 104, 104}) {
		t.Fatalf("OutputShape = %v, %v", got, err)
	}
	for _, bad := range [][]int{{1, 63, 8, 8}, {64, 8, 8}, {1, 64, 0, 8}} {
		_, err := l.Forward(tensor.New(bad...))
		var se *ShapeError
		if err == nil || !strings.Contains(err.Error(), "groups=64") || !strings.Contains(err.Error(), tensor.ShapeString(bad)) {
			t.Errorf("Forward(%v) error %v", bad, err)
		} else if _, ok := err.(*ShapeError); !ok {
			t.Errorf("Forward(%v) error %T, want %T", bad, err, se)
		}
	}
	if _, err := NewDepthwiseConv2d(2, 3, 1, 1, true, r).Backward(tensor.New(1, 2, 4, 4)); err == nil {
		t.Error("Backward without Forward succeeded")
	}
}

// Both layers inside a Sequential, as face-api's detector uses them (TF
// 'SAME' stride-2 convolution and stride-1 max pool): the arena run must
// give the same output, input gradient and parameter gradients as the
// NoArena run, and the gradients must match finite differences.
func TestDepthwiseAndPadInSequential(t *testing.T) {
	build := func(noArena, maxPool bool) *Sequential {
		r := rand.New(rand.NewPCG(4, 4))
		pool := []Layer{NewConstantPad2d(0, 1, 0, 1, float32(math.Inf(-1))), NewMaxPool2d(2, 1, 0)}
		if !maxPool {
			pool = []Layer{NewConstantPad2d(1, 0, 1, 0, 0.5), NewAvgPool2d(2, 1, 0)}
		}
		s := NewSequential(append(append([]Layer{
			NewConstantPad2d(0, 1, 0, 1, 0), NewDepthwiseConv2d(3, 3, 2, 0, false, r),
			NewConv2d(3, 4, 1, 1, 0, true, r),
			NewDepthwiseConv2d(4, 3, 1, 1, true, r)},
			pool...), NewDepthwiseConv2d(4, 3, 1, 1, true, r))...)
		s.NoArena = noArena
		return s
	}
	x := randTensor(rand.New(rand.NewPCG(8, 8)), 2, 3, 8, 10)
	var ys, dxs [2]*tensor.Tensor
	var grads [2][]*tensor.Tensor
	for i, noArena := range []bool{false, true} {
		net := build(noArena, true)
		net.SetTraining(true)
		y, err := net.Forward(x.Clone())
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.ShapeEq(y.Shape, []int{2, 4, 4, 5}) {
			t.Fatalf("output shape %v", y.Shape)
		}
		ys[i] = y.Clone()
		dy := tensor.New(y.Shape...)
		dy.Fill(1)
		dx, err := net.Backward(dy)
		if err != nil {
			t.Fatal(err)
		}
		dxs[i] = dx.Clone()
		for _, p := range net.Params() {
			grads[i] = append(grads[i], p.Grad.Clone())
		}
	}
	if !tensor.SameBits(ys[0].Data, ys[1].Data) || !tensor.SameBits(dxs[0].Data, dxs[1].Data) {
		t.Fatal("arena and NoArena runs differ")
	}
	for i := range grads[0] {
		if !tensor.SameBits(grads[0][i].Data, grads[1][i].Data) {
			t.Fatalf("parameter %d gradient differs between arena and NoArena", i)
		}
	}
	// A weight step moves every pooling window at once, so some maximum
	// changes place and finite differences across the max pool are
	// meaningless for weights; its input gradient is checked, and the
	// parameter gradients through an average pool.
	withMax := build(false, true)
	for _, p := range withMax.Params() {
		p.Frozen = true
	}
	gradCheck{}.run(t, withMax, x)
	gradCheck{}.run(t, build(false, false), x)
}

// TestDepthwiseSameMatchesExplicitPad: TF 'SAME' padding in the layer
// computes what the explicit zero padding TF describes, followed by the
// unpadded layer, computes: output, input gradient and parameter
// gradients, on even and odd sides at strides 1 and 2 (the odd pad at the
// bottom and right), in training and evaluation.
func TestDepthwiseSameMatchesExplicitPad(t *testing.T) {
	for _, s := range []int{1, 2} {
		for _, hw := range [][2]int{{8, 8}, {7, 9}, {6, 5}, {1, 2}} {
			t.Run(fmt.Sprintf("s%d_%dx%d", s, hw[0], hw[1]), func(t *testing.T) {
				amounts := func(n int) (int, int) {
					total := max(((n+s-1)/s-1)*s+3-n, 0)
					return total / 2, total - total/2
				}
				top, bottom := amounts(hw[0])
				left, right := amounts(hw[1])
				same := NewDepthwiseConv2d(4, 3, s, 0, true, rand.New(rand.NewPCG(3, 4)))
				same.Same = true
				plain := NewDepthwiseConv2d(4, 3, s, 0, true, rand.New(rand.NewPCG(3, 4)))
				x := randTensor(rand.New(rand.NewPCG(5, 6)), 2, 4, hw[0], hw[1])
				var got, want [][]float32
				for _, training := range []bool{true, false} {
					got = append(got, runSeq(t, NewSequential(same), x, training)...)
					want = append(want, runSeq(t, NewSequential(NewConstantPad2d(left, right, top, bottom, 0), plain), x, training)...)
				}
				for i := range want {
					closeTo(t, fmt.Sprint("result ", i), got[i], want[i], 1e-6, 1e-6)
				}
			})
		}
	}
	l := NewDepthwiseConv2d(8, 3, 2, 0, false, rand.New(rand.NewPCG(1, 1)))
	l.Same = true
	if got, want := l.String(), "Conv2d(8, 8, kernel_size=(3, 3), stride=(2, 2), padding='same', groups=8, bias=False)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// runSeq runs one Forward (and in training a Backward with a fixed dy)
// and returns the output, then the input gradient and the parameter
// gradients.
func runSeq(t *testing.T, s *Sequential, x *tensor.Tensor, training bool) [][]float32 {
	t.Helper()
	s.SetTraining(training)
	ZeroGrad(s)
	y, err := s.Forward(x.Clone())
	if err != nil {
		t.Fatal(err)
	}
	out := [][]float32{y.Clone().Data}
	if !training {
		return out
	}
	dx, err := s.Backward(randTensor(rand.New(rand.NewPCG(7, 8)), y.Shape...))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, dx.Clone().Data)
	for _, p := range s.Params() {
		out = append(out, p.Grad.Clone().Data)
	}
	return out
}

// TestDepthwiseSameGradCheck checks the 'SAME' layer's gradients (the
// general kernels, which take uneven padding) by finite differences.
func TestDepthwiseSameGradCheck(t *testing.T) {
	for _, s := range []int{1, 2} {
		r := rand.New(rand.NewPCG(5, uint64(s)))
		l := NewDepthwiseConv2d(3, 3, s, 0, true, r)
		l.Same = true
		gradCheck{}.run(t, l, randTensor(r, 2, 3, 6, 7))
	}
}
