// Package gogemm is starid's own single-precision GEMM, in Go with Go
// assembly micro-kernels, used by internal/tensor when cgo is off and for
// the shapes where it beats OpenBLAS. It is a package of its own because Go
// refuses Go assembly in a package that uses cgo, as internal/tensor does.
//
// The design is BLIS's: op(B) is packed into kc x nc blocks laid out as
// nr-column micro-panels, op(A) into mc x kc blocks of mr-row micro-panels,
// and a register-blocked micro-kernel multiplies one A micro-panel by one B
// micro-panel into an mr x nr tile of C. Packing makes every operand
// contiguous whatever the transposes and strides, so one kernel serves all
// four cases, and the blocking keeps each packed piece in the cache level
// that feeds it (see the kernel's definition for its sizes).
package gogemm

import (
	"sync"

	"starid/internal/cpu"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// microKernel is one register-blocked kernel and the block sizes tuned for
// it. fn computes C[0:mr, 0:nr] (row stride ldc) = alpha*A·B, plus beta*C
// when load; with load false it must not read C.
type microKernel struct {
	name       string
	level      cpu.Level // the instructions it needs
	mr, nr     int
	kc, mc, nc int
	fn         func(k int, a, b, c []float32, ldc int, alpha, beta float32, load bool)
}

// genericName is what runs when no kernel of ours fits the CPU: gonum's
// sgemm, whose inner loops are SSE assembly on every amd64 CPU. Measured
// on the machine of docs/BENCHMARKS.md it was 1.6-4x faster than our own
// packing driver with a 4x4 plain-Go micro-kernel, which the Go compiler
// could not keep in registers. (gonum splits large products over
// goroutines itself; the Go scheduler keeps that within GOMAXPROCS.)
const genericName = "go-generic (gonum sgemm)"

// KernelName names the kernel Sgemm runs now ("go-avx2", or genericName),
// for reports.
func KernelName() string {
	if k := archKernel(); k != nil {
		return k.name
	}
	return genericName
}

// Level is the vector level of the kernel Sgemm runs now: AVX2 for the
// assembly kernel (also on AVX-512 CPUs, until an AVX-512 kernel is
// added), Generic for gonum's.
func Level() cpu.Level {
	if k := archKernel(); k != nil {
		return k.level
	}
	return cpu.Generic
}

// packBufs are one call's packed blocks, reused across calls because a
// 4 MiB B block per call would otherwise be garbage for every layer of
// every step.
type packBufs struct {
	a, b []float32
	tile []float32 // an edge tile's product before it is merged into C
}

// packFree holds idle packBufs. Not a sync.Pool: that one is emptied at
// every GC and is per-P, so concurrent callers kept allocating fresh
// blocks (a training step then allocated more than nn's arena test
// allows). There are at most as many in use as goroutines calling GEMM at
// once; maxFreeBufs bounds what stays held after a burst.
var packFree struct {
	sync.Mutex
	list []*packBufs
}

const maxFreeBufs = 64

func getBufs() *packBufs {
	packFree.Lock()
	defer packFree.Unlock()
	n := len(packFree.list)
	if n == 0 {
		return new(packBufs)
	}
	b := packFree.list[n-1]
	packFree.list = packFree.list[:n-1]
	return b
}

func putBufs(b *packBufs) {
	packFree.Lock()
	defer packFree.Unlock()
	if len(packFree.list) < maxFreeBufs {
		packFree.list = append(packFree.list, b)
	}
}

func growTo(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// blockSize splits total into ceil(total/limit) near-equal blocks, each a
// multiple of unit where possible: k=300 with kc=256 runs as 152+148, not
// 256+44, since a short last block pays the same C traffic for few flops.
func blockSize(total, limit, unit int) int {
	if total <= limit {
		return total
	}
	nb := (total + limit - 1) / limit
	s := (total + nb - 1) / nb
	return min(limit, (s+unit-1)/unit*unit)
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices
// (op(A) m x k, op(B) k x n) with BLAS semantics: beta == 0 never reads C,
// alpha == 0 never reads A or B. It runs single-threaded on the calling
// goroutine. Sizes are the caller's to check (tensor.Gemm does).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	kern := archKernel()
	if kern == nil {
		sgemmGonum(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	kc := blockSize(k, kern.kc, 1)
	mc := blockSize(m, kern.mc, kern.mr)
	nc := blockSize(n, kern.nc, kern.nr)
	bufs := getBufs()
	defer putBufs(bufs)
	bufs.a = growTo(bufs.a, roundUp(mc, kern.mr)*kc+8) // +8: packTransposed's slack
	bufs.b = growTo(bufs.b, roundUp(nc, kern.nr)*kc)
	bufs.tile = growTo(bufs.tile, kern.mr*kern.nr)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			// The first k block applies the caller's beta; the later
			// ones add onto what the earlier ones wrote.
			bet, load := beta, beta != 0
			if pc > 0 {
				bet, load = 1, true
			}
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(kern.mr, transA, a, lda, ic, pc, mb, kb, bufs.a)
				cb := c[ic*ldc+jc:]
				if ic > 0 {
					macroKernel(kern, bufs.a, bufs.b, bufs.tile, mb, nb, kb, alpha, bet, load, cb, ldc)
					continue
				}
				// First pass over this B block: pack it a few panels at
				// a time just before they are used, so they are still in
				// L1/L2 for the first A block (for m <= mc, the only
				// one) instead of being fetched back from L3 after the
				// whole block was packed.
				step := kern.nr * packChunk
				for jr := 0; jr < nb; jr += step {
					w := min(step, nb-jr)
					packB(kern.nr, transB, b, ldb, pc, jc+jr, kb, w, bufs.b[jr*kb:])
					macroKernel(kern, bufs.a, bufs.b[jr*kb:], bufs.tile, mb, w, kb, alpha, bet, load, cb[jr:], ldc)
				}
			}
		}
	}
}

// packChunk is how many B micro-panels are packed at a time on the first
// pass: enough contiguous bytes per source row for the prefetchers, few
// enough that the chunk is still in L1/L2 when the kernel reads it.
const packChunk = 16

func roundUp(x, unit int) int { return (x + unit - 1) / unit * unit }

// macroKernel runs the micro-kernel over one packed mb x kb A block and
// kb x nb B block. The B micro-panel stays in L1 across the inner loop
// while A micro-panels stream from L2. Edge tiles (fewer than mr rows or nr
// columns of C) go through a scratch tile so the kernel never writes
// outside C.
func macroKernel(kern *microKernel, pa, pb, tile []float32, mb, nb, kb int, alpha, beta float32, load bool, c []float32, ldc int) {
	mr, nr := kern.mr, kern.nr
	for jr := 0; jr < nb; jr += nr {
		nrr := min(nr, nb-jr)
		bp := pb[jr*kb:]
		for ir := 0; ir < mb; ir += mr {
			mrr := min(mr, mb-ir)
			ap := pa[ir*kb:]
			if mrr == mr && nrr == nr {
				kern.fn(kb, ap, bp, c[ir*ldc+jr:], ldc, alpha, beta, load)
				continue
			}
			kern.fn(kb, ap, bp, tile, nr, alpha, 0, false)
			mergeTile(tile, nr, mrr, nrr, beta, load, c[ir*ldc+jr:], ldc)
		}
	}
}

// mergeTile writes the top-left mrr x nrr of an edge tile into C.
func mergeTile(t []float32, ldt, mrr, nrr int, beta float32, load bool, c []float32, ldc int) {
	for i := 0; i < mrr; i++ {
		src := t[i*ldt : i*ldt+nrr]
		dst := c[i*ldc : i*ldc+nrr]
		if !load {
			copy(dst, src)
			continue
		}
		for j, v := range src {
			dst[j] = v + beta*dst[j]
		}
	}
}

// packA copies op(A)[ic:ic+mb, pc:pc+kb] into mr-row micro-panels: panel
// p holds rows p*mr.. as kb groups of mr floats (one column each), rows
// past mb zero so the kernel can run whole panels.
func packA(mr int, trans bool, a []float32, lda, ic, pc, mb, kb int, dst []float32) {
	for ir := 0; ir < mb; ir += mr {
		mrr := min(mr, mb-ir)
		panel := dst[ir*kb : (ir+mr)*kb]
		if mrr < mr {
			clear(panel)
		}
		if trans {
			// op(A)[i][p] = a[p*lda+i]: each k step is mrr contiguous floats.
			packRows(panel, mr, mrr, a[pc*lda+ic+ir:], lda, kb)
			continue
		}
		if mrr == 6 && mr == 6 {
			// dst[ir*kb:] rather than panel: the transposes' two floats
			// of slack run into the next panel (packed after this one)
			// or the buffer's tail.
			packTransposed(dst[ir*kb:], 6, a[(ic+ir)*lda+pc:], lda, 6, kb)
			continue
		}
		transposeRows(panel, mr, a[(ic+ir)*lda+pc:], lda, mrr, kb)
	}
}

// packB copies op(B)[pc:pc+kb, jc:jc+nb] into nr-column micro-panels: panel
// q holds columns q*nr.. as kb rows of nr floats, columns past nb zero.
func packB(nr int, trans bool, b []float32, ldb, pc, jc, kb, nb int, dst []float32) {
	full := 0
	if !trans && nr == 16 && nb >= 16 {
		// Row by row across all whole panels: each source row is read
		// once, contiguously; panel by panel would touch kb pages (rows
		// are ldb apart) for every 64 bytes.
		full = nb / 16 * 16
		src := b[pc*ldb+jc:]
		_, _ = src[(kb-1)*ldb+full-1], dst[full*kb-1]
		copyPanels16(&dst[0], &src[0], ldb, kb, full/16, 16*kb)
	}
	for jr := full; jr < nb; jr += nr {
		nrr := min(nr, nb-jr)
		panel := dst[jr*kb : (jr+nr)*kb]
		if nrr < nr {
			clear(panel)
		}
		if !trans {
			packRows(panel, nr, nrr, b[pc*ldb+jc+jr:], ldb, kb)
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: read each source row once, contiguously.
		if nrr == 16 && nr == 16 {
			src := b[(jc+jr)*ldb+pc:]
			packTransposed(panel, 16, src, ldb, 8, kb)
			packTransposed(panel[8:], 16, src[8*ldb:], ldb, 8, kb)
			continue
		}
		transposeRows(panel, nr, b[(jc+jr)*ldb+pc:], ldb, nrr, kb)
	}
}

func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// transposeRows is packTransposed in plain Go for any number of rows: rows
// runs of kb floats, src rows ld apart, become kb groups of rows floats
// dstStride apart. The packings use it for the edge panels the assembly
// transposes do not cover, and it is all of packTransposed where there is
// no assembly.
func transposeRows(dst []float32, dstStride int, src []float32, ld, rows, kb int) {
	for i := 0; i < rows; i++ {
		for p, v := range src[i*ld : i*ld+kb] {
			dst[p*dstStride+i] = v
		}
	}
}

// packRows copies rows runs of w floats, src rows ld apart, into dst rows
// of width floats (w <= width).
func packRows(dst []float32, width, w int, src []float32, ld, rows int) {
	// The index expressions make Go check the extents the assembly
	// moves will touch.
	switch {
	case w == 16 && width == 16:
		_, _ = dst[rows*16-1], src[(rows-1)*ld+15]
		copyPanels16(&dst[0], &src[0], ld, rows, 1, 0)
	case w == 6 && width == 6:
		_, _ = dst[rows*6-1], src[(rows-1)*ld+5]
		copyRows6(&dst[0], &src[0], ld, rows)
	default:
		for p := 0; p < rows; p++ {
			copy(dst[p*width:p*width+w], src[p*ld:p*ld+w])
		}
	}
}

func sgemmGonum(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int,
	b []float32, ldb int, beta float32, c []float32, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	gonum.Implementation{}.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
