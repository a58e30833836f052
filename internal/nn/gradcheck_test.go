package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/tensor"
)

// gradCheck compares a layer's analytic gradients with central finite
// differences of the scalar loss L = sum_i r_i * y_i, r a fixed random
// tensor. Arithmetic is float32, so the step is large (1e-2 by default) and
// the loss is summed in float64; inputs should keep clear of kinks (ReLU at
// 0, max-pool ties) by at least the step.
type gradCheck struct {
	Eps      float64 // finite-difference step; 1e-2 if 0
	Atol     float64 // absolute tolerance; 2e-3 if 0
	Rtol     float64 // relative tolerance; 2e-2 if 0
	MaxProbe int     // check at most this many entries per tensor (random subset); all if 0
	NoInput  bool    // the layer returns no input gradient (first layer)
}

func randTensor(r *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(r.NormFloat64())
	}
	return t
}

func (g gradCheck) run(t *testing.T, l Layer, x *tensor.Tensor) {
	t.Helper()
	eps, atol, rtol := g.Eps, g.Atol, g.Rtol
	if eps == 0 {
		eps = 1e-2
	}
	if atol == 0 {
		atol = 2e-3
	}
	if rtol == 0 {
		rtol = 2e-2
	}
	rng := rand.New(rand.NewPCG(7, 11))
	l.SetTraining(true)
	y, err := l.Forward(x.Clone())
	if err != nil {
		t.Fatalf("forward: %v", err)
	}
	r := randTensor(rng, y.Shape...)
	loss := func() float64 {
		y, err := l.Forward(x.Clone())
		if err != nil {
			t.Fatalf("forward: %v", err)
		}
		s := 0.0
		for i, v := range y.Data {
			s += float64(v) * float64(r.Data[i])
		}
		return s
	}
	ZeroGrad(l)
	xin := x.Clone()
	if _, err := l.Forward(xin); err != nil {
		t.Fatal(err)
	}
	dx, err := l.Backward(r.Clone())
	if err != nil {
		t.Fatalf("backward: %v", err)
	}
	if g.NoInput {
		if dx != nil {
			t.Errorf("%s: expected no input gradient", l)
		}
	} else {
		if dx == nil || !tensor.ShapeEq(dx.Shape, x.Shape) {
			t.Fatalf("%s: input gradient shape %v, want %v", l, dx, x.Shape)
		}
		dxc := dx.Clone()
		g.compare(t, l.String()+" input", x.Data, dxc.Data, loss, eps, atol, rtol, rng)
	}
	for _, p := range l.Params() {
		if p.Frozen {
			continue
		}
		grad := p.Grad.Clone()
		g.compare(t, l.String()+" "+p.Name, p.Value.Data, grad.Data, loss, eps, atol, rtol, rng)
	}
}

func (g gradCheck) compare(t *testing.T, what string, vals, grad []float32, loss func() float64,
	eps, atol, rtol float64, rng *rand.Rand) {
	t.Helper()
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	if g.MaxProbe > 0 && len(idx) > g.MaxProbe {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:g.MaxProbe]
	}
	bad := 0
	for _, i := range idx {
		orig := vals[i]
		vals[i] = orig + float32(eps)
		up := loss()
		vals[i] = orig - float32(eps)
		down := loss()
		vals[i] = orig
		num := (up - down) / (2 * eps)
		ana := float64(grad[i])
		if math.Abs(num-ana) > atol+rtol*math.Abs(num) || math.IsNaN(ana) {
			if bad < 5 {
				t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", what, i, ana, num)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d entries differ", what, bad, len(idx))
	}
}
