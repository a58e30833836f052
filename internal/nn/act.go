package nn

import (
	"starid/internal/cpu"
	"starid/internal/tensor"
)

// fusedAct is the elementwise activation a layer applies to its output as
// it writes it, in place of an in-place activation layer after it
// (fuse.go): none, ReLU or ReLU6.
type fusedAct uint8

const (
	actNone fusedAct = iota
	actReLU
	actReLU6
)

// actLayer is an in-place activation layer that the layer before it may
// apply instead (ReLU, ReLU6).
type actLayer interface {
	Layer
	// fusedAct is what the layer computes; actNone when it cannot be
	// fused (not in place).
	fusedAct() fusedAct
	// fusedOutput tells the layer, whose Forward was skipped, the output
	// its Backward masks with.
	fusedOutput(y *tensor.Tensor)
}

// apply applies the activation to x in place, on the calling goroutine:
// callers run it on a band or plane they just wrote, while it is in cache.
func (a fusedAct) apply(x []float32) {
	if a != actNone {
		a.copy(x, x)
	}
}

// copy sets dst to the activation of src (dst may be src).
func (a fusedAct) copy(dst, src []float32) {
	switch a {
	case actReLU:
		reluForward(dst, src)
	case actReLU6:
		clamp(dst, src, 0, 6)
	default:
		copy(dst, src[:len(dst)])
	}
}

// applyAll is apply over a whole output, split over the workers.
func (a fusedAct) applyAll(x []float32) {
	if a == actNone {
		return
	}
	tensor.ParallelMin(len(x), elementwiseChunk, func(lo, hi int) { a.apply(x[lo:hi]) })
}

// applyPlanes applies the activation to rows values of each of the m
// planes of dst, ld values apart.
func (a fusedAct) applyPlanes(dst []float32, m, rows, ld int) {
	if a == actNone {
		return
	}
	for o := 0; o < m; o++ {
		a.apply(dst[o*ld : o*ld+rows])
	}
}

// clamp sets dst = min(max(src, lo), hi) with NaN kept and -0 made +0
// (dst may be src): the AVX2 kernel on the multiple-of-8 prefix where the
// CPU has it, clampGo on the rest. The Go builtins' NaN and signed-zero rules cost a branch
// per value (about 2.5 ns on random signs, a quarter of a 1x1
// convolution's time at face-api's 256x256 maps); the vector kernel takes
// 8 values in four instructions.
func clamp(dst, src []float32, lo, hi float32) {
	src = src[:len(dst)]
	if n := len(dst) &^ 7; n > 0 && cpu.HasAVX2FMA() {
		clampVector(dst[:n], src[:n], lo, hi)
		dst, src = dst[n:], src[n:]
	}
	clampGo(dst, src, lo, hi)
}
