//go:build !amd64

package gogemm

// archKernel: no assembly kernels on this architecture; Sgemm uses the
// plain-Go one.
func archKernel() *microKernel { return nil }

// packTransposed is never called here (only the AVX2 kernel's packing
// uses it), but packA and packB compile for every architecture.
func packTransposed(dst []float32, dstStride int, src []float32, ld, rows, kb int) {
	transposeRows(dst, dstStride, src, ld, rows, kb)
}
