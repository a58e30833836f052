#include "textflag.h"

// AVX2 tile transforms of winograd_tiles.go, each on 8 tiles at once (one
// tile per vector lane) and looping over the channels inside, so that the
// lane set-up the Go side builds once serves every channel. The input and
// gradient tiles are read whole rows per lane and transposed (the row
// kernels) or, at the tensor's first and last windows, with masked
// gathers (a masked-off lane reads nothing and stays zero, which is the
// padding); each kernel writes 8 consecutive values of each
// transform-domain row; winograd_amd64.go describes the arguments.
// FMA makes the results differ from the Go kernels' in the last bits.

// GATHER loads position off/32 of the lane tables (idx at R8, masks at
// R9, column offset AX) from the plane at SI into dst.
#define GATHER(off, dst) \
	VMOVDQU off(R8)(AX*1), Y6; \
	VMOVDQU off(R9)(AX*1), Y7; \
	VXORPS dst, dst, dst; \
	VGATHERDPS Y7, (SI)(Y6*4), dst

// ROWKERNEL sets up the registers the row kernels share: the lane table
// (R8), the window row pointer (SI), the mask table and scratch (R11),
// the output (DI), w and the channel step less the rows (DX, BX, bytes)
// and es, 6es, 18es, 30es (R12..R15, bytes).
#define ROWKERNEL(rows) \
	MOVQ x+0(FP), SI; \
	MOVQ offs+8(FP), R8; \
	MOVQ tab+16(FP), R11; \
	MOVQ hw+32(FP), BX; \
	MOVQ w+40(FP), DX; \
	IMUL3Q $rows, DX, AX; \
	SUBQ AX, BX; \
	SHLQ $2, BX; \
	SHLQ $2, DX; \
	MOVQ v+48(FP), DI; \
	MOVQ vstep+56(FP), AX; \
	SHLQ $2, AX; \
	MOVQ AX, vstep+56(FP); \
	MOVQ es+64(FP), R12; \
	SHLQ $2, R12; \
	LEAQ (R12)(R12*2), R13; \
	ADDQ R13, R13; \
	LEAQ (R13)(R13*2), R14; \
	LEAQ (R14)(R13*2), R15

// INPUT1D is Bᵀ d of the column Y0..Y5 into Y8, Y11, Y9, Y13, Y12, Y10
// (t0..t5 of input1D), with Y14 = 4 and Y15 = 5.
#define INPUT1D \
	VMOVAPS Y0, Y8; \
	VFNMADD231PS Y15, Y2, Y8; \
	VFMADD231PS Y14, Y4, Y8; \
	VMOVAPS Y2, Y9; \
	VFMSUB231PS Y14, Y4, Y9; \
	VMOVAPS Y1, Y10; \
	VFMSUB231PS Y14, Y3, Y10; \
	VADDPS Y10, Y9, Y11; \
	VSUBPS Y10, Y9, Y9; \
	VSUBPS Y3, Y1, Y10; \
	VSUBPS Y4, Y2, Y12; \
	VADDPS Y12, Y12, Y12; \
	VADDPS Y10, Y12, Y13; \
	VSUBPS Y10, Y12, Y12; \
	VMOVAPS Y1, Y10; \
	VFNMADD231PS Y15, Y3, Y10; \
	VFMADD231PS Y14, Y5, Y10

// STORE6 writes Y8, Y11, Y9, Y13, Y12, Y10 to R14 + k*es (es in R10,
// 3es in R11, 5es in R12).
#define STORE6 \
	VMOVUPS Y8, (R14); \
	VMOVUPS Y11, (R14)(R10*1); \
	VMOVUPS Y9, (R14)(R10*2); \
	VMOVUPS Y13, (R14)(R11*1); \
	VMOVUPS Y12, (R14)(R10*4); \
	VMOVUPS Y10, (R14)(R12*1)

