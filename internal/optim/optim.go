// Package optim holds starid's optimizers (SGD, Adam, AdamW), the L1/L2
// loss penalties of the tutorial and the per-epoch learning-rate schedules.
//
// Every update reproduces PyTorch 1.13's CPU arithmetic bit for bit, not
// just its formulas: the same float32 operations in the same order, with
// the same roundings. PyTorch's vectorized kernels fuse "a + alpha*b"
// (Tensor.add_ with alpha) and "self + value*t1*t2" (addcmul_) into one
// fused multiply-add, so the updates here use an exactly rounded float32
// FMA at those points and separately rounded operations everywhere else;
// scalars are computed in float64 and rounded to float32 where PyTorch
// passes them into a float32 kernel. The golden tests in this package hold
// the results to PyTorch's bits. Because each element's arithmetic is
// independent, results do not depend on GOMAXPROCS either (PyTorch's own
// results do, slightly: its non-vectorized tail loops sit at thread-chunk
// boundaries).
//
// Speed: an update streams every parameter, gradient and state value
// through memory once, split across the cores in chunks of 32K elements.
// On amd64 with AVX2 and FMA the Adam and SGD updates run in assembly
// kernels that execute PyTorch's own AVX2 instruction sequence (so the bits
// are the same as the pure-Go kernels', which tests check); other CPUs use
// the Go kernels, about ten times slower. An Adam step over VGG16's 134M
// parameters takes about 0.3 s on 2 cores; see BenchmarkStepVGG16.
//
// Usage mirrors PyTorch: build an optimizer over the model's parameters,
// then per batch run forward and backward (which accumulate into
// Param.Grad), Step, and ZeroGrad before the next batch; once per epoch set
// the learning rate from a Schedule.
//
// Parameters that are Frozen or have a nil Grad are skipped, as PyTorch
// skips parameters whose .grad is None; their state stays untouched.
package optim

import (
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"starid/internal/nn"
	"starid/internal/tensor"
)

// Optimizer updates parameters from their gradients (torch.optim.Optimizer
// with one parameter group).
type Optimizer interface {
	// Step applies one update from the current Param.Grad values. It fails
	// on an invalid configuration or when a gradient's or a loaded state's
	// shape no longer matches its parameter; parameters are then left
	// unchanged from the failing one on.
	Step() error
	// ZeroGrad sets every gradient to zero (PyTorch's zero_grad with
	// set_to_none=False, the 1.13 default).
	ZeroGrad()
	// LR is the current learning rate.
	LR() float64
	// SetLR changes the learning rate for the following steps, as a
	// scheduler does by writing param_group["lr"].
	SetLR(lr float64)
	// State returns the optimizer's state for a checkpoint: a flat map of
	// float32 tensors that a safetensors file can hold directly. See the
	// State naming section of the package documentation. The tensors alias
	// the optimizer's buffers (at VGG16 size Adam's state is 1 GB, and a
	// copy would only be written out and dropped), so write them out or
	// Clone them before the next Step.
	State() map[string]*tensor.Tensor
	// LoadState replaces the optimizer's state with a copy of one returned
	// by State on an optimizer of the same kind over parameters of the same
	// shapes, so that the next Step continues bit-identically. It checks
	// everything before changing anything: an entry that is missing, not
	// recognized, or of the wrong shape is an error that names it.
	LoadState(state map[string]*tensor.Tensor) error
}

// State naming. The names follow the structure of PyTorch's optimizer
// state_dict ({"state": {index: {"step": ..., "exp_avg": ...}}}), where the
// index is the parameter's position in the slice given to the constructor:
//
//	num_params                 [1]  how many parameters the optimizer was built over
//	state.<i>.step             [1]  Adam/AdamW: updates applied to parameter i so far
//	state.<i>.exp_avg          like parameter i: Adam's first moment
//	state.<i>.exp_avg_sq       like parameter i: Adam's second moment
//	state.<i>.momentum_buffer  like parameter i: SGD's momentum (momentum > 0 only)
//
// A parameter that has never been updated (frozen, or never given a
// gradient) has no entries, as in PyTorch. Counts are stored as float32,
// exact up to 2^24. Callers that store the state next to model weights in
// one file should add a prefix such as "optimizer.".
const (
	keyNumParams      = "num_params"
	keyStep           = "step"
	keyExpAvg         = "exp_avg"
	keyExpAvgSq       = "exp_avg_sq"
	keyMomentumBuffer = "momentum_buffer"
)

func stateKey(i int, name string) string { return "state." + strconv.Itoa(i) + "." + name }

