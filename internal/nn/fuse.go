package nn

import (
	"os"

	"starid/internal/tensor"
)

// Fusion: the model lists stay declarative (Conv2d, BatchNorm2d, ReLU as
// PyTorch has them), and Sequential picks the execution plan. When a layer
// that can (actFuser) is followed by an in-place ReLU in the same
// Sequential, the layer applies max(., 0) to its output as it writes it,
// while the values are still in registers or cache, and the ReLU's own
// pass over the activation is skipped. BatchNorm2d also takes the ReLU's
// Backward into its own: the mask is recomputed from the input it reads
// anyway, so dL/dy of the ReLU is never written out and read back.
// Convolutions leave that to the ReLU, whose mask (its output) they wrote.
// In the other direction, a convolution or batch norm after an in-place
// ReLU applies the ReLU's gradient mask as it writes its own dL/dx (the
// mask is where its input, the ReLU's output, is zero), and the ReLU's
// Backward is skipped too.
//
// Convolutions (Conv2d, DepthwiseConv2d) take an in-place ReLU6 the same
// way, clamping to [0, 6]; its Backward stays its own.
//
// Only in-place activations fuse: their output is by definition the buffer
// the layer before wrote, so no one can tell the difference. The results
// are bit for bit those of the separate layers (TestFusedMatchesSeparate,
// TestFusedReLU6MatchesSeparate).

// FuseLayers turns the fused plan on (the default) or off, for A/B
// measurements and for the tests that compare the two; the environment
// variable STARID_FUSE=off sets it off at start.
var FuseLayers = os.Getenv("STARID_FUSE") != "off"

// actFuser is a layer that can apply the in-place activation after it.
type actFuser interface {
	// setFusedAct says which activation the next Forward applies
	// (actNone for none) and reports whether the layer can: false leaves
	// the activation to its own layer.
	setFusedAct(a fusedAct) bool
	// fusesActBackward says whether Backward, after a fused Forward,
	// also applies the activation's gradient mask.
	fusesActBackward() bool
}

// fusedAct returns the activation layer after layer i that layer i
// applies in this Forward, or nil, and tells layer i.
func (s *Sequential) fusedAct(i int) actLayer {
	f, ok := s.Layers[i].(actFuser)
	if !ok {
		return nil
	}
	if FuseLayers && i+1 < len(s.Layers) {
		if next, ok := s.Layers[i+1].(actLayer); ok && next.fusedAct() != actNone && f.setFusedAct(next.fusedAct()) {
			return next
		}
	}
	f.setFusedAct(actNone)
	return nil
}

// skipsBackward says whether layer i is an activation whose Backward a
// neighbour does in the last Forward's plan.
func (s *Sequential) skipsBackward(i int) bool {
	return i < len(s.fused) && s.fused[i]
}

// markFused records the plan for Backward when the activation a at i+1
// was fused into layer i (Forward clears the plan first): whether layer
// i's Backward takes its mask too.
func (s *Sequential) markFused(i int, a actLayer, y *tensor.Tensor) {
	if a == nil {
		return
	}
	a.fusedOutput(y) // the activation's output is the fused layer's, for its Backward
	if s.Layers[i].(actFuser).fusesActBackward() {
		s.skipBackward(i + 1)
	}
}

// reluMaskTaker is a layer whose Backward can apply the gradient mask of
// an in-place ReLU before it: its input is that ReLU's output, so the mask
// is where its input is zero.
type reluMaskTaker interface {
	takeReLUMask(on bool)
}

// planMask tells layer j, before its Forward, whether its Backward
// applies the mask of the in-place ReLU before it, unless the layer before
// that ReLU already does; the ReLU's Backward is then skipped.
func (s *Sequential) planMask(j int) {
	t, ok := s.Layers[j].(reluMaskTaker)
	if !ok {
		return
	}
	on := false
	if FuseLayers && j > 0 && !s.skipsBackward(j-1) {
		r, ok := s.Layers[j-1].(*ReLU)
		on = ok && r.Inplace
	}
	t.takeReLUMask(on)
	if on {
		s.skipBackward(j - 1)
	}
}

// skipBackward records that layer i's Backward is done by a neighbour.
func (s *Sequential) skipBackward(i int) {
	if len(s.fused) != len(s.Layers) {
		s.fused = make([]bool, len(s.Layers))
	}
	s.fused[i] = true
}

// reluInPlace applies max(x, 0) to x in one pass split over the workers
// (reluForward's bit rules: -0 becomes +0, NaN stays).
func reluInPlace(x []float32) {
	tensor.ParallelMin(len(x), elementwiseChunk, func(lo, hi int) {
		reluForward(x[lo:hi], x[lo:hi])
	})
}