// func wgInput8AVX2(x *float32, idx, mask *[36][8]int32, cin, hw int, v *float32, vstep, es int, tmp *[36][8]float32)
TEXT ·wgInput8AVX2(SB), NOSPLIT, $0-72
	MOVQ x+0(FP), SI
	MOVQ idx+8(FP), R8
	MOVQ mask+16(FP), R9
	MOVQ cin+24(FP), CX
	MOVQ hw+32(FP), DX
	SHLQ $2, DX
	MOVQ v+40(FP), DI
	MOVQ vstep+48(FP), BX
	SHLQ $2, BX
	MOVQ es+56(FP), R10
	SHLQ $2, R10
	MOVQ tmp+64(FP), R13
	LEAQ (R10)(R10*2), R11
	LEAQ (R10)(R10*4), R12
	MOVL $0x40800000, AX // 4.0
	MOVQ AX, X14
	VBROADCASTSS X14, Y14
	MOVL $0x40a00000, AX // 5.0
	MOVQ AX, X15
	VBROADCASTSS X15, Y15

inchan:
	// Columns: Bᵀ d of window column k into row-major tmp[r][k].
	XORQ AX, AX
incol:
	GATHER(0, Y0)
	GATHER(192, Y1)
	GATHER(384, Y2)
	GATHER(576, Y3)
	GATHER(768, Y4)
	GATHER(960, Y5)
	INPUT1D
	VMOVUPS Y8, 0(R13)(AX*1)
	VMOVUPS Y11, 192(R13)(AX*1)
	VMOVUPS Y9, 384(R13)(AX*1)
	VMOVUPS Y13, 576(R13)(AX*1)
	VMOVUPS Y12, 768(R13)(AX*1)
	VMOVUPS Y10, 960(R13)(AX*1)
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  incol

	// Rows: (Bᵀ d) B, row r to elements 6r..6r+5.
	XORQ AX, AX
	MOVQ DI, R14
inrow:
	VMOVUPS 0(R13)(AX*1), Y0
	VMOVUPS 32(R13)(AX*1), Y1
	VMOVUPS 64(R13)(AX*1), Y2
	VMOVUPS 96(R13)(AX*1), Y3
	VMOVUPS 128(R13)(AX*1), Y4
	VMOVUPS 160(R13)(AX*1), Y5
	INPUT1D
	STORE6
	LEAQ (R14)(R11*2), R14
	ADDQ $192, AX
	CMPQ AX, $1152
	JLT  inrow

	ADDQ DX, SI
	ADDQ BX, DI
	DECQ CX
	JNZ  inchan
	VZEROUPPER
	RET

// ROWPAIR loads, for lanes j and j+4 (byte offsets lo and hi of the
// table at R8), columns 0-3 of the current window row (at SI plus the
// lane's offset) into ylo, one 128-bit half per lane, ready for
// TRANSPOSE4; ROWPAIR2 also loads columns 2-5 into yhi (the input
// windows' six columns as two overlapping fours, so that no load reads
// past the window).
#define ROWPAIR(lo, hi, ylo, xlo) \
	MOVQ lo(R8), R9; \
	MOVQ hi(R8), R10; \
	VMOVUPS (SI)(R9*1), xlo; \
	VINSERTF128 $1, (SI)(R10*1), ylo, ylo

#define ROWPAIR2(lo, hi, ylo, xlo, yhi, xhi) \
	ROWPAIR(lo, hi, ylo, xlo); \
	VMOVUPS 8(SI)(R9*1), xhi; \
	VINSERTF128 $1, 8(SI)(R10*1), yhi, yhi

// TRANSPOSE4 turns the row pairs Y0..Y3 (lanes j | j+4, four values each)
// into the columns Y0..Y3 across the eight lanes, through Y8..Y11.
#define TRANSPOSE4 \
	VUNPCKLPS Y1, Y0, Y8; \
	VUNPCKHPS Y1, Y0, Y9; \
	VUNPCKLPS Y3, Y2, Y10; \
	VUNPCKHPS Y3, Y2, Y11; \
	VUNPCKLPD Y10, Y8, Y0; \
	VUNPCKHPD Y10, Y8, Y1; \
	VUNPCKLPD Y11, Y9, Y2; \
	VUNPCKHPD Y11, Y9, Y3

// MASK4 zeroes the lanes of columns Y0..Y3 whose values lie outside the
// plane (the padding, or the rows and columns past a cropped tile): mask
// row AX/192 of the table at R11. A bitwise AND, so whatever was loaded
// there (the neighbouring row's values, even a NaN) becomes +0.
#define MASK4 \
	VANDPS 0(R11)(AX*1), Y0, Y0; \
	VANDPS 32(R11)(AX*1), Y1, Y1; \
	VANDPS 64(R11)(AX*1), Y2, Y2; \
	VANDPS 96(R11)(AX*1), Y3, Y3

