package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fuseNets cover every write-back a fused ReLU goes through: forward, the
// im2col paths (bands of a 32x32 map, groups of small images, the split by
// output channels at batch 1), Winograd, the direct algorithm (evaluation
// at batch 1) and batch norm in both modes; backward, the input gradient
// of a convolution on the band, group, Winograd and strided (col2im) paths
// and of batch norm taking the mask of the ReLU before them.
var fuseNets = []struct {
	arenaNet
	fused int // layers that apply a ReLU's forward or backward pass
}{
	{arenaNet{"batch-2", func(rng *rand.Rand) *Sequential {
		return NewNamedSequential([]string{"block1", "block2", "head"}, []Layer{
			NewSequential(NewConv2d(3, 8, 3, 1, 1, true, rng), NewReLU(true),
				NewConv2d(8, 8, 3, 1, 1, true, rng), NewReLU(true), NewMaxPool2d(2, 2, 0)),
			NewSequential(NewConv2d(8, 16, 3, 1, 1, true, rng), NewReLU(true),
				NewConv2d(16, 64, 3, 1, 1, true, rng), NewReLU(true),
				NewConv2d(64, 64, 3, 1, 1, true, rng), NewReLU(true),
				NewConv2d(64, 32, 3, 2, 1, true, rng), NewReLU(true),
				NewBatchNorm2d(32), NewReLU(true), NewMaxPool2d(2, 2, 0)),
			NewSequential(NewFlatten(), NewLinear(32*4*4, 6, true, rng), NewReLU(true), NewLinear(6, 3, true, rng)),
		})
	}, []int{2, 3, 32, 32}}, 7 + 5},
	{arenaNet{"batch-1", func(rng *rand.Rand) *Sequential {
		return NewSequential(NewConv2d(3, 8, 3, 1, 1, true, rng), NewReLU(true),
			NewConv2d(8, 64, 3, 2, 1, true, rng), NewReLU(true), NewBatchNorm2d(64), NewReLU(true),
			NewConv2d(64, 64, 1, 1, 0, false, rng), NewBatchNorm2d(64), NewReLU(true),
			NewFlatten(), NewLinear(64*6*6, 4, true, rng))
	}, []int{1, 3, 12, 12}}, 4 + 2},
}

// countFused counts the layers whose last Forward planned to apply the
// ReLU after them, or the gradient mask of the ReLU before them.
func countFused(l Layer) int {
	n := 0
	switch l := l.(type) {
	case *Sequential:
		for _, c := range l.Layers {
			n += countFused(c)
		}
	case *Conv2d:
		n += b2i(l.act != actNone) + b2i(l.reluMask)
	case *DepthwiseConv2d:
		n += b2i(l.act != actNone)
	case *BatchNorm2d:
		n += b2i(l.relu) + b2i(l.reluMask)
	}
	return n
}

// sameResults fails t unless the fused results are bit for bit the
// separate ones.
func sameResults(t *testing.T, got, want [][]float32) {
	t.Helper()
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
				t.Fatalf("result %d [%d]: fused %v, separate %v", i, j, got[i][j], want[i][j])
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFusedMatchesSeparate: the fused plan computes, bit for bit, what the
// separate layers compute: outputs, input gradients and parameter
// gradients over two training steps, then outputs in evaluation.
func TestFusedMatchesSeparate(t *testing.T) {
	defer func(on bool) { FuseLayers = on }(FuseLayers)
	for _, tc := range fuseNets {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(rand.New(rand.NewPCG(1, 2)), tc.in...)
			FuseLayers = false
			sep := tc.build(rand.New(rand.NewPCG(9, 9)))
			want := runNet(t, sep, x)
			if n := countFused(sep); n != 0 {
				t.Fatalf("%d layers fused with fusion off", n)
			}
			FuseLayers = true
			fused := tc.build(rand.New(rand.NewPCG(9, 9)))
			got := runNet(t, fused, x)
			if n := countFused(fused); n != tc.fused {
				t.Fatalf("%d layers fused a ReLU, want %d", n, tc.fused)
			}
			sameResults(t, got, want)
		})
	}
}

