// Package nn holds starid's neural-network layers. Each layer kind lives in
// its own file with its forward pass, its backward pass and, beside it, a test
// that checks the backward pass against finite differences.
//
// Conventions every layer follows (they are what make VGG16 fit in memory
// and run fast):
//   - Forward(x) returns a tensor owned by the layer, valid until the next
//     Forward; in training mode the layer keeps a reference to x (not a copy)
//     for Backward, so the caller must not change x in between.
//   - Backward(dy) takes dL/dy for the last Forward, adds parameter gradients
//     into Param.Grad (PyTorch accumulates; call ZeroGrad between steps) and
//     returns dL/dx, owned by the layer and valid until the next Backward.
//     Backward may overwrite dy.
//   - Shape errors name the layer and both shapes.
//
// # Memory
//
// At VGG16 sizes (224x224, batch 32) one activation of the first block is
// 411 MB, so which buffers exist at the same time decides the peak memory.
// Three rules keep it below PyTorch's:
//
//   - A parameter's gradient is allocated by the first Backward that needs
//     it (Param.EnsureGrad), as PyTorch allocates .grad lazily: inference
//     never holds the half gigabyte of VGG16 gradients, and frozen
//     parameters never get one.
//   - Input gradients are transient: once the layer below has consumed
//     dL/dx, it is dead. And when a layer's Backward runs inside a
//     network, every later layer's has run, so nothing reads the layer's
//     own output any more: dL/dx goes there when it fits (a VGG
//     convolution's input is never larger than its output). Otherwise a
//     layer takes dL/dx from an Arena of two reusable buffers that a
//     top-level Sequential owns and hands to every layer inside it, nested
//     Sequentials included (ArenaUser), from the slot that does not hold
//     dy. The in-place layers (ReLU, LeakyReLU, BatchNorm2d, Dropout) write
//     into dy and views (Flatten, Identity, an identity AdaptiveAvgPool2d)
//     pass it on, so two slots are always enough; in VGG training only the
//     pooling layers' gradients use the arena, and one slot suffices.
//     The network's own output, which the caller holds, is never
//     overwritten.
//   - Outputs go to the same arena whenever nothing reads them after the
//     next layer's Forward: always in evaluation (inference holds the
//     current and the next activation only), and in training when the next
//     layer keeps no reference to its input (MaxPool2d and AvgPool2d keep
//     only indices and shapes), e.g. VGG's BatchNorm2d before each pooling.
//     Every other training output stays in the layer's own buffer, because
//     Backward reads it. Forward and Backward never use the arena at the
//     same time, so one arena serves both.
//
// The price: with the arena, Sequential's output and input gradient are
// valid only until its next Forward or Backward, and Backward is refused
// after an evaluation-mode Forward (the saved inputs are arena buffers that
// later layers overwrote) and a second time after one Forward (the first
// overwrote activations with gradients). Sequential.NoArena turns all of
// this off for callers that need it. Layers used on their own have no arena
// and keep their own buffers.
package nn

import (
	"fmt"
	"unsafe"

	"starid/internal/tensor"
)

// Layer is one differentiable step of a network (PyTorch's nn.Module).
type Layer interface {
	// Forward computes the layer's output for x.
	Forward(x *tensor.Tensor) (*tensor.Tensor, error)
	// Backward turns dL/d(output) into dL/d(input) and accumulates the
	// parameter gradients. It must follow a Forward in training mode.
	Backward(dy *tensor.Tensor) (*tensor.Tensor, error)
	// OutputShape is the output shape for an input shape, or an error naming
	// the layer and the shape when the input does not fit.
	OutputShape(in []int) ([]int, error)
	// Params are the learnable tensors, in PyTorch state_dict order, with
	// local names ("weight", "bias").
	Params() []*Param
	// Buffers are state that is saved but not learned (BatchNorm's running
	// statistics), in state_dict order after the parameters.
	Buffers() []*Param
	// SetTraining switches between training (batch statistics, dropout
	// active, inputs kept for Backward) and evaluation behaviour.
	SetTraining(training bool)
	// String describes the layer the way PyTorch prints it, e.g.
	// "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))".
	String() string
}