// STORECOL writes the six transform-domain values of one column (elements
// k, k+6, ... k+30: R9 + i*6es with es in R12, 6es in R13, 18es in R14
// and 30es in R15) and moves R9 on to column k+1.
#define STORECOL(y0, y1, y2, y3, y4, y5) \
	VMOVUPS y0, (R9); \
	VMOVUPS y1, (R9)(R13*1); \
	VMOVUPS y2, (R9)(R13*2); \
	VMOVUPS y3, (R9)(R14*1); \
	VMOVUPS y4, (R9)(R13*4); \
	VMOVUPS y5, (R9)(R15*1); \
	ADDQ R12, R9

// func wgInput8Rows(x *float32, offs *[8]int, tab *wgRowTab, cin, hw, w int, v *float32, vstep, es int)
TEXT ·wgInput8Rows(SB), NOSPLIT, $0-72
	ROWKERNEL(6)
	MOVQ cin+24(FP), CX
	MOVL $0x40800000, AX // 4.0
	MOVQ AX, X14
	VBROADCASTSS X14, Y14
	MOVL $0x40a00000, AX // 5.0
	MOVQ AX, X15
	VBROADCASTSS X15, Y15

rchan:
	// Rows: d B of window row r, loaded whole per lane and transposed,
	// into tmp[r][k].
	XORQ AX, AX
rrow:
	ROWPAIR2(0, 32, Y0, X0, Y4, X4)
	ROWPAIR2(8, 40, Y1, X1, Y5, X5)
	ROWPAIR2(16, 48, Y2, X2, Y6, X6)
	ROWPAIR2(24, 56, Y3, X3, Y7, X7)
	TRANSPOSE4
	VUNPCKHPS Y5, Y4, Y8
	VUNPCKHPS Y7, Y6, Y9
	VUNPCKLPD Y9, Y8, Y4
	VUNPCKHPD Y9, Y8, Y5
	MASK4
	VANDPS 128(R11)(AX*1), Y4, Y4
	VANDPS 160(R11)(AX*1), Y5, Y5
	INPUT1D
	VMOVUPS Y8, 1152(R11)(AX*1)
	VMOVUPS Y11, 1184(R11)(AX*1)
	VMOVUPS Y9, 1216(R11)(AX*1)
	VMOVUPS Y13, 1248(R11)(AX*1)
	VMOVUPS Y12, 1280(R11)(AX*1)
	VMOVUPS Y10, 1312(R11)(AX*1)
	ADDQ DX, SI
	ADDQ $192, AX
	CMPQ AX, $1152
	JLT  rrow

	// Columns: Bᵀ (d B), column k to elements k, k+6, ... k+30.
	XORQ AX, AX
	MOVQ DI, R9
rcol:
	VMOVUPS 1152(R11)(AX*1), Y0
	VMOVUPS 1344(R11)(AX*1), Y1
	VMOVUPS 1536(R11)(AX*1), Y2
	VMOVUPS 1728(R11)(AX*1), Y3
	VMOVUPS 1920(R11)(AX*1), Y4
	VMOVUPS 2112(R11)(AX*1), Y5
	INPUT1D
	STORECOL(Y8, Y11, Y9, Y13, Y12, Y10)
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  rcol

	ADDQ BX, SI
	ADDQ vstep+56(FP), DI
	DECQ CX
	JNZ  rchan
	VZEROUPPER
	RET

// GRAD1D is A y of the column Y0..Y3 into Y0, Y8, Y9, Y10, Y11, Y3
// (z0..z5 of grad1D), with Y14 = 1/2 and Y15 = 1/4.
#define GRAD1D \
	VADDPS Y2, Y0, Y4; \
	VADDPS Y3, Y1, Y5; \
	VMOVAPS Y0, Y6; \
	VFMADD231PS Y15, Y2, Y6; \
	VMOVAPS Y1, Y7; \
	VFMADD231PS Y15, Y3, Y7; \
	VMULPS Y14, Y7, Y7; \
	VADDPS Y5, Y4, Y8; \
	VSUBPS Y5, Y4, Y9; \
	VADDPS Y7, Y6, Y10; \
	VSUBPS Y7, Y6, Y11

