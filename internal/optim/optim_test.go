package optim

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// golden is testdata/golden.json, written by testdata/gen_golden.py with
// PyTorch 1.13.
type golden struct {
	TorchVersion   string            `json:"torch_version"`
	Steps          int               `json:"steps"`
	LRChangeStep   int               `json:"lr_change_step"`
	LRChangeFactor float64           `json:"lr_change_factor"`
	Shapes         [][]int           `json:"shapes"`
	Init           []f32list         `json:"init"`
	Grads          [][]f32list       `json:"grads"` // [step][param], nil for no gradient
	Optimizers     []goldenOptimizer `json:"optimizers"`
	Schedules      []goldenSchedule  `json:"schedules"`
}

// goldenOptimizer is one optimizer configuration and PyTorch's parameters
// after each of its steps.
type goldenOptimizer struct {
	Name      string         `json:"name"`
	Kind      string         `json:"kind"`
	Config    map[string]any `json:"config"`
	AfterStep [][]f32list    `json:"after_step"` // [step][param]
}

// goldenSchedule is one schedule and the rates PyTorch's scheduler gave.
type goldenSchedule struct {
	Spec       string    `json:"spec"`
	BaseLR     float64   `json:"base_lr"`
	Stepped    []float64 `json:"stepped"`
	ClosedForm []float64 `json:"closed_form"`
}

// eachGolden runs fn as a subtest (named by name) per golden case, after
// checking that the golden file holds at least least of them: a generator
// that lost cases would otherwise pass unnoticed.
func eachGolden[T any](t *testing.T, cases []T, least int, what string, name func(T) string, fn func(*testing.T, T)) {
	t.Helper()
	if len(cases) < least {
		t.Fatalf("golden data has only %d %s", len(cases), what)
	}
	for _, c := range cases {
		t.Run(name(c), func(t *testing.T) { fn(t, c) })
	}
}

var loadGolden = sync.OnceValues(func() (*golden, error) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		return nil, err
	}
	g := new(golden)
	return g, json.Unmarshal(b, g)
})

func mustGolden(t testing.TB) *golden {
	t.Helper()
	g, err := loadGolden()
	if err != nil {
		t.Fatalf("golden data (regenerate with /usr/bin/python3 testdata/gen_golden.py): %v", err)
	}
	return g
}

// f32list reads the generator's float32 decimals directly as float32:
// going through float64 could round twice.
type f32list []float32

func (l *f32list) UnmarshalJSON(b []byte) error {
	var nums []json.Number
	if err := json.Unmarshal(b, &nums); err != nil {
		return err
	}
	if nums == nil {
		*l = nil
		return nil
	}
	*l = make(f32list, len(nums))
	for i, n := range nums {
		v, err := strconv.ParseFloat(string(n), 32)
		if err != nil {
			return err
		}
		(*l)[i] = float32(v)
	}
	return nil
}

// f32s copies a golden list, so that tests never write into the golden data.
func f32s(v f32list) []float32 { return append([]float32(nil), v...) }

// params builds the golden parameters with the initial values.
func (g *golden) params() []*nn.Param {
	ps := make([]*nn.Param, len(g.Shapes))
	for i, shape := range g.Shapes {
		ps[i] = nn.NewParam("p"+string(rune('0'+i)), shape...)
		copy(ps[i].Value.Data, f32s(g.Init[i]))
	}
	return ps
}

// setGrads installs step s's gradients; a missing one becomes a nil Grad.
func (g *golden) setGrads(ps []*nn.Param, s int) {
	for i, p := range ps {
		if g.Grads[s][i] == nil {
			p.Grad = nil
			continue
		}
		p.Grad = tensor.FromData(f32s(g.Grads[s][i]), p.Value.Shape...)
	}
}

// newFromGolden builds the optimizer a golden configuration describes.
func newFromGolden(t testing.TB, kind string, cfg map[string]any, ps []*nn.Param) Optimizer {
	t.Helper()
	num := func(k string) float64 {
		v, _ := cfg[k].(float64)
		return v
	}
	switch kind {
	case "sgd":
		nest, _ := cfg["nesterov"].(bool)
		return NewSGD(ps, SGDConfig{LR: num("lr"), Momentum: num("momentum"), Dampening: num("dampening"),
			Nesterov: nest, WeightDecay: num("weight_decay")})
	case "adam", "adamw":
		c := AdamConfig{LR: num("lr"), Beta1: num("beta1"), Beta2: num("beta2"), Eps: num("eps"), WeightDecay: num("weight_decay")}
		if kind == "adamw" {
			return NewAdamW(ps, c)
		}
		return NewAdam(ps, c)
	}
	t.Fatalf("unknown optimizer kind %q", kind)
	return nil
}

