package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"starid/internal/cpu"
	"starid/internal/tensor"
)

type convCase struct {
	n, in, out, h, w, k, s, p int
	bias                      bool
}

func (c convCase) String() string {
	return fmt.Sprintf("N%d_%dto%d_%dx%d_k%d_s%d_p%d_bias%v", c.n, c.in, c.out, c.h, c.w, c.k, c.s, c.p, c.bias)
}

func (c convCase) layer(seed uint64) *Conv2d {
	return NewConv2d(c.in, c.out, c.k, c.s, c.p, c.bias, rand.New(rand.NewPCG(seed, 1)))
}

// eachConvTap calls fn for every product in the definition of the
// convolution of an n x In x h x w input: output element yi takes weight
// wi times input xi. Taps in the padding are skipped, and each output's
// taps come in (c, ki, kj) order.
func eachConvTap(l *Conv2d, n, h, w int, fn func(yi, wi, xi int)) {
	k, s, p := l.Kernel, l.Stride, l.Padding
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	for b := 0; b < n; b++ {
		for o := 0; o < l.Out; o++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					yi := ((b*l.Out+o)*ho+oy)*wo + ox
					for c := 0; c < l.In; c++ {
						for ki := 0; ki < k; ki++ {
							for kj := 0; kj < k; kj++ {
								iy, ix := oy*s-p+ki, ox*s-p+kj
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								fn(yi, ((o*l.In+c)*k+ki)*k+kj, ((b*l.In+c)*h+iy)*w+ix)
							}
						}
					}
				}
			}
		}
	}
}

// directConv is the definition of the convolution, in float64.
func directConv(l *Conv2d, x *tensor.Tensor) []float64 {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	k, s, p := l.Kernel, l.Stride, l.Padding
	ho, wo := (h+2*p-k)/s+1, (w+2*p-k)/s+1
	y := make([]float64, n*l.Out*ho*wo)
	if l.Bias != nil {
		for i := range y {
			y[i] = float64(l.Bias.Value.Data[i/(ho*wo)%l.Out])
		}
	}
	eachConvTap(l, n, h, w, func(yi, wi, xi int) {
		y[yi] += float64(l.Weight.Value.Data[wi]) * float64(x.Data[xi])
	})
	return y
}

// directConvGrad is the definition of the three gradients, in float64.
func directConvGrad(l *Conv2d, x, dy *tensor.Tensor) (dx, dW, db []float64) {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	ohw := dy.Shape[2] * dy.Shape[3]
	dx = make([]float64, len(x.Data))
	dW = make([]float64, len(l.Weight.Value.Data))
	db = make([]float64, l.Out)
	for i, g := range dy.Data {
		db[i/ohw%l.Out] += float64(g)
	}
	eachConvTap(l, n, h, w, func(yi, wi, xi int) {
		g := float64(dy.Data[yi])
		dW[wi] += g * float64(x.Data[xi])
		dx[xi] += g * float64(l.Weight.Value.Data[wi])
	})
	return dx, dW, db
}

func maxDiff64(got []float32, want []float64) (float64, float64) {
	d, scale := 0.0, 0.0
	for i, v := range want {
		d = math.Max(d, math.Abs(float64(got[i])-v))
		scale = math.Max(scale, math.Abs(v))
	}
	return d, scale
}

