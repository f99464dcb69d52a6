//go:build !noasm

#include "textflag.h"

// LayerNorm pieces, AVX2 + FMA, 8 lanes; the callers handle len%8 tails.
// Sums are accumulated in float64 lanes so that rows with a large mean
// keep their precision.

// func sumAVX2(x []float32) float64
TEXT ·sumAVX2(SB), NOSPLIT, $0-32
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	SHRQ   $3, CX
	JEQ    sum_reduce

sum_loop:
	VCVTPS2PD (SI), Y2
	VCVTPS2PD 16(SI), Y3
	VADDPD    Y2, Y0, Y0
	VADDPD    Y3, Y1, Y1
	ADDQ      $32, SI
	DECQ      CX
	JNZ       sum_loop

sum_reduce:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VZEROUPPER
	VMOVSD       X0, ret+24(FP)
	RET

// func sqDevAVX2(x []float32, mean float32) float64
TEXT ·sqDevAVX2(SB), NOSPLIT, $0-40
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS mean+24(FP), Y4
	VXORPD       Y0, Y0, Y0
	VXORPD       Y1, Y1, Y1
	SHRQ         $3, CX
	JEQ          sd_reduce

sd_loop:
	VMOVUPS      (SI), Y2
	VSUBPS       Y4, Y2, Y2
	VMULPS       Y2, Y2, Y2
	VCVTPS2PD    X2, Y3
	VEXTRACTF128 $1, Y2, X2
	VCVTPS2PD    X2, Y2
	VADDPD       Y3, Y0, Y0
	VADDPD       Y2, Y1, Y1
	ADDQ         $32, SI
	DECQ         CX
	JNZ          sd_loop

sd_reduce:
	VADDPD       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD       X1, X0, X0
	VHADDPD      X0, X0, X0
	VZEROUPPER
	VMOVSD       X0, ret+32(FP)
	RET

// func normAffineAVX2(dst, x, gamma, beta []float32, mean, rstd float32)
TEXT ·normAffineAVX2(SB), NOSPLIT, $0-104
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	MOVQ         gamma_base+48(FP), R8
	MOVQ         beta_base+72(FP), R9
	VBROADCASTSS mean+96(FP), Y4
	VBROADCASTSS rstd+100(FP), Y5
	SHRQ         $3, CX
	JEQ          na_done

na_loop:
	VMOVUPS     (SI), Y0
	VSUBPS      Y4, Y0, Y0
	VMULPS      Y5, Y0, Y0
	VMOVUPS     (R9), Y1
	VFMADD231PS (R8), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, R8
	ADDQ        $32, R9
	DECQ        CX
	JNZ         na_loop

na_done:
	VZEROUPPER
	RET