// TestGoldenPyTorch replays every golden configuration and requires the
// parameters after each step to equal PyTorch's bit for bit (and, so that
// a failure says how far off it is, reports the largest relative error).
func TestGoldenPyTorch(t *testing.T) {
	g := mustGolden(t)
	eachGolden(t, g.Optimizers, 10, "optimizer runs", func(oc goldenOptimizer) string { return oc.Name }, func(t *testing.T, oc goldenOptimizer) {
		ps := g.params()
		opt := newFromGolden(t, oc.Kind, oc.Config, ps)
		for s := 0; s < g.Steps; s++ {
			if s == g.LRChangeStep {
				opt.SetLR(opt.LR() * g.LRChangeFactor)
			}
			g.setGrads(ps, s)
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
			for i, p := range ps {
				want := f32s(oc.AfterStep[s][i])
				if i == 3 && s == 0 && !tensor.SameBits(p.Value.Data, f32s(g.Init[i])) {
					t.Errorf("parameter %d has no gradient but changed", i)
				}
				mismatches, worst := 0, 0.0
				for j, v := range p.Value.Data {
					if math.Float32bits(v) != math.Float32bits(want[j]) {
						mismatches++
					}
					worst = max(worst, relErr(float64(v), float64(want[j])))
				}
				if worst > 1e-6 {
					t.Fatalf("step %d parameter %d: max relative error %.3g vs PyTorch", s+1, i, worst)
				}
				if mismatches > 0 {
					t.Errorf("step %d parameter %d: %d of %d values differ from PyTorch in the last bits (max rel %.3g)",
						s+1, i, mismatches, len(want), worst)
				}
			}
		}
	})
}

func relErr(a, b float64) float64 {
	d := math.Abs(a - b)
	if d == 0 {
		return 0
	}
	return d / max(math.Abs(a), math.Abs(b), 1e-30)
}

