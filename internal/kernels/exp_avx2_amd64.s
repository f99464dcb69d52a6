//go:build !noasm

#include "textflag.h"

// Vectorised exp and the kernels built on it (softmax, tanh-form GELU),
// AVX2 + FMA, 8 lanes. exp(x) = 2^n * e^r with n = round(x*log2 e) and
// r = x - n*ln 2 (two-part ln 2, |r| <= ln2/2), e^r by its degree-7 Taylor
// polynomial (truncation error < 3e-9); results are within a few float32
// ulps (relative error < 5e-7) of exp in float64. Inputs below ln(2^-126)
// give exactly 0, inputs above ln(FLT_MAX) are clamped.

// Constant table: each constant replicated over 8 lanes (32 bytes).
#define EXP_LOG2E 0 // log2(e)
#define EXP_LN2HI 32 // ln 2, high part (exact in float32 times small n)
#define EXP_LN2LO 64 // ln 2 - EXP_LN2HI
#define EXP_C7 96 // 1/7!
#define EXP_C6 128 // 1/6!
#define EXP_C5 160 // 1/5!
#define EXP_C4 192 // 1/4!
#define EXP_C3 224 // 1/3!
#define EXP_HALF 256 // 1/2
#define EXP_ONE 288 // 1
#define EXP_MAX 320 // ln(FLT_MAX)
#define EXP_MIN 352 // ln(2^-126): below it the result is 0
#define EXP_BIAS 384 // int32 127, the float32 exponent bias
#define GELU_K 416 // 0.044715
#define GELU_M2S 448 // -2*sqrt(2/pi)
#define GELU_S 480 // sqrt(2/pi)
#define GELU_3KS 512 // 3*0.044715*sqrt(2/pi)
#define GELU_XMAX 544 // 12: past it gelu'(x) is 1 in float32 (0 below -12)
#define GELU_XMIN 576 // -12

DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
DATA expc<>+32(SB)/4, $0x3f318000
DATA expc<>+36(SB)/4, $0x3f318000
DATA expc<>+40(SB)/4, $0x3f318000
DATA expc<>+44(SB)/4, $0x3f318000
DATA expc<>+48(SB)/4, $0x3f318000
DATA expc<>+52(SB)/4, $0x3f318000
DATA expc<>+56(SB)/4, $0x3f318000
DATA expc<>+60(SB)/4, $0x3f318000
DATA expc<>+64(SB)/4, $0xb95e8083
DATA expc<>+68(SB)/4, $0xb95e8083
DATA expc<>+72(SB)/4, $0xb95e8083
DATA expc<>+76(SB)/4, $0xb95e8083
DATA expc<>+80(SB)/4, $0xb95e8083
DATA expc<>+84(SB)/4, $0xb95e8083
DATA expc<>+88(SB)/4, $0xb95e8083
DATA expc<>+92(SB)/4, $0xb95e8083
DATA expc<>+96(SB)/4, $0x39500d01
DATA expc<>+100(SB)/4, $0x39500d01
DATA expc<>+104(SB)/4, $0x39500d01
DATA expc<>+108(SB)/4, $0x39500d01
DATA expc<>+112(SB)/4, $0x39500d01
DATA expc<>+116(SB)/4, $0x39500d01
DATA expc<>+120(SB)/4, $0x39500d01
DATA expc<>+124(SB)/4, $0x39500d01
DATA expc<>+128(SB)/4, $0x3ab60b61
DATA expc<>+132(SB)/4, $0x3ab60b61
DATA expc<>+136(SB)/4, $0x3ab60b61
DATA expc<>+140(SB)/4, $0x3ab60b61
DATA expc<>+144(SB)/4, $0x3ab60b61
DATA expc<>+148(SB)/4, $0x3ab60b61
DATA expc<>+152(SB)/4, $0x3ab60b61
DATA expc<>+156(SB)/4, $0x3ab60b61
DATA expc<>+160(SB)/4, $0x3c088889
DATA expc<>+164(SB)/4, $0x3c088889
DATA expc<>+168(SB)/4, $0x3c088889
DATA expc<>+172(SB)/4, $0x3c088889
DATA expc<>+176(SB)/4, $0x3c088889
DATA expc<>+180(SB)/4, $0x3c088889
DATA expc<>+184(SB)/4, $0x3c088889
DATA expc<>+188(SB)/4, $0x3c088889
DATA expc<>+192(SB)/4, $0x3d2aaaab
DATA expc<>+196(SB)/4, $0x3d2aaaab
DATA expc<>+200(SB)/4, $0x3d2aaaab
DATA expc<>+204(SB)/4, $0x3d2aaaab
DATA expc<>+208(SB)/4, $0x3d2aaaab
DATA expc<>+212(SB)/4, $0x3d2aaaab
DATA expc<>+216(SB)/4, $0x3d2aaaab
DATA expc<>+220(SB)/4, $0x3d2aaaab
DATA expc<>+224(SB)/4, $0x3e2aaaab
DATA expc<>+228(SB)/4, $0x3e2aaaab
DATA expc<>+232(SB)/4, $0x3e2aaaab
DATA expc<>+236(SB)/4, $0x3e2aaaab
DATA expc<>+240(SB)/4, $0x3e2aaaab
DATA expc<>+244(SB)/4, $0x3e2aaaab
DATA expc<>+248(SB)/4, $0x3e2aaaab
DATA expc<>+252(SB)/4, $0x3e2aaaab
DATA expc<>+256(SB)/4, $0x3f000000
DATA expc<>+260(SB)/4, $0x3f000000
DATA expc<>+264(SB)/4, $0x3f000000
DATA expc<>+268(SB)/4, $0x3f000000
DATA expc<>+272(SB)/4, $0x3f000000
DATA expc<>+276(SB)/4, $0x3f000000
DATA expc<>+280(SB)/4, $0x3f000000
DATA expc<>+284(SB)/4, $0x3f000000
DATA expc<>+288(SB)/4, $0x3f800000
DATA expc<>+292(SB)/4, $0x3f800000
DATA expc<>+296(SB)/4, $0x3f800000
DATA expc<>+300(SB)/4, $0x3f800000
DATA expc<>+304(SB)/4, $0x3f800000
DATA expc<>+308(SB)/4, $0x3f800000
DATA expc<>+312(SB)/4, $0x3f800000
DATA expc<>+316(SB)/4, $0x3f800000
DATA expc<>+320(SB)/4, $0x42b0c0a5
DATA expc<>+324(SB)/4, $0x42b0c0a5
DATA expc<>+328(SB)/4, $0x42b0c0a5
DATA expc<>+332(SB)/4, $0x42b0c0a5
DATA expc<>+336(SB)/4, $0x42b0c0a5
DATA expc<>+340(SB)/4, $0x42b0c0a5
DATA expc<>+344(SB)/4, $0x42b0c0a5
DATA expc<>+348(SB)/4, $0x42b0c0a5
DATA expc<>+352(SB)/4, $0xc2aeac50
DATA expc<>+356(SB)/4, $0xc2aeac50
DATA expc<>+360(SB)/4, $0xc2aeac50
DATA expc<>+364(SB)/4, $0xc2aeac50
DATA expc<>+368(SB)/4, $0xc2aeac50
DATA expc<>+372(SB)/4, $0xc2aeac50
DATA expc<>+376(SB)/4, $0xc2aeac50
DATA expc<>+380(SB)/4, $0xc2aeac50
DATA expc<>+384(SB)/4, $0x0000007f
DATA expc<>+388(SB)/4, $0x0000007f
DATA expc<>+392(SB)/4, $0x0000007f
DATA expc<>+396(SB)/4, $0x0000007f
DATA expc<>+400(SB)/4, $0x0000007f
DATA expc<>+404(SB)/4, $0x0000007f
DATA expc<>+408(SB)/4, $0x0000007f
DATA expc<>+412(SB)/4, $0x0000007f
DATA expc<>+416(SB)/4, $0x3d372713
DATA expc<>+420(SB)/4, $0x3d372713
DATA expc<>+424(SB)/4, $0x3d372713
DATA expc<>+428(SB)/4, $0x3d372713
DATA expc<>+432(SB)/4, $0x3d372713
DATA expc<>+436(SB)/4, $0x3d372713
DATA expc<>+440(SB)/4, $0x3d372713
DATA expc<>+444(SB)/4, $0x3d372713
DATA expc<>+448(SB)/4, $0xbfcc422a
DATA expc<>+452(SB)/4, $0xbfcc422a
DATA expc<>+456(SB)/4, $0xbfcc422a
DATA expc<>+460(SB)/4, $0xbfcc422a
DATA expc<>+464(SB)/4, $0xbfcc422a
DATA expc<>+468(SB)/4, $0xbfcc422a
DATA expc<>+472(SB)/4, $0xbfcc422a
DATA expc<>+476(SB)/4, $0xbfcc422a
DATA expc<>+480(SB)/4, $0x3f4c422a
DATA expc<>+484(SB)/4, $0x3f4c422a
DATA expc<>+488(SB)/4, $0x3f4c422a
DATA expc<>+492(SB)/4, $0x3f4c422a
DATA expc<>+496(SB)/4, $0x3f4c422a
DATA expc<>+500(SB)/4, $0x3f4c422a
DATA expc<>+504(SB)/4, $0x3f4c422a
DATA expc<>+508(SB)/4, $0x3f4c422a
DATA expc<>+512(SB)/4, $0x3ddb33b6
DATA expc<>+516(SB)/4, $0x3ddb33b6
DATA expc<>+520(SB)/4, $0x3ddb33b6
DATA expc<>+524(SB)/4, $0x3ddb33b6
DATA expc<>+528(SB)/4, $0x3ddb33b6
DATA expc<>+532(SB)/4, $0x3ddb33b6
DATA expc<>+536(SB)/4, $0x3ddb33b6
DATA expc<>+540(SB)/4, $0x3ddb33b6
DATA expc<>+544(SB)/4, $0x41400000
DATA expc<>+548(SB)/4, $0x41400000
DATA expc<>+552(SB)/4, $0x41400000
DATA expc<>+556(SB)/4, $0x41400000
DATA expc<>+560(SB)/4, $0x41400000
DATA expc<>+564(SB)/4, $0x41400000
DATA expc<>+568(SB)/4, $0x41400000
DATA expc<>+572(SB)/4, $0x41400000
DATA expc<>+576(SB)/4, $0xc1400000
DATA expc<>+580(SB)/4, $0xc1400000
DATA expc<>+584(SB)/4, $0xc1400000
DATA expc<>+588(SB)/4, $0xc1400000
DATA expc<>+592(SB)/4, $0xc1400000
DATA expc<>+596(SB)/4, $0xc1400000
DATA expc<>+600(SB)/4, $0xc1400000
DATA expc<>+604(SB)/4, $0xc1400000
GLOBL expc<>(SB), RODATA|NOPTR, $608

