package gogemm

import "starid/internal/cpu"

// sgemmKernel6x16AVX2 is the AVX2/FMA micro-kernel (gemm_avx2_amd64.s):
// C[0:6,0:16] = alpha*A·B (+ beta*C when load != 0) for a packed 6 x k
// A panel and a packed k x 16 B panel.
//
//go:noescape
func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, alpha, beta float32, load int)

// avx2Kernel is 6x16: twelve ymm accumulators (6 rows x 2 vectors of 8),
// two ymm for the B row and two for the A broadcasts, 16 of 16 registers.
// Zen 3 and Intel since Haswell issue two FMAs a cycle with a latency of
// 4-5 cycles, so at least 8-10 independent accumulators are needed to keep
// both pipes busy; 12 covers that, and each k step does 12 FMAs for 8
// loads (2 vector + 6 broadcast), within the two to three loads a cycle
// these cores sustain. 8x8 or 4x24 also fit the registers but do fewer
// FMAs per load (8x8: 8 FMA for 9 loads) or leave narrow matrices with
// wide padded edges (24 columns).
//
// Blocking (see Sgemm): kc=256 keeps one 256x16 B micro-panel (16 KiB)
// and one 6x256 A micro-panel (6 KiB) in a 32 KiB L1d while the kernel
// streams them; mc=144 makes the packed A block 144x256 floats (144 KiB),
// under half of a 512 KiB L2 (Zen 2/3, Skylake-SP's is 1 MiB, Haswell's
// 256 KiB is the tight case, where it still fits with B's panel beside it);
// nc=4080 makes the packed B block 4 MiB, a share of L3 that every core
// of a modern server CPU can hold, and a multiple of 16.
var avx2Kernel = &microKernel{
	name: "go-avx2", level: cpu.AVX2, mr: 6, nr: 16, kc: 256, mc: 144, nc: 4080,
	fn: func(k int, a, b, c []float32, ldc int, alpha, beta float32, load bool) {
		l := 0
		if load {
			l = 1
		}
		sgemmKernel6x16AVX2(k, &a[0], &b[0], &c[0], ldc, alpha, beta, l)
	},
}

// An AVX-512 kernel is one more pair of files like this one and its .s
// (for example 12x32 with 24 zmm accumulators), returned here when
// cpu.HasAVX512(); packing and blocking take mr/nr from the kernel.
func archKernel() *microKernel {
	if cpu.HasAVX2FMA() {
		return avx2Kernel
	}
	return nil
}

// transpose8 packs by 8x8 AVX transposes (see avx2_amd64.s); only the
// AVX2 kernel's packing (mr 6, nr 16) calls it.
//
//go:noescape
func transpose8(dst, src *float32, ld, rows, dstStride, blocks int)

// packTransposed packs rows (6 or 8) runs of kb floats, src rows ld apart,
// as kb groups of rows floats dstStride apart: the transposes of packing a
// row-major A panel or a transposed B panel. dst needs two floats of slack
// after the last group when rows is 6 (see transpose8).
func packTransposed(dst []float32, dstStride int, src []float32, ld, rows, kb int) {
	blocks := kb / 8
	if blocks > 0 {
		// Index expressions: Go checks the extents the assembly touches.
		_, _ = src[(rows-1)*ld+blocks*8-1], dst[(blocks*8-1)*dstStride+7]
		transpose8(&dst[0], &src[0], ld, rows, dstStride, blocks)
	}
	for i := 0; i < rows; i++ {
		for p := blocks * 8; p < kb; p++ {
			dst[p*dstStride+i] = src[i*ld+p]
		}
	}
}
