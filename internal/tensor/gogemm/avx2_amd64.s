#include "textflag.h"

// Row r of one k step: broadcast A element r (at byte offset off) into
// b, then multiply-add it with the two B vectors Y12, Y13 into the row's
// accumulators acc0, acc1.
#define KROW(off, b, acc0, acc1) \
	VBROADCASTSS off(AX), b;     \
	VFMADD231PS  Y12, b, acc0;   \
	VFMADD231PS  Y13, b, acc1

// One k step of the 6x16 tile: two 8-float vectors of the packed B row
// (Y12, Y13) times six broadcast elements of the packed A column, into the
// twelve accumulators Y0..Y11 (row r in Y(2r), Y(2r+1)). The broadcasts
// alternate between Y14 and Y15 so that consecutive rows do not wait on
// one register (renaming would hide it too, but this costs nothing).
#define KSTEP(ao, bo) \
	VMOVUPS bo(BX), Y12;            \
	VMOVUPS bo+32(BX), Y13;         \
	KROW(ao, Y14, Y0, Y1);          \
	KROW(ao+4, Y15, Y2, Y3);        \
	KROW(ao+8, Y14, Y4, Y5);        \
	KROW(ao+12, Y15, Y6, Y7);       \
	KROW(ao+16, Y14, Y8, Y9);       \
	KROW(ao+20, Y15, Y10, Y11)

// C row = alpha*acc + beta*C row (Y12 = alpha, Y13 = beta).
#define ROWACC(r0, r1) \
	VMULPS      Y12, r0, r0;        \
	VFMADD231PS (DI), Y13, r0;      \
	VMOVUPS     r0, (DI);           \
	VMULPS      Y12, r1, r1;        \
	VFMADD231PS 32(DI), Y13, r1;    \
	VMOVUPS     r1, 32(DI);         \
	ADDQ        DX, DI

// C row = alpha*acc, C never read (BLAS's beta = 0: stale NaNs stay out).
#define ROWSET(r0, r1) \
	VMULPS  Y12, r0, r0;  \
	VMOVUPS r0, (DI);     \
	VMULPS  Y12, r1, r1;  \
	VMOVUPS r1, 32(DI);   \
	ADDQ    DX, DI

#define PREFETCHROW \
	PREFETCHT0 (SI);   \
	PREFETCHT0 60(SI); \
	ADDQ       DX, SI

// func sgemmKernel6x16AVX2(k int, a, b, c *float32, ldc int, alpha, beta float32, load int)
//
// C[0:6, 0:16] (row stride ldc floats) = alpha * A·B (+ beta*C if load != 0),
// where A is a packed 6 x k panel (6 floats per k step) and B a packed
// k x 16 panel (16 floats per k step); k >= 1.
TEXT ·sgemmKernel6x16AVX2(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX

	// The tile of C is needed only at the end; asking for its lines now
	// hides their miss latency behind the k loop.
	MOVQ DI, SI
	PREFETCHROW
	PREFETCHROW
	PREFETCHROW
	PREFETCHROW
	PREFETCHROW
	PREFETCHROW

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, R8
	SHRQ $2, R8
	ANDQ $3, CX
	TESTQ R8, R8
	JZ   tail

loop4:
	KSTEP(0, 0)
	KSTEP(24, 64)
	KSTEP(48, 128)
	KSTEP(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R8
	JNZ  loop4

tail:
	TESTQ CX, CX
	JZ    store

loop1:
	KSTEP(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  loop1

store:
	VBROADCASTSS alpha+40(FP), Y12
	VBROADCASTSS beta+44(FP), Y13
	MOVQ         load+48(FP), R9
	TESTQ        R9, R9
	JZ           store0
	ROWACC(Y0, Y1)
	ROWACC(Y2, Y3)
	ROWACC(Y4, Y5)
	ROWACC(Y6, Y7)
	ROWACC(Y8, Y9)
	ROWACC(Y10, Y11)
	VZEROUPPER
	RET

store0:
	ROWSET(Y0, Y1)
	ROWSET(Y2, Y3)
	ROWSET(Y4, Y5)
	ROWSET(Y6, Y7)
	ROWSET(Y8, Y9)
	ROWSET(Y10, Y11)
	VZEROUPPER
	RET

// func transpose8(dst, src *float32, ld, rows, dstStride, blocks int)
//
// Packs by 8x8 transposes: for each block b < blocks and column q < 8,
// the 8 floats src[r*ld + b*8+q] for rows r < 8 go to dst[(b*8+q)*dstStride
// ...+8]. rows is 8, or 6 for an A panel: rows 6 and 7 then repeat row 5
// (never read past the panel), and with dstStride 6 each store's two extra
// floats are overwritten by the next column's store, so the caller leaves
// two floats of slack after the last one. Uses AVX only.
TEXT ·transpose8(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ dstStride+32(FP), DX
	SHLQ $2, DX
	MOVQ blocks+40(FP), CX
	LEAQ (R8)(R8*2), R9  // 3 rows
	LEAQ (SI)(R8*4), R10 // row 4
	MOVQ R8, R12         // row 6 - row 4, or row 5 - row 4 for 6 rows
	MOVQ R8, R13
	MOVQ rows+24(FP), AX
	CMPQ AX, $8
	JNE  start
	LEAQ (R8)(R8*1), R12
	MOVQ R9, R13

start:
	TESTQ CX, CX
	JZ    tdone

tloop:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R12*1), Y6
	VMOVUPS (R10)(R13*1), Y7

	// Pairs of rows interleaved, then pairs of pairs, then the 128-bit
	// halves swapped: the standard 8x8 transpose in 24 shuffles.
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS   $0x44, Y10, Y8, Y0
	VSHUFPS   $0xEE, Y10, Y8, Y1
	VSHUFPS   $0x44, Y11, Y9, Y2
	VSHUFPS   $0xEE, Y11, Y9, Y3
	VSHUFPS   $0x44, Y14, Y12, Y4
	VSHUFPS   $0xEE, Y14, Y12, Y5
	VSHUFPS   $0x44, Y15, Y13, Y6
	VSHUFPS   $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15

	MOVQ    DI, BX
	VMOVUPS Y8, (BX)
	ADDQ    DX, BX
	VMOVUPS Y9, (BX)
	ADDQ    DX, BX
	VMOVUPS Y10, (BX)
	ADDQ    DX, BX
	VMOVUPS Y11, (BX)
	ADDQ    DX, BX
	VMOVUPS Y12, (BX)
	ADDQ    DX, BX
	VMOVUPS Y13, (BX)
	ADDQ    DX, BX
	VMOVUPS Y14, (BX)
	ADDQ    DX, BX
	VMOVUPS Y15, (BX)

	ADDQ $32, SI
	ADDQ $32, R10
	LEAQ (DI)(DX*8), DI
	DECQ CX
	JNZ  tloop

tdone:
	VZEROUPPER
	RET
