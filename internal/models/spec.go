// Package models describes networks as data: a Spec is a tree of layer
// descriptions that Build turns into nn layers. Keeping the architecture
// declarative means it can be stored in a run's model.json, printed, compared
// and, later, handed to another backend, without any model-specific code.
package models

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"starid/internal/nn"
)

// Kinds of layer a Spec can hold.
const (
	KindSequential        = "sequential"
	KindConv2d            = "conv2d"
	KindBatchNorm2d       = "batchnorm2d"
	KindReLU              = "relu"
	KindLeakyReLU         = "leaky_relu"
	KindMaxPool2d         = "maxpool2d"
	KindAvgPool2d         = "avgpool2d"
	KindAdaptiveAvgPool2d = "adaptive_avgpool2d"
	KindDropout           = "dropout"
	KindFlatten           = "flatten"
	KindLinear            = "linear"
	KindIdentity          = "identity"
)

// LayerSpec describes one layer; only the fields its Kind uses are set.
// Name is its state_dict name within the parent ("0", "block1").
type LayerSpec struct {
	Name     string      `json:"name"`
	Kind     string      `json:"kind"`
	In       int         `json:"in,omitempty"`  // input channels / features
	Out      int         `json:"out,omitempty"` // output channels / features
	Kernel   int         `json:"kernel,omitempty"`
	Stride   int         `json:"stride,omitempty"`
	Padding  int         `json:"padding,omitempty"`
	NoBias   bool        `json:"no_bias,omitempty"`
	P        float64     `json:"p,omitempty"`     // dropout probability
	Slope    float32     `json:"slope,omitempty"` // leaky ReLU negative slope
	Inplace  bool        `json:"inplace,omitempty"`
	OutH     int         `json:"out_h,omitempty"` // adaptive pooling output
	OutW     int         `json:"out_w,omitempty"`
	Children []LayerSpec `json:"children,omitempty"`
}

// Spec is a whole network: a named top-level sequence of layers that takes
// [N, InChannels, H, W] images.
type Spec struct {
	Name       string      `json:"name"`
	InChannels int         `json:"in_channels"`
	Classes    int         `json:"classes"`
	Layers     []LayerSpec `json:"layers"`
}

// Build creates the layers with PyTorch's default initialization drawn from
// rng, so the same seed gives the same initial weights.
func Build(s Spec, rng *rand.Rand) (*nn.Sequential, error) {
	root := LayerSpec{Kind: KindSequential, Children: s.Layers}
	// Counted before anything is allocated: each layer may fit and all
	// together not.
	if n := paramCount(root); n > maxModelElems {
		return nil, fmt.Errorf("model %s: %.0f parameters, more than the %d this starid allows", s.Name, n, maxModelElems)
	}
	l, err := buildLayer(root, rng)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", s.Name, err)
	}
	seq := l.(*nn.Sequential)
	// The network input is an image: nobody needs its gradient.
	seq.NeedInputGrad = false
	return seq, nil
}

// maxModelElems bounds the parameters a spec may ask for, all layers
// together (1 GB of float32; VGG16 has 138M), so a damaged or hand-edited
// model.json gets an error instead of an allocation that kills the process.
const maxModelElems = 1 << 28

// maxPoolOut bounds an adaptive pool's output side.
const maxPoolOut = 1 << 12

// paramCount is the number of parameters a spec asks for, in float64 so
// that no product overflows (negative sizes count as nothing; buildLayer
// refuses them).
func paramCount(ls LayerSpec) float64 {
	p := func(dims ...int) float64 {
		n := 1.0
		for _, d := range dims {
			n *= float64(max(d, 0))
		}
		return n
	}
	switch ls.Kind {
	case KindSequential:
		n := 0.0
		for _, c := range ls.Children {
			n += paramCount(c)
		}
		return n
	case KindConv2d:
		return p(ls.Out, ls.In, ls.Kernel, ls.Kernel) + p(ls.Out)
	case KindBatchNorm2d:
		return 4 * p(ls.In) // weight, bias and the two running statistics
	case KindLinear:
		return p(ls.Out, ls.In) + p(ls.Out)
	}
	return 0
}

