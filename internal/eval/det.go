package eval

import (
	"math"
	"slices"
)

// DETPoint is one operating point of an open-set rule: FAR is the share of
// strangers given a name, FRR the share of known people refused.
type DETPoint struct {
	Threshold float64
	FAR, FRR  float64
}

// DET sweeps an acceptance threshold over rejection scores (higher means
// less like anyone known, e.g. a distance): a face is accepted when its
// score is at most the threshold. genuine holds the scores of known
// people, impostor those of strangers; a NaN or +Inf score is never
// accepted (a known photo without a face). The points run from the
// strictest threshold (nothing accepted) to the loosest, one per distinct
// finite score.
func DET(genuine, impostor []float64) []DETPoint {
	var ts []float64
	for _, s := range append(slices.Clone(genuine), impostor...) {
		if !math.IsNaN(s) && !math.IsInf(s, 0) {
			ts = append(ts, s)
		}
	}
	slices.Sort(ts)
	ts = slices.Compact(ts)
	g, im := sortedFinite(genuine), sortedFinite(impostor)
	out := []DETPoint{{Threshold: math.Inf(-1), FAR: 0, FRR: 1}}
	for _, t := range ts {
		out = append(out, DETPoint{Threshold: t,
			FAR: ratioOf(countAtMost(im, t), len(impostor)),
			FRR: 1 - ratioOf(countAtMost(g, t), len(genuine))})
	}
	return out
}

func sortedFinite(x []float64) []float64 {
	var out []float64
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// countAtMost is the number of values of the sorted s that are <= t.
func countAtMost(s []float64, t float64) int {
	i, _ := slices.BinarySearchFunc(s, t, func(v, t float64) int {
		if v <= t {
			return -1
		}
		return 1
	})
	return i
}

func ratioOf(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// MeanSpread is the mean and the sample standard deviation of x (0 for
// fewer than two values).
func MeanSpread(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return math.NaN(), 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}