// TestSkipsFrozenAndNilGrad: frozen parameters keep their values even with
// a gradient, and nil gradients are skipped rather than dereferenced.
func TestSkipsFrozenAndNilGrad(t *testing.T) {
	mk := func() []*nn.Param {
		frozen := nn.NewParam("frozen", 3)
		frozen.EnsureGrad() // a gradient from before it was frozen
		frozen.Frozen = true
		nograd := nn.NewParam("nograd", 2)
		live := nn.NewParam("live", 2)
		live.EnsureGrad()
		for _, p := range []*nn.Param{frozen, nograd, live} {
			p.Value.Fill(1)
			if p.Grad != nil {
				p.Grad.Fill(0.5)
			}
		}
		return []*nn.Param{frozen, nograd, live}
	}
	opts := map[string]func([]*nn.Param) Optimizer{
		"sgd":   func(ps []*nn.Param) Optimizer { return NewSGD(ps, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.1}) },
		"adam":  func(ps []*nn.Param) Optimizer { return NewAdam(ps, AdamConfig{LR: 0.1, WeightDecay: 0.1}) },
		"adamw": func(ps []*nn.Param) Optimizer { return NewAdamW(ps, AdamConfig{LR: 0.1, WeightDecay: 0.1}) },
	}
	for name, mkOpt := range opts {
		ps := mk()
		opt := mkOpt(ps)
		for range 2 {
			if err := opt.Step(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		for _, p := range ps[:2] {
			for _, v := range p.Value.Data {
				if v != 1 {
					t.Errorf("%s: %s changed to %v", name, p.Name, v)
				}
			}
		}
		if ps[2].Value.Data[0] == 1 {
			t.Errorf("%s: the live parameter did not move", name)
		}
		st := opt.State()
		for key := range st {
			if i, _, ok := parseStateKey(key); ok && i != 2 {
				t.Errorf("%s: state entry %q for a skipped parameter", name, key)
			}
		}
	}
}

func TestZeroGrad(t *testing.T) {
	big := nn.NewParam("big", 3*parallelGrain+5) // split across workers
	small := nn.NewParam("small", 3)
	nograd := nn.NewBuffer("buf", 2)
	big.EnsureGrad()
	small.EnsureGrad()
	big.Grad.Fill(2)
	small.Grad.Fill(3)
	for _, opt := range []Optimizer{NewSGD([]*nn.Param{big, small, nograd}, SGDConfig{LR: 1}),
		NewAdam([]*nn.Param{big, small, nograd}, AdamConfig{LR: 1})} {
		opt.ZeroGrad()
		for _, p := range []*nn.Param{big, small} {
			for j, v := range p.Grad.Data {
				if v != 0 {
					t.Fatalf("%T: %s grad[%d] = %v after ZeroGrad", opt, p.Name, j, v)
				}
			}
		}
		big.Grad.Fill(1)
	}
}

func TestStepErrors(t *testing.T) {
	bad := nn.NewParam("weight", 2, 3)
	bad.Grad = tensor.New(3, 2)
	ok := func() []*nn.Param { return []*nn.Param{nn.NewParam("w", 2)} }
	cases := []struct {
		name string
		opt  Optimizer
		want string
	}{
		{"sgd grad shape", NewSGD([]*nn.Param{bad}, SGDConfig{LR: 0.1}), `parameter 0 ("weight"): gradient shape [3, 2] does not match value shape [2, 3]`},
		{"adam grad shape", NewAdam([]*nn.Param{bad}, AdamConfig{LR: 0.1}), `gradient shape [3, 2]`},
		{"sgd negative lr", NewSGD(ok(), SGDConfig{LR: -1}), "learning rate -1"},
		{"sgd nesterov without momentum", NewSGD(ok(), SGDConfig{LR: 1, Nesterov: true}), "Nesterov"},
		{"sgd nesterov with dampening", NewSGD(ok(), SGDConfig{LR: 1, Momentum: 0.9, Dampening: 0.1, Nesterov: true}), "Nesterov"},
		{"sgd nan momentum", NewSGD(ok(), SGDConfig{LR: 1, Momentum: math.NaN()}), "momentum NaN"},
		{"sgd negative wd", NewSGD(ok(), SGDConfig{LR: 1, WeightDecay: -1}), "weight decay -1"},
		{"adam beta1", NewAdam(ok(), AdamConfig{LR: 1, Beta1: 1}), "beta1 1 must be in [0, 1)"},
		{"adam beta2", NewAdamW(ok(), AdamConfig{LR: 1, Beta2: -0.5}), "beta2 -0.5"},
		{"adam eps", NewAdam(ok(), AdamConfig{LR: 1, Eps: math.Inf(1)}), "eps +Inf"},
		{"adam inf lr", NewAdam(ok(), AdamConfig{LR: math.Inf(1)}), "learning rate +Inf"},
		{"adam wd", NewAdamW(ok(), AdamConfig{LR: 1, WeightDecay: -0.1}), "weight decay -0.1"},
	}
	for _, c := range cases {
		err := c.opt.Step()
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// SetLR revalidates: a bad rate is reported, a good one clears it.
	o := NewAdam(ok(), AdamConfig{LR: 1})
	o.SetLR(math.NaN())
	if o.Step() == nil {
		t.Error("Step after SetLR(NaN) succeeded")
	}
	o.SetLR(0.5)
	if err := o.Step(); err != nil || o.LR() != 0.5 {
		t.Errorf("after SetLR(0.5): err %v, LR %v", err, o.LR())
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestFMA32 holds fma32 to the exactly rounded a*b+c, computed with
// big.Float, on random inputs and on constructed cases where the float64
// sum lands on a float32 tie that the exact sum does not.
func TestFMA32(t *testing.T) {
	exact := func(a, b, c float32) float32 {
		p := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		p.Mul(p, new(big.Float).SetFloat64(float64(b)))
		p.Add(p, new(big.Float).SetFloat64(float64(c)))
		f, _ := p.Float32()
		return f
	}
	one := float32(1)
	ulp := math.Nextafter32(one, 2) - one // 2^-23
	cases := [][3]float32{
		// a*b = 2^-24 - 2^-70, c = 1 + 2^-23 (odd): the float64 sum is the
		// tie 1 + 2^-23 + 2^-24, which rounds to even (up); the exact sum
		// is just below it and must round down.
		{(1 + ulp) * 0x1p-40, (1 - ulp) * 0x1p16, 1 + ulp},
		{-(1 + ulp) * 0x1p-40, (1 - ulp) * 0x1p16, -(1 + ulp)},
		{(1 + ulp) * 0x1p-40, -(1 - ulp) * 0x1p16, 1 + 3*ulp},
		{0x1p-80, 0x1p-60, 0x1p-149}, // float32 subnormal range
		{3, 5, -15},
		{float32(math.Inf(1)), 2, 1},
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		a := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
		b := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
		c := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(60)-30)))
		cases = append(cases, [3]float32{a, b, c})
	}
	naiveWrong := 0
	for _, c := range cases {
		got, want := fma32(c[0], c[1], c[2]), exact(c[0], c[1], c[2])
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Errorf("fma32(%g, %g, %g) = %g, want %g", c[0], c[1], c[2], got, want)
		}
		if float32(float64(c[0])*float64(c[1])+float64(c[2])) != want {
			naiveWrong++
		}
	}
	if naiveWrong == 0 {
		t.Error("no case exercises the double-rounding correction")
	}
}

func TestPowInt(t *testing.T) {
	for _, c := range []struct {
		x    float64
		n    int
		want float64
	}{
		{0.5, 10, 1.0 / 1024}, {2, 0, 1}, {0.92, 1, 0.92}, {3, 4, 81}, {2, -3, 0.125}, {0.9, 2, 0.81},
	} {
		if got := powInt(c.x, c.n); got != c.want {
			t.Errorf("powInt(%v, %d) = %v, want %v", c.x, c.n, got, c.want)
		}
	}
	// 0.999**3 rounded correctly (C's pow agrees); repeated float64
	// multiplication rounds twice.
	if got, want := powInt(0.999, 3), 0.997002999; math.Abs(got-want) > 2e-16 {
		t.Errorf("powInt(0.999, 3) = %v, want about %v", got, want)
	}
}
