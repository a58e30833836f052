package nn

import "starid/internal/tensor"

// ReLU6 is min(max(x, 0), 6) elementwise (PyTorch's nn.ReLU6), the
// activation of MobileNet-style nets such as face-api's SSD detector.
// NaN stays NaN and -0 becomes +0, as with ReLU. In place, like ReLU, a
// convolution before it in a Sequential clamps its own output as it writes
// it and this layer's pass is skipped (fuse.go).
type ReLU6 struct {
	Base
	Inplace bool

	out *tensor.Tensor // own output buffer when not in place
	y   *tensor.Tensor // last output: the gradient passes where 0 < y < 6
}

// NewReLU6 returns a ReLU6, optionally in place.
func NewReLU6(inplace bool) *ReLU6 { return &ReLU6{Inplace: inplace} }

func (r *ReLU6) String() string {
	if r.Inplace {
		return "ReLU6(inplace=True)"
	}
	return "ReLU6()"
}

// OutputShape implements Layer: any shape passes through.
func (r *ReLU6) OutputShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

// Forward implements Layer.
func (r *ReLU6) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	r.y = forwardAct(&r.Base, &r.out, x, r.Inplace, actReLU6)
	return r.y, nil
}

// Backward implements Layer: dL/dx is dy where 0 < y < 6 and 0 elsewhere
// (PyTorch's hardtanh mask; an output of NaN lets the gradient through).
// It works after an evaluation-mode Forward too, as ReLU's does.
func (r *ReLU6) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if r.y == nil {
		return nil, errNoForward(r)
	}
	if err := checkGrad(r, dy, r.y.Shape); err != nil {
		return nil, err
	}
	g, y := dy.Data, r.y.Data
	tensor.ParallelMin(len(g), elementwiseChunk, func(lo, hi int) {
		for i, v := range y[lo:hi] {
			if v <= 0 || v >= 6 {
				g[lo+i] = 0
			}
		}
	})
	return dy, nil
}

// fusedOutput implements actLayer.
func (r *ReLU6) fusedOutput(y *tensor.Tensor) { r.y = y }

// fusedAct implements actLayer.
func (r *ReLU6) fusedAct() fusedAct {
	if !r.Inplace {
		return actNone
	}
	return actReLU6
}

// clampGo is the portable clamp kernel: dst = min(max(src, lo), hi), NaN
// kept and -0 turned into +0 (adding +0 does exactly that and changes
// nothing else), which is what the AVX2 kernel computes too.
func clampGo(dst, src []float32, lo, hi float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] = min(max(v, lo), hi) + 0
	}
}
