package optim

import (
	"fmt"
	"math"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// AdamConfig holds the hyperparameters of Adam and AdamW. A zero Beta1,
// Beta2 or Eps means PyTorch's default (0.9, 0.999, 1e-8), so
// AdamConfig{LR: 1e-4} is torch.optim.Adam(params, lr=1e-4); a true zero is
// not expressible, and no recipe we follow needs one. WeightDecay is taken
// as given for both optimizers (PyTorch's AdamW defaults to 1e-2, its Adam
// to 0).
type AdamConfig struct {
	LR          float64 // learning rate
	Beta1       float64 // decay of the first-moment average; 0 means 0.9
	Beta2       float64 // decay of the second-moment average; 0 means 0.999
	Eps         float64 // added to the denominator; 0 means 1e-8
	WeightDecay float64 // Adam: L2 term added to the gradient; AdamW: decoupled decay rate
}

// withDefaults fills the zero fields with PyTorch's defaults.
func (c AdamConfig) withDefaults() AdamConfig {
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.999
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	return c
}

// Validate reports the first hyperparameter PyTorch would refuse, so that
// a command line can reject it before training starts.
func (c AdamConfig) Validate() error {
	c = c.withDefaults()
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case !finite(c.LR) || c.LR < 0:
		return fmt.Errorf("optim: Adam learning rate %v must be finite and >= 0", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return fmt.Errorf("optim: Adam beta1 %v must be in [0, 1)", c.Beta1)
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("optim: Adam beta2 %v must be in [0, 1)", c.Beta2)
	case !finite(c.Eps) || c.Eps < 0:
		return fmt.Errorf("optim: Adam eps %v must be finite and >= 0", c.Eps)
	case !finite(c.WeightDecay) || c.WeightDecay < 0:
		return fmt.Errorf("optim: Adam weight decay %v must be finite and >= 0", c.WeightDecay)
	}
	return nil
}

// Adam is torch.optim.Adam, or torch.optim.AdamW when built by NewAdamW
// (amsgrad and maximize are not supported). Per parameter, with t its own
// step count:
//
//	Adam:  g = grad + weight_decay*w        AdamW: w = w*(1 - lr*weight_decay); g = grad
//	m = beta1*m + (1-beta1)*g
//	v = beta2*v + (1-beta2)*g*g
//	w = w - (lr/(1-beta1^t)) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
//
// in exactly PyTorch 1.13's order of float32 operations (its single-tensor
// path, the CPU default), so results match it bit for bit. Kingma & Ba,
// "Adam: A Method for Stochastic Optimization" (2015); Loshchilov & Hutter,
// "Decoupled Weight Decay Regularization" (2019) for AdamW.
type Adam struct {
	params    []*nn.Param
	cfg       AdamConfig // with defaults filled in
	decoupled bool       // AdamW
	steps     []int      // per-parameter step counts, as PyTorch keeps them
	m, v      []*tensor.Tensor
	err       error // configuration error, reported by Step
}

// NewAdam returns torch.optim.Adam over params: weight decay is an L2 term
// added to the gradient. An invalid configuration is reported by the first
// Step (and by cfg.Validate).
func NewAdam(params []*nn.Param, cfg AdamConfig) *Adam { return newAdam(params, cfg, false) }

// NewAdamW returns torch.optim.AdamW over params: weight decay shrinks the
// weights directly, w *= 1 - lr*weight_decay, before the Adam update, so it
// is not rescaled by the adaptive denominator.
func NewAdamW(params []*nn.Param, cfg AdamConfig) *Adam { return newAdam(params, cfg, true) }

func newAdam(params []*nn.Param, cfg AdamConfig, decoupled bool) *Adam {
	return &Adam{
		params:    params,
		cfg:       cfg.withDefaults(),
		decoupled: decoupled,
		steps:     make([]int, len(params)),
		m:         make([]*tensor.Tensor, len(params)),
		v:         make([]*tensor.Tensor, len(params)),
		err:       cfg.Validate(),
	}
}

func (o *Adam) name() string {
	if o.decoupled {
		return "AdamW"
	}
	return "Adam"
}

// Config returns the hyperparameters (defaults filled in), with the
// current learning rate.
func (o *Adam) Config() AdamConfig { return o.cfg }

// LR implements Optimizer.
func (o *Adam) LR() float64 { return o.cfg.LR }

// SetLR implements Optimizer.
func (o *Adam) SetLR(lr float64) {
	o.cfg.LR = lr
	o.err = o.cfg.Validate()
}

// ZeroGrad implements Optimizer.
func (o *Adam) ZeroGrad() { zeroGrads(o.params) }

// adamScalars are the per-step constants, rounded to float32 where PyTorch
// hands them to a float32 kernel. kernels_amd64.s reads the fields by offset:
// keep their order.
type adamScalars struct {
	decay    float32 // AdamW: 1 - lr*wd; 1 means none
	wd       float32 // Adam: L2 coefficient; 0 means none
	beta1    float32
	omb1     float32 // 1 - beta1
	beta2    float32
	omb2     float32 // 1 - beta2
	bc2sqrt  float32 // sqrt(1 - beta2^t)
	eps      float32
	stepSize float32 // -lr / (1 - beta1^t)
}

// scalars computes the constants for a parameter's step t (1-based). The
// float64 expressions are PyTorch's Python ones, term for term.
func (o *Adam) scalars(t int) adamScalars {
	c := o.cfg
	s := adamScalars{
		decay: 1,
		beta1: float32(c.Beta1),
		omb1:  float32(1 - c.Beta1),
		beta2: float32(c.Beta2),
		omb2:  float32(1 - c.Beta2),
		eps:   float32(c.Eps),
	}
	if o.decoupled {
		s.decay = float32(1 - c.LR*c.WeightDecay)
	} else {
		s.wd = float32(c.WeightDecay)
	}
	bc1 := 1 - powInt(c.Beta1, t)
	bc2 := 1 - powInt(c.Beta2, t)
	s.stepSize = float32(-(c.LR / bc1))
	s.bc2sqrt = float32(math.Sqrt(bc2))
	return s
}

// Step implements Optimizer.
func (o *Adam) Step() error {
	if o.err != nil {
		return o.err
	}
	// Parameters usually share a step count, so the scalars (two
	// big-float powers) are computed once per distinct count.
	cache := map[int]adamScalars{}
	for i, p := range o.params {
		if !active(p) {
			continue
		}
		if err := checkGradShape(i, p); err != nil {
			return err
		}
		if o.m[i] == nil {
			o.m[i] = tensor.New(p.Value.Shape...)
			o.v[i] = tensor.New(p.Value.Shape...)
		} else if err := checkBufShape(i, p, keyExpAvg, o.m[i]); err != nil {
			return err
		} else if err := checkBufShape(i, p, keyExpAvgSq, o.v[i]); err != nil {
			return err
		}
		t := o.steps[i] + 1
		s, ok := cache[t]
		if !ok {
			s = o.scalars(t)
			cache[t] = s
		}
		o.steps[i] = t
		w, g, m, v := p.Value.Data, p.Grad.Data, o.m[i].Data, o.v[i].Data
		forRange(len(w), func(lo, hi int) {
			k := adamVector(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], &s)
			adamKernel(w[lo+k:hi], g[lo+k:hi], m[lo+k:hi], v[lo+k:hi], &s)
		})
	}
	return nil
}

