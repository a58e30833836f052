#include "textflag.h"

// func convTapsAVX2(d *float32, ldd, n int, src *float32, offs *int, taps int, w, b *float32)
//
// For four output channels o (rows of d, ldd values apart) and x in
// [0, n), n a multiple of 8:
//
//	d[o*ldd+x] = b[o] + sum over t of w[o*taps+t] * src[offs[t]+x]
//
// summed in tap order with fused multiply-adds. Twenty-four outputs per
// channel at a time (twelve accumulators, enough to hide the FMA latency
// on two FMA units), then eight at a time.
TEXT ·convTapsAVX2(SB), NOSPLIT, $0-64
	MOVQ d+0(FP), DI
	MOVQ ldd+8(FP), R10
	SHLQ $2, R10 // bytes between output channels
	MOVQ n+16(FP), CX
	MOVQ src+24(FP), SI
	MOVQ offs+32(FP), R11
	MOVQ taps+40(FP), R14
	MOVQ R14, R12
	SHLQ $2, R12 // bytes between the weights of two output channels
	XORQ BX, BX

ct24:
	MOVQ CX, DX
	SUBQ BX, DX
	CMPQ DX, $24
	JLT  ct8
	MOVQ         b+56(FP), AX
	VBROADCASTSS 0(AX), Y0
	VMOVAPS      Y0, Y1
	VMOVAPS      Y0, Y2
	VBROADCASTSS 4(AX), Y3
	VMOVAPS      Y3, Y4
	VMOVAPS      Y3, Y5
	VBROADCASTSS 8(AX), Y6
	VMOVAPS      Y6, Y7
	VMOVAPS      Y6, Y8
	VBROADCASTSS 12(AX), Y9
	VMOVAPS      Y9, Y10
	VMOVAPS      Y9, Y11
	XORQ         R8, R8         // tap
	MOVQ         w+48(FP), R9   // its weight for channel 0
	LEAQ         (R9)(R12*2), R13 // and for channel 2
	LEAQ         (SI)(BX*4), DX // src + x

ct24tap:
	MOVQ         (R11)(R8*8), AX
	VMOVUPS      (DX)(AX*4), Y12
	VMOVUPS      32(DX)(AX*4), Y13
	VMOVUPS      64(DX)(AX*4), Y14
	VBROADCASTSS (R9), Y15
	VFMADD231PS  Y12, Y15, Y0
	VFMADD231PS  Y13, Y15, Y1
	VFMADD231PS  Y14, Y15, Y2
	VBROADCASTSS (R9)(R12*1), Y15
	VFMADD231PS  Y12, Y15, Y3
	VFMADD231PS  Y13, Y15, Y4
	VFMADD231PS  Y14, Y15, Y5
	VBROADCASTSS (R13), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VFMADD231PS  Y14, Y15, Y8
	VBROADCASTSS (R13)(R12*1), Y15
	VFMADD231PS  Y12, Y15, Y9
	VFMADD231PS  Y13, Y15, Y10
	VFMADD231PS  Y14, Y15, Y11
	ADDQ         $4, R9
	ADDQ         $4, R13
	INCQ         R8
	CMPQ         R8, R14
	JLT          ct24tap

	VMOVUPS Y0, (DI)(BX*4)
	VMOVUPS Y1, 32(DI)(BX*4)
	VMOVUPS Y2, 64(DI)(BX*4)
	LEAQ    (DI)(R10*1), AX
	VMOVUPS Y3, (AX)(BX*4)
	VMOVUPS Y4, 32(AX)(BX*4)
	VMOVUPS Y5, 64(AX)(BX*4)
	LEAQ    (AX)(R10*1), AX
	VMOVUPS Y6, (AX)(BX*4)
	VMOVUPS Y7, 32(AX)(BX*4)
	VMOVUPS Y8, 64(AX)(BX*4)
	LEAQ    (AX)(R10*1), AX
	VMOVUPS Y9, (AX)(BX*4)
	VMOVUPS Y10, 32(AX)(BX*4)
	VMOVUPS Y11, 64(AX)(BX*4)
	ADDQ    $24, BX
	JMP     ct24

ct8:
	MOVQ CX, DX
	SUBQ BX, DX
	CMPQ DX, $8
	JLT  ctdone
	MOVQ         b+56(FP), AX
	VBROADCASTSS 0(AX), Y0
	VBROADCASTSS 4(AX), Y3
	VBROADCASTSS 8(AX), Y6
	VBROADCASTSS 12(AX), Y9
	XORQ         R8, R8
	MOVQ         w+48(FP), R9
	LEAQ         (R9)(R12*2), R13
	LEAQ         (SI)(BX*4), DX

ct8tap:
	MOVQ         (R11)(R8*8), AX
	VMOVUPS      (DX)(AX*4), Y12
	VBROADCASTSS (R9), Y15
	VFMADD231PS  Y12, Y15, Y0
	VBROADCASTSS (R9)(R12*1), Y15
	VFMADD231PS  Y12, Y15, Y3
	VBROADCASTSS (R13), Y15
	VFMADD231PS  Y12, Y15, Y6
	VBROADCASTSS (R13)(R12*1), Y15
	VFMADD231PS  Y12, Y15, Y9
	ADDQ         $4, R9
	ADDQ         $4, R13
	INCQ         R8
	CMPQ         R8, R14
	JLT          ct8tap

	VMOVUPS Y0, (DI)(BX*4)
	LEAQ    (DI)(R10*1), AX
	VMOVUPS Y3, (AX)(BX*4)
	LEAQ    (AX)(R10*1), AX
	VMOVUPS Y6, (AX)(BX*4)
	LEAQ    (AX)(R10*1), AX
	VMOVUPS Y9, (AX)(BX*4)
	ADDQ    $8, BX
	JMP     ct8

ctdone:
	VZEROUPPER
	RET
