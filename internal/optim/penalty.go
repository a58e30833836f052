package optim

import (
	"math"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// The tutorial regularizes by adding penalty terms to the loss before
// backward:
//
//	loss = loss + l1_lambda * sum(p.abs().sum() for p in model.parameters())
//	loss = loss + l2_lambda * sum(p.pow(2.0).sum() for p in model.parameters())
//
// L1Penalty and L2Penalty do the same in one pass per parameter: they return
// the term to add to the reported loss and add its gradient into Grad, so
// call them after the model's Backward and before the optimizer's Step.
// Which parameters are penalized is the caller's choice; the tutorial passes
// all of model.parameters(), biases and BatchNorm affine parameters
// included, and so does train.Stepper. As with autograd, frozen parameters
// and parameters with a nil Grad count towards the value but receive no
// gradient. The gradient is lambda*sign(w) (sign(0) = 0, PyTorch's abs
// backward) and lambda*(2*w) (its pow backward), with lambda rounded to
// float32 as autograd's float32 graph holds it. The sums are accumulated in
// float64, so the value is more precise than PyTorch's float32 sum.

// L1Penalty returns lambda*Σ|w| over params and adds lambda*sign(w) to
// each gradient. lambda 0 returns 0 without touching anything.
func L1Penalty(params []*nn.Param, lambda float64) float64 {
	if lambda == 0 {
		return 0
	}
	return penalty(params, lambda, l1Kernel)
}

// L2Penalty returns lambda*Σw² over params and adds 2*lambda*w to each
// gradient. lambda 0 returns 0 without touching anything. It is the loss
// form of SGD's and Adam's WeightDecay, which adds weight_decay*w to the
// gradient: L2Penalty with lambda equals WeightDecay 2*lambda up to
// rounding.
func L2Penalty(params []*nn.Param, lambda float64) float64 {
	if lambda == 0 {
		return 0
	}
	return penalty(params, lambda, l2Kernel)
}

// The kernels keep four partial sums so that consecutive float64 additions
// do not wait for each other, and avoid data-dependent branches, which
// random weight signs would mispredict half the time.

func l1Kernel(w, g []float32, l float32) float64 {
	var s0, s1, s2, s3 float64
	n := len(w) &^ 3
	for j := 0; j < n; j += 4 {
		x := w[j : j+4 : j+4]
		s0 += math.Abs(float64(x[0]))
		s1 += math.Abs(float64(x[1]))
		s2 += math.Abs(float64(x[2]))
		s3 += math.Abs(float64(x[3]))
	}
	for _, x := range w[n:] {
		s0 += math.Abs(float64(x))
	}
	if g != nil {
		g = g[:len(w)]
		lbits := math.Float32bits(l)
		for j, x := range w {
			// lambda*sign(x): lambda with x's sign bit, or 0 for ±0 (a
			// +0 addend, as autograd adds lambda*sgn(0)).
			bits := math.Float32bits(x)
			d := math.Float32frombits(lbits ^ bits&(1<<31))
			if bits<<1 == 0 {
				d = 0
			}
			g[j] += d
		}
	}
	return (s0 + s1) + (s2 + s3)
}

func l2Kernel(w, g []float32, l float32) float64 {
	var s0, s1, s2, s3 float64
	n := len(w) &^ 3
	for j := 0; j < n; j += 4 {
		x := w[j : j+4 : j+4]
		s0 += float64(x[0]) * float64(x[0])
		s1 += float64(x[1]) * float64(x[1])
		s2 += float64(x[2]) * float64(x[2])
		s3 += float64(x[3]) * float64(x[3])
	}
	for _, x := range w[n:] {
		s0 += float64(x) * float64(x)
	}
	if g != nil {
		g = g[:len(w)]
		for j, x := range w {
			g[j] += float32(l * (2 * x))
		}
	}
	return (s0 + s1) + (s2 + s3)
}

// penalty runs kernel over every parameter in parallel chunks and returns
// lambda times the total. kernel gets g nil when no gradient is wanted.
func penalty(params []*nn.Param, lambda float64, kernel func(w, g []float32, l float32) float64) float64 {
	l := float32(lambda)
	total := 0.0
	for _, p := range params {
		w := p.Value.Data
		var g []float32
		// A gradient of the wrong size gets nothing here; the optimizer's
		// Step reports it.
		if active(p) && len(p.Grad.Data) == len(w) {
			g = p.Grad.Data
		}
		n := len(w)
		if n == 0 {
			continue
		}
		// One partial sum per chunk, added in chunk order, so the value
		// does not depend on scheduling.
		chunks := (n + parallelGrain - 1) / parallelGrain
		partial := make([]float64, chunks)
		tensor.Parallel(chunks, func(lo, hi int) {
			for c := lo; c < hi; c++ {
				a, b := c*parallelGrain, min((c+1)*parallelGrain, n)
				var gc []float32
				if g != nil {
					gc = g[a:b]
				}
				partial[c] = kernel(w[a:b], gc, l)
			}
		})
		for _, s := range partial {
			total += s
		}
	}
	return lambda * total
}
