//go:build cgo

package tensor

/*
#cgo LDFLAGS: -lopenblas
// Declared here rather than through <cblas.h>, whose location differs
// between Debian's OpenBLAS flavours; the ABI is CBLAS's.
void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
	float alpha, const float *a, int lda, const float *b, int ldb,
	float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
char *openblas_get_config(void);
*/
import "C"

import "unsafe"

const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// Backend names the GEMM implementation compiled in.
const Backend = "openblas"

func init() {
	// One OpenBLAS thread: parallelism is ours (goroutines over images or
	// column blocks), so OpenBLAS's own pool would only oversubscribe.
	C.openblas_set_num_threads(1)
}

// BackendConfig is OpenBLAS's build description (kernel, threading).
func BackendConfig() string { return C.GoString(C.openblas_get_config()) }

func gemmBackend(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := C.int(cblasNoTrans), C.int(cblasNoTrans)
	if transA {
		ta = cblasTrans
	}
	if transB {
		tb = cblasTrans
	}
	C.cblas_sgemm(cblasRowMajor, ta, tb, C.int(m), C.int(n), C.int(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}
