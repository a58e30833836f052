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
//
// Every kernel makes its 6x6 (or 4x4, 3x3) result in two passes of a
// 1-D transform, one over the columns and one over the rows, through a
// scratch table of vectors: tmp[r][c] at byte r*192 + c*32 (six vectors a
// row) unless said otherwise. The macros below move those vectors.

// LD3, LD4 and LD6 load the vectors at off, off+st, off+2st, ... of the
// address suffix a, such as (R11)(AX*1), into y0, y1, ...; ST3, ST4 and
// ST6 store them.
#define LD3(a, off, st, y0, y1, y2) \
	VMOVUPS (off)a, y0; \
	VMOVUPS (off+st)a, y1; \
	VMOVUPS (off+2*st)a, y2

#define LD4(a, off, st, y0, y1, y2, y3) \
	LD3(a, off, st, y0, y1, y2); \
	VMOVUPS (off+3*st)a, y3

#define LD6(a, off, st, y0, y1, y2, y3, y4, y5) \
	LD4(a, off, st, y0, y1, y2, y3); \
	VMOVUPS (off+4*st)a, y4; \
	VMOVUPS (off+5*st)a, y5

#define ST3(a, off, st, y0, y1, y2) \
	VMOVUPS y0, (off)a; \
	VMOVUPS y1, (off+st)a; \
	VMOVUPS y2, (off+2*st)a

#define ST4(a, off, st, y0, y1, y2, y3) \
	ST3(a, off, st, y0, y1, y2); \
	VMOVUPS y3, (off+3*st)a

#define ST6(a, off, st, y0, y1, y2, y3, y4, y5) \
	ST4(a, off, st, y0, y1, y2, y3); \
	VMOVUPS y4, (off+4*st)a; \
	VMOVUPS y5, (off+5*st)a

// ESUNIT sets R11 and R12 to 3 and 5 times the element step R10, for
// STORE6; ESCOLS sets R13, R14 and R15 to 6, 18 and 30 times the element
// step R12, for LDCOL6 and STCOL6.
#define ESUNIT \
	LEAQ (R10)(R10*2), R11; \
	LEAQ (R10)(R10*4), R12

#define ESCOLS \
	LEAQ (R12)(R12*2), R13; \
	ADDQ R13, R13; \
	LEAQ (R13)(R13*2), R14; \
	LEAQ (R14)(R13*2), R15

// STORE6 writes y0..y5 to elements k..k+5 at p + k*es (es in R10, 3es in
// R11, 5es in R12): one row of a transform.
#define STORE6(p, y0, y1, y2, y3, y4, y5) \
	VMOVUPS y0, (p); \
	VMOVUPS y1, (p)(R10*1); \
	VMOVUPS y2, (p)(R10*2); \
	VMOVUPS y3, (p)(R11*1); \
	VMOVUPS y4, (p)(R10*4); \
	VMOVUPS y5, (p)(R12*1)

// LDCOL6 and STCOL6 load and store elements k, k+6, ... k+30 at p + i*6es
// (6es in R13, 18es in R14, 30es in R15): one column of a transform.
#define LDCOL6(p, y0, y1, y2, y3, y4, y5) \
	VMOVUPS (p), y0; \
	VMOVUPS (p)(R13*1), y1; \
	VMOVUPS (p)(R13*2), y2; \
	VMOVUPS (p)(R14*1), y3; \
	VMOVUPS (p)(R13*4), y4; \
	VMOVUPS (p)(R15*1), y5

#define STCOL6(p, y0, y1, y2, y3, y4, y5) \
	VMOVUPS y0, (p); \
	VMOVUPS y1, (p)(R13*1); \
	VMOVUPS y2, (p)(R13*2); \
	VMOVUPS y3, (p)(R14*1); \
	VMOVUPS y4, (p)(R13*4); \
	VMOVUPS y5, (p)(R15*1)

// BCAST broadcasts the float32 with bits bits into y (through AX and x).
#define BCAST(bits, x, y) \
	MOVL bits, AX; \
	MOVQ AX, x; \
	VBROADCASTSS x, y

// The constants of the 1-D transforms, in Y14 and Y15.
#define INPUTCONSTS \
	BCAST($0x40800000, X14, Y14); \
	BCAST($0x40a00000, X15, Y15)

#define HALFQUARTER \
	BCAST($0x3f000000, X14, Y14); \
	BCAST($0x3e800000, X15, Y15)