// parseStateKey splits "state.<i>.<name>"; ok is false for anything else.
func parseStateKey(key string) (i int, name string, ok bool) {
	rest, found := strings.CutPrefix(key, "state.")
	if !found {
		return 0, "", false
	}
	idx, name, found := strings.Cut(rest, ".")
	if !found {
		return 0, "", false
	}
	i, err := strconv.Atoi(idx)
	if err != nil || i < 0 || strconv.Itoa(i) != idx {
		return 0, "", false
	}
	return i, name, true
}

// scalarTensor wraps a count as the 1-element tensor State uses.
func scalarTensor(v float64) *tensor.Tensor {
	return tensor.FromData([]float32{float32(v)}, 1)
}

// readCount reads a non-negative integer count stored by scalarTensor.
func readCount(state map[string]*tensor.Tensor, key string) (int, error) {
	t, ok := state[key]
	if !ok || t == nil {
		return 0, fmt.Errorf("optim: state has no %q entry", key)
	}
	if len(t.Data) != 1 {
		return 0, fmt.Errorf("optim: state entry %q has shape %s, want [1]", key, tensor.ShapeString(t.Shape))
	}
	v := float64(t.Data[0])
	if v < 0 || v != math.Trunc(v) || v >= 1<<24 {
		return 0, fmt.Errorf("optim: state entry %q is %v, want a whole number in [0, 2^24)", key, v)
	}
	return int(v), nil
}

// stateReader checks a state map against the parameters before anything is
// loaded, and remembers which entries were used so that leftovers (another
// optimizer's state, another model's) are reported.
type stateReader struct {
	state  map[string]*tensor.Tensor
	params []*nn.Param
	used   map[string]bool
}

func newStateReader(state map[string]*tensor.Tensor, params []*nn.Param) (*stateReader, error) {
	r := &stateReader{state: state, params: params, used: map[string]bool{keyNumParams: true}}
	n, err := readCount(state, keyNumParams)
	if err != nil {
		return nil, err
	}
	if n != len(params) {
		return nil, fmt.Errorf("optim: state is for %d parameters, optimizer has %d", n, len(params))
	}
	for key := range state {
		if key == keyNumParams {
			continue
		}
		i, _, ok := parseStateKey(key)
		if !ok {
			return nil, fmt.Errorf("optim: unrecognized state entry %q", key)
		}
		if i >= len(params) {
			return nil, fmt.Errorf("optim: state entry %q is for parameter %d, optimizer has %d", key, i, len(params))
		}
	}
	return r, nil
}

// has reports whether parameter i has entry name.
func (r *stateReader) has(i int, name string) bool {
	_, ok := r.state[stateKey(i, name)]
	return ok
}

// like returns entry name of parameter i, which must exist and have the
// parameter's shape.
func (r *stateReader) like(i int, name string) (*tensor.Tensor, error) {
	key := stateKey(i, name)
	t, ok := r.state[key]
	if !ok || t == nil {
		return nil, fmt.Errorf("optim: state has no %q entry for parameter %d (%q)", key, i, r.params[i].Name)
	}
	want := r.params[i].Value.Shape
	if !tensor.ShapeEq(t.Shape, want) || len(t.Data) != tensor.Numel(want) {
		return nil, fmt.Errorf("optim: state entry %q has shape %s, parameter %d (%q) has shape %s",
			key, tensor.ShapeString(t.Shape), i, r.params[i].Name, tensor.ShapeString(want))
	}
	r.used[key] = true
	return t, nil
}

// count returns the count entry name of parameter i.
func (r *stateReader) count(i int, name string) (int, error) {
	key := stateKey(i, name)
	r.used[key] = true
	return readCount(r.state, key)
}