// convExactCases cover the plan's three shapes of work (bands of rows,
// whole images, groups of images) under the three column targets below,
// and the special paths (1x1 without im2col, stride 2 through col2im,
// padding beyond K-1 through a cropping input-gradient convolution).
var convExactCases = []convCase{
	{n: 3, in: 3, out: 8, h: 20, w: 17, k: 3, s: 1, p: 1, bias: true},
	{n: 5, in: 6, out: 4, h: 4, w: 4, k: 3, s: 1, p: 1, bias: true},
	{n: 2, in: 5, out: 7, h: 9, w: 7, k: 1, s: 1, p: 0, bias: true},
	{n: 3, in: 4, out: 5, h: 11, w: 9, k: 3, s: 2, p: 1, bias: false},
	{n: 4, in: 2, out: 3, h: 7, w: 9, k: 5, s: 2, p: 2, bias: true},
	{n: 2, in: 3, out: 2, h: 6, w: 5, k: 1, s: 1, p: 1, bias: true},
	{n: 1, in: 1, out: 3, h: 12, w: 10, k: 5, s: 1, p: 2, bias: true},
	{n: 2, in: 3, out: 4, h: 6, w: 6, k: 3, s: 1, p: 0, bias: false},
	// One image: too small to leave the caller's goroutine, split by
	// output channels (more channels than pixels, a 3x3 and a 1x1 whose
	// channel count is no multiple of the workers' share), and bands.
	{n: 1, in: 4, out: 6, h: 9, w: 8, k: 3, s: 1, p: 1, bias: true},
	{n: 1, in: 128, out: 64, h: 5, w: 5, k: 3, s: 1, p: 1, bias: true},
	{n: 1, in: 256, out: 300, h: 3, w: 3, k: 1, s: 1, p: 0, bias: true},
	{n: 1, in: 128, out: 72, h: 4, w: 4, k: 3, s: 2, p: 0, bias: false},
	{n: 1, in: 16, out: 8, h: 40, w: 36, k: 3, s: 1, p: 1, bias: true},
	// The direct algorithm (conv_taps.go) in evaluation on CPUs with
	// AVX2, one image: 3x3 and 1x1 ones, each on the caller's goroutine
	// and split over workers, with rows of 24s, an 8 and a tail; and a
	// kernel that takes too many window values for it.
	{n: 1, in: 3, out: 16, h: 7, w: 29, k: 3, s: 1, p: 0, bias: true},
	{n: 1, in: 3, out: 32, h: 50, w: 45, k: 3, s: 1, p: 0, bias: true},
	{n: 1, in: 16, out: 8, h: 30, w: 30, k: 1, s: 1, p: 0, bias: false},
	{n: 1, in: 32, out: 12, h: 60, w: 50, k: 1, s: 1, p: 0, bias: true},
	{n: 1, in: 4, out: 8, h: 12, w: 20, k: 3, s: 1, p: 0, bias: true},
	// Padded stride 1 through a padded copy and wide rows (on the
	// caller's goroutine and split), a 1x1 with padding, a 5x5; and a
	// case past convTapsMax.
	{n: 1, in: 3, out: 8, h: 9, w: 13, k: 3, s: 1, p: 1, bias: true},
	{n: 1, in: 3, out: 16, h: 47, w: 47, k: 3, s: 1, p: 1, bias: true},
	{n: 1, in: 8, out: 4, h: 10, w: 9, k: 1, s: 1, p: 1, bias: true},
	{n: 1, in: 1, out: 12, h: 11, w: 12, k: 5, s: 1, p: 2, bias: false},
	{n: 1, in: 130, out: 8, h: 9, w: 9, k: 3, s: 1, p: 1, bias: true},
	// Stride 2 through phase planes: odd and even sides, both workers.
	{n: 1, in: 3, out: 8, h: 21, w: 40, k: 7, s: 2, p: 0, bias: true},
	{n: 1, in: 3, out: 4, h: 20, w: 37, k: 5, s: 2, p: 0, bias: false},
	{n: 1, in: 3, out: 32, h: 80, w: 79, k: 7, s: 2, p: 0, bias: true},
}

