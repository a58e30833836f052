//go:build !amd64

package nn

// Without the amd64 kernel every value is clamped in Go.
func clampVector(x []float32, lo, hi float32) { clampGo(x, lo, hi) }
