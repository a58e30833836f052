package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

// withWinograd runs fn with WinogradMode set to mode.
func withWinograd(mode int, fn func()) {
	defer func(old int) { WinogradMode = old }(WinogradMode)
	WinogradMode = mode
	fn()
}

// convPass is one layer's forward output and three gradients (two
// backward passes' worth, so that accumulation is checked too).
type convPass struct{ y, dx, dW, db []float32 }

func runConvPass(t *testing.T, l *Conv2d, x, dy *tensor.Tensor) convPass {
	t.Helper()
	ZeroGrad(l)
	l.SetTraining(true)
	var p convPass
	for range 2 {
		y, err := l.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		p.y = append(p.y[:0], y.Data...)
		dx, err := l.Backward(dy.Clone())
		if err != nil {
			t.Fatal(err)
		}
		if dx != nil {
			p.dx = append(p.dx[:0], dx.Data...)
		}
	}
	p.dW = append(p.dW, l.Weight.Grad.Data...)
	if l.Bias != nil {
		p.db = append(p.db, l.Bias.Grad.Data...)
	}
	return p
}

// relErr is max|got-want| / max|want|.
func relErr(got, want []float32) float64 {
	d, s := 0.0, 0.0
	for i, v := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(v)))
		s = math.Max(s, math.Abs(float64(v)))
	}
	return d / s
}

// TestWinogradMatchesIm2col holds the Winograd path's output and gradients
// to the im2col path's within 1e-4 relative error, on VGG's channel counts
// at reduced spatial size and batch, and on small odd shapes whose last
// tiles are partial, with each padding the path takes.
func TestWinogradMatchesIm2col(t *testing.T) {
	cases := []convCase{
		{n: 2, in: 64, out: 64, h: 24, w: 24, p: 1, bias: true},
		{n: 2, in: 128, out: 128, h: 14, w: 14, p: 1, bias: true},
		{n: 2, in: 256, out: 256, h: 7, w: 9, p: 1, bias: true},
		{n: 4, in: 512, out: 512, h: 4, w: 4, p: 1, bias: true},
		{n: 3, in: 64, out: 128, h: 8, w: 8, p: 1, bias: false},
		{n: 3, in: 5, out: 7, h: 13, w: 11, p: 1, bias: true},
		{n: 2, in: 3, out: 4, h: 9, w: 6, p: 0, bias: true},
		{n: 2, in: 4, out: 3, h: 5, w: 7, p: 2, bias: true},
		{n: 1, in: 2, out: 3, h: 3, w: 3, p: 1, bias: true},
	}
	for _, tc := range cases {
		tc.k, tc.s = 3, 1
		t.Run(tc.String(), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(tc.in), 4))
			l, x, dy := tc.pass(r, 2)
			var ref, got convPass
			withWinograd(WinogradOff, func() { ref = runConvPass(t, l, x, dy) })
			withWinograd(WinogradOn, func() {
				if !l.useWinograd(tc.n, tc.h, tc.w) {
					t.Fatal("WinogradOn did not select the Winograd path")
				}
				got = runConvPass(t, l, x, dy)
			})
			for _, c := range []struct {
				name      string
				got, want []float32
			}{{"y", got.y, ref.y}, {"dx", got.dx, ref.dx}, {"dW", got.dW, ref.dW}, {"db", got.db, ref.db}} {
				if len(c.want) == 0 {
					continue
				}
				e := relErr(c.got, c.want)
				t.Logf("%s: relative error %.2g", c.name, e)
				if e > 1e-4 || math.IsNaN(e) {
					t.Errorf("%s: relative error %g > 1e-4", c.name, e)
				}
			}
		})
	}
}

// pass is a 3x3, stride-1 case's layer (its weights from seed) and a
// random input and output gradient (from r).
func (c convCase) pass(r *rand.Rand, seed uint64) (l *Conv2d, x, dy *tensor.Tensor) {
	x = randTensor(r, c.n, c.in, c.h, c.w)
	return c.layer(seed), x, randTensor(r, c.n, c.out, c.h+2*c.p-2, c.w+2*c.p-2)
}

// TestWinogradMatchesDefinition checks the path against the float64
// definition on a small odd shape, so that a shared mistake of both GEMM
// paths could not hide.
func TestWinogradMatchesDefinition(t *testing.T) {
	tc := convCase{n: 3, in: 6, out: 5, h: 11, w: 10, k: 3, s: 1, p: 1, bias: true}
	r := rand.New(rand.NewPCG(5, 5))
	l, x, dy := tc.pass(r, 9)
	var got convPass
	withWinograd(WinogradOn, func() { got = runConvPass(t, l, x, dy) })
	wdx, wdW, wdb := directConvGrad(l, x, dy)
	for i := range wdW {
		wdW[i] *= 2
	}
	for i := range wdb {
		wdb[i] *= 2
	}
	for _, c := range []struct {
		name string
		got  []float32
		want []float64
	}{{"y", got.y, directConv(l, x)}, {"dx", got.dx, wdx}, {"dW", got.dW, wdW}, {"db", got.db, wdb}} {
		if d, sc := maxDiff64(c.got, c.want); d > 1e-5*sc {
			t.Errorf("%s: max diff %g (scale %g)", c.name, d, sc)
		}
	}
}

func TestWinogradGradCheck(t *testing.T) {
	cases := []convGradCase{
		{convCase: convCase{n: 2, in: 3, out: 4, h: 7, w: 9, k: 3, s: 1, p: 1, bias: true}},
		{convCase: convCase{n: 1, in: 2, out: 3, h: 6, w: 5, k: 3, s: 1, p: 0, bias: false}},
		{convCase: convCase{n: 2, in: 2, out: 2, h: 5, w: 5, k: 3, s: 1, p: 1, bias: true}, noInput: true},
	}
	withWinograd(WinogradOn, func() { checkConvGrads(t, cases) })
}

