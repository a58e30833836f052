#include "textflag.h"

// func copyPanels16(dst, src *float32, ld, rows, panels, pstride int)
//
// for p < rows, q < panels: dst[q*pstride+p*16 : +16] = src[p*ld+q*16 : +16]
// (all in floats). Packs whole 16-column panels of a row-major B, reading
// each source row contiguously. SSE only, so it runs on every amd64 CPU.
TEXT ·copyPanels16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ rows+24(FP), CX
	MOVQ panels+32(FP), R9
	MOVQ pstride+40(FP), R10
	SHLQ $2, R10
	TESTQ CX, CX
	JZ   done
	TESTQ R9, R9
	JZ   done

row:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ R9, DX

panel:
	MOVUPS 0(AX), X0
	MOVUPS 16(AX), X1
	MOVUPS 32(AX), X2
	MOVUPS 48(AX), X3
	MOVUPS X0, 0(BX)
	MOVUPS X1, 16(BX)
	MOVUPS X2, 32(BX)
	MOVUPS X3, 48(BX)
	ADDQ   $64, AX
	ADDQ   R10, BX
	DECQ   DX
	JNZ    panel

	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  row

done:
	RET

// func copyRows6(dst, src *float32, ld, rows int)
//
// for p < rows: dst[p*6 : +6] = src[p*ld : +6]: a 6-row A panel from a
// transposed (k x m row-major) A.
TEXT ·copyRows6(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ rows+24(FP), CX
	TESTQ CX, CX
	JZ   done6

loop6:
	MOVUPS 0(SI), X0
	MOVSD  16(SI), X1
	MOVUPS X0, 0(DI)
	MOVSD  X1, 16(DI)
	ADDQ   R8, SI
	ADDQ   $24, DI
	DECQ   CX
	JNZ    loop6

done6:
	RET
