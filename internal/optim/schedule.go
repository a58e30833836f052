package optim

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule gives the learning rate of each epoch, like a PyTorch scheduler
// stepped once per epoch: LR(base, e) is the rate in effect during epoch e
// (0-based), i.e. optimizer.param_groups[0]["lr"] after e calls of
// scheduler.step() on an optimizer created with lr=base. The training loop
// calls opt.SetLR(s.LR(base, epoch)) at the start of every epoch, which also
// makes a resumed run pick up the right rate without scheduler state.
//
// The values reproduce PyTorch's float64 arithmetic exactly for StepDecay
// and StepLR, and to within an ulp or two (math.Cos against C's cos) for
// Cosine.
type Schedule interface {
	// LR is the learning rate for epoch (0-based) given the base rate.
	LR(base float64, epoch int) float64
	// Validate reports a parameter that makes the schedule meaningless.
	Validate() error
	// String is the command-line form that ParseSchedule reads back.
	String() string
}

// Constant keeps the base rate (no scheduler).
type Constant struct{}

// LR implements Schedule.
func (Constant) LR(base float64, epoch int) float64 { return base }

// Validate implements Schedule.
func (Constant) Validate() error { return nil }

func (Constant) String() string { return "none" }

// StepDecay multiplies the rate by Gamma every Every epochs, computed in
// closed form: the tutorial's LambdaLR(optimizer, lambda e: Gamma ** (e //
// Every)), whose value is base * Gamma**(e//Every) with C's correctly
// rounded pow. The tutorial uses StepDecay{Gamma: 0.92, Every: 4}.
type StepDecay struct {
	Gamma float64 // factor per decay; > 0
	Every int     // epochs between decays; >= 1
}

// LR implements Schedule.
func (s StepDecay) LR(base float64, epoch int) float64 {
	if s.Every < 1 {
		panic(fmt.Sprintf("optim: %s: Every must be >= 1", s))
	}
	return base * powInt(s.Gamma, max(epoch, 0)/s.Every)
}

// Validate implements Schedule.
func (s StepDecay) Validate() error { return invalid(s, s.problem()) }

func (s StepDecay) problem() string {
	if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
		return "gamma must be finite and > 0"
	}
	if s.Every < 1 {
		return "the decay interval must be >= 1 epoch"
	}
	return ""
}

func (s StepDecay) String() string {
	return "step:" + formatFloat(s.Gamma) + ":" + strconv.Itoa(s.Every)
}

// StepLR is torch.optim.lr_scheduler.StepLR(step_size=StepSize,
// gamma=Gamma): the same decay as StepDecay, but PyTorch computes it by
// multiplying the current rate by Gamma at every StepSize-th step, so the
// value is ((base*Gamma)*Gamma)..., which can differ from base*Gamma**k in
// the last bit. This reproduces the repeated product.
type StepLR struct {
	StepSize int     // epochs between decays; >= 1
	Gamma    float64 // factor per decay; > 0
}

// LR implements Schedule.
func (s StepLR) LR(base float64, epoch int) float64 {
	if s.StepSize < 1 {
		panic(fmt.Sprintf("optim: %s: StepSize must be >= 1", s))
	}
	lr := base
	for k := max(epoch, 0) / s.StepSize; k > 0; k-- {
		lr *= s.Gamma
	}
	return lr
}

// Validate implements Schedule.
func (s StepLR) Validate() error { return invalid(s, s.problem()) }

func (s StepLR) problem() string {
	if s.StepSize < 1 {
		return "the step size must be >= 1 epoch"
	}
	if !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) {
		return "gamma must be finite and > 0"
	}
	return ""
}

func (s StepLR) String() string {
	return "steplr:" + strconv.Itoa(s.StepSize) + ":" + formatFloat(s.Gamma)
}

// Cosine is cosine annealing from the base rate down to EtaMin over TMax
// epochs, in the closed form of torch.optim.lr_scheduler.CosineAnnealingLR:
//
//	eta_min + (base - eta_min) * (1 + cos(pi * epoch / T_max)) / 2
//
// Past TMax the rate rises again along the cosine, as PyTorch's does.
// PyTorch's step() evaluates a recursive form that equals this up to
// rounding (a relative 1e-15 or so after 40 epochs).
type Cosine struct {
	TMax   int     // epochs of one half period; >= 1
	EtaMin float64 // the lowest rate; >= 0
}

// LR implements Schedule.
func (s Cosine) LR(base float64, epoch int) float64 {
	if s.TMax < 1 {
		panic(fmt.Sprintf("optim: %s: TMax must be >= 1", s))
	}
	// Python's evaluation order; the conversions keep Go from fusing.
	c := float64(1 + math.Cos(float64(math.Pi*float64(max(epoch, 0)))/float64(s.TMax)))
	return s.EtaMin + float64(float64((base-s.EtaMin)*c)/2)
}

