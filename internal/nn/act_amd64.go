package nn

// clampAVX2 is clampGo on n values from src into dst, n a multiple of 8
// (act_amd64.s).
//
//go:noescape
func clampAVX2(dst, src *float32, n int, lo, hi float32)

// clampVector runs the AVX2 kernel on src, whose length is a multiple of
// 8, into dst; clamp checked the CPU.
func clampVector(dst, src []float32, lo, hi float32) {
	_ = dst[len(src)-1]
	clampAVX2(&dst[0], &src[0], len(src), lo, hi)
}
