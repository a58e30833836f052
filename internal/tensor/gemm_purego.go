//go:build !cgo

package tensor

import "starid/internal/cpu"

// Backend names the GEMM implementation compiled in.
const Backend = "go"

// BackendConfig describes the pure-Go backend: our kernel family and the
// CPU level that chose it.
func BackendConfig() string {
	return "starid gogemm, kernel " + goKernelName() + " (cpu level " + cpu.Current().String() + "; pure Go, no OpenBLAS)"
}

func gemmBackend(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
