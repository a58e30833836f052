package nn

import (
	"fmt"
	"strconv"

	"starid/internal/tensor"
)

// Sequential runs its layers in order (PyTorch's nn.Sequential). Names are
// the state_dict names of the children: "0", "1", ... by default, or given
// ("block1", "classifier").
type Sequential struct {
	Names  []string
	Layers []Layer
	// NeedInputGrad says whether Backward must return dL/dx for the network
	// input. A network whose input is an image does not need it; setting it
	// false lets the first layer skip that work (see InputGradSkipper).
	NeedInputGrad bool
}

// NewSequential numbers its layers "0", "1", ... like PyTorch.
func NewSequential(layers ...Layer) *Sequential {
	names := make([]string, len(layers))
	for i := range layers {
		names[i] = strconv.Itoa(i)
	}
	return &Sequential{Names: names, Layers: layers, NeedInputGrad: true}
}

// NewNamedSequential pairs names with layers; it panics when the counts
// differ, which is a programming error in a model definition.
func NewNamedSequential(names []string, layers []Layer) *Sequential {
	if len(names) != len(layers) {
		panic(fmt.Sprintf("nn.NewNamedSequential: %d names for %d layers", len(names), len(layers)))
	}
	return &Sequential{Names: append([]string(nil), names...), Layers: layers, NeedInputGrad: true}
}

// Children implements Container.
func (s *Sequential) Children() ([]string, []Layer) { return s.Names, s.Layers }

// Forward implements Layer.
func (s *Sequential) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	s.propagateInputGrad()
	var err error
	for i, l := range s.Layers {
		if x, err = l.Forward(x); err != nil {
			return nil, atPath(s.Names[i], err)
		}
	}
	return x, nil
}

// Backward implements Layer.
func (s *Sequential) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	var err error
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if dy, err = s.Layers[i].Backward(dy); err != nil {
			return nil, atPath(s.Names[i], err)
		}
		if dy == nil && i > 0 {
			return nil, fmt.Errorf("%s: layer returned no input gradient but is not the first layer", s.Names[i])
		}
	}
	return dy, nil
}

// propagateInputGrad tells the first layer that does real work whether it
// must produce dL/dx. Layers before it that pass gradients through unchanged
// (none in our models) are not looked through.
func (s *Sequential) propagateInputGrad() {
	if len(s.Layers) == 0 {
		return
	}
	switch first := s.Layers[0].(type) {
	case *Sequential:
		first.NeedInputGrad = s.NeedInputGrad
	case InputGradSkipper:
		first.SetNeedInputGrad(s.NeedInputGrad)
	}
}

// OutputShape implements Layer.
func (s *Sequential) OutputShape(in []int) ([]int, error) {
	var err error
	for i, l := range s.Layers {
		if in, err = l.OutputShape(in); err != nil {
			return nil, atPath(s.Names[i], err)
		}
	}
	return in, nil
}

// Params implements Layer: the children's parameters in order.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Buffers implements Layer.
func (s *Sequential) Buffers() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Buffers()...)
	}
	return ps
}

// SetTraining implements Layer.
func (s *Sequential) SetTraining(training bool) {
	for _, l := range s.Layers {
		l.SetTraining(training)
	}
}

func (s *Sequential) String() string { return "Sequential" }

// NamedTensor is one state_dict entry.
type NamedTensor struct {
	Name  string // full dotted name, e.g. "block1.0.weight"
	Param *Param
}

// StateDict lists every parameter and buffer of l under PyTorch's dotted
// names, in PyTorch's order (each module's own parameters, then its own
// buffers, then its children in order).
func StateDict(l Layer) []NamedTensor {
	var out []NamedTensor
	var walk func(prefix string, l Layer)
	walk = func(prefix string, l Layer) {
		if c, ok := l.(Container); ok {
			names, layers := c.Children()
			for i, child := range layers {
				walk(prefix+names[i]+".", child)
			}
			return
		}
		for _, p := range l.Params() {
			out = append(out, NamedTensor{Name: prefix + p.Name, Param: p})
		}
		for _, p := range l.Buffers() {
			out = append(out, NamedTensor{Name: prefix + p.Name, Param: p})
		}
	}
	walk("", l)
	return out
}

// ZeroGrad clears every parameter gradient of l.
func ZeroGrad(l Layer) {
	for _, p := range l.Params() {
		if p.Grad != nil {
			p.Grad.Zero()
		}
	}
}

// CountParams returns the total number of parameter values and how many of
// them are trainable (buffers are not parameters, as in PyTorch).
func CountParams(l Layer) (total, trainable int) {
	for _, p := range l.Params() {
		total += p.Value.Numel()
		if !p.Frozen {
			trainable += p.Value.Numel()
		}
	}
	return total, trainable
}

// LayerError says where in a network a layer failed: Path is the dotted
// state_dict path of the layer ("block5.6").
type LayerError struct {
	Path string
	Err  error
}

func (e *LayerError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *LayerError) Unwrap() error { return e.Err }

// atPath prefixes a child's name to the path of an error from inside it, so
// nested Sequentials report "block5.6: MaxPool2d(...)" rather than a chain.
func atPath(name string, err error) error {
	if le, ok := err.(*LayerError); ok {
		return &LayerError{Path: name + "." + le.Path, Err: le.Err}
	}
	return &LayerError{Path: name, Err: err}
}
