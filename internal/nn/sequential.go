package nn

import (
	"fmt"
	"strconv"
	"time"

	"starid/internal/tensor"
)

// Sequential runs its layers in order (PyTorch's nn.Sequential). Names are
// the state_dict names of the children: "0", "1", ... by default, or given
// ("block1", "classifier").
type Sequential struct {
	Names  []string
	Layers []Layer
	// NeedInputGrad says whether Backward must return dL/dx for the network
	// input. A network whose input is an image does not need it; setting it
	// false lets the first layer skip that work (see InputGradSkipper).
	NeedInputGrad bool
	// NoArena makes every layer inside keep its own output and gradient
	// buffers, as layers used alone do, instead of sharing the top-level
	// Sequential's arena (see the package documentation, Memory). It costs
	// about one activation per layer and is for callers that need Backward
	// after an evaluation-mode Forward, or the results to outlive the next
	// call. Only the top-level Sequential's setting counts.
	NoArena bool

	training bool
	own      Arena // the arena of a top-level Sequential
	nested   bool  // a parent Sequential set use
	use      ArenaUse
	reserved []int // input shape the arena and scratch were last sized for
	// reservedTraining: they were sized for training (Backward included).
	reservedTraining bool
	// stale says why Backward would read overwritten inputs, if it would.
	stale staleReason
	// profile, when set by SetProfile, receives each layer's pass times;
	// profilePath is this Sequential's path prefix in it.
	profile     *LayerProfile
	profilePath string
	// out is a top-level Sequential's last output, which its caller holds
	// (ArenaUse.Keep).
	out []float32
	// fused[i]: layer i is a ReLU whose Backward the last Forward's plan
	// gave to a neighbour (fuse.go).
	fused []bool
}

// staleReason is why the arena makes Backward impossible until the next
// training-mode Forward.
type staleReason int

const (
	fresh         staleReason = iota
	afterEval                 // the last Forward ran in evaluation mode
	afterBackward             // Backward already ran
)

// NewSequential numbers its layers "0", "1", ... like PyTorch.
func NewSequential(layers ...Layer) *Sequential {
	names := make([]string, len(layers))
	for i := range layers {
		names[i] = strconv.Itoa(i)
	}
	return &Sequential{Names: names, Layers: layers, NeedInputGrad: true}
}

// NewNamedSequential pairs names with layers; it panics when the counts
// differ, which is a programming error in a model definition.
func NewNamedSequential(names []string, layers []Layer) *Sequential {
	if len(names) != len(layers) {
		panic(fmt.Sprintf("nn.NewNamedSequential: %d names for %d layers", len(names), len(layers)))
	}
	return &Sequential{Names: append([]string(nil), names...), Layers: layers, NeedInputGrad: true}
}

// Children implements Container.
func (s *Sequential) Children() ([]string, []Layer) { return s.Names, s.Layers }

// Forward implements Layer.
func (s *Sequential) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	s.propagateInputGrad()
	arena := s.arena()
	if !s.nested {
		s.reserve(arena, x.Shape)
	}
	s.stale = fresh
	if arena != nil && !s.training {
		s.stale = afterEval
	}
	clear(s.fused)
	var err error
	for i := 0; i < len(s.Layers); i++ {
		l := s.Layers[i]
		if u, ok := l.(ArenaUser); ok {
			u.UseArena(s.childUse(arena, i))
		}
		s.planMask(i)
		act := s.fusedAct(i)
		t0, in := time.Now(), x.Shape
		if s.profile != nil {
			in = append([]int(nil), in...) // an in-place layer may reshape x
		}
		if x, err = l.Forward(x); err != nil {
			return nil, atPath(s.Names[i], err)
		}
		if s.profile != nil {
			s.profile.record(s.profilePath+s.Names[i], l, in, false, time.Since(t0))
		}
		s.markFused(i, act, x)
		if act != nil {
			i++ // done by layer i
			if s.profile != nil {
				s.profile.recordFused(s.profilePath+s.Names[i], act, false)
			}
		}
	}
	if !s.nested {
		s.out = x.Data
	}
	return x, nil
}

