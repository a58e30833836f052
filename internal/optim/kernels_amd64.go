package optim

import "starid/internal/cpu"

// AVX2 kernels for Adam and SGD, implemented in kernels_amd64.s. They run
// the instructions PyTorch's AVX2 kernels run, so their results equal the
// pure-Go kernels' (which emulate them) bit for bit; the Go kernels handle
// the last len%8 elements and CPUs without AVX2 and FMA. cpu.HasAVX2FMA is
// asked once per chunk of a tensor, where its cost (a lock) is negligible.

//go:noescape
func adamAVX2(wp, gp, mp, vp *float32, n int, s *adamScalars, useDecay, useWD bool)

//go:noescape
func sgdAVX2(wp, gp, bp *float32, n int, wd, mom, keep, negLR float32, useWD, useMom, first, nesterov bool)

// adamVector runs the AVX2 kernel on the longest multiple-of-8 prefix and
// returns how many elements it did.
func adamVector(w, g, m, v []float32, s *adamScalars) int {
	n := len(w) &^ 7
	if n == 0 || !cpu.HasAVX2FMA() {
		return 0
	}
	g, m, v = g[:n], m[:n], v[:n]
	adamAVX2(&w[0], &g[0], &m[0], &v[0], n, s, s.decay != 1, s.wd != 0)
	return n
}

// sgdVector runs the AVX2 SGD kernel on the longest multiple-of-8 prefix
// and returns how many elements it did; b is nil without momentum.
func sgdVector(w, g, b []float32, first, nesterov bool, wd, mom, keep, negLR float32, useMom bool) int {
	n := len(w) &^ 7
	if n == 0 || !cpu.HasAVX2FMA() {
		return 0
	}
	g = g[:n]
	var bp *float32
	if useMom {
		bp = &b[:n][0]
	}
	sgdAVX2(&w[0], &g[0], bp, n, wd, mom, keep, negLR, wd != 0, useMom, first, nesterov)
	return n
}
