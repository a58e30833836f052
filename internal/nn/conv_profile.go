package nn

import (
	"time"

	"starid/internal/tensor"
)

// The per-pass profile (profile.go) times a layer's backward-input and
// backward-weight work apart. A convolution's workers interleave the two
// per work item, so with the profile on, Backward runs them as two calls
// instead: the parameter gradients first (as if no input gradient were
// wanted), then dL/dx (as if the parameters were frozen). The results are
// the same (TestProfiledBackwardMatches); the cost is a second pass over
// the work-item setup (the im2col path gathers dy twice for small maps).

// passTimes is what a layer records when the profile asks for its passes
// apart (passTimer).
type passTimes struct {
	on            bool
	input, weight time.Duration
	inputDone     bool // the last Backward computed dL/dx
}

// passTimer is a layer whose Backward can report its input and weight
// passes apart.
type passTimer interface {
	setPassTiming(on bool)
	lastPasses() passTimes
}

func (c *Conv2d) setPassTiming(on bool) { c.passes.on = on }
func (c *Conv2d) lastPasses() passTimes { return c.passes }

// backwardTimed is backward in its two halves, each timed.
func (c *Conv2d) backwardTimed(dy *tensor.Tensor) (*tensor.Tensor, error) {
	noInput := c.noInputGrad
	c.noInputGrad = true
	t0 := time.Now()
	_, err := c.backward(dy)
	c.passes.weight = time.Since(t0)
	c.noInputGrad = noInput
	c.passes.input, c.passes.inputDone = 0, false
	if err != nil || noInput {
		return nil, err
	}
	// Frozen parameters get no gradient: backward computes dL/dx only.
	wf := c.Weight.Frozen
	c.Weight.Frozen = true
	var bf bool
	if c.Bias != nil {
		bf, c.Bias.Frozen = c.Bias.Frozen, true
	}
	t1 := time.Now()
	dx, err := c.backward(dy)
	c.passes.input, c.passes.inputDone = time.Since(t1), true
	c.Weight.Frozen = wf
	if c.Bias != nil {
		c.Bias.Frozen = bf
	}
	return dx, err
}

// Linear times its two GEMMs in every Backward; setPassTiming has nothing
// to switch.
func (l *Linear) setPassTiming(bool)    {}
func (l *Linear) lastPasses() passTimes { return l.passes }
