package nn

// clampAVX2 is clampGo on n values at x, n a multiple of 8
// (act_amd64.s).
//
//go:noescape
func clampAVX2(x *float32, n int, lo, hi float32)

// clampVector runs the AVX2 kernel on x, whose length is a multiple of 8;
// clamp checked the CPU.
func clampVector(x []float32, lo, hi float32) { clampAVX2(&x[0], len(x), lo, hi) }
