package optim

import (
	"math"
	"strings"
	"testing"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// resumeConfigs are the optimizers whose state a checkpoint must carry.
var resumeConfigs = []struct {
	name      string
	mk        func([]*nn.Param) Optimizer
	stateless bool // resuming without the state would give the same bits
}{
	{"sgd", func(ps []*nn.Param) Optimizer { return NewSGD(ps, SGDConfig{LR: 0.1, WeightDecay: 0.01}) }, true},
	{"sgd_momentum", func(ps []*nn.Param) Optimizer {
		return NewSGD(ps, SGDConfig{LR: 0.05, Momentum: 0.9, Dampening: 0.1})
	}, false},
	{"sgd_nesterov", func(ps []*nn.Param) Optimizer {
		return NewSGD(ps, SGDConfig{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-3})
	}, false},
	{"adam", func(ps []*nn.Param) Optimizer { return NewAdam(ps, AdamConfig{LR: 1e-3, WeightDecay: 1e-4}) }, false},
	{"adamw", func(ps []*nn.Param) Optimizer { return NewAdamW(ps, AdamConfig{LR: 1e-2, WeightDecay: 0.1}) }, false},
}

// runGolden runs steps [from, to) of the golden gradients on opt.
func runGolden(t *testing.T, g *golden, opt Optimizer, ps []*nn.Param, from, to int) {
	t.Helper()
	for s := from; s < to; s++ {
		if s == g.LRChangeStep {
			opt.SetLR(opt.LR() * g.LRChangeFactor)
		}
		g.setGrads(ps, s)
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
	}
}

// cloneState copies a state map as writing it to a file and reading it
// back would.
func cloneState(s map[string]*tensor.Tensor) map[string]*tensor.Tensor {
	out := make(map[string]*tensor.Tensor, len(s))
	for k, v := range s {
		out[k] = v.Clone()
	}
	return out
}

// TestResumeIsBitIdentical: 3 steps, export, a fresh optimizer over fresh
// parameters imports the state, 2 more steps: the same bits as 5 steps
// without interruption.
func TestResumeIsBitIdentical(t *testing.T) {
	g := mustGolden(t)
	for _, c := range resumeConfigs {
		t.Run(c.name, func(t *testing.T) {
			straight := g.params()
			runGolden(t, g, c.mk(straight), straight, 0, 5)

			first := g.params()
			opt := c.mk(first)
			runGolden(t, g, opt, first, 0, 3)
			saved := cloneState(opt.State())
			lr := opt.LR()

			resumed := g.params()
			for i, p := range resumed {
				copy(p.Value.Data, first[i].Value.Data)
			}
			opt2 := c.mk(resumed)
			opt2.SetLR(lr)
			if err := opt2.LoadState(saved); err != nil {
				t.Fatal(err)
			}
			// The optimizer must have copied what it loaded.
			for _, v := range saved {
				v.Fill(float32(math.NaN()))
			}
			// A freshly built model has no gradients until its first
			// Backward (nn.Param.EnsureGrad): a Step before then must skip
			// every parameter and keep the loaded state for later.
			for i, p := range resumed {
				if p.Grad != nil {
					t.Fatalf("parameter %d has a gradient before any backward pass", i)
				}
			}
			if err := opt2.Step(); err != nil {
				t.Fatal(err)
			}
			for i := range resumed {
				if !tensor.SameBits(first[i].Value.Data, resumed[i].Value.Data) {
					t.Fatalf("a Step without gradients changed parameter %d", i)
				}
			}
			runGolden(t, g, opt2, resumed, 3, 5)
			for i := range straight {
				if !tensor.SameBits(straight[i].Value.Data, resumed[i].Value.Data) {
					t.Errorf("parameter %d differs after resuming (max diff %g)", i,
						tensor.MaxAbsDiff(straight[i].Value.Data, resumed[i].Value.Data))
				}
			}
			// Without the state the run would differ, so the check above has teeth.
			if !c.stateless {
				fresh := g.params()
				for i, p := range fresh {
					copy(p.Value.Data, first[i].Value.Data)
				}
				opt3 := c.mk(fresh)
				opt3.SetLR(lr)
				runGolden(t, g, opt3, fresh, 3, 5)
				if tensor.SameBits(straight[0].Value.Data, fresh[0].Value.Data) {
					t.Error("a fresh optimizer reproduced the resumed run: the state carries nothing")
				}
			}
		})
	}
}

func TestStateNames(t *testing.T) {
	g := mustGolden(t)
	ps := g.params()
	adam := NewAdam(ps, AdamConfig{LR: 1e-3})
	runGolden(t, g, adam, ps, 0, 2)
	st := adam.State()
	// Parameter 3 never had a gradient, so it has no state, as in PyTorch.
	want := []string{"num_params",
		"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
		"state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq",
		"state.2.step", "state.2.exp_avg", "state.2.exp_avg_sq"}
	if len(st) != len(want) {
		t.Errorf("state has %d entries, want %d: %v", len(st), len(want), keys(st))
	}
	for _, k := range want {
		if _, ok := st[k]; !ok {
			t.Errorf("state lacks %q", k)
		}
	}
	if v := st["num_params"].Data[0]; v != 4 {
		t.Errorf("num_params = %v, want 4", v)
	}
	if v := st["state.1.step"]; len(v.Data) != 1 || v.Data[0] != 2 || !tensor.ShapeEq(v.Shape, []int{1}) {
		t.Errorf("state.1.step = %v %v, want [1] holding 2", v.Shape, v.Data)
	}
	if s := st["state.1.exp_avg"].Shape; !tensor.ShapeEq(s, []int{4, 5}) {
		t.Errorf("state.1.exp_avg shape %v, want [4 5]", s)
	}

	sgd := NewSGD(ps, SGDConfig{LR: 0.1, Momentum: 0.9})
	runGolden(t, g, sgd, ps, 0, 1)
	if st := sgd.State(); len(st) != 4 || st["state.2.momentum_buffer"] == nil {
		t.Errorf("SGD state %v, want num_params and 3 momentum buffers", keys(st))
	}
	if st := NewSGD(ps, SGDConfig{LR: 0.1}).State(); len(st) != 1 {
		t.Errorf("plain SGD state %v, want num_params only", keys(st))
	}
}

func keys(m map[string]*tensor.Tensor) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLoadStateErrors(t *testing.T) {
	g := mustGolden(t)
	ps := g.params()
	adam := NewAdam(ps, AdamConfig{LR: 1e-3})
	runGolden(t, g, adam, ps, 0, 2)
	adamState := cloneState(adam.State())
	sgd := NewSGD(ps, SGDConfig{LR: 0.1, Momentum: 0.9})
	runGolden(t, g, sgd, ps, 0, 1)
	sgdState := cloneState(sgd.State())

	edit := func(base map[string]*tensor.Tensor, f func(map[string]*tensor.Tensor)) map[string]*tensor.Tensor {
		s := cloneState(base)
		f(s)
		return s
	}
	newAdam := func() Optimizer { return NewAdam(g.params(), AdamConfig{LR: 1e-3}) }
	newSGD := func() Optimizer { return NewSGD(g.params(), SGDConfig{LR: 0.1, Momentum: 0.9}) }
	cases := []struct {
		name  string
		opt   func() Optimizer
		state map[string]*tensor.Tensor
		want  string
	}{
		{"empty", newAdam, map[string]*tensor.Tensor{}, `no "num_params" entry`},
		{"other model", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { s["num_params"].Data[0] = 5 }),
			"state is for 5 parameters, optimizer has 4"},
		{"unrecognized", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { s["lr"] = scalarTensor(1) }),
			`unrecognized state entry "lr"`},
		{"bad index", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { s["state.01.step"] = scalarTensor(1) }),
			`unrecognized state entry "state.01.step"`},
		{"index out of range", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { s["state.9.exp_avg"] = tensor.New(3) }),
			`"state.9.exp_avg" is for parameter 9, optimizer has 4`},
		{"missing moment", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { delete(s, "state.1.exp_avg_sq") }),
			`no "state.1.exp_avg_sq" entry for parameter 1 ("p1")`},
		{"missing step", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { delete(s, "state.2.step") }),
			`no "state.2.step" entry`},
		{"wrong shape", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { s["state.1.exp_avg"] = tensor.New(5, 4) }),
			`"state.1.exp_avg" has shape [5, 4], parameter 1 ("p1") has shape [4, 5]`},
		{"fractional step", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { s["state.0.step"].Data[0] = 2.5 }),
			`"state.0.step" is 2.5`},
		{"step shape", newAdam, edit(adamState, func(s map[string]*tensor.Tensor) { s["state.0.step"] = tensor.New(2) }),
			`"state.0.step" has shape [2], want [1]`},
		{"SGD state into Adam", newAdam, sgdState, `"state.0.momentum_buffer" is not part of Adam's state`},
		{"Adam state into SGD", newSGD, adamState, `is not part of SGD's state`},
		{"momentum buffer without momentum", func() Optimizer { return NewSGD(g.params(), SGDConfig{LR: 0.1}) }, sgdState,
			`"state.0.momentum_buffer" is not part of SGD's state`},
		{"Adam state into AdamW", func() Optimizer { return NewAdamW(g.params(), AdamConfig{LR: 1e-3}) },
			edit(adamState, func(s map[string]*tensor.Tensor) { s["state.0.momentum_buffer"] = tensor.New(203) }),
			`not part of AdamW's state`},
	}
	for _, c := range cases {
		err := c.opt().LoadState(c.state)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: LoadState error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// TestFailedLoadKeepsState: a rejected state leaves the optimizer as it was.
func TestFailedLoadKeepsState(t *testing.T) {
	g := mustGolden(t)
	a, b := g.params(), g.params()
	oa, ob := NewAdam(a, AdamConfig{LR: 1e-3}), NewAdam(b, AdamConfig{LR: 1e-3})
	runGolden(t, g, oa, a, 0, 2)
	runGolden(t, g, ob, b, 0, 2)
	bad := cloneState(ob.State())
	delete(bad, "state.2.exp_avg") // parameters 0 and 1 would load fine
	for _, v := range bad {
		v.Zero()
	}
	bad["num_params"] = scalarTensor(4)
	if err := ob.LoadState(bad); err == nil {
		t.Fatal("incomplete state was accepted")
	}
	runGolden(t, g, oa, a, 2, 5)
	runGolden(t, g, ob, b, 2, 5)
	for i := range a {
		if !tensor.SameBits(a[i].Value.Data, b[i].Value.Data) {
			t.Errorf("parameter %d: a rejected LoadState changed the optimizer", i)
		}
	}
}