// Param is a named tensor of a layer: a learnable parameter with its
// gradient, or a buffer (Grad nil).
type Param struct {
	Name  string         // local state_dict name: "weight", "running_mean", ...
	Value *tensor.Tensor // the values
	// Grad is dL/dValue, same shape. It is nil for buffers, for frozen
	// parameters and, as PyTorch's .grad is None, until the first Backward
	// that reaches the parameter (see EnsureGrad).
	Grad *tensor.Tensor
	// Frozen parameters get no gradient and are skipped by optimizers
	// (PyTorch's requires_grad=False).
	Frozen bool
	// Int64 marks a buffer that PyTorch stores as int64 (BatchNorm's
	// num_batches_tracked); starid keeps it as float32 in memory.
	Int64 bool
}

// NewParam returns a learnable parameter of zeros. Its gradient is not
// allocated yet: layers call EnsureGrad in Backward, so a model used only
// for inference never holds gradients (537 MB for VGG16).
func NewParam(name string, shape ...int) *Param {
	return &Param{Name: name, Value: tensor.New(shape...)}
}

// EnsureGrad allocates a zero gradient of the value's shape unless the
// parameter already has one or is frozen; Backward calls it before adding
// into Grad.
func (p *Param) EnsureGrad() {
	if p.Grad == nil && !p.Frozen {
		p.Grad = tensor.New(p.Value.Shape...)
	}
}

// NewBuffer returns a buffer (no gradient).
func NewBuffer(name string, shape ...int) *Param {
	return &Param{Name: name, Value: tensor.New(shape...)}
}

// Base gives a layer the training flag, the arena hookup and empty
// parameter lists; layers embed it and override what they have.
type Base struct {
	Training bool

	use    ArenaUse       // what the enclosing Sequential allows
	ownOut *tensor.Tensor // the own buffer the last Forward wrote, nil if the arena's
	dxView tensor.Tensor  // header for a dL/dx that lives in ownOut
}

// SetTraining implements Layer.
func (b *Base) SetTraining(training bool) { b.Training = training }

// UseArena implements ArenaUser.
func (b *Base) UseArena(u ArenaUse) { b.use = u }

// output returns the buffer for a Forward's output: an arena slot that does
// not overlap x when nothing will read the output after the next layer's
// Forward, the layer's own buffer *own otherwise. A layer whose Backward
// reads its own output must not call it in training.
func (b *Base) output(own **tensor.Tensor, x *tensor.Tensor, shape ...int) *tensor.Tensor {
	if b.use.Arena != nil && (!b.Training || b.use.OutputFree) {
		b.ownOut = nil
		return b.use.Arena.Get(x, shape...)
	}
	*own = tensor.Reuse(*own, shape...)
	b.ownOut = *own
	return *own
}

// inputGrad returns the buffer for Backward's dL/dx, given the layer's
// output gradient dy and saved input x (nil if it keeps none). Inside a
// network, every later layer has run its Backward by now, so the layer's
// own output buffer is dead (unless it is the network's output, which the
// caller holds) and takes dL/dx when large enough: a VGG convolution's
// input gradient fits in its output, so it needs no other buffer. Failing
// that it is the arena slot that does not hold dy, and without an arena
// the layer's own gradient buffer *own.
func (b *Base) inputGrad(own **tensor.Tensor, dy, x *tensor.Tensor, shape ...int) *tensor.Tensor {
	if b.use.Arena == nil {
		*own = tensor.Reuse(*own, shape...)
		return *own
	}
	n := tensor.Numel(shape)
	if o := b.ownOut; o != nil && b.use.OutputDead && cap(o.Data) >= n && !overlaps(o.Data, b.use.Keep) &&
		!overlaps(o.Data, dy.Data) && (x == nil || !overlaps(o.Data, x.Data)) {
		b.dxView.Data = o.Data[:n]
		b.dxView.Shape = append(b.dxView.Shape[:0], shape...)
		return &b.dxView
	}
	return b.use.Arena.Get(dy, shape...)
}

// ArenaUse is what a Sequential tells a child before its Forward and
// Backward (see the package documentation, Memory).
type ArenaUse struct {
	// Arena holds the transient buffers; nil means the layer's own.
	Arena *Arena
	// OutputFree: the layer after this one keeps no reference to its
	// input once its Forward returns (see inputDropper), so even a
	// training output may live in the arena.
	OutputFree bool
	// OutputDead: nothing reads the output once the layers after this one
	// have run Backward. It is false only for the network's own output,
	// which its caller holds.
	OutputDead bool
	// Keep is the network's output: when the layers after this one work
	// in place (a network ending in an in-place ReLU), it is this layer's
	// output buffer, which must not take dL/dx even though OutputDead.
	Keep []float32
}