// EXP8 sets X = exp(X) in 8 lanes; N, T and M are scratch.
#define EXP8(X, N, T, M) \
	VCMPPS       $0x0d, expc<>+EXP_MIN(SB), X, M \
	VMINPS       expc<>+EXP_MAX(SB), X, X \
	VMAXPS       expc<>+EXP_MIN(SB), X, X \
	VMULPS       expc<>+EXP_LOG2E(SB), X, N \
	VROUNDPS     $0, N, N \
	VFNMADD231PS expc<>+EXP_LN2HI(SB), N, X \
	VFNMADD231PS expc<>+EXP_LN2LO(SB), N, X \
	VMOVUPS      expc<>+EXP_C7(SB), T \
	VFMADD213PS  expc<>+EXP_C6(SB), X, T \
	VFMADD213PS  expc<>+EXP_C5(SB), X, T \
	VFMADD213PS  expc<>+EXP_C4(SB), X, T \
	VFMADD213PS  expc<>+EXP_C3(SB), X, T \
	VFMADD213PS  expc<>+EXP_HALF(SB), X, T \
	VFMADD213PS  expc<>+EXP_ONE(SB), X, T \
	VFMADD213PS  expc<>+EXP_ONE(SB), X, T \
	VCVTPS2DQ    N, N \
	VPADDD       expc<>+EXP_BIAS(SB), N, N \
	VPSLLD       $23, N, N \
	VMULPS       N, T, X \
	VANDPS       M, X, X

// func expSumAVX2(dst, x []float32, shift float32) float64
// The sum is accumulated in float64 lanes.
TEXT ·expSumAVX2(SB), NOSPLIT, $0-64
	MOVQ         dst_base+0(FP), DI
	MOVQ         dst_len+8(FP), CX
	MOVQ         x_base+24(FP), SI
	VBROADCASTSS shift+48(FP), Y7
	VXORPD       Y6, Y6, Y6
	VXORPD       Y5, Y5, Y5
	SHRQ         $3, CX
	JEQ          es_reduce

es_loop:
	VMOVUPS      (SI), Y0
	VSUBPS       Y7, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3)
	VMOVUPS      Y0, (DI)
	VCVTPS2PD    X0, Y1
	VEXTRACTF128 $1, Y0, X2
	VCVTPS2PD    X2, Y2
	VADDPD       Y1, Y6, Y6
	VADDPD       Y2, Y5, Y5
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          es_loop

es_reduce:
	VADDPD       Y5, Y6, Y6
	VEXTRACTF128 $1, Y6, X1
	VADDPD       X1, X6, X0
	VHADDPD      X0, X0, X0
	VZEROUPPER
	VMOVSD       X0, ret+56(FP)
	RET

// func geluTanhAVX2(dst, x []float32)
TEXT ·geluTanhAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	SHRQ $3, CX
	JEQ  gt_done

gt_loop:
	// dst = x / (1 + exp(-2*sqrt(2/pi)*(x + 0.044715x^3))), which is
	// 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))).
	VMOVUPS     (SI), Y0
	VMULPS      Y0, Y0, Y1
	VMULPS      expc<>+GELU_K(SB), Y1, Y1
	VFMADD213PS Y0, Y0, Y1
	VMULPS      expc<>+GELU_M2S(SB), Y1, Y1
	EXP8(Y1, Y2, Y3, Y4)
	VADDPS      expc<>+EXP_ONE(SB), Y1, Y1
	VDIVPS      Y1, Y0, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         gt_loop

gt_done:
	VZEROUPPER
	RET

// func geluTanhBackwardAVX2(dx, x, dy []float32)
TEXT ·geluTanhBackwardAVX2(SB), NOSPLIT, $0-72
	MOVQ    dx_base+0(FP), DI
	MOVQ    dx_len+8(FP), CX
	MOVQ    x_base+24(FP), SI
	MOVQ    dy_base+48(FP), DX
	VMOVUPS expc<>+EXP_ONE(SB), Y6
	VMOVUPS expc<>+GELU_XMAX(SB), Y8
	VMOVUPS expc<>+GELU_XMIN(SB), Y9
	SHRQ    $3, CX
	JEQ     gb_done

gb_loop:
	// e = exp(-2u), u = sqrt(2/pi)(x + 0.044715x^3); s = 1/(1+e);
	// gelu'(x) = s + 2x*e*s^2*sqrt(2/pi)(1 + 3*0.044715x^2) (e*s^2 is
	// s(1-s) without the cancellation of 1-s). x is clamped to [-12, 12]
	// first, where the derivative is already 1 or 0 in float32, so that
	// neither x^2 nor exp overflows.
	VMOVUPS     (SI), Y0
	VMINPS      Y0, Y8, Y0 // a NaN in x stays NaN (the second operand wins)
	VMAXPS      Y0, Y9, Y0
	VMULPS      Y0, Y0, Y1
	VMULPS      expc<>+GELU_K(SB), Y1, Y2
	VFMADD213PS Y0, Y0, Y2
	VMULPS      expc<>+GELU_M2S(SB), Y2, Y2
	EXP8(Y2, Y3, Y4, Y5)
	VADDPS      Y6, Y2, Y3
	VDIVPS      Y3, Y6, Y3
	VMULPS      Y3, Y2, Y4
	VMULPS      Y3, Y4, Y4
	VMULPS      Y0, Y4, Y4
	VMOVUPS     expc<>+GELU_S(SB), Y5
	VFMADD231PS expc<>+GELU_3KS(SB), Y1, Y5
	VMULPS      Y5, Y4, Y4
	VADDPS      Y4, Y4, Y4
	VADDPS      Y3, Y4, Y4
	VMOVUPS     (DI), Y7
	VFMADD231PS (DX), Y4, Y7
	VMOVUPS     Y7, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DX
	ADDQ        $32, DI
	DECQ        CX
	JNZ         gb_loop

gb_done:
	VZEROUPPER
	RET

// erfc(z) = t*exp(-z^2 + P(t)), t = 1/(1+|z|/2), for z >= 0 (and 2 minus that
// for z < 0): the Chebyshev fit of Numerical Recipes (2nd ed., §6.2),
// fractional error < 1.2e-7. Each constant replicated over 8 lanes.
#define ERF_C0 0
#define ERF_C1 32
#define ERF_C2 64
#define ERF_C3 96
#define ERF_C4 128
#define ERF_C5 160
#define ERF_C6 192
#define ERF_C7 224
#define ERF_C8 256
#define ERF_C9 288
#define ERF_MRSQRT2 320
#define ERF_TWO 352
#define ERF_ABS 384
DATA erfc<>+0(SB)/4, $0xbfa1fc4e
DATA erfc<>+4(SB)/4, $0xbfa1fc4e
DATA erfc<>+8(SB)/4, $0xbfa1fc4e
DATA erfc<>+12(SB)/4, $0xbfa1fc4e
DATA erfc<>+16(SB)/4, $0xbfa1fc4e
DATA erfc<>+20(SB)/4, $0xbfa1fc4e
DATA erfc<>+24(SB)/4, $0xbfa1fc4e
DATA erfc<>+28(SB)/4, $0xbfa1fc4e
DATA erfc<>+32(SB)/4, $0x3f8000c7
DATA erfc<>+36(SB)/4, $0x3f8000c7
DATA erfc<>+40(SB)/4, $0x3f8000c7
DATA erfc<>+44(SB)/4, $0x3f8000c7
DATA erfc<>+48(SB)/4, $0x3f8000c7
DATA erfc<>+52(SB)/4, $0x3f8000c7
DATA erfc<>+56(SB)/4, $0x3f8000c7
DATA erfc<>+60(SB)/4, $0x3f8000c7
DATA erfc<>+64(SB)/4, $0x3ebf88fb
DATA erfc<>+68(SB)/4, $0x3ebf88fb
DATA erfc<>+72(SB)/4, $0x3ebf88fb
DATA erfc<>+76(SB)/4, $0x3ebf88fb
DATA erfc<>+80(SB)/4, $0x3ebf88fb
DATA erfc<>+84(SB)/4, $0x3ebf88fb
DATA erfc<>+88(SB)/4, $0x3ebf88fb
DATA erfc<>+92(SB)/4, $0x3ebf88fb
DATA erfc<>+96(SB)/4, $0x3dc636c9
DATA erfc<>+100(SB)/4, $0x3dc636c9
DATA erfc<>+104(SB)/4, $0x3dc636c9
DATA erfc<>+108(SB)/4, $0x3dc636c9
DATA erfc<>+112(SB)/4, $0x3dc636c9
DATA erfc<>+116(SB)/4, $0x3dc636c9
DATA erfc<>+120(SB)/4, $0x3dc636c9
DATA erfc<>+124(SB)/4, $0x3dc636c9
DATA erfc<>+128(SB)/4, $0xbe3ec24c
DATA erfc<>+132(SB)/4, $0xbe3ec24c
DATA erfc<>+136(SB)/4, $0xbe3ec24c
DATA erfc<>+140(SB)/4, $0xbe3ec24c
DATA erfc<>+144(SB)/4, $0xbe3ec24c
DATA erfc<>+148(SB)/4, $0xbe3ec24c
DATA erfc<>+152(SB)/4, $0xbe3ec24c
DATA erfc<>+156(SB)/4, $0xbe3ec24c
DATA erfc<>+160(SB)/4, $0x3e8ec7cc
DATA erfc<>+164(SB)/4, $0x3e8ec7cc
DATA erfc<>+168(SB)/4, $0x3e8ec7cc
DATA erfc<>+172(SB)/4, $0x3e8ec7cc
DATA erfc<>+176(SB)/4, $0x3e8ec7cc
DATA erfc<>+180(SB)/4, $0x3e8ec7cc
DATA erfc<>+184(SB)/4, $0x3e8ec7cc
DATA erfc<>+188(SB)/4, $0x3e8ec7cc
DATA erfc<>+192(SB)/4, $0xbf914e5d
DATA erfc<>+196(SB)/4, $0xbf914e5d
DATA erfc<>+200(SB)/4, $0xbf914e5d
DATA erfc<>+204(SB)/4, $0xbf914e5d
DATA erfc<>+208(SB)/4, $0xbf914e5d
DATA erfc<>+212(SB)/4, $0xbf914e5d
DATA erfc<>+216(SB)/4, $0xbf914e5d
DATA erfc<>+220(SB)/4, $0xbf914e5d
DATA erfc<>+224(SB)/4, $0x3fbe87b0
DATA erfc<>+228(SB)/4, $0x3fbe87b0
DATA erfc<>+232(SB)/4, $0x3fbe87b0
DATA erfc<>+236(SB)/4, $0x3fbe87b0
DATA erfc<>+240(SB)/4, $0x3fbe87b0
DATA erfc<>+244(SB)/4, $0x3fbe87b0
DATA erfc<>+248(SB)/4, $0x3fbe87b0
DATA erfc<>+252(SB)/4, $0x3fbe87b0
DATA erfc<>+256(SB)/4, $0xbf527892
DATA erfc<>+260(SB)/4, $0xbf527892
DATA erfc<>+264(SB)/4, $0xbf527892
DATA erfc<>+268(SB)/4, $0xbf527892
DATA erfc<>+272(SB)/4, $0xbf527892
DATA erfc<>+276(SB)/4, $0xbf527892
DATA erfc<>+280(SB)/4, $0xbf527892
DATA erfc<>+284(SB)/4, $0xbf527892
DATA erfc<>+288(SB)/4, $0x3e2ef945
DATA erfc<>+292(SB)/4, $0x3e2ef945
DATA erfc<>+296(SB)/4, $0x3e2ef945
DATA erfc<>+300(SB)/4, $0x3e2ef945
DATA erfc<>+304(SB)/4, $0x3e2ef945
DATA erfc<>+308(SB)/4, $0x3e2ef945
DATA erfc<>+312(SB)/4, $0x3e2ef945
DATA erfc<>+316(SB)/4, $0x3e2ef945
DATA erfc<>+320(SB)/4, $0xbf3504f3
DATA erfc<>+324(SB)/4, $0xbf3504f3
DATA erfc<>+328(SB)/4, $0xbf3504f3
DATA erfc<>+332(SB)/4, $0xbf3504f3
DATA erfc<>+336(SB)/4, $0xbf3504f3
DATA erfc<>+340(SB)/4, $0xbf3504f3
DATA erfc<>+344(SB)/4, $0xbf3504f3
DATA erfc<>+348(SB)/4, $0xbf3504f3
DATA erfc<>+352(SB)/4, $0x40000000
DATA erfc<>+356(SB)/4, $0x40000000
DATA erfc<>+360(SB)/4, $0x40000000
DATA erfc<>+364(SB)/4, $0x40000000
DATA erfc<>+368(SB)/4, $0x40000000
DATA erfc<>+372(SB)/4, $0x40000000
DATA erfc<>+376(SB)/4, $0x40000000
DATA erfc<>+380(SB)/4, $0x40000000
DATA erfc<>+384(SB)/4, $0x7fffffff
DATA erfc<>+388(SB)/4, $0x7fffffff
DATA erfc<>+392(SB)/4, $0x7fffffff
DATA erfc<>+396(SB)/4, $0x7fffffff
DATA erfc<>+400(SB)/4, $0x7fffffff
DATA erfc<>+404(SB)/4, $0x7fffffff
DATA erfc<>+408(SB)/4, $0x7fffffff
DATA erfc<>+412(SB)/4, $0x7fffffff
GLOBL erfc<>(SB), RODATA|NOPTR, $416

// func geluErfAVX2(dst, x []float32)
TEXT ·geluErfAVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	SHRQ $3, CX
	JEQ  ge_done

ge_loop:
	// dst = 0.5x*erfc(z), z = -x/sqrt(2).
	VMOVUPS     (SI), Y0
	VMULPS      erfc<>+ERF_MRSQRT2(SB), Y0, Y1
	VANDPS      erfc<>+ERF_ABS(SB), Y1, Y2
	VMULPS      expc<>+EXP_HALF(SB), Y2, Y3
	VADDPS      expc<>+EXP_ONE(SB), Y3, Y3
	VMOVUPS     expc<>+EXP_ONE(SB), Y8
	VDIVPS      Y3, Y8, Y3
	VMOVUPS     erfc<>+ERF_C9(SB), Y4
	VFMADD213PS erfc<>+ERF_C8(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C7(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C6(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C5(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C4(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C3(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C2(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C1(SB), Y3, Y4
	VFMADD213PS erfc<>+ERF_C0(SB), Y3, Y4
	VFNMADD231PS Y2, Y2, Y4
	EXP8(Y4, Y5, Y6, Y7)
	VMULPS      Y3, Y4, Y4
	VMOVUPS     erfc<>+ERF_TWO(SB), Y5
	VSUBPS      Y4, Y5, Y5
	VBLENDVPS   Y1, Y5, Y4, Y4
	VMULPS      expc<>+EXP_HALF(SB), Y0, Y0
	VMULPS      Y4, Y0, Y0
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         ge_loop

ge_done:
	VZEROUPPER
	RET
