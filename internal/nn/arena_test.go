package nn

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"starid/internal/tensor"
)

func TestArenaGetAvoidsItsInput(t *testing.T) {
	var a Arena
	a.Reserve(10)
	s0 := a.Get(nil, 2, 3)
	if !tensor.ShapeEq(s0.Shape, []int{2, 3}) || len(s0.Data) != 6 || cap(s0.Data) != 10 {
		t.Fatalf("Get(nil) = %v len %d cap %d", s0.Shape, len(s0.Data), cap(s0.Data))
	}
	whole0 := s0.Data[:cap(s0.Data)]
	s1 := a.Get(s0, 4)
	if overlaps(s1.Data, whole0) || cap(s1.Data) != 4 {
		t.Fatalf("Get returned the slot it was told to avoid, or reserved the second (cap %d)", cap(s1.Data))
	}
	// A view (another header over the same memory, as Flatten makes) and
	// a tensor over the unused tail of a slot must be recognized too.
	view := &tensor.Tensor{Shape: []int{6}, Data: s0.Data}
	if got := a.Get(view, 3); overlaps(got.Data, whole0) {
		t.Fatal("Get returned the slot of a view it was told to avoid")
	}
	tail := &tensor.Tensor{Shape: []int{2}, Data: whole0[8:10]}
	if got := a.Get(tail, 3); overlaps(got.Data, whole0) {
		t.Fatal("Get handed out the slot whose spare capacity holds the avoided tensor")
	}
	// An outside tensor avoids neither slot: the first, already large
	// enough, is used as it is; a larger request grows it.
	outside := tensor.New(3)
	if got := a.Get(outside, 7); cap(got.Data) != 10 || !overlaps(got.Data, whole0) {
		t.Fatalf("Get(outside) did not reuse the first slot: cap %d", cap(got.Data))
	}
	big := a.Get(nil, 25)
	if len(big.Data) != 25 || overlaps(big.Data, s1.Data) {
		t.Fatalf("growing: len %d", len(big.Data))
	}
}

// arenaNet is a network that exercises every way a layer can meet the
// arena: in-place layers on arena buffers (ReLU, BatchNorm2d's dx, Dropout),
// views (Flatten, Identity, an identity AdaptiveAvgPool2d), outputs that go
// to the arena in training because pooling comes next (BatchNorm2d before
// MaxPool2d, a nested Sequential's last layer before a Sequential that
// starts with pooling), ones that must not (non-inplace ReLU, whose Backward
// reads its output) and nested Sequentials sharing the parent's arena.
type arenaNet struct {
	name  string
	build func(rng *rand.Rand) *Sequential
	in    []int
}

var arenaNets = []arenaNet{
	{"vgg-like", func(rng *rand.Rand) *Sequential {
		block := func(in, out int) *Sequential {
			return NewSequential(NewConv2d(in, out, 3, 1, 1, true, rng), NewReLU(true),
				NewConv2d(out, out, 3, 1, 1, true, rng), NewReLU(true), NewBatchNorm2d(out), NewMaxPool2d(2, 2, 0))
		}
		return NewNamedSequential([]string{"block1", "block2", "drop", "avgpool", "flatten", "id", "classifier"}, []Layer{
			block(3, 4), block(4, 6), NewDropout(0.5, rand.New(rand.NewPCG(5, 6))), NewAdaptiveAvgPool2d(2, 2),
			NewFlatten(), NewIdentity(),
			NewSequential(NewLinear(24, 10, true, rng), NewReLU(true), NewDropout(0.3, rand.New(rand.NewPCG(7, 8))),
				NewLinear(10, 5, true, rng)),
		})
	}, []int{3, 3, 8, 8}},
	{"pool-after-pool", func(rng *rand.Rand) *Sequential {
		return NewSequential(
			NewConv2d(2, 3, 3, 1, 1, false, rng), NewBatchNorm2d(3), NewReLU(false), NewMaxPool2d(3, 2, 1),
			NewSequential(NewBatchNorm2d(3), NewLeakyReLU(0.1, false)),
			NewSequential(NewAvgPool2d(2, 2, 0), NewConv2d(3, 4, 1, 1, 0, true, rng), NewLeakyReLU(0.2, true)),
			NewAdaptiveAvgPool2d(3, 3), NewFlatten(), NewLinear(36, 3, true, rng))
	}, []int{2, 2, 10, 10}},
	{"strided-and-views", func(rng *rand.Rand) *Sequential {
		return NewSequential(
			NewConv2d(3, 4, 3, 2, 1, true, rng), NewReLU(true), NewIdentity(), NewBatchNorm2d(4),
			NewConv2d(4, 4, 3, 1, 1, true, rng), NewDropout(0.2, rand.New(rand.NewPCG(1, 9))), NewMaxPool2d(2, 2, 0),
			NewFlatten(), NewIdentity(), NewReLU(false), NewLinear(16, 4, false, rng))
	}, []int{2, 3, 9, 9}},
	// Widening layers, whose input gradients fit in their own (dead)
	// outputs, up to the last one, whose output the caller still holds.
	{"widening", func(rng *rand.Rand) *Sequential {
		return NewSequential(
			NewConv2d(2, 3, 3, 1, 1, true, rng), NewReLU(true), NewConv2d(3, 5, 3, 1, 1, true, rng), NewFlatten(),
			NewSequential(NewLinear(80, 96, true, rng), NewReLU(true)), NewLinear(96, 100, true, rng))
	}, []int{3, 2, 4, 4}},
}

