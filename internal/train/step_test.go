package train

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/nn"
	"starid/internal/optim"
	"starid/internal/tensor"
)

// shapeImages draws n 16x16 images of four shapes (square, disc, horizontal
// bar, cross) at random positions and sizes, each in a random colour on a
// noisy background. The class is the shape, never the colour, so a network
// has to learn spatial features to separate them.
func shapeImages(rng *rand.Rand, n int) (*tensor.Tensor, []int) {
	const s = 16
	x := tensor.New(n, 3, s, s)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		cls := rng.IntN(4)
		labels[i] = cls
		col := [3]float32{rng.Float32()*1.5 + 0.5, rng.Float32()*1.5 + 0.5, rng.Float32()*1.5 + 0.5}
		r := 3 + rng.IntN(2)
		cy, cx := r+rng.IntN(s-2*r), r+rng.IntN(s-2*r)
		for y := 0; y < s; y++ {
			for xx := 0; xx < s; xx++ {
				dy, dx := y-cy, xx-cx
				var in bool
				switch cls {
				case 0:
					in = abs(dy) <= r && abs(dx) <= r
				case 1:
					in = dy*dy+dx*dx <= r*r
				case 2:
					in = abs(dy) <= 1 && abs(dx) <= r
				case 3:
					in = (abs(dy) <= 0 && abs(dx) <= r) || (abs(dx) <= 0 && abs(dy) <= r)
				}
				for c := 0; c < 3; c++ {
					v := float32(rng.NormFloat64()) * 0.1
					if in {
						v += col[c]
					}
					x.Data[((i*3+c)*s+y)*s+xx] = v
				}
			}
		}
	}
	return x, labels
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func smallCNN(rng *rand.Rand) *nn.Sequential {
	net := nn.NewSequential(
		nn.NewConv2d(3, 16, 3, 1, 1, true, rng), nn.NewReLU(true), nn.NewBatchNorm2d(16), nn.NewMaxPool2d(2, 2, 0),
		nn.NewConv2d(16, 32, 3, 1, 1, true, rng), nn.NewReLU(true), nn.NewBatchNorm2d(32), nn.NewMaxPool2d(2, 2, 0),
		nn.NewConv2d(32, 32, 3, 1, 1, true, rng), nn.NewReLU(true), nn.NewAdaptiveAvgPool2d(1, 1),
		nn.NewFlatten(), nn.NewDropout(0.1, rng), nn.NewLinear(32, 4, true, rng))
	net.NeedInputGrad = false
	return net
}

// TestSmallCNNLearnsShapes trains a small CNN with every engine piece in the
// loop (conv, BN, pooling, dropout, linear, Adam, L2) on generated shapes and
// asks for 95% accuracy on held-out images.
func TestSmallCNNLearnsShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 1))
	xtr, ytr := shapeImages(rng, 640)
	xte, yte := shapeImages(rng, 256)
	net := smallCNN(rng)
	opt := optim.NewAdam(net.Params(), optim.AdamConfig{LR: 3e-3})
	st := &Stepper{Model: net, Opt: opt, L2: 1e-5}
	const batch = 32
	per := 3 * 16 * 16
	xb := tensor.New(batch, 3, 16, 16)
	var firstLoss, lastLoss float64
	for epoch := 0; epoch < 12; epoch++ {
		net.SetTraining(true)
		perm := rng.Perm(len(ytr))
		sum := 0.0
		for b := 0; b+batch <= len(perm); b += batch {
			lb := make([]int, batch)
			for j := 0; j < batch; j++ {
				k := perm[b+j]
				copy(xb.Data[j*per:(j+1)*per], xtr.Data[k*per:(k+1)*per])
				lb[j] = ytr[k]
			}
			r, err := st.Step(xb, lb)
			if err != nil {
				t.Fatal(err)
			}
			sum += r.Loss
		}
		mean := sum / float64(len(perm)/batch)
		if epoch == 0 {
			firstLoss = mean
		}
		lastLoss = mean
	}
	net.SetTraining(false)
	logits, err := net.Forward(xte)
	if err != nil {
		t.Fatal(err)
	}
	acc := float64(CountCorrect(logits, yte)) / float64(len(yte))
	t.Logf("train loss %.3f -> %.3f, test accuracy %.1f%%", firstLoss, lastLoss, 100*acc)
	if acc < 0.95 || math.IsNaN(lastLoss) {
		t.Fatalf("test accuracy %.1f%% < 95%% (loss %.3f -> %.3f)", 100*acc, firstLoss, lastLoss)
	}
}

func TestCountCorrect(t *testing.T) {
	logits := tensor.FromData([]float32{0, 2, 1, 5, 0, 0, 1, 1, 0}, 3, 3)
	// Rows pick 1, 0 and 0 (first of a tie, like torch.argmax).
	if got := CountCorrect(logits, []int{1, 0, 1}); got != 2 {
		t.Fatalf("CountCorrect = %d, want 2", got)
	}
}