// func wgGrad8AVX2(dy *float32, idx, mask *[16][8]int32, cout, ohw int, z *float32, zstep, es int, tmp *[24][8]float32)
TEXT ·wgGrad8AVX2(SB), NOSPLIT, $0-72
	MOVQ dy+0(FP), SI
	MOVQ idx+8(FP), R8
	MOVQ mask+16(FP), R9
	MOVQ cout+24(FP), CX
	MOVQ ohw+32(FP), DX
	SHLQ $2, DX
	MOVQ z+40(FP), DI
	MOVQ zstep+48(FP), BX
	SHLQ $2, BX
	MOVQ es+56(FP), R10
	SHLQ $2, R10
	MOVQ tmp+64(FP), R13
	LEAQ (R10)(R10*2), R11
	LEAQ (R10)(R10*4), R12
	MOVL $0x3f000000, AX // 0.5
	MOVQ AX, X14
	VBROADCASTSS X14, Y14
	MOVL $0x3e800000, AX // 0.25
	MOVQ AX, X15
	VBROADCASTSS X15, Y15

gchan:
	// Columns: A y of tile column k into tmp[r][k] (6 rows of 4).
	XORQ AX, AX
gcol:
	GATHER(0, Y0)
	GATHER(128, Y1)
	GATHER(256, Y2)
	GATHER(384, Y3)
	GRAD1D
	VMOVUPS Y0, 0(R13)(AX*1)
	VMOVUPS Y8, 128(R13)(AX*1)
	VMOVUPS Y9, 256(R13)(AX*1)
	VMOVUPS Y10, 384(R13)(AX*1)
	VMOVUPS Y11, 512(R13)(AX*1)
	VMOVUPS Y3, 640(R13)(AX*1)
	ADDQ $32, AX
	CMPQ AX, $128
	JLT  gcol

	// Rows: (A y) Aᵀ, row r to elements 6r..6r+5.
	XORQ AX, AX
	MOVQ DI, R14
grow:
	VMOVUPS 0(R13)(AX*1), Y0
	VMOVUPS 32(R13)(AX*1), Y1
	VMOVUPS 64(R13)(AX*1), Y2
	VMOVUPS 96(R13)(AX*1), Y3
	GRAD1D
	VMOVUPS Y0, (R14)
	VMOVUPS Y8, (R14)(R10*1)
	VMOVUPS Y9, (R14)(R10*2)
	VMOVUPS Y10, (R14)(R11*1)
	VMOVUPS Y11, (R14)(R10*4)
	VMOVUPS Y3, (R14)(R12*1)
	LEAQ (R14)(R11*2), R14
	ADDQ $128, AX
	CMPQ AX, $768
	JLT  grow

	ADDQ DX, SI
	ADDQ BX, DI
	DECQ CX
	JNZ  gchan
	VZEROUPPER
	RET

// func wgGrad8Rows(x *float32, offs *[8]int, tab *wgRowTab, cout, hw, w int, v *float32, vstep, es int)
TEXT ·wgGrad8Rows(SB), NOSPLIT, $0-72
	ROWKERNEL(4)
	MOVQ cout+24(FP), CX
	MOVL $0x3f000000, AX // 0.5
	MOVQ AX, X14
	VBROADCASTSS X14, Y14
	MOVL $0x3e800000, AX // 0.25
	MOVQ AX, X15
	VBROADCASTSS X15, Y15

gvchan:
	// Rows: y Aᵀ of tile row r, loaded whole per lane and transposed,
	// into tmp[r][k] (4 rows of 6).
	XORQ AX, AX
gvrow:
	ROWPAIR(0, 32, Y0, X0)
	ROWPAIR(8, 40, Y1, X1)
	ROWPAIR(16, 48, Y2, X2)
	ROWPAIR(24, 56, Y3, X3)
	TRANSPOSE4
	MASK4
	GRAD1D
	VMOVUPS Y0, 1152(R11)(AX*1)
	VMOVUPS Y8, 1184(R11)(AX*1)
	VMOVUPS Y9, 1216(R11)(AX*1)
	VMOVUPS Y10, 1248(R11)(AX*1)
	VMOVUPS Y11, 1280(R11)(AX*1)
	VMOVUPS Y3, 1312(R11)(AX*1)
	ADDQ DX, SI
	ADDQ $192, AX
	CMPQ AX, $768
	JLT  gvrow

	// Columns: A (y Aᵀ), column k to elements k, k+6, ... k+30.
	XORQ AX, AX
	MOVQ DI, R9
