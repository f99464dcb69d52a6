//go:build !noasm

#include "textflag.h"

// The vectorised exp of exp_avx2_amd64.s in 16 AVX-512 lanes: the same
// operations on the same constants (each stored once and broadcast), so a
// lane's result has the same bits as the AVX2 kernel's.

DATA expz<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA expz<>+4(SB)/4, $0x3f318000  // ln 2, high part
DATA expz<>+8(SB)/4, $0xb95e8083  // ln 2, low part
DATA expz<>+12(SB)/4, $0x39500d01 // 1/7!
DATA expz<>+16(SB)/4, $0x3ab60b61 // 1/6!
DATA expz<>+20(SB)/4, $0x3c088889 // 1/5!
DATA expz<>+24(SB)/4, $0x3d2aaaab // 1/4!
DATA expz<>+28(SB)/4, $0x3e2aaaab // 1/3!
DATA expz<>+32(SB)/4, $0x3f000000 // 1/2
DATA expz<>+36(SB)/4, $0x3f800000 // 1
DATA expz<>+40(SB)/4, $0x42b0c0a5 // ln(FLT_MAX)
DATA expz<>+44(SB)/4, $0xc2aeac50 // ln(2^-126): below it the result is 0
DATA expz<>+48(SB)/4, $0x0000007f // int32 127
GLOBL expz<>(SB), RODATA|NOPTR, $52

// EXP16 sets X = exp(X) in 16 lanes; N and T are scratch, K1 is clobbered.
#define EXP16(X, N, T) \
	VCMPPS.BCST       $0x0d, expz<>+44(SB), X, K1 \
	VMINPS.BCST       expz<>+40(SB), X, X \
	VMAXPS.BCST       expz<>+44(SB), X, X \
	VMULPS.BCST       expz<>+0(SB), X, N \
	VRNDSCALEPS       $0, N, N \
	VFNMADD231PS.BCST expz<>+4(SB), N, X \
	VFNMADD231PS.BCST expz<>+8(SB), N, X \
	VBROADCASTSS      expz<>+12(SB), T \
	VFMADD213PS.BCST  expz<>+16(SB), X, T \
	VFMADD213PS.BCST  expz<>+20(SB), X, T \
	VFMADD213PS.BCST  expz<>+24(SB), X, T \
	VFMADD213PS.BCST  expz<>+28(SB), X, T \
	VFMADD213PS.BCST  expz<>+32(SB), X, T \
	VFMADD213PS.BCST  expz<>+36(SB), X, T \
	VFMADD213PS.BCST  expz<>+36(SB), X, T \
	VCVTPS2DQ         N, N \
	VPADDD.BCST       expz<>+48(SB), N, N \
	VPSLLD            $23, N, N \
	VMULPS.Z          N, T, K1, X

// func expSumAVX512(dst, x []float32, shift float32) float64
// dst[i] = exp(x[i]-shift) for i < len(dst)&^15; the sum is accumulated in
// float64 lanes.
TEXT ·expSumAVX512(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS shift+48(FP), Z7
	VXORPD       Z6, Z6, Z6
	VXORPD       Z5, Z5, Z5
	SHRQ         $4, CX
	JEQ          ez_reduce

ez_loop:
	VMOVUPS       (SI), Z0
	VSUBPS        Z7, Z0, Z0
	EXP16(Z0, Z1, Z2)
	VMOVUPS       Z0, (DI)
	VCVTPS2PD     Y0, Z1
	VEXTRACTF32X8 $1, Z0, Y2
	VCVTPS2PD     Y2, Z2
	VADDPD        Z1, Z6, Z6
	VADDPD        Z2, Z5, Z5
	ADDQ          $64, SI
	ADDQ          $64, DI
	DECQ          CX
	JNZ           ez_loop

ez_reduce:
	VADDPD        Z5, Z6, Z6
	VEXTRACTF64X4 $1, Z6, Y1
	VADDPD        Y1, Y6, Y6
	VEXTRACTF128  $1, Y6, X1
	VADDPD        X1, X6, X0
	VHADDPD       X0, X0, X0
	VZEROUPPER
	VMOVSD        X0, ret+56(FP)
	RET
