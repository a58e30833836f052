//go:build !cgo

package tensor

// Backend names the GEMM implementation compiled in.
const Backend = "go"

// BackendConfig describes the pure-Go backend.
func BackendConfig() string {
	return "gonum sgemm (pure Go; build with cgo and libopenblas-dev for full speed)"
}

func gemmBackend(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
