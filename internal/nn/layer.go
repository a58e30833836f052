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
package nn

import (
	"fmt"

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
	Grad  *tensor.Tensor // dL/dValue, same shape; nil for buffers
	// Frozen parameters get no gradient and are skipped by optimizers
	// (PyTorch's requires_grad=False).
	Frozen bool
	// Int64 marks a buffer that PyTorch stores as int64 (BatchNorm's
	// num_batches_tracked); starid keeps it as float32 in memory.
	Int64 bool
}

// NewParam returns a learnable parameter with a zero gradient.
func NewParam(name string, shape ...int) *Param {
	return &Param{Name: name, Value: tensor.New(shape...), Grad: tensor.New(shape...)}
}

// NewBuffer returns a buffer (no gradient).
func NewBuffer(name string, shape ...int) *Param {
	return &Param{Name: name, Value: tensor.New(shape...)}
}

// Base gives a layer the training flag and empty parameter lists; layers
// embed it and override what they have.
type Base struct {
	Training bool
}

// SetTraining implements Layer.
func (b *Base) SetTraining(training bool) { b.Training = training }

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