// adamKernel updates one chunk. Each step is one PyTorch tensor operation:
// add_ with alpha and addcmul_ are fused multiply-adds in its vector
// kernels (fma32, spelled out); mul_, sqrt, div, add_(eps) and addcdiv_
// round every operation.
// The explicit float32 conversions forbid the Go compiler from fusing
// those (the spec lets it fuse otherwise).
func adamKernel(w, g, m, v []float32, s *adamScalars) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	decay, wd := s.decay, s.wd
	beta1, omb1, beta2, omb2 := s.beta1, s.omb1, s.beta2, s.omb2
	bc2sqrt, eps, stepSize := s.bc2sqrt, s.eps, s.stepSize
	for j, x := range w {
		d := g[j]
		if decay != 1 {
			x = float32(x * decay) // param.mul_(1 - lr*wd)
		}
		if wd != 0 {
			// grad.add(param, alpha=wd)
			s := float64(x)*float64(wd) + float64(d)
			d0 := d
			d = float32(s)
			if nearTie(s) {
				d = fma32Slow(x, wd, d0)
			}
		}
		// exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
		mb := float32(m[j] * beta1)
		s := float64(d)*float64(omb1) + float64(mb)
		mj := float32(s)
		if nearTie(s) {
			mj = fma32Slow(d, omb1, mb)
		}
		// exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
		vb, cd := float32(v[j]*beta2), float32(omb2*d)
		s = float64(cd)*float64(d) + float64(vb)
		vj := float32(s)
		if nearTie(s) {
			vj = fma32Slow(cd, d, vb)
		}
		// (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
		den := float32(float32(sqrt32(vj)/bc2sqrt) + eps)
		// param.addcdiv_(exp_avg, denom, value=-step_size)
		w[j] = float32(x + float32(float32(stepSize*mj)/den))
		m[j], v[j] = mj, vj
	}
}

// sqrt32 is the correctly rounded float32 square root (the compiler turns
// this pattern into one SQRTSS; the float64 detour cannot double-round).
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// State implements Optimizer: num_params and, for every parameter that has
// been stepped, its step, exp_avg and exp_avg_sq.
func (o *Adam) State() map[string]*tensor.Tensor {
	s := map[string]*tensor.Tensor{keyNumParams: scalarTensor(float64(len(o.params)))}
	for i := range o.params {
		if o.m[i] == nil {
			continue
		}
		s[stateKey(i, keyStep)] = scalarTensor(float64(o.steps[i]))
		s[stateKey(i, keyExpAvg)] = o.m[i]
		s[stateKey(i, keyExpAvgSq)] = o.v[i]
	}
	return s
}

// LoadState implements Optimizer. A parameter has either all three of
// step, exp_avg and exp_avg_sq or none (it starts fresh, as in PyTorch).
func (o *Adam) LoadState(state map[string]*tensor.Tensor) error {
	r, err := newStateReader(state, o.params)
	if err != nil {
		return err
	}
	n := len(o.params)
	steps, ms, vs := make([]int, n), make([]*tensor.Tensor, n), make([]*tensor.Tensor, n)
	for i := range o.params {
		if !r.has(i, keyStep) && !r.has(i, keyExpAvg) && !r.has(i, keyExpAvgSq) {
			continue
		}
		if steps[i], err = r.count(i, keyStep); err != nil {
			return err
		}
		m, err := r.like(i, keyExpAvg)
		if err != nil {
			return err
		}
		v, err := r.like(i, keyExpAvgSq)
		if err != nil {
			return err
		}
		ms[i], vs[i] = m.Clone(), v.Clone()
	}
	if err := r.leftover(o.name()); err != nil {
		return err
	}
	o.steps, o.m, o.v = steps, ms, vs
	return nil
}
