package main

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"starid/internal/eval"
	"starid/internal/faces"
	"starid/internal/identify"
)

// A normMode says which descriptor space the head is trained and asked in
// and which one the unknown rule measures distances in (its centroids and
// its calibration): raw (face-api's descriptor as it comes), l2 (scaled to
// length 1), l2mean (length 1, then scaled to the training descriptors'
// mean length L), or powA (the direction times L*(length/L)^A: A=0 is
// l2mean, A=1 raw, between them the length weighs less than it does raw). The head standardizes each dimension and the calibrated
// limit scales with the distances, so l2mean should answer as l2 does; it
// is measured to show that the scale alone changes nothing.
type normMode struct{ head, rule string }

// normModes are the -norm choices (issue 13, task l2norm). l2head keeps
// the descriptor's length for the unknown rule only: a raw distance is the
// length difference plus the angle, so the rule still sees the length
// while the head sees only the direction.
var normModes = map[string]normMode{
	"none":   {"raw", "raw"},
	"l2":     {"l2", "l2"},
	"l2mean": {"l2mean", "l2mean"},
	"l2head": {"l2", "raw"},
	"l2rule": {"raw", "l2"},
}

func normNames() []string { return append(slices.Sorted(maps.Keys(normModes)), "HEAD:RULE") }

// parseNorm reads a -norm name or a head:rule pair of spaces.
func parseNorm(name string) (normMode, error) {
	if m, ok := normModes[name]; ok {
		return m, nil
	}
	if h, r, ok := strings.Cut(name, ":"); ok {
		return normMode{h, r}, nil
	}
	return normMode{}, fmt.Errorf("-norm %q: want one of %v", name, normNames())
}

// normFlag is the -norm choice.
var normFlag string

func lengthOf(v []float32) float64 {
	var s float64
	for _, e := range v {
		s += float64(e) * float64(e)
	}
	return math.Sqrt(s)
}

// space is the map of a descriptor into the named space, whose constants
// (the mean length) come from the training descriptors x only.
func space(kind string, x [][]float32) (func([]float32) []float32, error) {
	switch kind {
	case "raw":
		return func(v []float32) []float32 { return v }, nil
	case "l2":
		return unit, nil
	}
	pow := 0.0
	if a, ok := strings.CutPrefix(kind, "pow"); ok {
		var err error
		if pow, err = strconv.ParseFloat(a, 64); err != nil {
			return nil, fmt.Errorf("descriptor space %q: want powA with A a number", kind)
		}
	} else if kind != "l2mean" {
		return nil, fmt.Errorf("descriptor space %q: want raw, l2, l2mean or powA", kind)
	}
	var sum float64
	for _, v := range x {
		sum += lengthOf(v)
	}
	mean := sum / float64(max(len(x), 1))
	return func(v []float32) []float32 {
		s := float32(mean * math.Pow(lengthOf(v)/mean, pow))
		u := unit(v)
		for i := range u {
			u[i] *= s
		}
		return u
	}, nil
}

// decider answers descriptors as a trained model and its rule would, with
// the -norm spaces: the head on headIn(desc), the distance on ruleIn(desc)
// against cen (nil: the model's own centroids, same space as the head).
type decider struct {
	m              *identify.Model
	rule           identify.Rule
	headIn, ruleIn func([]float32) []float32
	cen            [][]float32
}

// fitDecider trains the head and calibrates the rule on raw training
// descriptors x, each in its -norm space.
func (e *env) fitDecider(classes []string, x [][]float32, y []int) (*decider, error) {
	mode, err := parseNorm(normFlag)
	if err != nil {
		return nil, err
	}
	d := &decider{}
	if d.headIn, err = space(mode.head, x); err != nil {
		return nil, err
	}
	if d.ruleIn, err = space(mode.rule, x); err != nil {
		return nil, err
	}
	xh := mapRows(x, d.headIn)
	if d.m, err = identify.Fit(e.ctx, classes, xh, y, e.head(), nil); err != nil {
		return nil, err
	}
	xr := xh
	if mode.rule != mode.head {
		xr = mapRows(x, d.ruleIn)
		d.cen = centroidsOf(xr, y, len(classes))
	}
	d.rule, _, err = identify.Calibrate(e.ctx, classes, xr, y, e.head(), e.frr)
	return d, err
}

// identify answers one raw descriptor.
func (d *decider) identify(desc []float32) identify.Answer {
	if d.cen == nil {
		return d.m.Identify(d.headIn(desc), d.rule, 1)
	}
	a := d.m.Identify(d.headIn(desc), identify.Rule{MaxDistance: math.Inf(1)}, 1)
	r := d.ruleIn(desc)
	a.Closest, a.ClosestDistance = a.Best, math.Inf(1)
	for c, cen := range d.cen {
		dist := faces.Distance(r, cen)
		if c == a.Best {
			a.Distance = dist
		}
		if dist < a.ClosestDistance {
			a.Closest, a.ClosestDistance = c, dist
		}
	}
	// As Model.Identify decides: NaNs mean unknown too.
	if !(a.Distance <= d.rule.MaxDistance) || !(a.Probability >= d.rule.MinProbability) {
		a.Class, a.Name = eval.Unknown, eval.UnknownName
	}
	return a
}

// photo is identify.IdentifyPhoto with the -norm spaces.
func (d *decider) photo(fs []faces.Face) (int, identify.Answer) {
	return identify.PickFace(fs, d.rule, d.identify)
}

// lengths prints how long the main faces' descriptors are, overall and per
// person, and the share of the length's variance that lies between people:
// what L2 normalisation throws away.
func (e *env) lengths() error {
	photos, err := e.describeAll()
	if err != nil {
		return err
	}
	k := len(e.data.Classes)
	per := make([][]float64, k)
	var all []float64
	for i, p := range photos {
		if d := e.mainFace(p.Faces); d != nil {
			l := lengthOf(d)
			c := e.data.Samples[i].Class
			per[c], all = append(per[c], l), append(all, l)
		}
	}
	slices.Sort(all)
	q := func(p float64) float64 { return all[int(p*float64(len(all)-1))] }
	mean, sd := eval.MeanSpread(all)
	fmt.Printf("descriptor length of %d main faces: mean %.4f sd %.4f, 5%% %.4f median %.4f 95%% %.4f\n",
		len(all), mean, sd, q(0.05), q(0.5), q(0.95))
	var between, within float64
	for c, ls := range per {
		m, s := eval.MeanSpread(ls)
		fmt.Printf("  %-20s %3d faces: mean %.4f sd %.4f\n", e.data.Classes[c], len(ls), m, s)
		for _, l := range ls {
			between += (m - mean) * (m - mean)
			within += (l - m) * (l - m)
		}
	}
	fmt.Printf("variance of the length between people: %.1f%% of the total\n", 100*between/(between+within))
	return nil
}