// TestFusedKernelsKeepReLURules: the fused batch-norm kernels treat -0,
// NaN and the infinities as scaleShift plus reluForward and reluBackward
// do.
func TestFusedKernelsKeepReLURules(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	x := []float32{-1, 0, 1, 2, nan, -nan, inf, -inf, 1e-30, -1e-30, 0.5}
	for _, p := range [][2]float32{{1, 0}, {-2, 1}, {0, -0.0}, {3, -1.5}} {
		sc, sh := p[0], p[1]
		want := make([]float32, len(x))
		scaleShift(want, x, sc, sh)
		reluForward(want, want)
		got := make([]float32, len(x))
		scaleShiftReLU(got, x, sc, sh)
		gWant := make([]float32, len(x))
		for i := range gWant {
			gWant[i] = float32(i + 1)
		}
		gGot := append([]float32(nil), gWant...)
		dWant := append([]float32(nil), gWant...)
		dGot := append([]float32(nil), gWant...)
		reluBackward(gWant, want)
		reluMaskGrad(gGot, x, sc, sh)
		// The mask of a ReLU before batch norm, whose output is x.
		scaleShiftGrad(dWant, x, sc, sh, 0.25)
		reluBackward(dWant, x)
		scaleShiftGradMasked(dGot, x, sc, sh, 0.25)
		for i := range x {
			if math.Float32bits(dGot[i]) != math.Float32bits(dWant[i]) {
				t.Errorf("scale %v shift %v, x=%v: masked batch-norm gradient %v, want %v", sc, sh, x[i], dGot[i], dWant[i])
			}
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) || gGot[i] != gWant[i] {
				t.Errorf("scale %v shift %v, x=%v: forward %v want %v, gradient %v want %v",
					sc, sh, x[i], got[i], want[i], gGot[i], gWant[i])
			}
		}
	}
}

// TestFusedGradCheck: finite differences through a fused batch norm +
// ReLU and a fused convolution + ReLU. Their inputs keep the ReLU's input
// clear of its kink by more than the step: the batch norm's values sit in
// two clusters around ±1.5 (so the normalized ones are near ±1); the
// convolution is 1x1 over one channel with weights at least 0.5 in size
// and no bias, so its outputs are at least 0.05 from zero.
func TestFusedGradCheck(t *testing.T) {
	defer func(on bool) { FuseLayers = on }(FuseLayers)
	FuseLayers = true
	rng := rand.New(rand.NewPCG(21, 22))
	x := randTensor(rng, 3, 4, 3, 3)
	for i, v := range x.Data {
		x.Data[i] = float32(math.Copysign(1.5+0.2*math.Tanh(float64(v)), float64(i%2)-0.5))
	}
	bn := NewBatchNorm2d(4)
	for c := range 4 {
		bn.Weight.Value.Data[c] = float32(0.5 + 0.25*float64(c))
	}
	net := NewSequential(bn, NewReLU(true))
	net.NoArena = true // gradCheck runs Backward after its own Forwards
	gradCheck{}.run(t, net, x)

	conv := NewConv2d(1, 6, 1, 1, 0, false, rng)
	for o, v := range conv.Weight.Value.Data {
		conv.Weight.Value.Data[o] = float32(math.Copysign(0.5+math.Abs(float64(v)), float64(o%2)-0.5))
	}
	net2 := NewSequential(conv, NewReLU(true))
	net2.NoArena = true
	gradCheck{}.run(t, net2, awayFromZero(rng, 2, 1, 4, 4))
	// The mask of a ReLU before a batch norm and before a convolution
	// (whose inputs, 0.1 or more from zero, keep clear of the kink).
	net3 := NewSequential(NewReLU(true), NewBatchNorm2d(3))
	net3.NoArena = true
	gradCheck{}.run(t, net3, awayFromZero(rng, 2, 3, 4, 4))
	net4 := NewSequential(NewReLU(true), NewConv2d(3, 4, 3, 1, 1, true, rng))
	net4.NoArena = true
	gradCheck{}.run(t, net4, awayFromZero(rng, 2, 3, 4, 4))
	if n := countFused(net) + countFused(net2) + countFused(net3) + countFused(net4); n != 4 {
		t.Fatalf("%d layers fused a ReLU, want 4", n)
	}
}

// BenchmarkFusion times forward + backward of the pairs the fused plan
// joins, on one VGG16 activation at 64x64, batch 32 (33.5 MB), fused and
// separate: batch norm then ReLU (the convbn models), ReLU then batch norm
// (the end of every block of the bn models), and a convolution then ReLU.
func BenchmarkFusion(b *testing.B) {
	defer func(on bool) { FuseLayers = on }(FuseLayers)
	rng := rand.New(rand.NewPCG(1, 2))
	x := randTensor(rng, 32, 64, 64, 64)
	dy := randTensor(rng, 32, 64, 64, 64)
	pairs := []struct {
		name string
		net  *Sequential
	}{
		{"bn-relu", NewSequential(NewBatchNorm2d(64), NewReLU(true))},
		{"relu-bn", NewSequential(NewReLU(true), NewBatchNorm2d(64))},
		{"conv-relu", NewSequential(NewConv2d(64, 64, 3, 1, 1, true, rng), NewReLU(true))},
	}
	for _, p := range pairs {
		p.net.SetTraining(true)
		for _, on := range []bool{false, true} {
			name := p.name + "/separate"
			if on {
				name = p.name + "/fused"
			}
			b.Run(name, func(b *testing.B) {
				FuseLayers = on
				in, g := x.Clone(), dy.Clone()
				for b.Loop() {
					b.StopTimer()
					copy(in.Data, x.Data) // the ReLU works in place
					copy(g.Data, dy.Data) // so do the backward passes
					b.StartTimer()
					if _, err := p.net.Forward(in); err != nil {
						b.Fatal(err)
					}
					if _, err := p.net.Backward(g); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
