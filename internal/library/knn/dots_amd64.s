#include "textflag.h"

// func dotRowsAVX2(q, x *float32, dim, n int, out *float32)
// out[i] = q · x[i*dim:(i+1)*dim] for i < n; dim is a multiple of 32.
// Four accumulators hide the FMA latency within a row; rows overlap in
// the out-of-order core, as nothing carries from one row to the next.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), SI
	MOVQ x+8(FP), DI
	MOVQ dim+16(FP), R9
	MOVQ n+24(FP), DX
	MOVQ out+32(FP), R8
	SHLQ $2, R9 // bytes per row

row:
	TESTQ DX, DX
	JZ    done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX

inner:
	VMOVUPS     (DI)(AX*1), Y4
	VMOVUPS     32(DI)(AX*1), Y5
	VMOVUPS     64(DI)(AX*1), Y6
	VMOVUPS     96(DI)(AX*1), Y7
	VFMADD231PS (SI)(AX*1), Y4, Y0
	VFMADD231PS 32(SI)(AX*1), Y5, Y1
	VFMADD231PS 64(SI)(AX*1), Y6, Y2
	VFMADD231PS 96(SI)(AX*1), Y7, Y3
	ADDQ        $128, AX
	CMPQ        AX, R9
	JB          inner

	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (R8)
	ADDQ         $4, R8
	ADDQ         R9, DI
	DECQ         DX
	JMP          row

done:
	VZEROUPPER
	RET