// GATHER loads position off/32 of the lane tables (idx at R8, masks at
// R9, column offset AX) from the plane at SI into dst.
#define GATHER(off, dst) \
	VMOVDQU off(R8)(AX*1), Y6; \
	VMOVDQU off(R9)(AX*1), Y7; \
	VXORPS dst, dst, dst; \
	VGATHERDPS Y7, (SI)(Y6*4), dst

// GATHERKERNEL sets up the registers the gather kernels share: the plane
// (SI), the lane tables (R8, R9), the channel count (CX), the channel
// step of the input (DX) and of the output (BX), the output (DI), es, 3es
// and 5es (R10..R12) and the scratch table (R13), all steps in bytes.
#define GATHERKERNEL \
	MOVQ x+0(FP), SI; \
	MOVQ idx+8(FP), R8; \
	MOVQ mask+16(FP), R9; \
	MOVQ n+24(FP), CX; \
	MOVQ hw+32(FP), DX; \
	SHLQ $2, DX; \
	MOVQ v+40(FP), DI; \
	MOVQ vstep+48(FP), BX; \
	SHLQ $2, BX; \
	MOVQ es+56(FP), R10; \
	SHLQ $2, R10; \
	MOVQ tmp+64(FP), R13; \
	ESUNIT

// ROWKERNEL sets up the registers the row kernels share: the lane table
// (R8), the window row pointer (SI), the mask table and scratch (R11),
// the output (DI), w and the channel step less the rows (DX, BX, bytes),
// the channel count (CX) and es, 6es, 18es, 30es (R12..R15, bytes).
#define ROWKERNEL(rows) \
	MOVQ x+0(FP), SI; \
	MOVQ offs+8(FP), R8; \
	MOVQ tab+16(FP), R11; \
	MOVQ n+24(FP), CX; \
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
	ESCOLS

// ROWNEXT ends a channel of a row kernel: the window rows on to the next
// plane, the output to the next channel's row, and the loop.
#define ROWNEXT(loop) \
	ADDQ BX, SI; \
	ADDQ vstep+56(FP), DI; \
	DECQ CX; \
	JNZ  loop; \
	VZEROUPPER; \
	RET

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

// func wgInput8AVX2(x *float32, idx, mask *[36][8]int32, n, hw int, v *float32, vstep, es int, tmp *[36][8]float32)
TEXT ·wgInput8AVX2(SB), NOSPLIT, $0-72
	GATHERKERNEL
	INPUTCONSTS

inchan:
	// Columns: Bᵀ d of window column k into tmp[r][k].
	XORQ AX, AX
incol:
	GATHER(0, Y0)
	GATHER(192, Y1)
	GATHER(384, Y2)
	GATHER(576, Y3)
	GATHER(768, Y4)
	GATHER(960, Y5)
	INPUT1D
	ST6((R13)(AX*1), 0, 192, Y8, Y11, Y9, Y13, Y12, Y10)
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  incol

	// Rows: (Bᵀ d) B, row r to elements 6r..6r+5.
	XORQ AX, AX
	MOVQ DI, R14
inrow:
	LD6((R13)(AX*1), 0, 32, Y0, Y1, Y2, Y3, Y4, Y5)
	INPUT1D
	STORE6(R14, Y8, Y11, Y9, Y13, Y12, Y10)
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

// func wgInput8Rows(x *float32, offs *[8]int, tab *wgRowTab, n, hw, w int, v *float32, vstep, es int)
TEXT ·wgInput8Rows(SB), NOSPLIT, $0-72
	ROWKERNEL(6)
	INPUTCONSTS

rchan:
	// Rows: d B of window row r, loaded whole per lane and transposed,
	// into tmp[r][k] (tmp from byte 1152 of the table).
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
	ST6((R11)(AX*1), 1152, 32, Y8, Y11, Y9, Y13, Y12, Y10)
	ADDQ DX, SI
	ADDQ $192, AX
	CMPQ AX, $1152
	JLT  rrow

	// Columns: Bᵀ (d B), column k to elements k, k+6, ... k+30.
	XORQ AX, AX
	MOVQ DI, R9
rcol:
	LD6((R11)(AX*1), 1152, 192, Y0, Y1, Y2, Y3, Y4, Y5)
	INPUT1D
	STCOL6(R9, Y8, Y11, Y9, Y13, Y12, Y10)
	ADDQ R12, R9
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  rcol
	ROWNEXT(rchan)

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