// TestWinogradTileBlocks runs one shape under block sizes that cut the
// tiles into one item, items across image boundaries, and a ragged last
// item, all of which must agree to rounding.
func TestWinogradTileBlocks(t *testing.T) {
	defer func(v int) { wgBlockTiles = v }(wgBlockTiles)
	tc := convCase{n: 3, in: 8, out: 6, h: 10, w: 13, k: 3, s: 1, p: 1, bias: true}
	r := rand.New(rand.NewPCG(1, 3))
	l, x, dy := tc.pass(r, 1)
	var ref convPass
	withWinograd(WinogradOff, func() { ref = runConvPass(t, l, x, dy) })
	for _, tb := range []int{1, 5, 16, 1000} {
		wgBlockTiles = tb
		var got convPass
		withWinograd(WinogradOn, func() { got = runConvPass(t, l, x, dy) })
		for name, p := range map[string][2][]float32{"y": {got.y, ref.y}, "dx": {got.dx, ref.dx}, "dW": {got.dW, ref.dW}, "db": {got.db, ref.db}} {
			if e := relErr(p[0], p[1]); e > 1e-5 {
				t.Errorf("block %d: %s relative error %g", tb, name, e)
			}
		}
	}
}

func TestWinogradRule(t *testing.T) {
	big := NewConv2d(256, 256, 3, 1, 1, true, rand.New(rand.NewPCG(1, 1)))
	strided := NewConv2d(256, 256, 3, 2, 1, true, rand.New(rand.NewPCG(1, 1)))
	withWinograd(WinogradOff, func() {
		if big.useWinograd(32, 56, 56) {
			t.Error("WinogradOff still selects Winograd")
		}
	})
	withWinograd(WinogradOn, func() {
		if strided.useWinograd(32, 56, 56) {
			t.Error("a stride-2 layer selects Winograd")
		}
	})
	withWinograd(WinogradAuto, func() {
		if !big.useWinograd(32, 56, 56) {
			t.Error("VGG's 256-channel layer at batch 32 does not take Winograd")
		}
		if big.useWinograd(1, 56, 56) {
			t.Error("a single image takes Winograd")
		}
	})
}

// TestWinogradRuleOnVGG pins the rule's choices on VGG16 at 224 and 64,
// in training and in inference (they differ on the 4x4 maps only).
func TestWinogradRuleOnVGG(t *testing.T) {
	for _, c := range []struct {
		in, out, hw  int
		train, infer bool
	}{
		{3, 64, 224, false, false}, {64, 64, 224, true, true}, {64, 128, 112, true, true},
		{128, 128, 112, true, true}, {256, 256, 56, true, true}, {512, 512, 28, true, true},
		{512, 512, 14, true, true}, {3, 64, 64, false, false}, {64, 64, 64, true, true},
		{64, 128, 32, true, true}, {128, 128, 32, true, true}, {512, 512, 8, true, true},
		{512, 512, 4, true, false}, {512, 512, 2, false, false}, {512, 512, 7, false, false},
	} {
		for _, m := range []struct {
			training, want bool
		}{{true, c.train}, {false, c.infer}} {
			if got := wgFaster(32, c.in, c.out, c.hw, c.hw, m.training); got != m.want {
				t.Errorf("%d->%d at %d, training %v: Winograd %v, want %v", c.in, c.out, c.hw, m.training, got, m.want)
			}
		}
	}
}

// TestWinogradWeightGradRepeats runs the weight gradient twice on a shape
// cut into several rounds of items: the sums are added in a fixed order,
// so the two must agree bit for bit (a resumed training run depends on it).
func TestWinogradWeightGradRepeats(t *testing.T) {
	defer func(v int) { wgBlockTiles = v }(wgBlockTiles)
	wgBlockTiles = 8
	r := rand.New(rand.NewPCG(2, 7))
	g := newWgGeom(3, 6, 5, 12, 10, 1)
	x := randSlice(r, g.n*g.cin*g.h*g.w)
	dy := randSlice(r, g.n*g.cout*g.ho*g.wo)
	var first []float32
	for range 3 {
		// dw and then db, in one slice.
		dw := make([]float32, g.cout*g.cin*9+g.cout)
		du := make([]float32, wgElems*wgSpan(g.cout*g.cin))
		wgWeightGrad(g, x, dy, dw[:g.cout*g.cin*9], du, dw[g.cout*g.cin*9:])
		if first == nil {
			first = dw
			continue
		}
		for i := range dw {
			if math.Float32bits(dw[i]) != math.Float32bits(first[i]) {
				t.Fatalf("dw and db [%d] = %g, then %g", i, first[i], dw[i])
			}
		}
	}
}

func TestWgBufferFit(t *testing.T) {
	for _, c := range []struct {
		c, b, n int
		want    bool
	}{
		{100, 10, 50, true},    // fits beats too small
		{10, 100, 50, false},   // too small loses to a fit
		{100, 1000, 50, true},  // the smaller fit
		{40, 20, 50, true},     // the larger of two too small
		{1000, 100, 50, false}, // a larger fit loses
	} {
		if got := wgBetterFit(c.c, c.b, c.n); got != c.want {
			t.Errorf("wgBetterFit(%d, %d, %d) = %v", c.c, c.b, c.n, got)
		}
	}
}