gvcol:
	VMOVUPS 1152(R11)(AX*1), Y0
	VMOVUPS 1344(R11)(AX*1), Y1
	VMOVUPS 1536(R11)(AX*1), Y2
	VMOVUPS 1728(R11)(AX*1), Y3
	GRAD1D
	STORECOL(Y0, Y8, Y9, Y10, Y11, Y3)
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  gvcol

	ADDQ BX, SI
	ADDQ vstep+56(FP), DI
	DECQ CX
	JNZ  gvchan
	VZEROUPPER
	RET

// OUTPUT1D is Aᵀ m of the column Y0..Y5 into Y10..Y13 (y0..y3 of
// output1D), with Y14 = 1/2 and Y15 = 1/4 (1/8 d34 as 1/2 of 1/4 d34,
// exact in binary).
#define OUTPUT1D \
	VADDPS Y2, Y1, Y6; \
	VSUBPS Y2, Y1, Y7; \
	VADDPS Y4, Y3, Y8; \
	VSUBPS Y4, Y3, Y9; \
	VADDPS Y6, Y0, Y10; \
	VADDPS Y8, Y10, Y10; \
	VMOVAPS Y7, Y11; \
	VFMADD231PS Y14, Y9, Y11; \
	VMOVAPS Y6, Y12; \
	VFMADD231PS Y15, Y8, Y12; \
	VMULPS Y15, Y9, Y13; \
	VMULPS Y14, Y13, Y13; \
	VADDPS Y7, Y13, Y13; \
	VADDPS Y5, Y13, Y13

// STORELANES writes the 4-value rows of lanes lo and lo+4 (X of src and
// its high half) at R14 plus the lanes' byte offsets in the table at R8.
#define STORELANES(src, xsrc, lo, hi) \
	MOVQ lo(R8), R15; \
	VMOVUPS xsrc, (R14)(R15*1); \
	MOVQ hi(R8), R15; \
	VEXTRACTF128 $1, src, (R14)(R15*1)

// func wgOutput8AVX2(m *float32, es, mstep, cout int, out *float32, ohw int, offs *[8]int, wo int, bias *float32, bstep int, tmp *[24][8]float32)
TEXT ·wgOutput8AVX2(SB), NOSPLIT, $0-88
	MOVQ m+0(FP), SI
	MOVQ es+8(FP), R10
	SHLQ $2, R10
	MOVQ mstep+16(FP), AX
	SHLQ $2, AX
	MOVQ AX, mstep+16(FP)
	MOVQ out+32(FP), DI
	MOVQ ohw+40(FP), DX
	SHLQ $2, DX
	MOVQ offs+48(FP), R8
	MOVQ wo+56(FP), BX
	SHLQ $2, BX
	MOVQ bias+64(FP), CX
	MOVQ bstep+72(FP), AX
	SHLQ $2, AX
	MOVQ AX, bstep+72(FP)
	MOVQ tmp+80(FP), R9
	LEAQ (R10)(R10*2), R11
	ADDQ R11, R11          // 6es
	LEAQ (R11)(R11*2), R12 // 18es
	LEAQ (R12)(R11*2), R13 // 30es
	MOVL $0x3f000000, AX   // 0.5
	MOVQ AX, X14
	VBROADCASTSS X14, Y14
	MOVL $0x3e800000, AX   // 0.25
	MOVQ AX, X15
	VBROADCASTSS X15, Y15

ochan:
	// Columns: Aᵀ m of element column c into tmp[r][c] (4 rows of 6).
	XORQ AX, AX
	MOVQ SI, R14
ocol:
	VMOVUPS (R14), Y0
	VMOVUPS (R14)(R11*1), Y1
	VMOVUPS (R14)(R11*2), Y2
	VMOVUPS (R14)(R12*1), Y3
	VMOVUPS (R14)(R11*4), Y4
	VMOVUPS (R14)(R13*1), Y5
	OUTPUT1D
	VMOVUPS Y10, 0(R9)(AX*1)
	VMOVUPS Y11, 192(R9)(AX*1)
	VMOVUPS Y12, 384(R9)(AX*1)
	VMOVUPS Y13, 576(R9)(AX*1)
	ADDQ R10, R14
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  ocol

	// Rows: output row r of every lane's tile, plus the bias, transposed
	// from one vector per column to one 4-value row per lane.
	XORQ AX, AX
	MOVQ DI, R14
