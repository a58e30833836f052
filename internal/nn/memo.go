package nn

import "starid/internal/tensor"

// shapeMemo is what Backward of a layer that needs only shapes (pooling,
// padding) keeps from Forward. An eval-mode Forward forgets it, so a
// Backward after one fails instead of using the shapes of an older pass.
type shapeMemo struct {
	inShape, outShape []int // of the last training Forward; inShape nil otherwise
}

func (m *shapeMemo) remember(training bool, in, out []int) {
	if !training {
		m.inShape = nil
		return
	}
	m.inShape = append(m.inShape[:0], in...)
	m.outShape = append(m.outShape[:0], out...)
}

// backwardReady is Backward's first check: a training Forward came first
// and dy has the shape it returned.
func (m *shapeMemo) backwardReady(l Layer, dy *tensor.Tensor) error {
	if m.inShape == nil {
		return errNoForward(l)
	}
	return checkGrad(l, dy, m.outShape)
}

// inputMemo is what Backward of a layer with weights keeps from Forward:
// the input itself (for the weight gradient) and the output shape. The
// input is kept only in training mode, for the same reason as shapeMemo.
type inputMemo struct {
	x        *tensor.Tensor // input of the last training Forward
	outShape []int
}

func (m *inputMemo) remember(training bool, x *tensor.Tensor, out []int) {
	m.outShape = append(m.outShape[:0], out...)
	m.x = nil
	if training {
		m.x = x
	}
}

// backwardReady is shapeMemo.backwardReady for inputMemo.
func (m *inputMemo) backwardReady(l Layer, dy *tensor.Tensor) error {
	if m.x == nil {
		return errNoForward(l)
	}
	return checkGrad(l, dy, m.outShape)
}

// weightAndBias lists a layer's parameters, the bias only when it has one.
func weightAndBias(w, b *Param) []*Param {
	if b == nil {
		return []*Param{w}
	}
	return []*Param{w, b}
}
