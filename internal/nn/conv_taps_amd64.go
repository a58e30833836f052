package nn

import "starid/internal/cpu"

// convTapsAVX2 is implemented in conv_taps_amd64.s (AVX2 loads and FMA
// multiply-adds); see convTapsRows.
//
//go:noescape
func convTapsAVX2(d *float32, ldd, n int, src *float32, offs *int, taps int, w, b *float32)

// tapsSIMD says whether Conv2d's direct algorithm can run here.
func tapsSIMD() bool { return cpu.HasAVX2FMA() }

// convTapsVector runs the AVX2 kernel on the longest multiple-of-8 prefix
// of the cols outputs and returns how many it wrote. It is reached only
// through forwardTaps, which useTaps takes only when tapsSIMD holds; the
// caller has checked the bounds of every slice.
func convTapsVector(d []float32, ldd, cols int, src []float32, offs []int, w, b []float32) int {
	n := cols &^ 7
	if n == 0 {
		return 0
	}
	convTapsAVX2(&d[0], ldd, n, &src[0], &offs[0], len(offs), &w[0], &b[0])
	return n
}