// reserve sizes, once per input shape and mode, the arena's preferred
// slot for the largest tensor and the convolutions' shared scratch for the
// largest layer (reserve.go): growing them layer by layer would leave the
// smaller buffers as garbage that the collector frees only after the peak.
func (s *Sequential) reserve(arena *Arena, in []int) {
	if tensor.ShapeEq(s.reserved, in) && s.reservedTraining == s.training {
		return
	}
	if arena != nil {
		n, err := largestTensor(s, in, s.NeedInputGrad)
		if err != nil {
			return // Forward reports the shape error with the layer's path
		}
		arena.Reserve(n)
	}
	need, err := scratchNeeds(s, in, s.training)
	if err != nil {
		return
	}
	need.reserve()
	s.reserved, s.reservedTraining = append(s.reserved[:0], in...), s.training
}

// Backward implements Layer.
func (s *Sequential) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	switch s.stale {
	case afterEval:
		return nil, fmt.Errorf("%s: Backward after an evaluation-mode Forward needs NoArena (the saved inputs were shared buffers)", s)
	case afterBackward:
		return nil, fmt.Errorf("%s: a second Backward after one Forward needs NoArena (the first one overwrote the saved activations)", s)
	}
	arena := s.arena()
	if arena != nil {
		s.stale = afterBackward
	}
	var err error
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if u, ok := s.Layers[i].(ArenaUser); ok {
			u.UseArena(s.childUse(arena, i))
		}
		if s.skipsBackward(i) {
			if s.profile != nil {
				s.profile.recordFused(s.profilePath+s.Names[i], s.Layers[i], true)
			}
			continue // the layer before applies this ReLU's mask
		}
		t0 := time.Now()
		if dy, err = s.Layers[i].Backward(dy); err != nil {
			return nil, atPath(s.Names[i], err)
		}
		if s.profile != nil {
			s.profile.record(s.profilePath+s.Names[i], s.Layers[i], nil, true, time.Since(t0))
		}
		if dy == nil && i > 0 {
			return nil, fmt.Errorf("%s: layer returned no input gradient but is not the first layer", s.Names[i])
		}
	}
	return dy, nil
}

// UseArena implements ArenaUser: a nested Sequential shares its parent's
// arena (none when the parent has NoArena) instead of owning one.
func (s *Sequential) UseArena(u ArenaUse) { s.use, s.nested = u, true }

// arena returns the arena the children use, nil for none.
func (s *Sequential) arena() *Arena {
	switch {
	case s.nested:
		return s.use.Arena
	case s.NoArena:
		return nil
	}
	return &s.own
}

// childUse is what child i may do with its output: the last child's output
// is this Sequential's; every other one feeds the next child, which may
// drop it after Forward, and is dead once that child's Backward ran.
func (s *Sequential) childUse(arena *Arena, i int) ArenaUse {
	keep := s.out
	if s.nested {
		keep = s.use.Keep
	}
	if i+1 == len(s.Layers) {
		return ArenaUse{Arena: arena, OutputFree: s.use.OutputFree, OutputDead: s.use.OutputDead, Keep: keep}
	}
	d, ok := s.Layers[i+1].(inputDropper)
	return ArenaUse{Arena: arena, OutputFree: ok && d.dropsInput(), OutputDead: true, Keep: keep}
}

// dropsInput implements inputDropper: a Sequential keeps its input exactly
// when its first layer does.
func (s *Sequential) dropsInput() bool {
	if len(s.Layers) == 0 {
		return false // the input is the output
	}
	d, ok := s.Layers[0].(inputDropper)
	return ok && d.dropsInput()
}

// largestTensor is the largest number of values any layer inside l takes
// from the arena for input shape in: an output, or an input gradient (which
// has the shape of the previous output, or of the network input when that
// gradient is wanted).
func largestTensor(l Layer, in []int, inputGrad bool) (int, error) {
	n := 0
	if inputGrad {
		n = tensor.Numel(in)
	}
	err := walkLeaves(l, in, func(_ Layer, _, out []int) { n = max(n, tensor.Numel(out)) })
	return n, err
}