// runNet does two training steps (forward, backward with a fixed output
// gradient) and one evaluation forward, and returns every output, input
// gradient and parameter gradient, copied.
func runNet(t *testing.T, net *Sequential, x *tensor.Tensor) [][]float32 {
	t.Helper()
	var got [][]float32
	r := rand.New(rand.NewPCG(3, 4))
	net.SetTraining(true)
	for step := 0; step < 2; step++ {
		ZeroGrad(net)
		y, err := net.Forward(x.Clone())
		if err != nil {
			t.Fatal(err)
		}
		yc := y.Clone()
		got = append(got, yc.Data)
		dx, err := net.Backward(randTensor(r, y.Shape...))
		if err != nil {
			t.Fatal(err)
		}
		if d := tensor.MaxAbsDiff(y.Data, yc.Data); d != 0 || !y.SameShape(yc) {
			t.Fatalf("Backward changed the network's output (max diff %g)", d)
		}
		got = append(got, dx.Clone().Data)
		for _, p := range net.Params() {
			got = append(got, p.Grad.Clone().Data)
		}
	}
	net.SetTraining(false)
	for range 2 {
		y, err := net.Forward(x.Clone())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, y.Clone().Data)
	}
	return got
}

// A network sharing one arena must compute bit for bit what the same
// network computes with a buffer per layer, in training and evaluation.
func TestArenaMatchesOwnBuffers(t *testing.T) {
	for _, tc := range arenaNets {
		t.Run(tc.name, func(t *testing.T) {
			x := randTensor(rand.New(rand.NewPCG(1, 2)), tc.in...)
			ref := tc.build(rand.New(rand.NewPCG(9, 9)))
			ref.NoArena = true
			want := runNet(t, ref, x)
			net := tc.build(rand.New(rand.NewPCG(9, 9)))
			got := runNet(t, net, x)
			if len(got) != len(want) {
				t.Fatalf("%d results, want %d", len(got), len(want))
			}
			for i := range want {
				if len(got[i]) != len(want[i]) {
					t.Fatalf("result %d has %d values, want %d", i, len(got[i]), len(want[i]))
				}
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("result %d [%d] = %v, want %v", i, j, got[i][j], want[i][j])
					}
				}
			}
			// The arena really was used: no layer has its own input
			// gradient buffer, whereas the reference's have.
			var owned, refOwned int
			countDx(net, &owned)
			countDx(ref, &refOwned)
			if owned != 0 || refOwned == 0 {
				t.Errorf("layers with their own dx buffer: %d with the arena, %d without", owned, refOwned)
			}
		})
	}
}

func countDx(l Layer, n *int) {
	switch l := l.(type) {
	case *Sequential:
		for _, c := range l.Layers {
			countDx(c, n)
		}
	case *Conv2d:
		if l.dx != nil {
			*n++
		}
	case *Linear:
		if l.dx != nil {
			*n++
		}
	case *MaxPool2d:
		if l.dx != nil {
			*n++
		}
	case *AvgPool2d:
		if l.dx != nil {
			*n++
		}
	case *AdaptiveAvgPool2d:
		if l.dx != nil {
			*n++
		}
	}
}

// In evaluation every output is transient; a network that never trained
// holds no gradients and no per-layer outputs at all.
func TestArenaInferenceKeepsNoPerLayerBuffers(t *testing.T) {
	net := arenaNets[0].build(rand.New(rand.NewPCG(9, 9)))
	net.SetTraining(false)
	if _, err := net.Forward(randTensor(rand.New(rand.NewPCG(1, 2)), arenaNets[0].in...)); err != nil {
		t.Fatal(err)
	}
	var walk func(l Layer)
	walk = func(l Layer) {
		for _, p := range l.Params() {
			if p.Grad != nil {
				t.Errorf("%s: %s has a gradient after inference", l, p.Name)
			}
		}
		switch l := l.(type) {
		case *Sequential:
			for _, c := range l.Layers {
				walk(c)
			}
		case *Conv2d:
			if l.out != nil {
				t.Errorf("%s keeps its own output", l)
			}
		case *BatchNorm2d:
			if l.out != nil {
				t.Errorf("%s keeps its own output", l)
			}
		case *MaxPool2d:
			if l.out != nil || l.argmax != nil {
				t.Errorf("%s keeps its own output or argmax", l)
			}
		case *Linear:
			if l.out != nil {
				t.Errorf("%s keeps its own output", l)
			}
		}
	}
	walk(net)
}

func TestArenaRefusesBackwardAfterEval(t *testing.T) {
	for _, noArena := range []bool{false, true} {
		net := NewSequential(NewBatchNorm2d(2), NewReLU(false))
		net.NoArena = noArena
		x := randTensor(rand.New(rand.NewPCG(1, 2)), 2, 2, 3, 3)
		y, err := net.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		_, err = net.Backward(y.Clone())
		arenaRefuses(t, noArena, "Backward after an eval Forward", err)
	}
}

