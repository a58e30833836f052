package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"starid/internal/nn"
	"starid/internal/tensor"
)

func paramOf(name string, vals ...float32) *nn.Param {
	p := nn.NewParam(name, len(vals))
	p.EnsureGrad()
	copy(p.Value.Data, vals)
	return p
}

// TestPenaltyHandComputed checks values and gradients on numbers small
// enough to do by hand, including a frozen parameter (counted, no
// gradient), a buffer-like nil Grad and zero weights (L1's sign(0) = 0).
func TestPenaltyHandComputed(t *testing.T) {
	mk := func() []*nn.Param {
		w := paramOf("weight", 1, -2, 0, 0.5)
		w.Grad.Fill(10)
		b := paramOf("bias", -3)
		frozen := paramOf("frozen", 2, -1)
		frozen.Frozen = true
		frozen.Grad.Fill(7)
		nograd := paramOf("nograd", 4)
		nograd.Grad = nil
		return []*nn.Param{w, b, frozen, nograd}
	}
	cases := []struct {
		name      string
		fn        func([]*nn.Param, float64) float64
		lambda    float64
		want      float64
		wantGradW []float32
		wantGradB float32
	}{
		// Σ|w| = 1+2+0+0.5 + 3 + 2+1 + 4 = 13.5
		{"L1", L1Penalty, 0.5, 0.5 * 13.5, []float32{10.5, 9.5, 10, 10.5}, -0.5},
		// Σw² = 1+4+0+0.25 + 9 + 4+1 + 16 = 35.25; gradient 2λw
		{"L2", L2Penalty, 0.25, 0.25 * 35.25, []float32{10.5, 9, 10, 10.25}, -1.5},
		{"L1 zero lambda", L1Penalty, 0, 0, []float32{10, 10, 10, 10}, 0},
		{"L2 zero lambda", L2Penalty, 0, 0, []float32{10, 10, 10, 10}, 0},
	}
	for _, c := range cases {
		ps := mk()
		if got := c.fn(ps, c.lambda); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: value %v, want %v", c.name, got, c.want)
		}
		for j, g := range ps[0].Grad.Data {
			if g != c.wantGradW[j] {
				t.Errorf("%s: weight grad[%d] = %v, want %v", c.name, j, g, c.wantGradW[j])
			}
		}
		if g := ps[1].Grad.Data[0]; g != c.wantGradB {
			t.Errorf("%s: bias grad %v, want %v", c.name, g, c.wantGradB)
		}
		for _, g := range ps[2].Grad.Data {
			if g != 7 {
				t.Errorf("%s: frozen parameter's gradient changed to %v", c.name, g)
			}
		}
	}
}

// TestPenaltyFiniteDifferences holds the added gradients to central
// differences of the returned value, on a tensor big enough to be split
// across workers (so the chunked sums are checked too).
func TestPenaltyFiniteDifferences(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	n := 2*parallelGrain + 123
	for _, c := range []struct {
		name string
		fn   func([]*nn.Param, float64) float64
	}{{"L1", L1Penalty}, {"L2", L2Penalty}} {
		p := nn.NewParam("weight", n)
		p.EnsureGrad()
		want := 0.0
		for j := range p.Value.Data {
			v := float32(r.NormFloat64())
			// Keep clear of L1's kink at 0 by more than the step.
			if math.Abs(float64(v)) < 0.05 {
				v += 0.1
			}
			p.Value.Data[j] = v
			if c.name == "L1" {
				want += math.Abs(float64(v))
			} else {
				want += float64(v) * float64(v)
			}
		}
		const lambda = 3e-3
		ps := []*nn.Param{p}
		value := c.fn(ps, lambda)
		if math.Abs(value-lambda*want) > 1e-9*lambda*want {
			t.Errorf("%s: value %v, want %v", c.name, value, lambda*want)
		}
		grad := p.Grad.Clone()
		probe := nn.NewParam("probe", 1)
		probe.Grad = nil // only the value is wanted
		const h = 1e-2
		for _, j := range []int{0, 1, parallelGrain - 1, parallelGrain, n - 1, r.IntN(n), r.IntN(n)} {
			// The penalty is a sum over elements, so perturbing one
			// element alone (in a 1-element probe) changes it by the same
			// amount as perturbing it inside p.
			x := p.Value.Data[j]
			hi, lo := x+h, x-h // the float32 points actually evaluated
			probe.Value.Data[0] = hi
			up := c.fn([]*nn.Param{probe}, lambda)
			probe.Value.Data[0] = lo
			down := c.fn([]*nn.Param{probe}, lambda)
			fd := (up - down) / float64(hi-lo)
			if math.Abs(fd-float64(grad.Data[j])) > 1e-4*math.Abs(fd)+1e-9 {
				t.Errorf("%s: grad[%d] = %v, finite difference %v", c.name, j, grad.Data[j], fd)
			}
		}
	}
}

// TestL2PenaltyMatchesWeightDecay: the penalty's gradient 2λw is what SGD
// adds itself with WeightDecay 2λ, so one step of each lands on the same
// weights up to rounding.
func TestL2PenaltyMatchesWeightDecay(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	a := nn.NewParam("a", 100)
	a.EnsureGrad()
	for j := range a.Value.Data {
		a.Value.Data[j] = float32(r.NormFloat64())
		a.Grad.Data[j] = float32(r.NormFloat64())
	}
	b := &nn.Param{Name: "b", Value: a.Value.Clone(), Grad: a.Grad.Clone()}
	const lambda = 0.05
	L2Penalty([]*nn.Param{a}, lambda)
	if err := NewSGD([]*nn.Param{a}, SGDConfig{LR: 0.1}).Step(); err != nil {
		t.Fatal(err)
	}
	if err := NewSGD([]*nn.Param{b}, SGDConfig{LR: 0.1, WeightDecay: 2 * lambda}).Step(); err != nil {
		t.Fatal(err)
	}
	if d := tensor.MaxAbsDiff(a.Value.Data, b.Value.Data); d > 1e-6 {
		t.Errorf("L2 penalty step and weight-decay step differ by %g", d)
	}
}