orow:
	VMOVUPS 0(R9)(AX*1), Y0
	VMOVUPS 32(R9)(AX*1), Y1
	VMOVUPS 64(R9)(AX*1), Y2
	VMOVUPS 96(R9)(AX*1), Y3
	VMOVUPS 128(R9)(AX*1), Y4
	VMOVUPS 160(R9)(AX*1), Y5
	OUTPUT1D
	VBROADCASTSS (CX), Y0
	VADDPS Y0, Y10, Y10
	VADDPS Y0, Y11, Y11
	VADDPS Y0, Y12, Y12
	VADDPS Y0, Y13, Y13
	VUNPCKLPS Y11, Y10, Y0
	VUNPCKHPS Y11, Y10, Y1
	VUNPCKLPS Y13, Y12, Y2
	VUNPCKHPS Y13, Y12, Y3
	VUNPCKLPD Y2, Y0, Y4
	VUNPCKHPD Y2, Y0, Y5
	VUNPCKLPD Y3, Y1, Y6
	VUNPCKHPD Y3, Y1, Y7
	STORELANES(Y4, X4, 0, 32)
	STORELANES(Y5, X5, 8, 40)
	STORELANES(Y6, X6, 16, 48)
	STORELANES(Y7, X7, 24, 56)
	ADDQ BX, R14
	ADDQ $192, AX
	CMPQ AX, $768
	JLT  orow

	ADDQ mstep+16(FP), SI
	ADDQ DX, DI
	ADDQ bstep+72(FP), CX
	DECQ cout+24(FP)
	JNZ  ochan
	VZEROUPPER
	RET

// FILTER1D is G g of the column Y0..Y2 into Y0, Y5, Y6, Y8, Y9, Y10 (t0..t5
// of filter1D), with Y12 = 4, Y13 = 1/6, Y14 = 1/3 and Y15 = 1/4.
#define FILTER1D \
	VADDPS Y2, Y0, Y3; \
	VMOVAPS Y2, Y4; \
	VFMADD231PS Y12, Y0, Y4; \
	VADDPS Y1, Y3, Y5; \
	VMULPS Y13, Y5, Y5; \
	VSUBPS Y1, Y3, Y6; \
	VMULPS Y13, Y6, Y6; \
	VADDPS Y1, Y1, Y7; \
	VADDPS Y7, Y4, Y8; \
	VMULPS Y14, Y8, Y8; \
	VSUBPS Y7, Y4, Y9; \
	VMULPS Y14, Y9, Y9; \
	VMULPS Y15, Y2, Y10

// FGATHER loads tap off/32 of the lane table at R8 from the filters at SI
// into dst (every lane reads).
#define FGATHER(off, dst) \
	VMOVDQU off(R8), Y3; \
	VPCMPEQD Y4, Y4, Y4; \
	VGATHERDPS Y4, (SI)(Y3*4), dst

// func wgFilter8AVX2(w *float32, idx *[9][8]int32, rows, wstep int, u *float32, ustep, es int, tmp *[18][8]float32)
TEXT ·wgFilter8AVX2(SB), NOSPLIT, $0-64
	MOVQ w+0(FP), SI
	MOVQ idx+8(FP), R8
	MOVQ rows+16(FP), CX
	MOVQ wstep+24(FP), DX
	SHLQ $2, DX
	MOVQ u+32(FP), DI
	MOVQ ustep+40(FP), BX
	SHLQ $2, BX
	MOVQ es+48(FP), R10
	SHLQ $2, R10
	MOVQ tmp+56(FP), R13
	LEAQ (R10)(R10*2), R11
	LEAQ (R10)(R10*4), R12
	MOVL $0x40800000, AX // 4
	MOVQ AX, X12
	VBROADCASTSS X12, Y12
	MOVL $0x3e2aaaab, AX // 1/6
	MOVQ AX, X13
	VBROADCASTSS X13, Y13
	MOVL $0x3eaaaaab, AX // 1/3
	MOVQ AX, X14
	VBROADCASTSS X14, Y14
	MOVL $0x3e800000, AX // 1/4
	MOVQ AX, X15
	VBROADCASTSS X15, Y15