// Validate implements Schedule.
func (s Cosine) Validate() error { return invalid(s, s.problem()) }

func (s Cosine) problem() string {
	if s.TMax < 1 {
		return "T_max must be >= 1 epoch"
	}
	if !(s.EtaMin >= 0) || math.IsInf(s.EtaMin, 0) {
		return "eta_min must be finite and >= 0"
	}
	return ""
}

// invalid turns a problem description into Validate's error.
func invalid(s Schedule, problem string) error {
	if problem == "" {
		return nil
	}
	return fmt.Errorf("optim: schedule %s: %s", s, problem)
}

func (s Cosine) String() string {
	if s.EtaMin == 0 {
		return "cosine:" + strconv.Itoa(s.TMax)
	}
	return "cosine:" + strconv.Itoa(s.TMax) + ":" + formatFloat(s.EtaMin)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// scheduleForms lists the accepted command-line forms for error messages.
const scheduleForms = `"step:GAMMA:EVERY" (e.g. step:0.92:4), "steplr:STEP_SIZE:GAMMA", "cosine:T_MAX[:ETA_MIN]" or "none"`

// ParseSchedule reads a command-line schedule:
//
//	step:0.92:4        StepDecay{Gamma: 0.92, Every: 4} (the tutorial's)
//	steplr:10:0.1      StepLR{StepSize: 10, Gamma: 0.1}
//	cosine:40          Cosine{TMax: 40}
//	cosine:40:1e-6     Cosine{TMax: 40, EtaMin: 1e-6}
//	none               Constant{} ("constant" is accepted too)
//
// Errors quote the whole string and say which part is wrong.
func ParseSchedule(s string) (Schedule, error) {
	a := &scheduleArgs{spec: s, parts: strings.Split(strings.TrimSpace(s), ":")}
	var sched Schedule
	switch name := a.parts[0]; strings.ToLower(name) {
	case "none", "constant":
		if !a.count(0, 0) {
			return nil, a.err
		}
		return Constant{}, nil
	case "step":
		if a.count(2, 2) {
			sched = StepDecay{Gamma: a.float(1, "gamma"), Every: a.epochs(2, "decay interval")}
		}
	case "steplr":
		if a.count(2, 2) {
			sched = StepLR{StepSize: a.epochs(1, "step size"), Gamma: a.float(2, "gamma")}
		}
	case "cosine":
		if a.count(1, 2) {
			c := Cosine{TMax: a.epochs(1, "T_max")}
			if len(a.parts) == 3 {
				c.EtaMin = a.float(2, "eta_min")
			}
			sched = c
		}
	case "":
		return nil, a.bad("empty schedule name; want %s", scheduleForms)
	default:
		return nil, a.bad("unknown schedule %q; want %s", name, scheduleForms)
	}
	if a.err != nil {
		return nil, a.err
	}
	if p := sched.(interface{ problem() string }).problem(); p != "" {
		return nil, a.bad("%s", p)
	}
	return sched, nil
}

// scheduleArgs reads the values after a schedule's name and keeps the
// first problem, so that each form of ParseSchedule is one expression and
// its error is the one for the leftmost bad value.
type scheduleArgs struct {
	spec  string
	parts []string // name, then values
	err   error
}

func (a *scheduleArgs) bad(format string, args ...any) error {
	return fmt.Errorf("optim: bad learning-rate schedule %q: %s", a.spec, fmt.Sprintf(format, args...))
}

// count reports whether the schedule has min to max values, recording the
// problem when not.
func (a *scheduleArgs) count(min, max int) bool {
	if n := len(a.parts) - 1; n < min || n > max {
		want := strconv.Itoa(min)
		if max != min {
			want += " or " + strconv.Itoa(max)
		}
		a.err = a.bad("%q takes %s values after the name, got %d (want %s)", a.parts[0], want, n, scheduleForms)
		return false
	}
	return true
}

// float is value i as a finite number.
func (a *scheduleArgs) float(i int, what string) float64 {
	v := a.parts[i]
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		a.fail(a.bad("%s %q is not a finite number", what, v))
	}
	return f
}

// epochs is value i as a whole number of epochs.
func (a *scheduleArgs) epochs(i int, what string) int {
	v := a.parts[i]
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		a.fail(a.bad("%s %q is not a whole number of epochs >= 1", what, v))
	}
	return n
}

func (a *scheduleArgs) fail(err error) {
	if a.err == nil {
		a.err = err
	}
}
