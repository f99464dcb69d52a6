//go:build !noasm

#include "textflag.h"

// func adamwAVX2(w, g, m, v []float32, s *AdamWStep)
// len(w) is a multiple of 8; g, m and v are as long. The operations follow
// adamwGeneric one for one (VSQRTPS and VDIVPS are correctly rounded), so
// the results are the same bits.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-104
	MOVQ         w_base+0(FP), DI
	MOVQ         w_len+8(FP), CX
	MOVQ         g_base+24(FP), SI
	MOVQ         m_base+48(FP), R8
	MOVQ         v_base+72(FP), R9
	MOVQ         s+96(FP), AX
	VBROADCASTSS 0(AX), Y8   // decay
	VBROADCASTSS 4(AX), Y9   // β1
	VBROADCASTSS 8(AX), Y10  // 1−β1
	VBROADCASTSS 12(AX), Y11 // β2
	VBROADCASTSS 16(AX), Y12 // 1−β2
	VBROADCASTSS 20(AX), Y13 // step size
	VBROADCASTSS 24(AX), Y14 // √(1−β2ᵗ)
	VBROADCASTSS 28(AX), Y15 // ε
	SHRQ         $3, CX
	JZ           adamw_done

adamw_loop:
	VMOVUPS (SI), Y0
	VMULPS  (R8), Y9, Y1
	VMULPS  Y0, Y10, Y2
	VADDPS  Y2, Y1, Y1   // m
	VMOVUPS Y1, (R8)
	VMULPS  (R9), Y11, Y3
	VMULPS  Y0, Y0, Y4
	VMULPS  Y4, Y12, Y4
	VADDPS  Y4, Y3, Y3   // v
	VMOVUPS Y3, (R9)
	VSQRTPS Y3, Y5
	VDIVPS  Y14, Y5, Y5
	VADDPS  Y15, Y5, Y5  // denominator
	VDIVPS  Y5, Y1, Y6
	VMULPS  Y6, Y13, Y6
	VMULPS  (DI), Y8, Y7
	VSUBPS  Y6, Y7, Y7
	VMOVUPS Y7, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     adamw_loop

adamw_done:
	VZEROUPPER
	RET
