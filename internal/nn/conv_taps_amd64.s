#include "textflag.h"

// Output channel o's accumulators y0..y2 (24 outputs) start at its bias
// b[o], read at byte offset off from AX.
#define BIAS3(off, y0, y1, y2) \
	VBROADCASTSS off(AX), y0; \
	VMOVAPS      y0, y1;      \
	VMOVAPS      y0, y2

// One tap for one output channel: its weight (at address w) times the 24
// source values in Y12..Y14, added into y0..y2. Y15 holds the broadcast.
#define TAP3(w, y0, y1, y2) \
	VBROADCASTSS w, Y15;           \
	VFMADD231PS  Y12, Y15, y0;     \
	VFMADD231PS  Y13, Y15, y1;     \
	VFMADD231PS  Y14, Y15, y2

// TAP3 for 8 outputs: the source values in Y12, the sum in y.
#define TAP1(w, y) \
	VBROADCASTSS w, Y15; \
	VFMADD231PS  Y12, Y15, y

// On to the next tap (R8 up to taps in R14): the weight pointers of
// channels 0 (R9) and 2 (R13) step one float.
#define NEXTTAP(loop) \
	ADDQ $4, R9;     \
	ADDQ $4, R13;    \
	INCQ R8;         \
	CMPQ R8, R14;    \
	JLT  loop

// 24 outputs of one channel from y0..y2 to row at x (index BX).
#define STORE3(row, y0, y1, y2) \
	VMOVUPS y0, (row)(BX*4);   \
	VMOVUPS y1, 32(row)(BX*4); \
	VMOVUPS y2, 64(row)(BX*4)

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
	BIAS3(0, Y0, Y1, Y2)
	BIAS3(4, Y3, Y4, Y5)
	BIAS3(8, Y6, Y7, Y8)
	BIAS3(12, Y9, Y10, Y11)
	XORQ         R8, R8         // tap
	MOVQ         w+48(FP), R9   // its weight for channel 0
	LEAQ         (R9)(R12*2), R13 // and for channel 2
	LEAQ         (SI)(BX*4), DX // src + x

ct24tap:
	MOVQ         (R11)(R8*8), AX
	VMOVUPS      (DX)(AX*4), Y12
	VMOVUPS      32(DX)(AX*4), Y13
	VMOVUPS      64(DX)(AX*4), Y14
	TAP3((R9), Y0, Y1, Y2)
	TAP3((R9)(R12*1), Y3, Y4, Y5)
	TAP3((R13), Y6, Y7, Y8)
	TAP3((R13)(R12*1), Y9, Y10, Y11)
	NEXTTAP(ct24tap)

	STORE3(DI, Y0, Y1, Y2)
	LEAQ (DI)(R10*1), AX
	STORE3(AX, Y3, Y4, Y5)
	LEAQ (AX)(R10*1), AX
	STORE3(AX, Y6, Y7, Y8)
	LEAQ (AX)(R10*1), AX
	STORE3(AX, Y9, Y10, Y11)
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
	TAP1((R9), Y0)
	TAP1((R9)(R12*1), Y3)
	TAP1((R13), Y6)
	TAP1((R13)(R12*1), Y9)
	NEXTTAP(ct8tap)

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
