//go:build !amd64

package nn

// Without the AVX2 kernel Conv2d always lowers to GEMM.

func tapsSIMD() bool { return false }

func convTapsVector(d []float32, ldd, cols int, src []float32, offs []int, w, b []float32) int {
	return 0
}