// func wgGrad8AVX2(x *float32, idx, mask *[16][8]int32, n, hw int, v *float32, vstep, es int, tmp *[36][8]float32)
TEXT ·wgGrad8AVX2(SB), NOSPLIT, $0-72
	GATHERKERNEL
	HALFQUARTER

gchan:
	// Columns: A y of tile column k into tmp[r][k] (6 rows of 4).
	XORQ AX, AX
gcol:
	GATHER(0, Y0)
	GATHER(128, Y1)
	GATHER(256, Y2)
	GATHER(384, Y3)
	GRAD1D
	ST6((R13)(AX*1), 0, 192, Y0, Y8, Y9, Y10, Y11, Y3)
	ADDQ $32, AX
	CMPQ AX, $128
	JLT  gcol

	// Rows: (A y) Aᵀ, row r to elements 6r..6r+5.
	XORQ AX, AX
	MOVQ DI, R14
grow:
	LD4((R13)(AX*1), 0, 32, Y0, Y1, Y2, Y3)
	GRAD1D
	STORE6(R14, Y0, Y8, Y9, Y10, Y11, Y3)
	LEAQ (R14)(R11*2), R14
	ADDQ $192, AX
	CMPQ AX, $1152
	JLT  grow

	ADDQ DX, SI
	ADDQ BX, DI
	DECQ CX
	JNZ  gchan
	VZEROUPPER
	RET

// func wgGrad8Rows(x *float32, offs *[8]int, tab *wgRowTab, n, hw, w int, v *float32, vstep, es int)
TEXT ·wgGrad8Rows(SB), NOSPLIT, $0-72
	ROWKERNEL(4)
	HALFQUARTER

gvchan:
	// Rows: y Aᵀ of tile row r, loaded whole per lane and transposed,
	// into tmp[r][k] (4 rows of 6, tmp from byte 1152 of the table).
	XORQ AX, AX
gvrow:
	ROWPAIR(0, 32, Y0, X0)
	ROWPAIR(8, 40, Y1, X1)
	ROWPAIR(16, 48, Y2, X2)
	ROWPAIR(24, 56, Y3, X3)
	TRANSPOSE4
	MASK4
	GRAD1D
	ST6((R11)(AX*1), 1152, 32, Y0, Y8, Y9, Y10, Y11, Y3)
	ADDQ DX, SI
	ADDQ $192, AX
	CMPQ AX, $768
	JLT  gvrow

	// Columns: A (y Aᵀ), column k to elements k, k+6, ... k+30.
	XORQ AX, AX
	MOVQ DI, R9
gvcol:
	LD4((R11)(AX*1), 1152, 192, Y0, Y1, Y2, Y3)
	GRAD1D
	STCOL6(R9, Y0, Y8, Y9, Y10, Y11, Y3)
	ADDQ R12, R9
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  gvcol
	ROWNEXT(gvchan)

// SUMDIFF is the start that Aᵀ m and Gᵀ u share: Y6..Y9 = Y1+Y2,
// Y1-Y2, Y3+Y4, Y3-Y4 (s12, d12, s34, d34 of output1D and filterGrad1D).
#define SUMDIFF \
	VADDPS Y2, Y1, Y6; \
	VSUBPS Y2, Y1, Y7; \
	VADDPS Y4, Y3, Y8; \
	VSUBPS Y4, Y3, Y9

// OUTPUT1D is Aᵀ m of the column Y0..Y5 into Y10..Y13 (y0..y3 of
// output1D), with Y14 = 1/2 and Y15 = 1/4 (1/8 d34 as 1/2 of 1/4 d34,
// exact in binary).
#define OUTPUT1D \
	SUMDIFF; \
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
// its high half) at R10 plus the lanes' byte offsets in the table at R8.
#define STORELANES(src, xsrc, lo, hi) \
	MOVQ lo(R8), R11; \
	VMOVUPS xsrc, (R10)(R11*1); \
	MOVQ hi(R8), R11; \
	VEXTRACTF128 $1, src, (R10)(R11*1)

// func wgOutput8AVX2(m *float32, es, mstep, cout int, out *float32, ohw int, offs *[8]int, wo int, bias *float32, bstep int, tmp *[24][8]float32)
TEXT ·wgOutput8AVX2(SB), NOSPLIT, $0-88
	MOVQ m+0(FP), SI
	MOVQ es+8(FP), R12
	SHLQ $2, R12
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
	ESCOLS
	HALFQUARTER

