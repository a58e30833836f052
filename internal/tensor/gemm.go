package tensor

import (
	"fmt"

	"starid/internal/cpu"
	"starid/internal/tensor/gogemm"
)

// Gemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices, where
// op(A) is m x k, op(B) is k x n and C is m x n; transA/transB select the
// transpose. It runs on the calling goroutine: OpenBLAS is pinned to one
// thread so that the layers can parallelize across images or column blocks
// with goroutines and the two thread pools never fight over the cores. Use
// GemmParallel for one large product.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	// k == 0 only scales C, which gemmGo does without touching the
	// (possibly empty) A and B that the C call would take pointers into.
	if k == 0 || goFaster(transA, transB, m, n, k) {
		gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmBackend(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// goFaster picks the shapes where our kernels beat OpenBLAS 0.3.21 in the
// cgo build: a transposed A with k <= 512 (a convolution's input
// gradient, W^T·dY, k being the output channels). BenchmarkGemm on the
// AMD EPYC (Zen 3) of docs/BENCHMARKS.md, four interleaved runs, GFLOP per
// CPU second: 576x4096x64 TN ours 46-55, OpenBLAS 34-47; 2304x256x256 TN
// 63-66 vs 52-55. Every other shape measured was even or OpenBLAS's, so
// it stays there. Only at the AVX2 level: on an AVX-512 CPU OpenBLAS's
// wider kernels were not measured against ours.
func goFaster(transA, transB bool, m, n, k int) bool {
	return Backend != "go" && transA && !transB && k <= 512 && m >= 64 && n >= 64 && cpu.Current() == cpu.AVX2
}

// GemmParallel is Gemm split into column blocks of C, one per worker. Use
// it when a single product is the whole job (a batch of one, a Linear layer).
func GemmParallel(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmParallel(Gemm, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemmParallel splits one product over Workers() calls of gemm (Gemm, or
// a backend directly in benchmarks).
func gemmParallel(gemm gemmFunc, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	// Below ~2 MFLOP the goroutine hand-off costs more than it saves; split
	// along whichever of m and n is larger so each block stays GEMM-shaped.
	if Workers() == 1 || 2*m*n*k < 2<<20 {
		gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if n >= m {
		// Blocks of whole 64-column multiples keep the cut on a boundary
		// of our kernels' 16-column panels, so no worker ends in an
		// edge tile that another worker's block would have filled.
		splitAligned(n, 64, func(lo, hi int) {
			boff := lo // column lo of op(B)
			if transB {
				boff = lo * ldb
			}
			gemm(transA, transB, m, hi-lo, k, alpha, a, lda, b[boff:], ldb, beta, c[lo:], ldc)
		})
		return
	}
	splitAligned(m, 24, func(lo, hi int) {
		aoff := lo * lda // row lo of op(A)
		if transA {
			aoff = lo
		}
		gemm(transA, transB, hi-lo, n, k, alpha, a[aoff:], lda, b, ldb, beta, c[lo*ldc:], ldc)
	})
}

// gemmFunc is the signature Gemm and its backends share.
type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int)

// splitAligned is ParallelMin over [0, n) with chunk boundaries at
// multiples of unit (except the last), so every worker but one gets whole
// tiles.
func splitAligned(n, unit int, fn func(lo, hi int)) {
	units := (n + unit - 1) / unit
	ParallelMin(units, 1, func(lo, hi int) {
		fn(lo*unit, min(hi*unit, n))
	})
}

// storedDims is the rows and columns an operand of rows x cols is stored
// with: those of its transpose when trans.
func storedDims(trans bool, rows, cols int) (int, int) {
	if trans {
		return cols, rows
	}
	return rows, cols
}

// checkGemm panics with a readable message on inconsistent sizes: these are
// programming errors inside starid, never user input, and a C library would
// otherwise read out of bounds.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := storedDims(transA, m, k)
	br, bc := storedDims(transB, k, n)
	ok := func(rows, cols, ld, l int) bool {
		return ld >= max(cols, 1) && (rows == 0 || l >= (rows-1)*ld+cols)
	}
	if m < 0 || n < 0 || k < 0 || !ok(ar, ac, lda, len(a)) || !ok(br, bc, ldb, len(b)) || !ok(m, n, ldc, len(c)) {
		panic(fmt.Sprintf("tensor.Gemm: bad sizes m=%d n=%d k=%d transA=%v transB=%v lda=%d ldb=%d ldc=%d len(a)=%d len(b)=%d len(c)=%d",
			m, n, k, transA, transB, lda, ldb, ldc, len(a), len(b), len(c)))
	}
}

// gemmGo is our own GEMM (package gogemm: packed panels, cache blocking,
// AVX2/FMA micro-kernels or plain Go, chosen at run time from
// internal/cpu). It is the backend when cgo is off, the cgo build's
// fallback when OpenBLAS would run kernels below the CPU, and the
// reference the OpenBLAS path is tested against.
func gemmGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	gogemm.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// goKernelName names the micro-kernel gemmGo runs ("go-avx2",
// "go-generic"), for reports.
func goKernelName() string { return gogemm.KernelName() }
