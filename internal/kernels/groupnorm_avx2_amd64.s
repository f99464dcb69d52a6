//go:build !noasm

#include "textflag.h"

// GroupNorm's per-channel apply, y = (x - m)*a + b, optionally followed by SiLU,
// y*sigmoid(y) = y/(1 + exp(-y)), AVX2 + FMA on 8 lanes. exp is the
// reduction and degree-7 polynomial of exp_avx2_amd64.s (relative error
// < 5e-7), its constants repeated here because assembly tables are file-local.

#define GN_LOG2E 0
#define GN_LN2HI 32
#define GN_LN2LO 64
#define GN_C7 96
#define GN_C6 128
#define GN_C5 160
#define GN_C4 192
#define GN_C3 224
#define GN_HALF 256
#define GN_ONE 288
#define GN_MAX 320
#define GN_MIN 352
#define GN_BIAS 384

DATA gnc<>+0(SB)/4, $0x3fb8aa3b
DATA gnc<>+4(SB)/4, $0x3fb8aa3b
DATA gnc<>+8(SB)/4, $0x3fb8aa3b
DATA gnc<>+12(SB)/4, $0x3fb8aa3b
DATA gnc<>+16(SB)/4, $0x3fb8aa3b
DATA gnc<>+20(SB)/4, $0x3fb8aa3b
DATA gnc<>+24(SB)/4, $0x3fb8aa3b
DATA gnc<>+28(SB)/4, $0x3fb8aa3b
DATA gnc<>+32(SB)/4, $0x3f318000
DATA gnc<>+36(SB)/4, $0x3f318000
DATA gnc<>+40(SB)/4, $0x3f318000
DATA gnc<>+44(SB)/4, $0x3f318000
DATA gnc<>+48(SB)/4, $0x3f318000
DATA gnc<>+52(SB)/4, $0x3f318000
DATA gnc<>+56(SB)/4, $0x3f318000
DATA gnc<>+60(SB)/4, $0x3f318000
DATA gnc<>+64(SB)/4, $0xb95e8083
DATA gnc<>+68(SB)/4, $0xb95e8083
DATA gnc<>+72(SB)/4, $0xb95e8083
DATA gnc<>+76(SB)/4, $0xb95e8083
DATA gnc<>+80(SB)/4, $0xb95e8083
DATA gnc<>+84(SB)/4, $0xb95e8083
DATA gnc<>+88(SB)/4, $0xb95e8083
DATA gnc<>+92(SB)/4, $0xb95e8083
DATA gnc<>+96(SB)/4, $0x39500d01
DATA gnc<>+100(SB)/4, $0x39500d01
DATA gnc<>+104(SB)/4, $0x39500d01
DATA gnc<>+108(SB)/4, $0x39500d01
DATA gnc<>+112(SB)/4, $0x39500d01
DATA gnc<>+116(SB)/4, $0x39500d01
DATA gnc<>+120(SB)/4, $0x39500d01
DATA gnc<>+124(SB)/4, $0x39500d01
DATA gnc<>+128(SB)/4, $0x3ab60b61
DATA gnc<>+132(SB)/4, $0x3ab60b61
DATA gnc<>+136(SB)/4, $0x3ab60b61
DATA gnc<>+140(SB)/4, $0x3ab60b61
DATA gnc<>+144(SB)/4, $0x3ab60b61
DATA gnc<>+148(SB)/4, $0x3ab60b61
DATA gnc<>+152(SB)/4, $0x3ab60b61
DATA gnc<>+156(SB)/4, $0x3ab60b61
DATA gnc<>+160(SB)/4, $0x3c088889
DATA gnc<>+164(SB)/4, $0x3c088889
DATA gnc<>+168(SB)/4, $0x3c088889
DATA gnc<>+172(SB)/4, $0x3c088889
DATA gnc<>+176(SB)/4, $0x3c088889
DATA gnc<>+180(SB)/4, $0x3c088889
DATA gnc<>+184(SB)/4, $0x3c088889
DATA gnc<>+188(SB)/4, $0x3c088889
DATA gnc<>+192(SB)/4, $0x3d2aaaab
DATA gnc<>+196(SB)/4, $0x3d2aaaab
DATA gnc<>+200(SB)/4, $0x3d2aaaab
DATA gnc<>+204(SB)/4, $0x3d2aaaab
DATA gnc<>+208(SB)/4, $0x3d2aaaab
DATA gnc<>+212(SB)/4, $0x3d2aaaab
DATA gnc<>+216(SB)/4, $0x3d2aaaab
DATA gnc<>+220(SB)/4, $0x3d2aaaab
DATA gnc<>+224(SB)/4, $0x3e2aaaab
DATA gnc<>+228(SB)/4, $0x3e2aaaab
DATA gnc<>+232(SB)/4, $0x3e2aaaab
DATA gnc<>+236(SB)/4, $0x3e2aaaab
DATA gnc<>+240(SB)/4, $0x3e2aaaab
DATA gnc<>+244(SB)/4, $0x3e2aaaab
DATA gnc<>+248(SB)/4, $0x3e2aaaab
DATA gnc<>+252(SB)/4, $0x3e2aaaab
DATA gnc<>+256(SB)/4, $0x3f000000
DATA gnc<>+260(SB)/4, $0x3f000000
DATA gnc<>+264(SB)/4, $0x3f000000
DATA gnc<>+268(SB)/4, $0x3f000000
DATA gnc<>+272(SB)/4, $0x3f000000
DATA gnc<>+276(SB)/4, $0x3f000000
DATA gnc<>+280(SB)/4, $0x3f000000
DATA gnc<>+284(SB)/4, $0x3f000000
DATA gnc<>+288(SB)/4, $0x3f800000
DATA gnc<>+292(SB)/4, $0x3f800000
DATA gnc<>+296(SB)/4, $0x3f800000
DATA gnc<>+300(SB)/4, $0x3f800000
DATA gnc<>+304(SB)/4, $0x3f800000
DATA gnc<>+308(SB)/4, $0x3f800000
DATA gnc<>+312(SB)/4, $0x3f800000
DATA gnc<>+316(SB)/4, $0x3f800000
DATA gnc<>+320(SB)/4, $0x42b0c0a5
DATA gnc<>+324(SB)/4, $0x42b0c0a5
DATA gnc<>+328(SB)/4, $0x42b0c0a5
DATA gnc<>+332(SB)/4, $0x42b0c0a5
DATA gnc<>+336(SB)/4, $0x42b0c0a5
DATA gnc<>+340(SB)/4, $0x42b0c0a5
DATA gnc<>+344(SB)/4, $0x42b0c0a5
DATA gnc<>+348(SB)/4, $0x42b0c0a5
DATA gnc<>+352(SB)/4, $0xc2aeac50
DATA gnc<>+356(SB)/4, $0xc2aeac50
DATA gnc<>+360(SB)/4, $0xc2aeac50
DATA gnc<>+364(SB)/4, $0xc2aeac50
DATA gnc<>+368(SB)/4, $0xc2aeac50
DATA gnc<>+372(SB)/4, $0xc2aeac50
DATA gnc<>+376(SB)/4, $0xc2aeac50
DATA gnc<>+380(SB)/4, $0xc2aeac50
DATA gnc<>+384(SB)/4, $0x0000007f
DATA gnc<>+388(SB)/4, $0x0000007f
DATA gnc<>+392(SB)/4, $0x0000007f
DATA gnc<>+396(SB)/4, $0x0000007f
DATA gnc<>+400(SB)/4, $0x0000007f
DATA gnc<>+404(SB)/4, $0x0000007f
DATA gnc<>+408(SB)/4, $0x0000007f
DATA gnc<>+412(SB)/4, $0x0000007f
GLOBL gnc<>(SB), RODATA|NOPTR, $416

// GNEXP8 sets X = exp(X) in 8 lanes; N, T and M are scratch.
#define GNEXP8(X, N, T, M) \
	VCMPPS       $0x0d, gnc<>+GN_MIN(SB), X, M \
	VMINPS       gnc<>+GN_MAX(SB), X, X \
	VMAXPS       gnc<>+GN_MIN(SB), X, X \
	VMULPS       gnc<>+GN_LOG2E(SB), X, N \
	VROUNDPS     $0, N, N \
	VFNMADD231PS gnc<>+GN_LN2HI(SB), N, X \
	VFNMADD231PS gnc<>+GN_LN2LO(SB), N, X \
	VMOVUPS      gnc<>+GN_C7(SB), T \
	VFMADD213PS  gnc<>+GN_C6(SB), X, T \
	VFMADD213PS  gnc<>+GN_C5(SB), X, T \
	VFMADD213PS  gnc<>+GN_C4(SB), X, T \
	VFMADD213PS  gnc<>+GN_C3(SB), X, T \
	VFMADD213PS  gnc<>+GN_HALF(SB), X, T \
	VFMADD213PS  gnc<>+GN_ONE(SB), X, T \
	VFMADD213PS  gnc<>+GN_ONE(SB), X, T \
	VCVTPS2DQ    N, N \
	VPADDD       gnc<>+GN_BIAS(SB), N, N \
	VPSLLD       $23, N, N \
	VMULPS       N, T, X \
	VANDPS       M, X, X

