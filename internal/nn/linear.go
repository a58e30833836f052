package nn

import (
	"time"

	"fmt"
	"math/rand/v2"

	"starid/internal/tensor"
)

// Linear is y = x·Wᵀ + b on a batch of row vectors (PyTorch's nn.Linear),
// with W stored [Out, In] as in PyTorch so checkpoints load unchanged.
//
// Each product is one GEMM split across the cores (tensor.GemmParallel): a
// classifier layer has a single large product per step, nothing to spread
// over images as Conv2d does.
type Linear struct {
	Base
	In, Out int

	Weight *Param // [Out, In]
	Bias   *Param // [Out], nil without bias

	noInputGrad bool
	passes      passTimes // the last Backward's passes, for the profile

	inputMemo
	out, dx *tensor.Tensor // own buffers, used without an arena
}

// NewLinear returns a Linear layer with PyTorch's default initialization,
// weight and bias from U(-1/sqrt(in), 1/sqrt(in)). It panics on non-positive
// sizes, which are mistakes in a model definition.
func NewLinear(in, out int, bias bool, rng *rand.Rand) *Linear {
	if in < 1 || out < 1 {
		panic(fmt.Sprintf("nn.NewLinear: bad sizes in=%d out=%d", in, out))
	}
	l := &Linear{In: in, Out: out}
	l.Weight = NewParam("weight", out, in)
	KaimingUniform(l.Weight.Value, in, rng)
	if bias {
		l.Bias = NewParam("bias", out)
		BiasUniform(l.Bias.Value, in, rng)
	}
	return l
}

func (l *Linear) String() string {
	return fmt.Sprintf("Linear(in_features=%d, out_features=%d, bias=%s)", l.In, l.Out, formatPyBool(l.Bias != nil))
}

func formatPyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// Params implements Layer.
func (l *Linear) Params() []*Param {
	return weightAndBias(l.Weight, l.Bias)
}

// SetNeedInputGrad implements InputGradSkipper. A classifier head trained on
// fixed descriptors is the first layer of its network; skipping dL/dx saves
// a third of its backward work.
func (l *Linear) SetNeedInputGrad(need bool) { l.noInputGrad = !need }

// OutputShape implements Layer.
func (l *Linear) OutputShape(in []int) ([]int, error) {
	if len(in) != 2 || in[1] != l.In {
		return nil, shapeErr(l, in, "[N, %d]", l.In)
	}
	return []int{in[0], l.Out}, nil
}

// Forward implements Layer.
func (l *Linear) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	shape, err := l.OutputShape(x.Shape)
	if err != nil {
		return nil, err
	}
	n := shape[0]
	out := l.output(&l.out, x, shape...)
	l.remember(l.Training, x, shape)
	y := out.Data
	beta := float32(0)
	if l.Bias != nil {
		// Start from the bias and let the GEMM accumulate onto it.
		b := l.Bias.Value.Data
		for i := 0; i < n; i++ {
			copy(y[i*l.Out:(i+1)*l.Out], b)
		}
		beta = 1
	}
	tensor.GemmParallel(false, true, n, l.Out, l.In, 1, x.Data, l.In, l.Weight.Value.Data, l.In, beta, y, l.Out)
	return out, nil
}

// Backward implements Layer: dW += dyᵀ·x, db += column sums of dy, and
// dx = dy·W (nil when the input gradient is not needed).
func (l *Linear) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := l.backwardReady(l, dy); err != nil {
		return nil, err
	}
	n, g := l.x.Shape[0], dy.Data
	l.Weight.EnsureGrad()
	if l.Bias != nil {
		l.Bias.EnsureGrad()
	}
	t0 := time.Now() // for the per-pass profile: two clock reads per pass
	if !l.Weight.Frozen {
		tensor.GemmParallel(true, false, l.Out, l.In, n, 1, g, l.Out, l.x.Data, l.In, 1, l.Weight.Grad.Data, l.In)
	}
	if l.Bias != nil && !l.Bias.Frozen {
		db := l.Bias.Grad.Data
		for i := 0; i < n; i++ {
			for j, v := range g[i*l.Out : (i+1)*l.Out] {
				db[j] += v
			}
		}
	}
	t1 := time.Now()
	l.passes.weight, l.passes.input, l.passes.inputDone = t1.Sub(t0), 0, false
	if l.noInputGrad {
		return nil, nil
	}
	dx := l.inputGrad(&l.dx, dy, l.x, n, l.In)
	tensor.GemmParallel(false, false, n, l.In, l.Out, 1, g, l.Out, l.Weight.Value.Data, l.In, 0, dx.Data, l.In)
	l.passes.input, l.passes.inputDone = time.Since(t1), true
	return dx, nil
}
