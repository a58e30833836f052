#include "textflag.h"

// Both kernels walk w (DI) and g (SI) 8 floats at a time, index BX up to
// n (CX). The top of an iteration: leave for done at n, else x = w in Y0
// and d = g in Y1.
#define LOADWG(done) \
	CMPQ    BX, CX;         \
	JGE     done;           \
	VMOVUPS (DI)(BX*4), Y0; \
	VMOVUPS (SI)(BX*4), Y1

// Weight decay folded into the gradient when flag is set: d = x*wd + d.
#define ADDWD(flag, wd, skip) \
	TESTQ       flag, flag; \
	JZ          skip;       \
	VFMADD231PS wd, Y0, Y1; \
skip:

// The bottom of an iteration: w = x, on to the next 8 floats.
#define STOREW(loop) \
	VMOVUPS Y0, (DI)(BX*4); \
	ADDQ    $8, BX;         \
	JMP     loop

// func adamAVX2(wp, gp, mp, vp *float32, n int, s *adamScalars, useDecay, useWD bool)
//
// The Adam update of adamKernel on 8 floats per iteration; n must be a
// multiple of 8. These are the instructions PyTorch's AVX2 kernels execute
// (VFMADD for add_ with alpha and for addcmul_, separate rounding for the
// rest), so the results are bit-identical to adamKernel's.
TEXT ·adamAVX2(SB), NOSPLIT, $0-50
	MOVQ wp+0(FP), DI
	MOVQ gp+8(FP), SI
	MOVQ mp+16(FP), R8
	MOVQ vp+24(FP), R9
	MOVQ n+32(FP), CX
	MOVQ s+40(FP), AX
	MOVBLZX useDecay+48(FP), R10
	MOVBLZX useWD+49(FP), R11

	// adamScalars: decay, wd, beta1, omb1, beta2, omb2, bc2sqrt, eps, stepSize
	VBROADCASTSS 0(AX), Y7
	VBROADCASTSS 4(AX), Y8
	VBROADCASTSS 8(AX), Y9
	VBROADCASTSS 12(AX), Y10
	VBROADCASTSS 16(AX), Y11
	VBROADCASTSS 20(AX), Y12
	VBROADCASTSS 24(AX), Y13
	VBROADCASTSS 28(AX), Y14
	VBROADCASTSS 32(AX), Y15

	XORQ BX, BX
loop:
	LOADWG(done)
	TESTQ   R10, R10
	JZ      nodecay
	VMULPS  Y7, Y0, Y0     // x = x * (1 - lr*wd)
nodecay:
	ADDWD(R11, Y8, nowd)
	VMOVUPS     (R8)(BX*4), Y2
	VMULPS      Y9, Y2, Y2     // m*beta1
	VFMADD231PS Y10, Y1, Y2    // m = d*(1-beta1) + m*beta1
	VMOVUPS     (R9)(BX*4), Y3
	VMULPS      Y11, Y3, Y3    // v*beta2
	VMULPS      Y12, Y1, Y4    // (1-beta2)*d
	VFMADD231PS Y1, Y4, Y3     // v = ((1-beta2)*d)*d + v*beta2
	VMOVUPS     Y2, (R8)(BX*4)
	VMOVUPS     Y3, (R9)(BX*4)
	VSQRTPS     Y3, Y5
	VDIVPS      Y13, Y5, Y5    // sqrt(v) / bc2sqrt
	VADDPS      Y14, Y5, Y5    // + eps
	VMULPS      Y15, Y2, Y6    // stepSize*m
	VDIVPS      Y5, Y6, Y6     // / denom
	VADDPS      Y6, Y0, Y0     // x + ...
	STOREW(loop)
done:
	VZEROUPPER
	RET

// func sgdAVX2(wp, gp, bp *float32, n int, wd, mom, keep, negLR float32, useWD, useMom, first, nesterov bool)
//
// The SGD update of sgdPlain/sgdMomentum on 8 floats per iteration; n must
// be a multiple of 8, bp may be nil when useMom is false. Every add_ with
// alpha is a VFMADD, as in PyTorch's AVX2 kernels.
TEXT ·sgdAVX2(SB), NOSPLIT, $0-52
	MOVQ wp+0(FP), DI
	MOVQ gp+8(FP), SI
	MOVQ bp+16(FP), R8
	MOVQ n+24(FP), CX
	VBROADCASTSS wd+32(FP), Y8
	VBROADCASTSS mom+36(FP), Y9
	VBROADCASTSS keep+40(FP), Y10
	VBROADCASTSS negLR+44(FP), Y11
	MOVBLZX useWD+48(FP), R10
	MOVBLZX useMom+49(FP), R11
	MOVBLZX first+50(FP), R12
	MOVBLZX nesterov+51(FP), R13

	XORQ BX, BX
sloop:
	LOADWG(sdone)
	ADDWD(R10, Y8, snowd)
	TESTQ R11, R11
	JZ    supdate
	TESTQ R12, R12
	JZ    sbuf
	VMOVUPS Y1, Y2         // first step: buf = d
	JMP   sstored
sbuf:
	VMOVUPS     (R8)(BX*4), Y2
	VMULPS      Y9, Y2, Y2  // buf*momentum
	VFMADD231PS Y10, Y1, Y2 // buf = d*(1-dampening) + buf*momentum
sstored:
	VMOVUPS Y2, (R8)(BX*4)
	TESTQ   R13, R13
	JZ      splain
	VFMADD231PS Y9, Y2, Y1 // Nesterov: d = buf*momentum + d
	JMP   supdate
splain:
	VMOVUPS Y2, Y1         // d = buf
supdate:
	VFMADD231PS Y11, Y1, Y0 // x = d*(-lr) + x
	STOREW(sloop)
sdone:
	VZEROUPPER
	RET