// TestConv2dMatchesDirect holds Forward and Backward to the float64
// definition, under column targets that force each work plan.
func TestConv2dMatchesDirect(t *testing.T) {
	defer func(v int) { convColTarget = v }(convColTarget)
	for _, target := range []int{8, 64, 1 << 20} {
		convColTarget = target
		for _, tc := range convExactCases {
			t.Run(fmt.Sprintf("target%d/%s", target, tc), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(target), 9))
				l := tc.layer(3)
				if tc.bias {
					for i := range l.Bias.Value.Data {
						l.Bias.Value.Data[i] = float32(r.NormFloat64())
					}
				}
				x := randTensor(r, tc.n, tc.in, tc.h, tc.w)
				l.SetTraining(true)
				y, err := l.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				want := directConv(l, x)
				if d, sc := maxDiff64(y.Data, want); d > 1e-5*(1+sc) {
					t.Fatalf("forward: max diff %g (scale %g)", d, sc)
				}
				// Evaluation may take the direct algorithm instead.
				l.SetTraining(false)
				ye, err := l.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				if d, sc := maxDiff64(ye.Data, want); d > 1e-5*(1+sc) {
					t.Fatalf("evaluation forward (direct algorithm %v): max diff %g (scale %g)",
						l.useTaps(tc.n, ye.Shape[3]), d, sc)
				}
				l.SetTraining(true)
				dy := randTensor(r, y.Shape...)
				wdx, wdW, wdb := directConvGrad(l, x, dy)
				// Gradients accumulate: two backward passes give twice the
				// gradient, which also catches a worker buffer that is not
				// restarted between steps.
				ZeroGrad(l)
				for range 2 {
					if _, err := l.Forward(x); err != nil {
						t.Fatal(err)
					}
					dx, err := l.Backward(dy.Clone())
					if err != nil {
						t.Fatal(err)
					}
					if d, sc := maxDiff64(dx.Data, wdx); d > 1e-5*(1+sc) {
						t.Fatalf("dx: max diff %g (scale %g)", d, sc)
					}
				}
				for i := range wdW {
					wdW[i] *= 2
				}
				if d, sc := maxDiff64(l.Weight.Grad.Data, wdW); d > 1e-5*(1+sc) {
					t.Errorf("dW: max diff %g (scale %g)", d, sc)
				}
				if tc.bias {
					for i := range wdb {
						wdb[i] *= 2
					}
					if d, sc := maxDiff64(l.Bias.Grad.Data, wdb); d > 1e-5*(1+sc) {
						t.Errorf("db: max diff %g (scale %g)", d, sc)
					}
				}
			})
		}
	}
}

// convGradCase is a convolution to check against finite differences,
// with or without the input gradient.
type convGradCase struct {
	convCase
	noInput bool
}

// checkConvGrads runs the finite-difference check on each case.
func checkConvGrads(t *testing.T, cases []convGradCase) {
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s_noInput%v", tc.convCase, tc.noInput), func(t *testing.T) {
			l := tc.layer(5)
			l.SetNeedInputGrad(!tc.noInput)
			x := randTensor(rand.New(rand.NewPCG(8, 8)), tc.n, tc.in, tc.h, tc.w)
			gradCheck{MaxProbe: 60, NoInput: tc.noInput}.run(t, l, x)
		})
	}
}

func TestConv2dGradCheck(t *testing.T) {
	cases := []convGradCase{
		{convCase: convCase{n: 1, in: 1, out: 2, h: 5, w: 5, k: 3, s: 1, p: 1, bias: true}},
		{convCase: convCase{n: 3, in: 2, out: 3, h: 7, w: 9, k: 3, s: 1, p: 1, bias: true}},
		{convCase: convCase{n: 3, in: 2, out: 3, h: 7, w: 9, k: 3, s: 2, p: 1, bias: false}},
		{convCase: convCase{n: 1, in: 3, out: 2, h: 7, w: 9, k: 5, s: 1, p: 2, bias: true}},
		{convCase: convCase{n: 3, in: 2, out: 2, h: 9, w: 7, k: 5, s: 2, p: 0, bias: true}},
		{convCase: convCase{n: 3, in: 3, out: 4, h: 5, w: 6, k: 1, s: 1, p: 0, bias: true}},
		{convCase: convCase{n: 1, in: 2, out: 2, h: 5, w: 4, k: 1, s: 2, p: 0, bias: false}},
		{convCase: convCase{n: 3, in: 1, out: 3, h: 4, w: 4, k: 3, s: 1, p: 0, bias: true}},
		{convCase: convCase{n: 3, in: 2, out: 3, h: 7, w: 9, k: 3, s: 1, p: 1, bias: true}, noInput: true},
		{convCase: convCase{n: 1, in: 3, out: 2, h: 6, w: 6, k: 3, s: 2, p: 1, bias: false}, noInput: true},
	}
	checkConvGrads(t, cases)
}