// ArenaUser is implemented by layers that can take transient buffers from
// a network-wide Arena (every layer embedding Base).
type ArenaUser interface {
	UseArena(u ArenaUse)
}

// inputDropper is implemented by layers whose Forward keeps no reference
// to x, nor a view of it, once it returns, in either mode: their Backward
// needs only shapes and indices. The layer before them may then put even
// its training output in the arena.
type inputDropper interface {
	dropsInput() bool
}

// Arena is two reusable buffers for tensors that live from one layer to
// the next only: input gradients in Backward, and outputs that no Backward
// reads. At any moment at most two such tensors are live (the current
// layer's input and output), so Get hands out the slot that does not hold
// the input. Slots grow as needed and are never cleared; Reserve sizes
// them up front so that growth leaves no garbage behind.
type Arena struct {
	slots [2]tensor.Tensor
}

// Reserve makes the first slot, which Get prefers, hold at least n values.
// The second grows on demand: in training a VGG network never needs it.
func (a *Arena) Reserve(n int) {
	if s := &a.slots[0]; cap(s.Data) < n {
		s.Data = make([]float32, n)
	}
}

// Get returns a tensor of the given shape in a slot whose storage does not
// overlap avoid's (avoid may be nil). The tensor is the slot itself: it
// stays valid, with this shape, until a Get hands out the same slot again.
// The contents are not cleared.
func (a *Arena) Get(avoid *tensor.Tensor, shape ...int) *tensor.Tensor {
	s := &a.slots[0]
	if avoid != nil && overlaps(s.Data, avoid.Data) {
		s = &a.slots[1]
	}
	n := tensor.Numel(shape)
	if cap(s.Data) < n {
		s.Data = make([]float32, n)
	}
	s.Data = s.Data[:n]
	s.Shape = append(s.Shape[:0], shape...)
	return s
}

// overlaps reports whether the whole backing array of buf (up to its
// capacity, which later Gets may use) shares memory with v.
func overlaps(buf, v []float32) bool {
	if cap(buf) == 0 || len(v) == 0 {
		return false
	}
	b0 := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	b1 := b0 + uintptr(cap(buf))*4
	v0 := uintptr(unsafe.Pointer(unsafe.SliceData(v)))
	v1 := v0 + uintptr(len(v))*4
	return v0 < b1 && b0 < v1
}

// Params implements Layer for layers without parameters.
func (b *Base) Params() []*Param { return nil }

// Buffers implements Layer for layers without buffers.
func (b *Base) Buffers() []*Param { return nil }

// InputGradSkipper is implemented by layers that can skip computing dL/dx.
// Sequential tells its first layer to do so when the network input needs no
// gradient, which saves the most expensive GEMM of VGG's first convolution.
type InputGradSkipper interface {
	SetNeedInputGrad(need bool)
}

// Container is implemented by layers made of named sub-layers; state_dict
// names are the path of child names joined with dots.
type Container interface {
	Children() (names []string, layers []Layer)
}

// ShapeError says which layer refused which input shape and what it expected.
type ShapeError struct {
	Layer    string // the layer's String()
	Got      []int
	Expected string // e.g. "[N, 3, H, W]"
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("%s: input shape %s does not fit, expected %s", e.Layer, tensor.ShapeString(e.Got), e.Expected)
}

// shapeErr is the short form layers use.
func shapeErr(l Layer, got []int, expected string, args ...any) error {
	return &ShapeError{Layer: l.String(), Got: append([]int(nil), got...), Expected: fmt.Sprintf(expected, args...)}
}

// errNoForward is returned by Backward when no training-mode Forward came first.
func errNoForward(l Layer) error {
	return fmt.Errorf("%s: Backward called without a Forward in training mode", l)
}

// checkGrad verifies dy has the shape of the last output.
func checkGrad(l Layer, dy *tensor.Tensor, outShape []int) error {
	if !tensor.ShapeEq(dy.Shape, outShape) {
		return fmt.Errorf("%s: gradient shape %s does not match output shape %s", l, tensor.ShapeString(dy.Shape), tensor.ShapeString(outShape))
	}
	return nil
}
