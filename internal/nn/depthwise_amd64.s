#include "textflag.h"

// s = w0*r[i] + w1*r[i+1] + w2*r[i+2] for 8 i at a time (index BX), the
// products rounded apart and added left to right as dw3s1Row does; Y1 is
// scratch.
#define ROW3(r, w0, w1, w2, s) \
	VMULPS (r)(BX*4), w0, s;    \
	VMULPS 4(r)(BX*4), w1, Y1;  \
	VADDPS Y1, s, s;            \
	VMULPS 8(r)(BX*4), w2, Y1;  \
	VADDPS Y1, s, s

// dst = max(a, b) with Go's NaN rule: VMAXPS returns its second operand
// when either is NaN, so a NaN in a is blended back in (Y4, Y5 scratch).
#define MAXNAN(a, b, dst) \
	VMAXPS    b, a, Y4;        \
	VCMPPS    $3, a, a, Y5;    \
	VBLENDVPS Y5, a, Y4, dst

// The arguments of a 3x3 depthwise row kernel (d, r0, r1, r2 *float32,
// n int, w *[9]float32, b float32): pointers in DI, SI, R8, R9, n in CX,
// the bias broadcast in Y15 and the nine weights in Y6 to Y14; BX, the
// output index, starts at 0.
#define DW3ARGS \
	MOVQ         d+0(FP), DI;   \
	MOVQ         r0+8(FP), SI;  \
	MOVQ         r1+16(FP), R8; \
	MOVQ         r2+24(FP), R9; \
	MOVQ         n+32(FP), CX;  \
	MOVQ         w+40(FP), AX;  \
	VBROADCASTSS b+48(FP), Y15; \
	VBROADCASTSS 0(AX), Y6;     \
	VBROADCASTSS 4(AX), Y7;     \
	VBROADCASTSS 8(AX), Y8;     \
	VBROADCASTSS 12(AX), Y9;    \
	VBROADCASTSS 16(AX), Y10;   \
	VBROADCASTSS 20(AX), Y11;   \
	VBROADCASTSS 24(AX), Y12;   \
	VBROADCASTSS 28(AX), Y13;   \
	VBROADCASTSS 32(AX), Y14;   \
	XORQ         BX, BX

// func dw3s1RowAVX2(d, r0, r1, r2 *float32, n int, w *[9]float32, b float32)
//
// dw3s1Row on 8 outputs per iteration; n must be a multiple of 8 and each
// r_k must hold n+2 values. Each sum is formed with separate multiplies and
// adds in dw3s1Row's order (no FMA), so the results equal the Go kernel's
// bit for bit.
TEXT ·dw3s1RowAVX2(SB), NOSPLIT, $0-52
	DW3ARGS

dwloop:
	CMPQ BX, CX
	JGE  dwdone
	ROW3(SI, Y6, Y7, Y8, Y0)    // s0 from r0
	ROW3(R8, Y9, Y10, Y11, Y2)  // s1 from r1
	ROW3(R9, Y12, Y13, Y14, Y3) // s2 from r2
	// d = b + s0 + s1 + s2
	VADDPS Y0, Y15, Y4
	VADDPS Y2, Y4, Y4
	VADDPS Y3, Y4, Y4
	VMOVUPS Y4, (DI)(BX*4)
	ADDQ $8, BX
	JMP  dwloop

dwdone:
	VZEROUPPER
	RET

// func maxPool2x2RowAVX2(d, r0, r1 *float32, n int)
//
// d[i] = max of r0[2i], r0[2i+1], r1[2i], r1[2i+1] for 8 outputs per
// iteration; n must be a multiple of 8. A NaN in a window gives NaN, as
// the Go kernel's builtin max does (MAXNAN).
TEXT ·maxPool2x2RowAVX2(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ r0+8(FP), SI
	MOVQ r1+16(FP), R8
	MOVQ n+24(FP), CX
	XORQ BX, BX

mploop:
	CMPQ BX, CX
	JGE  mpdone
	VMOVUPS (SI)(BX*8), Y0    // r0[2i .. 2i+7]
	VMOVUPS 32(SI)(BX*8), Y1  // r0[2i+8 .. 2i+15]
	VMOVUPS (R8)(BX*8), Y2
	VMOVUPS 32(R8)(BX*8), Y3

	// Column maxima, then the maxima of even and odd columns, lane by lane:
	// [0 2 8 10 | 4 6 12 14] against [1 3 9 11 | 5 7 13 15].
	MAXNAN(Y0, Y2, Y0)
	MAXNAN(Y1, Y3, Y1)
	VSHUFPS $0x88, Y1, Y0, Y2
	VSHUFPS $0xDD, Y1, Y0, Y3
	MAXNAN(Y2, Y3, Y2)

	// Outputs are in the order 0 1 4 5 2 3 6 7 by pairs; swap the middle
	// 64-bit pairs.
	VPERMPD $0xD8, Y2, Y2
	VMOVUPS Y2, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     mploop

mpdone:
	VZEROUPPER
	RET

// s = w0*r[2i] + w1*r[2i+1] + w2*r[2i+2] for 8 i at a time (BX = i, so
// BX*8 is the byte offset of r[2i]), in the lane order 0 1 4 5 2 3 6 7 by
// pairs that VSHUFPS leaves: even columns [0 2 8 10 | 4 6 12 14], odd
// [1 3 9 11 | 5 7 13 15], and the even columns from 2 on taken as the odd
// ones of the row shifted by one value, which reads r[2i+1 .. 2i+16] and
// no further than the Go kernel. Products are rounded apart and added left
// to right as dw3s2Row does; Y0 to Y3 are scratch.
#define ROW3S2(r, w0, w1, w2, s) \
	VMOVUPS (r)(BX*8), Y0;                \
	VMOVUPS 4(r)(BX*8), Y1;               \
	VSHUFPS $0x88, 32(r)(BX*8), Y0, Y2;   \
	VSHUFPS $0xDD, 32(r)(BX*8), Y0, Y3;   \
	VSHUFPS $0xDD, 36(r)(BX*8), Y1, Y1;   \
	VMULPS  Y2, w0, s;                    \
	VMULPS  Y3, w1, Y3;                   \
	VADDPS  Y3, s, s;                     \
	VMULPS  Y1, w2, Y1;                   \
	VADDPS  Y1, s, s

// func dw3s2RowAVX2(d, r0, r1, r2 *float32, n int, w *[9]float32, b float32)
//
// dw3s2Row on 8 outputs per iteration; n must be a multiple of 8 and each
// r_k must hold 2n+1 values. The sums are formed in dw3s2Row's order
// (b + s0 + s1 + s2, no FMA) in the shuffled lane order, and one VPERMPD
// puts the 8 results in place, so they equal the Go kernel's bit for bit.
TEXT ·dw3s2RowAVX2(SB), NOSPLIT, $0-52
	DW3ARGS

s2loop:
	CMPQ BX, CX
	JGE  s2done
	ROW3S2(SI, Y6, Y7, Y8, Y4)   // s0 from r0
	ROW3S2(R8, Y9, Y10, Y11, Y5) // s1 from r1
	VADDPS Y4, Y15, Y4           // b + s0
	VADDPS Y5, Y4, Y4            // + s1
	ROW3S2(R9, Y12, Y13, Y14, Y5) // s2 from r2
	VADDPS  Y5, Y4, Y4
	VPERMPD $0xD8, Y4, Y4
	VMOVUPS Y4, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     s2loop

s2done:
	VZEROUPPER
	RET
