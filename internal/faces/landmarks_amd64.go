package faces

import "starid/internal/cpu"

// reluSumAVX2 is implemented in landmarks_amd64.s; see reluSumVector.
//
//go:noescape
func reluSumAVX2(dst, a, b, c, d *float32, n, terms int)

// reluSumVector runs the AVX2 kernel on the longest multiple-of-8 prefix
// of dst and returns how many values it wrote. Every slice holds len(dst)
// values; c and d may be nil as in reluSumRange. It asks cpu.HasAVX2FMA
// once per range of reluSum's split, so tests can lower the level.
func reluSumVector(dst, a, b, c, d []float32) int {
	n := len(dst) &^ 7
	if n == 0 || !cpu.HasAVX2FMA() {
		return 0
	}
	terms := 2
	cp, dp := &b[0], &b[0] // not read unless terms says so
	if c != nil {
		terms, cp = 3, &c[0]
		if d != nil {
			terms, dp = 4, &d[0]
		}
	}
	reluSumAVX2(&dst[0], &a[0], &b[0], cp, dp, n, terms)
	return n
}