// walkLeaves calls visit for every leaf layer inside l, in order, with its
// input and output shapes for the network input shape in.
func walkLeaves(l Layer, in []int, visit func(l Layer, in, out []int)) error {
	var walk func(l Layer, in []int) ([]int, error)
	walk = func(l Layer, in []int) ([]int, error) {
		if c, ok := l.(Container); ok {
			_, layers := c.Children()
			var err error
			for _, child := range layers {
				if in, err = walk(child, in); err != nil {
					return nil, err
				}
			}
			return in, nil
		}
		out, err := l.OutputShape(in)
		if err != nil {
			return nil, err
		}
		visit(l, in, out)
		return out, nil
	}
	_, err := walk(l, in)
	return err
}

// propagateInputGrad tells the first layer that does real work whether it
// must produce dL/dx. Layers before it that pass gradients through unchanged
// (none in our models) are not looked through.
func (s *Sequential) propagateInputGrad() {
	if len(s.Layers) == 0 {
		return
	}
	switch first := s.Layers[0].(type) {
	case *Sequential:
		first.NeedInputGrad = s.NeedInputGrad
	case InputGradSkipper:
		first.SetNeedInputGrad(s.NeedInputGrad)
	}
}

// OutputShape implements Layer.
func (s *Sequential) OutputShape(in []int) ([]int, error) {
	var err error
	for i, l := range s.Layers {
		if in, err = l.OutputShape(in); err != nil {
			return nil, atPath(s.Names[i], err)
		}
	}
	return in, nil
}

// Params implements Layer: the children's parameters in order.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Buffers implements Layer.
func (s *Sequential) Buffers() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Buffers()...)
	}
	return ps
}

// SetTraining implements Layer.
func (s *Sequential) SetTraining(training bool) {
	s.training = training
	for _, l := range s.Layers {
		l.SetTraining(training)
	}
}

func (s *Sequential) String() string { return "Sequential" }

// NamedTensor is one state_dict entry.
type NamedTensor struct {
	Name  string // full dotted name, e.g. "block1.0.weight"
	Param *Param
}

// StateDict lists every parameter and buffer of l under PyTorch's dotted
// names, in PyTorch's order (each module's own parameters, then its own
// buffers, then its children in order).
func StateDict(l Layer) []NamedTensor {
	var out []NamedTensor
	var walk func(prefix string, l Layer)
	walk = func(prefix string, l Layer) {
		if c, ok := l.(Container); ok {
			names, layers := c.Children()
			for i, child := range layers {
				walk(prefix+names[i]+".", child)
			}
			return
		}
		for _, p := range l.Params() {
			out = append(out, NamedTensor{Name: prefix + p.Name, Param: p})
		}
		for _, p := range l.Buffers() {
			out = append(out, NamedTensor{Name: prefix + p.Name, Param: p})
		}
	}
	walk("", l)
	return out
}

// ZeroGrad clears every parameter gradient of l.
func ZeroGrad(l Layer) {
	for _, p := range l.Params() {
		if p.Grad != nil {
			p.Grad.Zero()
		}
	}
}

// CountParams returns the total number of parameter values and how many of
// them are trainable (buffers are not parameters, as in PyTorch).
func CountParams(l Layer) (total, trainable int) {
	for _, p := range l.Params() {
		total += p.Value.Numel()
		if !p.Frozen {
			trainable += p.Value.Numel()
		}
	}
	return total, trainable
}

// LayerError says where in a network a layer failed: Path is the dotted
// state_dict path of the layer ("block5.6").
type LayerError struct {
	Path string
	Err  error
}

func (e *LayerError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *LayerError) Unwrap() error { return e.Err }

// atPath prefixes a child's name to the path of an error from inside it, so
// nested Sequentials report "block5.6: MaxPool2d(...)" rather than a chain.
func atPath(name string, err error) error {
	if le, ok := err.(*LayerError); ok {
		return &LayerError{Path: name + "." + le.Path, Err: le.Err}
	}
	return &LayerError{Path: name, Err: err}
}
