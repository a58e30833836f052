#include "textflag.h"

// func clampAVX2(dst, src *float32, n int, lo, hi float32)
//
// dst[i] = min(max(src[i], lo), hi) + 0 for 8 values per iteration; n must
// be a multiple of 8, and dst may be src. VMAXPS and VMINPS return their second source operand
// (Intel order) when either is NaN or both are zero, so with the source there a NaN
// passes through both unchanged, as Go's min and max keep it; adding +0
// then turns a -0 result into +0 and changes nothing else, which gives
// clampGo's results bit for bit.
TEXT ·clampAVX2(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS lo+24(FP), Y1
	VBROADCASTSS hi+28(FP), Y2
	VXORPS       Y3, Y3, Y3
	XORQ         BX, BX

clamploop:
	CMPQ    BX, CX
	JGE     clampdone
	VMOVUPS (SI)(BX*4), Y0
	VMAXPS  Y0, Y1, Y0     // Intel: max(lo, x), x second
	VMINPS  Y0, Y2, Y0     // Intel: min(hi, x), x second
	VADDPS  Y3, Y0, Y0
	VMOVUPS Y0, (DI)(BX*4)
	ADDQ    $8, BX
	JMP     clamploop

clampdone:
	VZEROUPPER
	RET
