#include "textflag.h"

// func axpy2AVX2(alpha float32, l1, l2, e []float32)
// For i < len(l1): e[i] += alpha*l2[i]; l2[i] += alpha*l1[i] (old l2 in the first).
// The caller guarantees len(l2), len(e) >= len(l1) and AVX2+FMA.
TEXT ·axpy2AVX2(SB), NOSPLIT, $0-80
	MOVSS alpha+0(FP), X0
	VBROADCASTSS X0, Y0
	MOVQ l1_base+8(FP), SI
	MOVQ l1_len+16(FP), CX
	MOVQ l2_base+32(FP), DI
	MOVQ e_base+56(FP), DX
	XORQ AX, AX
	MOVQ CX, BX
	ANDQ $-8, BX
loop8:
	CMPQ AX, BX
	JGE  tail
	VMOVUPS (DI)(AX*4), Y1
	VMOVUPS (DX)(AX*4), Y2
	VFMADD231PS Y1, Y0, Y2
	VMOVUPS Y2, (DX)(AX*4)
	VMOVUPS (SI)(AX*4), Y3
	VFMADD231PS Y3, Y0, Y1
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	JMP  loop8
tail:
	CMPQ AX, CX
	JGE  done
	VMOVSS (DI)(AX*4), X1
	VMOVSS (DX)(AX*4), X2
	VFMADD231SS X1, X0, X2
	VMOVSS X2, (DX)(AX*4)
	VMOVSS (SI)(AX*4), X3
	VFMADD231SS X3, X0, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ AX
	JMP  tail
done:
	VZEROUPPER
	RET