frow:
	// Columns: G g of filter column c into tmp[r][c] (6 rows of 3).
	FGATHER(0, Y0)
	FGATHER(96, Y1)
	FGATHER(192, Y2)
	FILTER1D
	VMOVUPS Y0, 0(R13)
	VMOVUPS Y5, 96(R13)
	VMOVUPS Y6, 192(R13)
	VMOVUPS Y8, 288(R13)
	VMOVUPS Y9, 384(R13)
	VMOVUPS Y10, 480(R13)
	FGATHER(32, Y0)
	FGATHER(128, Y1)
	FGATHER(224, Y2)
	FILTER1D
	VMOVUPS Y0, 32(R13)
	VMOVUPS Y5, 128(R13)
	VMOVUPS Y6, 224(R13)
	VMOVUPS Y8, 320(R13)
	VMOVUPS Y9, 416(R13)
	VMOVUPS Y10, 512(R13)
	FGATHER(64, Y0)
	FGATHER(160, Y1)
	FGATHER(256, Y2)
	FILTER1D
	VMOVUPS Y0, 64(R13)
	VMOVUPS Y5, 160(R13)
	VMOVUPS Y6, 256(R13)
	VMOVUPS Y8, 352(R13)
	VMOVUPS Y9, 448(R13)
	VMOVUPS Y10, 544(R13)

	// Rows: (G g) Gᵀ, row r to elements 6r..6r+5.
	XORQ AX, AX
	MOVQ DI, R14
fcol:
	VMOVUPS 0(R13)(AX*1), Y0
	VMOVUPS 32(R13)(AX*1), Y1
	VMOVUPS 64(R13)(AX*1), Y2
	FILTER1D
	VMOVUPS Y0, (R14)
	VMOVUPS Y5, (R14)(R10*1)
	VMOVUPS Y6, (R14)(R10*2)
	VMOVUPS Y8, (R14)(R11*1)
	VMOVUPS Y9, (R14)(R10*4)
	VMOVUPS Y10, (R14)(R12*1)
	LEAQ (R14)(R11*2), R14
	ADDQ $96, AX
	CMPQ AX, $576
	JLT  fcol

	ADDQ DX, SI
	ADDQ BX, DI
	DECQ CX
	JNZ  frow
	VZEROUPPER
	RET

// FGRAD1D is Gᵀ u of the column Y0..Y5 into Y10, Y7, Y6 (the three values
// of filterGrad1D), with Y11 = 1/6, Y12 = 4/3, Y13 = 2/3, Y14 = 1/3 and
// Y15 = 1/4.
#define FGRAD1D \
	VADDPS Y2, Y1, Y6; \
	VSUBPS Y2, Y1, Y7; \
	VADDPS Y4, Y3, Y8; \
	VSUBPS Y4, Y3, Y9; \
	VMOVAPS Y0, Y10; \
	VFMADD231PS Y11, Y6, Y10; \
	VFMADD231PS Y12, Y8, Y10; \
	VMULPS Y11, Y7, Y7; \
	VFMADD231PS Y13, Y9, Y7; \
	VMULPS Y11, Y6, Y6; \
	VFMADD231PS Y14, Y8, Y6; \
	VFMADD231PS Y15, Y5, Y6

// BCAST broadcasts the float32 with bits bits into y (through AX).
#define BCAST(bits, x, y) \
	MOVL bits, AX; \
	MOVQ AX, x; \
	VBROADCASTSS x, y

// FADDLANE adds filter l's taps 0-7 (the 128-bit halves lo of a and b
// for sel $0x20, hi for $0x31) and tap 8 (lane l of tmp's row 26) to its
// 9 values at DI + off.
#define FADDLANE(l, a, b, sel, off) \
	VPERM2F128 sel, b, a, Y8; \
	VADDPS off(DI), Y8, Y8; \
	VMOVUPS Y8, off(DI); \
	VMOVSS (832+4*l)(R11), X9; \
	VADDSS (off+32)(DI), X9, X9; \
	VMOVSS X9, (off+32)(DI)