// arenaRefuses checks the answer err of a Backward the arena cannot serve:
// an error naming NoArena with the arena, success without it.
func arenaRefuses(t *testing.T, noArena bool, what string, err error) {
	t.Helper()
	if noArena && err != nil {
		t.Errorf("NoArena: %s: %v", what, err)
	}
	if !noArena && (err == nil || !strings.Contains(err.Error(), "NoArena")) {
		t.Errorf("with the arena: %s gave %v, want an error naming NoArena", what, err)
	}
}

// A second Backward after one Forward would read activations that the
// first one overwrote with input gradients.
func TestArenaRefusesSecondBackward(t *testing.T) {
	for _, noArena := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(1, 2))
		net := NewSequential(NewConv2d(2, 3, 3, 1, 1, true, rng), NewReLU(true), NewConv2d(3, 4, 3, 1, 1, true, rng))
		net.NoArena = noArena
		net.SetTraining(true)
		y, err := net.Forward(randTensor(rng, 2, 2, 5, 5))
		if err != nil {
			t.Fatal(err)
		}
		dy := randTensor(rng, y.Shape...)
		if _, err := net.Backward(dy.Clone()); err != nil {
			t.Fatal(err)
		}
		_, err = net.Backward(dy.Clone())
		arenaRefuses(t, noArena, "second Backward", err)
	}
}

// After the first step has sized every buffer, a training step allocates
// only small bookkeeping (goroutine closures), not tensors: a single
// activation of this network is 256 KB.
func TestTrainingStepAllocatesNoTensors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	net := NewSequential(
		NewConv2d(3, 16, 3, 1, 1, true, rng), NewReLU(true), NewBatchNorm2d(16), NewMaxPool2d(2, 2, 0),
		NewConv2d(16, 16, 3, 1, 1, true, rng), NewReLU(true), NewMaxPool2d(2, 2, 0),
		NewDropout(0.5, rand.New(rand.NewPCG(2, 2))), NewFlatten(), NewLinear(16*8*8, 10, true, rng))
	net.NeedInputGrad = false
	net.SetTraining(true)
	x := randTensor(rng, 4, 3, 32, 32)
	dy := randTensor(rng, 4, 10)
	step := func() {
		ZeroGrad(net)
		if _, err := net.Forward(x); err != nil {
			t.Fatal(err)
		}
		if _, err := net.Backward(dy.Clone()); err != nil {
			t.Fatal(err)
		}
	}
	step()
	// The least of three windows: a steady per-step allocation shows in
	// every window, while a one-time one does not. GEMM's pack buffers are
	// one per goroutine multiplying at once, and how many goroutines
	// overlap depends on scheduling, so a second set may first be needed
	// in any step (in the pure-Go build, under load, it was).
	const steps, windows = 5, 3
	perStep := uint64(math.MaxUint64)
	var mallocs uint64
	for range windows {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range steps {
			step()
		}
		runtime.ReadMemStats(&after)
		if b := (after.TotalAlloc - before.TotalAlloc) / steps; b < perStep {
			perStep, mallocs = b, (after.Mallocs-before.Mallocs)/steps
		}
	}
	t.Logf("%d bytes, %d allocations per step (the least of %d windows of %d steps)", perStep, mallocs, windows, steps)
	if perStep > 64<<10 {
		t.Errorf("a training step allocates %d bytes after warm-up", perStep)
	}
}

// A network that ends in in-place layers returns the output buffer of the
// layer before them: that layer's Backward must not put dL/dx there, since
// the caller holds the network's output (it did, before ArenaUse.Keep).
func TestArenaKeepsTheOutputOfInPlaceEnds(t *testing.T) {
	for _, fuse := range []bool{false, true} {
		func() {
			defer func(on bool) { FuseLayers = on }(FuseLayers)
			FuseLayers = fuse
			rng := rand.New(rand.NewPCG(1, 2))
			flat := NewSequential(NewConv2d(3, 3, 3, 1, 1, true, rng), NewReLU(true),
				NewConv2d(3, 4, 3, 1, 1, true, rng), NewReLU(true))
			nested := NewSequential(NewConv2d(3, 3, 3, 1, 1, true, rng), NewReLU(true),
				NewSequential(NewConv2d(3, 4, 3, 1, 1, true, rng), NewReLU(true)))
			for _, net := range []*Sequential{flat, nested} {
				net.SetTraining(true)
				y, err := net.Forward(randTensor(rng, 2, 3, 5, 5))
				if err != nil {
					t.Fatal(err)
				}
				yc := y.Clone()
				if _, err := net.Backward(randTensor(rng, y.Shape...)); err != nil {
					t.Fatal(err)
				}
				if d := tensor.MaxAbsDiff(y.Data, yc.Data); d != 0 {
					t.Errorf("fusion %v: Backward changed the network's output (max diff %g)", fuse, d)
				}
			}
		}()
	}
}
