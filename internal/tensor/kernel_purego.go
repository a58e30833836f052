//go:build !cgo

package tensor

import (
	"starid/internal/cpu"
	"starid/internal/tensor/gogemm"
)

// KernelFamily names the GEMM kernels this process runs: without cgo,
// always starid's own.
func KernelFamily() string { return goFamily() }

// KernelLevel is the vector level of the GEMM kernels this process runs.
func KernelLevel() cpu.Level { return gogemm.Level() }