func TestConv2dSkippedInputGradKeepsParamGrads(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := randTensor(r, 2, 3, 8, 8)
	dy := randTensor(r, 2, 4, 8, 8)
	grads := func(need bool) (*tensor.Tensor, []float32) {
		l := NewConv2d(3, 4, 3, 1, 1, true, rand.New(rand.NewPCG(2, 2)))
		l.SetNeedInputGrad(need)
		l.SetTraining(true)
		if _, err := l.Forward(x); err != nil {
			t.Fatal(err)
		}
		dx, err := l.Backward(dy.Clone())
		if err != nil {
			t.Fatal(err)
		}
		return dx, append(l.Weight.Grad.Clone().Data, l.Bias.Grad.Data...)
	}
	dxOn, gOn := grads(true)
	dxOff, gOff := grads(false)
	if dxOn == nil || dxOff != nil {
		t.Fatalf("input gradient: with need=true got %v, with need=false got %v (want nil)", dxOn, dxOff)
	}
	if d := tensor.MaxAbsDiff(gOn, gOff); d != 0 {
		t.Errorf("parameter gradients change when the input gradient is skipped: max diff %g", d)
	}
}

func TestConv2dFrozenWeightGetsNoGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := NewConv2d(2, 3, 3, 1, 1, true, r)
	l.Weight.Frozen = true
	l.SetTraining(true)
	x := randTensor(r, 2, 2, 5, 5)
	if _, err := l.Forward(x); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backward(randTensor(r, 2, 3, 5, 5)); err != nil {
		t.Fatal(err)
	}
	// Like a PyTorch parameter with requires_grad=False, a frozen weight
	// never gets a gradient tensor at all.
	if l.Weight.Grad != nil {
		t.Fatal("frozen weight received a gradient")
	}
	nonzero := false
	for _, v := range l.Bias.Grad.Data {
		nonzero = nonzero || v != 0
	}
	if !nonzero {
		t.Error("bias (not frozen) received no gradient")
	}
}

func TestConv2dInitAndNames(t *testing.T) {
	l := NewConv2d(64, 32, 3, 1, 1, true, rand.New(rand.NewPCG(1, 2)))
	if got, want := l.String(), "Conv2d(64, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := NewConv2d(3, 8, 5, 2, 0, false, rand.New(rand.NewPCG(1, 2))).String(),
		"Conv2d(3, 8, kernel_size=(5, 5), stride=(2, 2), bias=False)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	ps := l.Params()
	if len(ps) != 2 || ps[0].Name != "weight" || ps[1].Name != "bias" ||
		!tensor.ShapeEq(ps[0].Value.Shape, []int{32, 64, 3, 3}) || !tensor.ShapeEq(ps[1].Value.Shape, []int{32}) {
		t.Fatalf("params: %v", ps)
	}
	// U(-1/sqrt(fan_in), 1/sqrt(fan_in)): all inside the bound, and
	// spread over it (the standard deviation of a uniform is bound/sqrt(3)).
	bound := 1 / math.Sqrt(64*9)
	for _, p := range ps {
		sum2 := 0.0
		for _, v := range p.Value.Data {
			if math.Abs(float64(v)) > bound {
				t.Fatalf("%s value %g outside ±%g", p.Name, v, bound)
			}
			sum2 += float64(v) * float64(v)
		}
		std := math.Sqrt(sum2 / float64(len(p.Value.Data)))
		if want := bound / math.Sqrt(3); math.Abs(std-want) > 0.2*want {
			t.Errorf("%s std %g, want about %g", p.Name, std, want)
		}
	}
}