ochan:
	// Columns: Aᵀ m of element column c into tmp[r][c] (4 rows of 6).
	XORQ AX, AX
	MOVQ SI, R10
ocol:
	LDCOL6(R10, Y0, Y1, Y2, Y3, Y4, Y5)
	OUTPUT1D
	ST4((R9)(AX*1), 0, 192, Y10, Y11, Y12, Y13)
	ADDQ R12, R10
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  ocol

	// Rows: output row r of every lane's tile, plus the bias, transposed
	// from one vector per column to one 4-value row per lane.
	XORQ AX, AX
	MOVQ DI, R10
orow:
	LD6((R9)(AX*1), 0, 32, Y0, Y1, Y2, Y3, Y4, Y5)
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
	ADDQ BX, R10
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

// FCOLUMN is G g of filter column c (taps c, c+3, c+6; byte offset 32c of
// the lane table) into tmp[r][c], tmp's rows three vectors apart.
#define FCOLUMN(c) \
	FGATHER(c, Y0); \
	FGATHER(96+c, Y1); \
	FGATHER(192+c, Y2); \
	FILTER1D; \
	ST6((R13), c, 96, Y0, Y5, Y6, Y8, Y9, Y10)

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
	ESUNIT
	BCAST($0x40800000, X12, Y12) // 4
	BCAST($0x3e2aaaab, X13, Y13) // 1/6
	BCAST($0x3eaaaaab, X14, Y14) // 1/3
	BCAST($0x3e800000, X15, Y15) // 1/4

frow:
	// Columns: G g of filter column c into tmp[r][c] (6 rows of 3).
	FCOLUMN(0)
	FCOLUMN(32)
	FCOLUMN(64)

	// Rows: (G g) Gᵀ, row r to elements 6r..6r+5.
	XORQ AX, AX
	MOVQ DI, R14
fcol:
	LD3((R13)(AX*1), 0, 32, Y0, Y1, Y2)
	FILTER1D
	STORE6(R14, Y0, Y5, Y6, Y8, Y9, Y10)
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
	SUMDIFF; \
	VMOVAPS Y0, Y10; \
	VFMADD231PS Y11, Y6, Y10; \
	VFMADD231PS Y12, Y8, Y10; \
	VMULPS Y11, Y7, Y7; \
	VFMADD231PS Y13, Y9, Y7; \
	VMULPS Y11, Y6, Y6; \
	VFMADD231PS Y14, Y8, Y6; \
	VFMADD231PS Y15, Y5, Y6

// FGROW is (Gᵀ u) G of row r of the half-transformed filters (tmp bytes
// src..src+191) into taps 3r..3r+2 (bytes dst.., one vector each).
#define FGROW(src, dst) \
	LD6((R11), src, 32, Y0, Y1, Y2, Y3, Y4, Y5); \
	FGRAD1D; \
	ST3((R11), dst, 32, Y10, Y7, Y6)

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
	ESCOLS

fgroup:
	BCAST($0x3e2aaaab, X11, Y11) // 1/6
	BCAST($0x3faaaaab, X12, Y12) // 4/3
	BCAST($0x3f2aaaab, X13, Y13) // 2/3
	BCAST($0x3eaaaaab, X14, Y14) // 1/3
	BCAST($0x3e800000, X15, Y15) // 1/4

	// Columns: Gᵀ u of element column c (elements c, c+6, ... c+30) into
	// tmp[r][c], 3 rows of 6.
	XORQ AX, AX
	MOVQ SI, R9
fgcol:
	LDCOL6(R9, Y0, Y1, Y2, Y3, Y4, Y5)
	FGRAD1D
	ST3((R11)(AX*1), 0, 192, Y10, Y7, Y6)
	ADDQ R12, R9
	ADDQ $32, AX
	CMPQ AX, $192
	JLT  fgcol

	// Rows: (Gᵀ u) G, the filter gradient's tap k (row k/3, column k%3)
	// of every lane into tmp[18+k].
	FGROW(0, 576)
	FGROW(192, 672)
	FGROW(384, 768)

	// Transpose taps 0-7 (one vector per tap) to one vector per filter
	// and add them to its 9 values in dw; tap 8 one lane at a time.
	LD4((R11), 576, 32, Y0, Y1, Y2, Y3)
	LD4((R11), 704, 32, Y4, Y5, Y6, Y7)
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
