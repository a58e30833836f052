package optim

import (
	"math"
	"strings"
	"testing"
)

// TestScheduleGolden compares every schedule with the rates PyTorch's
// schedulers produced over 45 epochs. StepDecay (LambdaLR), StepLR and
// Constant must match exactly; Cosine's closed form must match PyTorch's
// closed form to an ulp or so (math.Cos against C's cos) and the recursive
// form that CosineAnnealingLR.step() evaluates to rounding.
func TestScheduleGolden(t *testing.T) {
	g := mustGolden(t)
	eachGolden(t, g.Schedules, 6, "schedules", func(sc goldenSchedule) string { return sc.Spec }, func(t *testing.T, sc goldenSchedule) {
		s, err := ParseSchedule(sc.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if len(sc.Stepped) != 45 {
			t.Fatalf("%d epochs of golden data, want 45", len(sc.Stepped))
		}
		_, cosine := s.(Cosine)
		for e, want := range sc.Stepped {
			got := s.LR(sc.BaseLR, e)
			switch {
			case !cosine && got != want:
				t.Errorf("epoch %d: LR %v, PyTorch %v", e, got, want)
			case cosine && math.Abs(got-want) > 1e-12*sc.BaseLR:
				t.Errorf("epoch %d: LR %v, PyTorch's stepped value %v", e, got, want)
			}
		}
		for e, want := range sc.ClosedForm {
			if got := s.LR(sc.BaseLR, e); math.Abs(got-want) > 4e-16*sc.BaseLR {
				t.Errorf("epoch %d: LR %v, PyTorch's closed form %v", e, got, want)
			}
		}
	})
}

func TestScheduleValues(t *testing.T) {
	cases := []struct {
		s     Schedule
		base  float64
		epoch int
		want  float64
	}{
		{StepDecay{Gamma: 0.92, Every: 4}, 1e-4, 0, 1e-4},
		{StepDecay{Gamma: 0.92, Every: 4}, 1e-4, 3, 1e-4},
		{StepDecay{Gamma: 0.92, Every: 4}, 1e-4, 4, 1e-4 * 0.92},
		{StepDecay{Gamma: 0.5, Every: 4}, 1, 39, 1.0 / 512},
		{StepDecay{Gamma: 0.5, Every: 1}, 1, -3, 1}, // before the first epoch: the base rate
		{StepLR{StepSize: 10, Gamma: 0.5}, 2, 9, 2},
		{StepLR{StepSize: 10, Gamma: 0.5}, 2, 10, 1},
		{StepLR{StepSize: 10, Gamma: 0.5}, 2, 35, 0.25},
		{Cosine{TMax: 40}, 1, 0, 1},
		{Cosine{TMax: 40}, 1, 20, 0.5},
		{Cosine{TMax: 40}, 1, 40, 0},
		{Cosine{TMax: 40, EtaMin: 0.1}, 1, 40, 0.1},
		{Cosine{TMax: 40, EtaMin: 0.1}, 1, 80, 1}, // a full period later, back at the base rate
		{Constant{}, 0.3, 17, 0.3},
	}
	for _, c := range cases {
		if got := c.s.LR(c.base, c.epoch); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%s.LR(%v, %d) = %v, want %v", c.s, c.base, c.epoch, got, c.want)
		}
	}
}

func TestParseScheduleRoundTrip(t *testing.T) {
	cases := map[string]Schedule{
		"step:0.92:4":     StepDecay{Gamma: 0.92, Every: 4},
		" step:0.92:4 ":   StepDecay{Gamma: 0.92, Every: 4},
		"STEP:0.5:1":      StepDecay{Gamma: 0.5, Every: 1},
		"steplr:10:0.1":   StepLR{StepSize: 10, Gamma: 0.1},
		"cosine:40":       Cosine{TMax: 40},
		"cosine:40:1e-6":  Cosine{TMax: 40, EtaMin: 1e-6},
		"cosine:40:0":     Cosine{TMax: 40},
		"none":            Constant{},
		"constant":        Constant{},
		"steplr:3:1.5":    StepLR{StepSize: 3, Gamma: 1.5}, // growth is allowed, as in PyTorch
		"step:1:7":        StepDecay{Gamma: 1, Every: 7},
		"cosine:1:0.0001": Cosine{TMax: 1, EtaMin: 1e-4},
	}
	for in, want := range cases {
		got, err := ParseSchedule(in)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("ParseSchedule(%q) = %#v, want %#v", in, got, want)
		}
		again, err := ParseSchedule(got.String())
		if err != nil || again != got {
			t.Errorf("ParseSchedule(%q.String() = %q) = %#v, %v", in, got.String(), again, err)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("%q: Validate: %v", in, err)
		}
	}
}

func TestParseScheduleErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "empty schedule name"},
		{"exp:0.9", `unknown schedule "exp"`},
		{"step", `"step" takes 2 values after the name, got 0`},
		{"step:0.92", "got 1"},
		{"step:0.92:4:1", "got 3"},
		{"step:x:4", `gamma "x" is not a finite number`},
		{"step:inf:4", `gamma "inf" is not a finite number`},
		{"step:NaN:4", `gamma "NaN"`},
		{"step:0.92:0", `decay interval "0" is not a whole number of epochs >= 1`},
		{"step:0.92:2.5", `decay interval "2.5"`},
		{"step:-0.5:4", "gamma must be finite and > 0"},
		{"step:0:4", "gamma must be finite and > 0"},
		{"steplr:0:0.1", `step size "0"`},
		{"steplr:10:abc", `gamma "abc"`},
		{"steplr:10:-1", "gamma must be finite and > 0"},
		{"cosine", `"cosine" takes 1 or 2 values after the name, got 0`},
		{"cosine:40:1:2", "got 3"},
		{"cosine:-4", `T_max "-4"`},
		{"cosine:forty", `T_max "forty"`},
		{"cosine:40:-1e-6", "eta_min must be finite and >= 0"},
		{"none:3", `"none" takes 0 values after the name, got 1`},
	}
	for _, c := range cases {
		s, err := ParseSchedule(c.in)
		if err == nil {
			t.Errorf("ParseSchedule(%q) = %v, want an error", c.in, s)
			continue
		}
		msg := err.Error()
		// Every message quotes the whole string, so the user sees which flag value was wrong.
		if !strings.Contains(msg, `"`+c.in+`"`) || !strings.Contains(msg, c.want) {
			t.Errorf("ParseSchedule(%q) error %q, want it to quote the input and contain %q", c.in, msg, c.want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, s := range []Schedule{
		StepDecay{Gamma: 0.9}, StepDecay{Gamma: math.Inf(1), Every: 1}, StepLR{Gamma: 0.1},
		StepLR{StepSize: 2, Gamma: -1}, Cosine{}, Cosine{TMax: 3, EtaMin: math.NaN()},
	} {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), s.String()) {
			t.Errorf("%#v.Validate() = %v, want an error naming %s", s, err, s)
		}
	}
}