func TestConv2dShapeErrors(t *testing.T) {
	l := NewConv2d(3, 4, 5, 1, 1, true, rand.New(rand.NewPCG(1, 2)))
	for _, shape := range [][]int{{3, 8, 8}, {1, 2, 8, 8}, {1, 3, 2, 8}, {1, 3, 8, 2}, {2, 3, 8, 8, 1}} {
		_, err := l.Forward(tensor.New(shape...))
		var se *ShapeError
		if !errors.As(err, &se) {
			t.Errorf("input %v: got %v, want a ShapeError", shape, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, l.String()) || !strings.Contains(msg, tensor.ShapeString(shape)) || !strings.Contains(msg, "[N, 3, H, W]") {
			t.Errorf("input %v: message %q does not name the layer and both shapes", shape, msg)
		}
		if _, err := l.OutputShape(shape); err == nil {
			t.Errorf("OutputShape(%v) accepted it", shape)
		}
	}
	got, err := l.OutputShape([]int{2, 3, 3, 10})
	if err != nil || !tensor.ShapeEq(got, []int{2, 4, 1, 8}) {
		t.Errorf("OutputShape([2 3 3 10]) = %v, %v; want [2 4 1 8]", got, err)
	}
}

func TestConv2dBackwardNeedsTrainingForward(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := NewConv2d(2, 2, 3, 1, 1, true, r)
	if _, err := l.Backward(tensor.New(1, 2, 4, 4)); err == nil {
		t.Error("Backward before any Forward succeeded")
	}
	l.SetTraining(false)
	if _, err := l.Forward(randTensor(r, 1, 2, 4, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backward(tensor.New(1, 2, 4, 4)); err == nil {
		t.Error("Backward after an eval-mode Forward succeeded")
	}
	l.SetTraining(true)
	if _, err := l.Forward(randTensor(r, 1, 2, 4, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Backward(tensor.New(1, 2, 4, 3)); err == nil {
		t.Error("Backward with a wrongly shaped gradient succeeded")
	}
}

// TestConv2dConcurrentLayers runs two layers at once (two models serving
// in parallel): they must not share scratch while both are running. The
// overlap is short, so `go test -race` is what reliably catches a
// shared buffer; the value check catches the rest.
func TestConv2dConcurrentLayers(t *testing.T) {
	cases := []convCase{
		{n: 4, in: 3, out: 5, h: 9, w: 8, k: 3, s: 1, p: 1, bias: true},
		{n: 6, in: 4, out: 3, h: 5, w: 5, k: 3, s: 2, p: 1, bias: true},
	}
	type result struct{ y, dx, dW []float32 }
	run := func(tc convCase) result {
		r := rand.New(rand.NewPCG(4, 4))
		l := tc.layer(1)
		l.SetTraining(true)
		x := randTensor(r, tc.n, tc.in, tc.h, tc.w)
		var res result
		for range 20 {
			y, err := l.Forward(x)
			if err != nil {
				panic(err)
			}
			res.y = append(res.y[:0], y.Data...)
			ZeroGrad(l)
			dx, err := l.Backward(randTensor(rand.New(rand.NewPCG(5, 5)), y.Shape...))
			if err != nil {
				panic(err)
			}
			res.dx = append(res.dx[:0], dx.Data...)
		}
		res.dW = l.Weight.Grad.Clone().Data
		return res
	}
	want := []result{run(cases[0]), run(cases[1])}
	got := make([]result, 2)
	done := make(chan int)
	for i := range cases {
		go func() { got[i] = run(cases[i]); done <- i }()
	}
	<-done
	<-done
	for i := range cases {
		for name, pair := range map[string][2][]float32{"y": {got[i].y, want[i].y}, "dx": {got[i].dx, want[i].dx}, "dW": {got[i].dW, want[i].dW}} {
			if d := tensor.MaxAbsDiff(pair[0], pair[1]); d > 1e-5 {
				t.Errorf("%s %s: concurrent run differs from serial by %g", cases[i], name, d)
			}
		}
	}
}

// TestConv2dTapsPath checks that the direct algorithm is taken where it is
// meant to be, and that it agrees with the GEMM lowering of the same layer.
func TestConv2dTapsPath(t *testing.T) {
	if !tapsSIMD() {
		t.Skip("skipping: the direct algorithm needs AVX2")
	}
	for _, tc := range []struct {
		c    convCase
		taps bool
	}{
		{convCase{n: 1, in: 3, out: 16, h: 10, w: 100, k: 3, s: 1, p: 0, bias: true}, true},
		{convCase{n: 1, in: 32, out: 64, h: 9, w: 9, k: 1, s: 1, p: 0, bias: true}, true},
		{convCase{n: 1, in: 4, out: 8, h: 12, w: 20, k: 3, s: 1, p: 0, bias: true}, false}, // 36 taps
		{convCase{n: 1, in: 3, out: 16, h: 10, w: 100, k: 3, s: 1, p: 1, bias: true}, true},
		{convCase{n: 2, in: 3, out: 16, h: 10, w: 100, k: 3, s: 1, p: 0, bias: true}, false}, // a batch
		{convCase{n: 1, in: 32, out: 32, h: 35, w: 35, k: 3, s: 1, p: 1, bias: true}, false},
		{convCase{n: 1, in: 3, out: 16, h: 10, w: 100, k: 5, s: 2, p: 0, bias: true}, true},
		{convCase{n: 1, in: 3, out: 16, h: 10, w: 100, k: 3, s: 2, p: 0, bias: true}, false},
		{convCase{n: 1, in: 3, out: 32, h: 31, w: 40, k: 7, s: 2, p: 0, bias: true}, true},
		{convCase{n: 1, in: 32, out: 16, h: 21, w: 21, k: 3, s: 2, p: 0, bias: true}, false}, // 288 taps
		{convCase{n: 1, in: 3, out: 16, h: 30, w: 30, k: 3, s: 3, p: 0, bias: true}, false},
		{convCase{n: 1, in: 3, out: 18, h: 10, w: 100, k: 3, s: 1, p: 0, bias: true}, false},
		{convCase{n: 1, in: 3, out: 16, h: 10, w: 9, k: 3, s: 1, p: 0, bias: true}, false}, // rows of 7
	} {
		t.Run(tc.c.String(), func(t *testing.T) {
			l := tc.c.layer(5)
			g := l.geom(tc.c.h, tc.c.w)
			l.SetTraining(true)
			if l.useTaps(tc.c.n, g.OutW()) {
				t.Fatal("useTaps in training mode")
			}
			l.SetTraining(false)
			if got := l.useTaps(tc.c.n, g.OutW()); got != tc.taps {
				t.Fatalf("useTaps = %v, want %v", got, tc.taps)
			}
			x := randTensor(rand.New(rand.NewPCG(7, 7)), tc.c.n, tc.c.in, tc.c.h, tc.c.w)
			y, err := l.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			direct := y.Clone()
			defer cpu.SetLevel(cpu.Generic)() // the GEMM lowering
			if y, err = l.Forward(x); err != nil {
				t.Fatal(err)
			}
			for i, v := range y.Data {
				if d := math.Abs(float64(v - direct.Data[i])); d > 1e-5*(1+math.Abs(float64(v))) {
					t.Fatalf("value %d: direct %g, GEMM %g", i, direct.Data[i], v)
				}
			}
		})
	}
}
