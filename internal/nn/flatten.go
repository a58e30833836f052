package nn

import "starid/internal/tensor"

// Flatten merges every dimension after the first (PyTorch's nn.Flatten with
// its defaults start_dim=1, end_dim=-1): [N, C, H, W] becomes [N, C*H*W].
//
// The output is a view on x's data, not a copy, and the input gradient is
// the same view of dy; layers after it that work in place therefore change
// x too, which the layer before must tolerate (see ReLU).
type Flatten struct {
	Base
	inShape []int
	out, dx tensor.Tensor // view headers, reused so a step allocates nothing
}

// NewFlatten returns a Flatten(start_dim=1, end_dim=-1).
func NewFlatten() *Flatten { return &Flatten{} }

func (f *Flatten) String() string { return "Flatten(start_dim=1, end_dim=-1)" }

// OutputShape implements Layer.
func (f *Flatten) OutputShape(in []int) ([]int, error) {
	if len(in) < 2 {
		return nil, shapeErr(f, in, "[N, ...] with at least 2 dimensions")
	}
	return []int{in[0], tensor.Numel(in[1:])}, nil
}

// Forward implements Layer.
func (f *Flatten) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := f.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	f.inShape = append(f.inShape[:0], x.Shape...)
	f.out.Shape = append(f.out.Shape[:0], shape...)
	f.out.Data = x.Data
	return &f.out, nil
}

// Backward implements Layer: dy reshaped to the input's shape.
func (f *Flatten) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if f.inShape == nil {
		return nil, errNoForward(f)
	}
	if err := checkGrad(f, dy, f.out.Shape); err != nil {
		return nil, err
	}
	f.dx.Shape = append(f.dx.Shape[:0], f.inShape...)
	f.dx.Data = dy.Data
	return &f.dx, nil
}

// Identity passes its input through (PyTorch's nn.Identity); models use it
// as a placeholder, e.g. for a removed classifier. Forward returns x itself.
type Identity struct {
	Base
}

// NewIdentity returns an Identity.
func NewIdentity() *Identity { return &Identity{} }

func (*Identity) String() string { return "Identity()" }

// OutputShape implements Layer.
func (*Identity) OutputShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

// Forward implements Layer.
func (*Identity) Forward(x *tensor.Tensor) (*tensor.Tensor, error) { return x, nil }

// Backward implements Layer.
func (*Identity) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) { return dy, nil }
