//go:build !amd64

package nn

// Without the amd64 kernel every value is clamped in Go.
func clampVector(dst, src []float32, lo, hi float32) { clampGo(dst, src, lo, hi) }
