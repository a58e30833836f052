package nn

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// LayerProfile collects the time each leaf layer of a network spends in
// Forward and Backward, with the multiply-add work of its convolutions and
// linear layers, so that one training step's cost can be read layer by
// layer (issue 15's per-layer profile). Attach it with SetProfile, run the
// passes, then Write it.
type LayerProfile struct {
	Rows  []ProfileRow
	index map[string]int
}

// ProfileRow is one leaf layer's totals over the passes profiled.
type ProfileRow struct {
	Path, Layer       string
	Forward, Backward time.Duration
	// FLOP is one Forward's arithmetic (2 per multiply-add; 0 for layers
	// other than Conv2d and Linear); a Backward that also returns the
	// input gradient does twice that.
	FLOP              float64
	Forwards, Backwds int
	BackwardFLOP      float64 // summed over the Backward calls
	// The parts of Backward for layers that time them apart (Conv2d,
	// Linear): dL/dx and the parameter gradients, with their arithmetic
	// (each one Forward's FLOP per call).
	BackwardInput, BackwardWeight time.Duration `json:",omitempty"`
	InputFLOP, WeightFLOP         float64       `json:",omitempty"`
	// Fused: the layer before did this layer's work in its own pass
	// (an in-place ReLU after a convolution or batch norm).
	Fused bool `json:",omitempty"`
}

// SetProfile makes l (a Sequential, possibly holding others) record every
// leaf layer's pass times into p; nil stops recording.
func SetProfile(l Layer, p *LayerProfile) { setProfile(l, "", p) }

func setProfile(l Layer, prefix string, p *LayerProfile) {
	s, ok := l.(*Sequential)
	if !ok {
		return
	}
	s.profile, s.profilePath = p, prefix
	for i, c := range s.Layers {
		if t, ok := c.(passTimer); ok {
			t.setPassTiming(p != nil)
		}
		setProfile(c, prefix+s.Names[i]+".", p)
	}
}

// record adds one pass of layer l (at path) that took d on input shape in.
func (p *LayerProfile) record(path string, l Layer, in []int, backward bool, d time.Duration) {
	if _, ok := l.(*Sequential); ok {
		return // its children record themselves
	}
	if p.index == nil {
		p.index = map[string]int{}
	}
	i, ok := p.index[path]
	if !ok {
		i = len(p.Rows)
		p.index[path] = i
		p.Rows = append(p.Rows, ProfileRow{Path: path, Layer: l.String()})
	}
	r := &p.Rows[i]
	if backward {
		r.Backward += d
		r.Backwds++
		f := 2 * r.FLOP
		if c, ok := l.(*Conv2d); ok && c.noInputGrad {
			f = r.FLOP
		}
		r.BackwardFLOP += f
		if t, ok := l.(passTimer); ok {
			pt := t.lastPasses()
			r.BackwardWeight += pt.weight
			r.WeightFLOP += r.FLOP
			if pt.inputDone {
				r.BackwardInput += pt.input
				r.InputFLOP += r.FLOP
			}
		}
		return
	}
	r.Forward += d
	r.Forwards++
	r.FLOP = layerFLOP(l, in)
}

// layerFLOP is one Forward's arithmetic of l on input shape in.
func layerFLOP(l Layer, in []int) float64 {
	switch l := l.(type) {
	case *Conv2d:
		out, err := l.OutputShape(in)
		if err != nil {
			return 0
		}
		return 2 * float64(out[0]*out[1]*out[2]*out[3]) * float64(l.In*l.Kernel*l.Kernel)
	case *Linear:
		return 2 * float64(in[0]) * float64(l.In*l.Out)
	}
	return 0
}

// Write prints one line per layer: mean forward and backward time, their
// GFLOP/s, for convolutions and linear layers the backward-input and
// backward-weight passes apart, and the share of the total; fused marks
// a ReLU done by the layer before it.
func (p *LayerProfile) Write(w io.Writer) error {
	var total time.Duration
	for _, r := range p.Rows {
		total += r.Forward + r.Backward
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\tfwd ms\tfwd GFLOP/s\tbwd ms\tbwd GFLOP/s\tbwd-in ms\tGFLOP/s\tbwd-w ms\tGFLOP/s\tshare\t\t")
	for _, r := range p.Rows {
		fwd, bwd := meanMS(r.Forward, r.Forwards), meanMS(r.Backward, r.Backwds)
		in, wt := "-\t-", "-\t-"
		if r.WeightFLOP > 0 {
			wt = fmt.Sprintf("%.1f\t%s", meanMS(r.BackwardWeight, r.Backwds), rate(r.WeightFLOP, r.BackwardWeight))
			if r.InputFLOP > 0 {
				in = fmt.Sprintf("%.1f\t%s", meanMS(r.BackwardInput, r.Backwds), rate(r.InputFLOP, r.BackwardInput))
			}
		}
		layer := r.Layer
		if r.Fused {
			layer += " fused"
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%.1f\t%s\t%s\t%s\t%.1f%%\t %s\t\n", r.Path, fwd, rate(r.FLOP*float64(r.Forwards), r.Forward),
			bwd, rate(r.BackwardFLOP, r.Backward), in, wt, 100*float64(r.Forward+r.Backward)/float64(max(total, 1)), layer)
	}
	fmt.Fprintf(tw, "total\t\t\t\t\t\t\t\t\t\t %.1f ms over the passes\t\n", float64(total)/1e6)
	return tw.Flush()
}

func meanMS(d time.Duration, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(d) / float64(n) / 1e6
}

func rate(flop float64, d time.Duration) string {
	if flop == 0 || d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", flop/d.Seconds()/1e9)
}

// recordFused counts a pass of layer l (at path) that the layer before it
// did as part of its own (fuse.go): the row stays, with no time of its own.
func (p *LayerProfile) recordFused(path string, l Layer, backward bool) {
	p.record(path, l, nil, backward, 0)
	r := &p.Rows[p.index[path]]
	r.Fused = true
}
