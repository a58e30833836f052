#include "textflag.h"

// func reluSumAVX2(dst, a, b, c, d *float32, n, terms int)
//
// reluSumRange on n values, n a multiple of 8: dst = ReLU(a + b) for
// terms 2, ReLU(a + (b + c)) for 3, ReLU(a + (b + (c + d))) for 4, the
// additions in that order. ReLU is Go's max(v, 0): VMAXPS with v as the
// second source keeps a NaN, and adding +0 turns the -0 it keeps into +0.
TEXT ·reluSumAVX2(SB), NOSPLIT, $0-56
	MOVQ   dst+0(FP), DI
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), R8
	MOVQ   c+24(FP), R9
	MOVQ   d+32(FP), R10
	MOVQ   n+40(FP), CX
	MOVQ   terms+48(FP), DX
	VXORPS Y15, Y15, Y15
	XORQ   BX, BX

rsloop:
	CMPQ    BX, CX
	JGE     rsdone
	VMOVUPS (R8)(BX*4), Y0 // s = b
	CMPQ    DX, $2
	JEQ     rsadda
	VMOVUPS (R9)(BX*4), Y1 // c
	CMPQ    DX, $3
	JEQ     rsaddc
	VADDPS  (R10)(BX*4), Y1, Y1 // c + d

rsaddc:
	VADDPS Y1, Y0, Y0 // b + (c [+ d])

rsadda:
	VADDPS  (SI)(BX*4), Y0, Y0 // a + ...
	VMAXPS  Y0, Y15, Y0
	VADDPS  Y15, Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     rsloop

rsdone:
	VZEROUPPER
	RET
