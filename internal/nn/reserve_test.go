package nn

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// poolState is the backing array and capacity of every buffer the scratch
// pools hold between calls.
type poolBuf struct {
	p   unsafe.Pointer
	cap int
}

func poolState() []poolBuf {
	var st []poolBuf
	add := func(s []float32) { st = append(st, poolBuf{unsafe.Pointer(unsafe.SliceData(s)), cap(s)}) }
	convScratchPool.Lock()
	for _, ws := range convScratchPool.free {
		for _, s := range ws {
			add(s.col)
			add(s.tmp)
			add(s.flip)
			add(s.dW)
			add(s.db)
		}
	}
	convScratchPool.Unlock()
	wgBuffers.Lock()
	for _, p := range wgBuffers.free {
		add(*p)
	}
	wgBuffers.Unlock()
	return st
}

// TestReserveCoversAPass: once a network has reserved the scratch for an
// input shape, neither a Forward nor a Backward grows a pooled buffer or
// adds one. It holds scratchNeed to the sizes the passes really ask for:
// if a pass's scratch changes and scratchNeed does not follow, the pools
// grow during the pass and this test names the buffers that did.
func TestReserveCoversAPass(t *testing.T) {
	for _, training := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(3, 4))
		// Widening channels, as in VGG, so that every layer asks for
		// more than the one before: the im2col path (3 input channels,
		// the 4x4 map), Winograd (64 and more channels on 8x8), a
		// strided convolution (col2im) and a pointwise one.
		net := NewSequential(
			NewConv2d(3, 64, 3, 1, 1, true, rng), NewReLU(true),
			NewConv2d(64, 96, 3, 1, 1, true, rng), NewReLU(true),
			NewConv2d(96, 128, 3, 1, 1, false, rng), NewBatchNorm2d(128), NewReLU(true),
			NewConv2d(128, 64, 3, 2, 1, true, rng), NewReLU(true),
			NewConv2d(64, 160, 1, 1, 0, true, rng), NewReLU(true),
			NewFlatten(), NewLinear(160*4*4, 5, true, rng))
		net.SetTraining(training)
		x := randTensor(rng, 2, 3, 8, 8)
		convScratchPool.free, wgBuffers.free = nil, nil
		// What Forward does first; it then finds the pools reserved.
		net.propagateInputGrad()
		net.reserve(net.arena(), x.Shape)
		before := poolState()
		for range 2 {
			y, err := net.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			if training {
				if _, err := net.Backward(randTensor(rng, y.Shape...)); err != nil {
					t.Fatal(err)
				}
			}
		}
		after := poolState()
		if len(after) != len(before) {
			t.Fatalf("training %v: the pools hold %d buffers after the passes, %d before", training, len(after), len(before))
		}
		for i := range before {
			if before[i] != after[i] {
				t.Errorf("training %v: pooled buffer %d grew from %d to %d values during a pass", training, i, before[i].cap, after[i].cap)
			}
		}
	}
}
