//go:build !amd64

package gogemm

// archKernel: no assembly kernels on this architecture; Sgemm uses the
// plain-Go one.
func archKernel() *microKernel { return nil }
