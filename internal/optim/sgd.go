package optim

import (
	"errors"
	"fmt"
	"math"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// SGDConfig holds torch.optim.SGD's hyperparameters; the zero value of each
// field is PyTorch's default (except LR, which PyTorch requires too).
type SGDConfig struct {
	LR          float64 // learning rate
	Momentum    float64 // momentum factor; 0 is plain SGD
	Dampening   float64 // scales the gradient's share of the momentum update by 1-Dampening
	Nesterov    bool    // Nesterov momentum (needs Momentum > 0 and Dampening 0)
	WeightDecay float64 // L2 penalty: WeightDecay*w is added to the gradient
}

// Validate reports the first hyperparameter PyTorch would refuse, so that
// a command line can reject it before training starts.
func (c SGDConfig) Validate() error {
	switch {
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("optim: SGD learning rate %v must be finite and >= 0", c.LR)
	case !(c.Momentum >= 0) || math.IsInf(c.Momentum, 0):
		return fmt.Errorf("optim: SGD momentum %v must be finite and >= 0", c.Momentum)
	case math.IsNaN(c.Dampening) || math.IsInf(c.Dampening, 0):
		return fmt.Errorf("optim: SGD dampening %v must be finite", c.Dampening)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("optim: SGD weight decay %v must be finite and >= 0", c.WeightDecay)
	case c.Nesterov && (c.Momentum <= 0 || c.Dampening != 0):
		return errors.New("optim: SGD Nesterov momentum requires momentum > 0 and zero dampening")
	}
	return nil
}

// SGD is stochastic gradient descent with optional momentum, Nesterov
// momentum and weight decay, with torch.optim.SGD's update:
//
//	g = grad + weight_decay*w
//	buf = g                                     on a parameter's first step
//	buf = momentum*buf + (1-dampening)*g        afterwards
//	g = g + momentum*buf  (Nesterov)   or   g = buf
//	w = w - lr*g
type SGD struct {
	params []*nn.Param
	cfg    SGDConfig
	bufs   []*tensor.Tensor // momentum buffers, nil until a parameter's first step
	err    error            // configuration error, reported by Step
}

// NewSGD returns an SGD optimizer over params. An invalid configuration is
// reported by the first Step (and by cfg.Validate).
func NewSGD(params []*nn.Param, cfg SGDConfig) *SGD {
	return &SGD{params: params, cfg: cfg, bufs: make([]*tensor.Tensor, len(params)), err: cfg.Validate()}
}

// Config returns the hyperparameters, with the current learning rate.
func (o *SGD) Config() SGDConfig { return o.cfg }

// LR implements Optimizer.
func (o *SGD) LR() float64 { return o.cfg.LR }

// SetLR implements Optimizer.
func (o *SGD) SetLR(lr float64) {
	o.cfg.LR = lr
	o.err = o.cfg.Validate()
}

// ZeroGrad implements Optimizer.
func (o *SGD) ZeroGrad() { zeroGrads(o.params) }

// Step implements Optimizer.
func (o *SGD) Step() error {
	if o.err != nil {
		return o.err
	}
	c := o.cfg
	// Each scalar enters PyTorch's float32 kernels as float32(python float).
	wd := float32(c.WeightDecay)
	mom := float32(c.Momentum)
	keep := float32(1 - c.Dampening)
	negLR := float32(-c.LR)
	for i, p := range o.params {
		if !active(p) {
			continue
		}
		if err := checkGradShape(i, p); err != nil {
			return err
		}
		w, g := p.Value.Data, p.Grad.Data
		if c.Momentum == 0 {
			forRange(len(w), func(lo, hi int) {
				k := sgdVector(w[lo:hi], g[lo:hi], nil, false, false, wd, 0, 0, negLR, false)
				sgdPlain(w[lo+k:hi], g[lo+k:hi], wd, negLR)
			})
			continue
		}
		buf := o.bufs[i]
		first := buf == nil
		if first {
			buf = tensor.New(p.Value.Shape...)
			o.bufs[i] = buf
		} else if err := checkBufShape(i, p, keyMomentumBuffer, buf); err != nil {
			return err
		}
		b := buf.Data
		forRange(len(w), func(lo, hi int) {
			k := sgdVector(w[lo:hi], g[lo:hi], b[lo:hi], first, c.Nesterov, wd, mom, keep, negLR, true)
			sgdMomentum(w[lo+k:hi], g[lo+k:hi], b[lo+k:hi], first, c.Nesterov, wd, mom, keep, negLR)
		})
	}
	return nil
}

// sgdPlain is the update without momentum. Tensor.add_(x, alpha=a) is a
// fused multiply-add in PyTorch's vector kernels, hence fma32.
func sgdPlain(w, g []float32, wd, negLR float32) {
	g = g[:len(w)]
	for j, x := range w {
		d := g[j]
		if wd != 0 {
			d = fma32(x, wd, d)
		}
		w[j] = fma32(d, negLR, x)
	}
}

// sgdMomentum is the update with a momentum buffer; first marks the
// buffer's initialization (buf = g, PyTorch's torch.clone(d_p)).
func sgdMomentum(w, g, b []float32, first, nesterov bool, wd, mom, keep, negLR float32) {
	g, b = g[:len(w)], b[:len(w)]
	for j, x := range w {
		d := g[j]
		if wd != 0 {
			d = fma32(x, wd, d)
		}
		var nb float32
		if first {
			nb = d
		} else {
			// buf.mul_(momentum).add_(d, alpha=1-dampening)
			nb = fma32(d, keep, float32(b[j]*mom))
		}
		b[j] = nb
		if nesterov {
			d = fma32(nb, mom, d)
		} else {
			d = nb
		}
		w[j] = fma32(d, negLR, x)
	}
}

// State implements Optimizer: num_params and, when momentum is on, each
// stepped parameter's momentum_buffer.
func (o *SGD) State() map[string]*tensor.Tensor {
	s := map[string]*tensor.Tensor{keyNumParams: scalarTensor(float64(len(o.params)))}
	for i, b := range o.bufs {
		if b != nil {
			s[stateKey(i, keyMomentumBuffer)] = b
		}
	}
	return s
}

// LoadState implements Optimizer. Parameters without a momentum_buffer
// entry start fresh, as in PyTorch; with Momentum 0 there must be none.
func (o *SGD) LoadState(state map[string]*tensor.Tensor) error {
	r, err := newStateReader(state, o.params)
	if err != nil {
		return err
	}
	bufs := make([]*tensor.Tensor, len(o.params))
	if o.cfg.Momentum != 0 {
		for i := range o.params {
			if !r.has(i, keyMomentumBuffer) {
				continue
			}
			t, err := r.like(i, keyMomentumBuffer)
			if err != nil {
				return err
			}
			bufs[i] = t.Clone()
		}
	}
	if err := r.leftover("SGD"); err != nil {
		return err
	}
	o.bufs = bufs
	return nil
}