func buildLayer(ls LayerSpec, rng *rand.Rand) (nn.Layer, error) {
	positive := func(what string, v int) error {
		if v <= 0 {
			return fmt.Errorf("layer %q (%s): %s must be positive, got %d", ls.Name, ls.Kind, what, v)
		}
		return nil
	}
	// poolPadding is PyTorch's rule: padding at most half the kernel.
	poolPadding := func() error {
		if ls.Padding < 0 || ls.Padding > ls.Kernel/2 {
			return fmt.Errorf("layer %q (%s): padding must be between 0 and half the kernel (%d), got %d", ls.Name, ls.Kind, ls.Kernel, ls.Padding)
		}
		return nil
	}
	switch ls.Kind {
	case KindSequential:
		names := make([]string, len(ls.Children))
		layers := make([]nn.Layer, len(ls.Children))
		for i, c := range ls.Children {
			l, err := buildLayer(c, rng)
			if err != nil {
				return nil, err
			}
			names[i], layers[i] = c.Name, l
		}
		return nn.NewNamedSequential(names, layers), nil
	case KindConv2d:
		for _, e := range []error{positive("in", ls.In), positive("out", ls.Out), positive("kernel", ls.Kernel), positive("stride", ls.Stride)} {
			if e != nil {
				return nil, e
			}
		}
		if ls.Padding < 0 {
			return nil, fmt.Errorf("layer %q (conv2d): padding must not be negative, got %d", ls.Name, ls.Padding)
		}
		return nn.NewConv2d(ls.In, ls.Out, ls.Kernel, ls.Stride, ls.Padding, !ls.NoBias, rng), nil
	case KindBatchNorm2d:
		if err := positive("channels", ls.In); err != nil {
			return nil, err
		}
		return nn.NewBatchNorm2d(ls.In), nil
	case KindReLU:
		return nn.NewReLU(ls.Inplace), nil
	case KindLeakyReLU:
		return nn.NewLeakyReLU(ls.Slope, ls.Inplace), nil
	case KindMaxPool2d, KindAvgPool2d:
		if err := positive("kernel", ls.Kernel); err != nil {
			return nil, err
		}
		if err := poolPadding(); err != nil {
			return nil, err
		}
		if ls.Kind == KindMaxPool2d {
			return nn.NewMaxPool2d(ls.Kernel, max(ls.Stride, 1), ls.Padding), nil
		}
		return nn.NewAvgPool2d(ls.Kernel, max(ls.Stride, 1), ls.Padding), nil
	case KindAdaptiveAvgPool2d:
		if err := positive("out_h", ls.OutH); err != nil {
			return nil, err
		}
		if err := positive("out_w", ls.OutW); err != nil {
			return nil, err
		}
		if ls.OutH > maxPoolOut || ls.OutW > maxPoolOut {
			return nil, fmt.Errorf("layer %q (adaptiveavgpool2d): output %dx%d is larger than this starid allows (%d)", ls.Name, ls.OutH, ls.OutW, maxPoolOut)
		}
		return nn.NewAdaptiveAvgPool2d(ls.OutH, ls.OutW), nil
	case KindDropout:
		if !(ls.P >= 0 && ls.P < 1) { // NaN too
			return nil, fmt.Errorf("layer %q (dropout): p must be in [0, 1), got %g", ls.Name, ls.P)
		}
		// Each dropout layer gets its own stream so adding a layer elsewhere
		// does not change its masks.
		return nn.NewDropout(ls.P, rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))), nil
	case KindFlatten:
		return nn.NewFlatten(), nil
	case KindLinear:
		if err := positive("in", ls.In); err != nil {
			return nil, err
		}
		if err := positive("out", ls.Out); err != nil {
			return nil, err
		}
		return nn.NewLinear(ls.In, ls.Out, !ls.NoBias, rng), nil
	case KindIdentity:
		return nn.NewIdentity(), nil
	}
	return nil, fmt.Errorf("layer %q: unknown kind %q", ls.Name, ls.Kind)
}

// MarshalIndent is the Spec as indented JSON for model.json.
func (s Spec) MarshalIndent() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }
