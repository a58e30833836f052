//go:build !amd64

package faces

func reluSumVector(dst, a, b, c, d []float32) int { return 0 }