// SILU8 sets Y = Y/(1+exp(-Y)); Z is the zero vector, E, N, T, M scratch.
#define SILU8(Y, Z, E, N, T, M) \
	VSUBPS  Y, Z, E \
	GNEXP8(E, N, T, M) \
	VADDPS  gnc<>+GN_ONE(SB), E, E \
	VDIVPS  E, Y, Y

// func affineSiLUAVX2(dst, x []float32, m, a, b float32)
TEXT ·affineSiLUAVX2(SB), NOSPLIT, $0-60
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS m+48(FP), Y12
	VBROADCASTSS a+52(FP), Y14
	VBROADCASTSS b+56(FP), Y15
	VXORPS       Y13, Y13, Y13
	SHRQ         $3, CX
	JEQ          as_done
	TESTQ        $1, CX
	JEQ          as_loop2
	// An odd count: one vector first, then pairs.
	VMOVUPS      (SI), Y0
	VSUBPS       Y12, Y0, Y0
	VFMADD213PS  Y15, Y14, Y0
	SILU8(Y0, Y13, Y1, Y2, Y3, Y4)
	VMOVUPS      Y0, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JEQ          as_done

as_loop2:
	// Two independent vectors per trip, to overlap the two divisions.
	VMOVUPS     (SI), Y0
	VMOVUPS     32(SI), Y5
	VSUBPS      Y12, Y0, Y0
	VSUBPS      Y12, Y5, Y5
	VFMADD213PS Y15, Y14, Y0
	VFMADD213PS Y15, Y14, Y5
	SILU8(Y0, Y13, Y1, Y2, Y3, Y4)
	SILU8(Y5, Y13, Y6, Y7, Y8, Y9)
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y5, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $2, CX
	JNZ         as_loop2

as_done:
	VZEROUPPER
	RET

// func affineAVX2(dst, x []float32, m, a, b float32)
TEXT ·affineAVX2(SB), NOSPLIT, $0-60
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS m+48(FP), Y12
	VBROADCASTSS a+52(FP), Y14
	VBROADCASTSS b+56(FP), Y15
	SHRQ         $3, CX
	JEQ          af_done

af_loop:
	VMOVUPS     (SI), Y0
	VSUBPS      Y12, Y0, Y0
	VFMADD213PS Y15, Y14, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         af_loop

af_done:
	VZEROUPPER
	RET