// func wgFilterGrad8AVX2(du *float32, es, groups int, dw *float32, tmp *[27][8]float32)
TEXT ·wgFilterGrad8AVX2(SB), NOSPLIT, $0-40
	MOVQ du+0(FP), SI
	MOVQ es+8(FP), R12
	SHLQ $2, R12
	MOVQ groups+16(FP), CX
	MOVQ dw+24(FP), DI
	MOVQ tmp+32(FP), R11
	LEAQ (R12)(R12*2), R13
	ADDQ R13, R13          // 6es
	LEAQ (R13)(R13*2), R14 // 18es
	LEAQ (R14)(R13*2), R15 // 30es

fgroup:
	BCAST($0x3e2aaaab, X11, Y11) // 1/6
	BCAST($0x3faaaaab, X12, Y12) // 4/3
	BCAST($0x3f2aaaab, X13, Y13) // 2/3
	BCAST($0x3eaaaaab, X14, Y14) // 1/3
	BCAST($0x3e800000, X15, Y15) // 1/4

	// Columns: Gᵀ u of element column c (elements c, c+6, ... c+30, es
	// apart) into tmp[r][c], 3 rows of 6.
	XORQ AX, AX
	MOVQ SI, R9
fgcol:
	VMOVUPS (R9), Y0
	VMOVUPS (R9)(R13*1), Y1
	VMOVUPS (R9)(R13*2), Y2
	VMOVUPS (R9)(R14*1), Y3
	VMOVUPS (R9)(R13*4), Y4
	VMOVUPS (R9)(R15*1), Y5
	FGRAD1D
	VMOVUPS Y10, 0(R11)(AX*1)
	VMOVUPS Y7, 192(R11)(AX*1)
	VMOVUPS Y6, 384(R11)(AX*1)
	ADDQ R12, R9
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  fgcol

	// Rows: (Gᵀ u) G, the filter gradient's tap k (row k/3, column k%3)
	// of every lane into tmp[18+k].
	VMOVUPS 0(R11), Y0
	VMOVUPS 32(R11), Y1
	VMOVUPS 64(R11), Y2
	VMOVUPS 96(R11), Y3
	VMOVUPS 128(R11), Y4
	VMOVUPS 160(R11), Y5
	FGRAD1D
	VMOVUPS Y10, 576(R11)
	VMOVUPS Y7, 608(R11)
	VMOVUPS Y6, 640(R11)
	VMOVUPS 192(R11), Y0
	VMOVUPS 224(R11), Y1
	VMOVUPS 256(R11), Y2
	VMOVUPS 288(R11), Y3
	VMOVUPS 320(R11), Y4
	VMOVUPS 352(R11), Y5
	FGRAD1D
	VMOVUPS Y10, 672(R11)
	VMOVUPS Y7, 704(R11)
	VMOVUPS Y6, 736(R11)
	VMOVUPS 384(R11), Y0
	VMOVUPS 416(R11), Y1
	VMOVUPS 448(R11), Y2
	VMOVUPS 480(R11), Y3
	VMOVUPS 512(R11), Y4
	VMOVUPS 544(R11), Y5
	FGRAD1D
	VMOVUPS Y10, 768(R11)
	VMOVUPS Y7, 800(R11)
	VMOVUPS Y6, 832(R11)

	// Transpose taps 0-7 (one vector per tap) to one vector per filter
	// and add them to its 9 values in dw; tap 8 one lane at a time.
	VMOVUPS 576(R11), Y0
	VMOVUPS 608(R11), Y1
	VMOVUPS 640(R11), Y2
	VMOVUPS 672(R11), Y3
	VMOVUPS 704(R11), Y4
	VMOVUPS 736(R11), Y5
	VMOVUPS 768(R11), Y6
	VMOVUPS 800(R11), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xee, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xee, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xee, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xee, Y15, Y13, Y7
	FADDLANE(0, Y0, Y4, $0x20, 0)
	FADDLANE(1, Y1, Y5, $0x20, 36)
	FADDLANE(2, Y2, Y6, $0x20, 72)
	FADDLANE(3, Y3, Y7, $0x20, 108)
	FADDLANE(4, Y0, Y4, $0x31, 144)
	FADDLANE(5, Y1, Y5, $0x31, 180)
	FADDLANE(6, Y2, Y6, $0x31, 216)
	FADDLANE(7, Y3, Y7, $0x31, 252)

	ADDQ $32, SI
	ADDQ $288, DI
	DECQ CX
	JNZ  fgroup
	VZEROUPPER
	RET