// leftover reports the first entry (in sorted order, so the message is
// stable) that no parameter claimed.
func (r *stateReader) leftover(kind string) error {
	var extra []string
	for key := range r.state {
		if !r.used[key] {
			extra = append(extra, key)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	slices.Sort(extra)
	return fmt.Errorf("optim: state entry %q is not part of %s's state (%d unexpected entries)", extra[0], kind, len(extra))
}

// active reports whether Step updates p.
func active(p *nn.Param) bool { return !p.Frozen && p.Grad != nil }

// checkGradShape guards against a Grad that no longer matches its value;
// the kernels index both slices in lockstep.
func checkGradShape(i int, p *nn.Param) error {
	if !tensor.ShapeEq(p.Grad.Shape, p.Value.Shape) || len(p.Grad.Data) != len(p.Value.Data) {
		return fmt.Errorf("optim: parameter %d (%q): gradient shape %s does not match value shape %s",
			i, p.Name, tensor.ShapeString(p.Grad.Shape), tensor.ShapeString(p.Value.Shape))
	}
	return nil
}

// checkBufShape guards a state buffer against a parameter that changed shape
// after the buffer was created or loaded.
func checkBufShape(i int, p *nn.Param, name string, buf *tensor.Tensor) error {
	if len(buf.Data) != len(p.Value.Data) {
		return fmt.Errorf("optim: parameter %d (%q): %s has shape %s, value has shape %s",
			i, p.Name, name, tensor.ShapeString(buf.Shape), tensor.ShapeString(p.Value.Shape))
	}
	return nil
}

// zeroGrads clears the gradients, in parallel for big tensors: at VGG16
// size that is half a gigabyte per step.
func zeroGrads(params []*nn.Param) {
	for _, p := range params {
		if p.Grad != nil {
			g := p.Grad.Data
			forRange(len(g), func(lo, hi int) { clear(g[lo:hi]) })
		}
	}
}

// parallelGrain is the smallest chunk a parameter's update is split into:
// small enough that VGG16's big layers use every core, large enough that
// a goroutine hand-off (about a microsecond) is noise against the chunk's
// own time.
const parallelGrain = 1 << 15

// forRange runs fn over [0, n), split across the workers when n is large.
func forRange(n int, fn func(lo, hi int)) {
	tensor.ParallelMin(n, parallelGrain, fn)
}

// fma32 returns a*b + c rounded once to float32, as the FMA instructions in
// PyTorch's vectorized kernels compute it. The float64 product of two
// float32 values is exact, so the float64 sum has a single rounding; the
// float32 conversion then rounds a second time, which can only go wrong when
// the float64 sum lands exactly halfway between two float32 values while
// the exact sum does not (see nearTie).
//
// The hot loops spell fma32 out, because a function that contains a call
// is too expensive for Go's inliner:
//
//	s := float64(a)*float64(b) + float64(c)
//	r := float32(s)
//	if nearTie(s) {
//		r = fma32Slow(a, b, c)
//	}
func fma32(a, b, c float32) float32 {
	s := float64(a)*float64(b) + float64(c)
	if nearTie(s) {
		return fma32Slow(a, b, c)
	}
	return float32(s)
}

// nearTie reports whether float32(s) might round differently from the
// exact value s approximates: s is a float32 tie (the 29 bits below float32
// precision are 1000...0), or below float32's normal range, where the tie
// bit sits elsewhere. Either is rare enough to send to fma32Slow.
func nearTie(s float64) bool {
	return math.Float64bits(s)&(1<<29-1) == 1<<28 || math.Abs(s) < 0x1p-126
}

// fma32Slow is fma32 for sums near a float32 tie or below float32's
// normal range.
func fma32Slow(a, b, c32 float32) float32 {
	p, c := float64(a)*float64(b), float64(c32)
	s := p + c
	// TwoSum: e is exactly (p + c) - s.
	pp := s - c
	e := (p - pp) + (c - (s - pp))
	f := float32(s)
	if e == 0 || math.IsInf(s, 0) || math.IsNaN(s) || float64(f) == s {
		return f
	}
	// Is s exactly halfway between f and its neighbour on s's side? Both
	// are float32, so their float64 sum is exact.
	var g float32
	if s > float64(f) {
		g = math.Nextafter32(f, float32(math.Inf(1)))
	} else {
		g = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	if float64(f)+float64(g) != 2*s {
		return f
	}
	// Halfway in float64 but not in exact arithmetic: step one float64 ulp
	// towards the exact value, off the tie.
	return float32(math.Nextafter(s, math.Inf(int(math.Copysign(1, e)))))
}

// powInt returns x**n correctly rounded, as C's pow (which Python's **
// calls) returns it; math.Pow's repeated squaring can be an ulp or two off,
// and the bias corrections and decay factors must match PyTorch's bits.
// It is called once per step or epoch, so big.Float's cost is irrelevant.
func powInt(x float64, n int) float64 {
	if n < 0 {
		return 1 / powInt(x, -n)
	}
	const prec = 256
	result := new(big.Float).SetPrec(prec).SetFloat64(1)
	base := new(big.Float).SetPrec(prec).SetFloat64(x)
	for ; n > 0; n >>= 1 {
		if n&1 == 1 {
			result.Mul(result, base)
		}
		base.Mul(base, base)
	}
	f, _ := result.Float64()
	return f
}
