//go:build !noasm

#include "textflag.h"

// Vector kernels, AVX2 + FMA. Each has a 32-element main loop (four
// independent accumulators or four vectors in flight), an 8-element loop
// and a scalar tail. Contracts: see stubs_amd64.go.

// func dotAVX2(x, y []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JLT    dot_tail8

dot_loop32:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dot_loop32

dot_tail8:
	CMPQ        CX, $8
	JLT         dot_reduce
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         dot_tail8

dot_reduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	TESTQ        CX, CX
	JEQ          dot_done

dot_tail1:
	VMOVSS      (SI), X4
	VFMADD231SS (DI), X4, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNZ         dot_tail1

dot_done:
	VZEROUPPER
	VMOVSS X0, ret+48(FP)
	RET

// func sqDistAVX2(x, y []float32) float32
TEXT ·sqDistAVX2(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   y_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ   CX, $32
	JLT    sq_tail8

sq_loop32:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VSUBPS      (DI), Y4, Y4
	VSUBPS      32(DI), Y5, Y5
	VSUBPS      64(DI), Y6, Y6
	VSUBPS      96(DI), Y7, Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         sq_loop32

sq_tail8:
	CMPQ        CX, $8
	JLT         sq_reduce
	VMOVUPS     (SI), Y4
	VSUBPS      (DI), Y4, Y4
	VFMADD231PS Y4, Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         sq_tail8

sq_reduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	TESTQ        CX, CX
	JEQ          sq_done

sq_tail1:
	VMOVSS      (SI), X4
	VSUBSS      (DI), X4, X4
	VFMADD231SS X4, X4, X0
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNZ         sq_tail1

sq_done:
	VZEROUPPER
	VMOVSS X0, ret+48(FP)
	RET

// func axpyAVX2(alpha float32, x, y []float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         y_base+32(FP), DI
	CMPQ         CX, $32
	JLT          axpy_tail8

axpy_loop32:
	VMOVUPS     (DI), Y1
	VMOVUPS     32(DI), Y2
	VMOVUPS     64(DI), Y3
	VMOVUPS     96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS     Y1, (DI)
	VMOVUPS     Y2, 32(DI)
	VMOVUPS     Y3, 64(DI)
	VMOVUPS     Y4, 96(DI)
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         axpy_loop32

axpy_tail8:
	CMPQ        CX, $8
	JLT         axpy_tail1
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JMP         axpy_tail8

axpy_tail1:
	TESTQ CX, CX
	JEQ   axpy_done

axpy_tail1_loop:
	VMOVSS      (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS      X1, (DI)
	ADDQ        $4, SI
	ADDQ        $4, DI
	DECQ        CX
	JNZ         axpy_tail1_loop

axpy_done:
	VZEROUPPER
	RET

// func scaleAVX2(alpha float32, x []float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         x_base+8(FP), DI
	MOVQ         x_len+16(FP), CX
	CMPQ         CX, $32
	JLT          scale_tail8

scale_loop32:
	VMULPS  (DI), Y0, Y1
	VMULPS  32(DI), Y0, Y2
	VMULPS  64(DI), Y0, Y3
	VMULPS  96(DI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     scale_loop32

scale_tail8:
	CMPQ    CX, $8
	JLT     scale_tail1
	VMULPS  (DI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, DI
	SUBQ    $8, CX
	JMP     scale_tail8

scale_tail1:
	TESTQ CX, CX
	JEQ   scale_done

scale_tail1_loop:
	VMULSS (DI), X0, X1
	VMOVSS X1, (DI)
	ADDQ   $4, DI
	DECQ   CX
	JNZ    scale_tail1_loop

scale_done:
	VZEROUPPER
	RET

// ELEMENTWISE defines a dst = a OP b kernel.
#define ELEMENTWISE(name, OPPS, OPSS) \
TEXT name(SB), NOSPLIT, $0-72 \
	MOVQ dst_base+0(FP), DI \
	MOVQ dst_len+8(FP), CX \
	MOVQ a_base+24(FP), SI \
	MOVQ b_base+48(FP), DX \
	CMPQ CX, $32 \
	JLT  tail8 \
loop32: \
	VMOVUPS (SI), Y1 \
	VMOVUPS 32(SI), Y2 \
	VMOVUPS 64(SI), Y3 \
	VMOVUPS 96(SI), Y4 \
	OPPS    (DX), Y1, Y1 \
	OPPS    32(DX), Y2, Y2 \
	OPPS    64(DX), Y3, Y3 \
	OPPS    96(DX), Y4, Y4 \
	VMOVUPS Y1, (DI) \
	VMOVUPS Y2, 32(DI) \
	VMOVUPS Y3, 64(DI) \
	VMOVUPS Y4, 96(DI) \
	ADDQ    $128, SI \
	ADDQ    $128, DX \
	ADDQ    $128, DI \
	SUBQ    $32, CX \
	CMPQ    CX, $32 \
	JGE     loop32 \
tail8: \
	CMPQ    CX, $8 \
	JLT     tail1 \
	VMOVUPS (SI), Y1 \
	OPPS    (DX), Y1, Y1 \
	VMOVUPS Y1, (DI) \
	ADDQ    $32, SI \
	ADDQ    $32, DX \
	ADDQ    $32, DI \
	SUBQ    $8, CX \
	JMP     tail8 \
tail1: \
	TESTQ CX, CX \
	JEQ   done \
tail1loop: \
	VMOVSS (SI), X1 \
	OPSS   (DX), X1, X1 \
	VMOVSS X1, (DI) \
	ADDQ   $4, SI \
	ADDQ   $4, DX \
	ADDQ   $4, DI \
	DECQ   CX \
	JNZ    tail1loop \
done: \
	VZEROUPPER \
	RET

// func addAVX2(dst, a, b []float32)
ELEMENTWISE(·addAVX2, VADDPS, VADDSS)

// func mulAVX2(dst, a, b []float32)
ELEMENTWISE(·mulAVX2, VMULPS, VMULSS)

// func maxAVX2(x []float32) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-28
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSS (SI), Y0
	VMOVAPS      Y0, Y1
	VMOVAPS      Y0, Y2
	VMOVAPS      Y0, Y3
	CMPQ         CX, $32
	JLT          max_tail8

max_loop32:
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	VMAXPS 64(SI), Y2, Y2
	VMAXPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	SUBQ   $32, CX
	CMPQ   CX, $32
	JGE    max_loop32

max_tail8:
	CMPQ   CX, $8
	JLT    max_reduce
	VMAXPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JMP    max_tail8

max_reduce:
	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	TESTQ        CX, CX
	JEQ          max_done

max_tail1:
	VMAXSS (SI), X0, X0
	ADDQ   $4, SI
	DECQ   CX
	JNZ    max_tail1

max_done:
	VZEROUPPER
	VMOVSS X0, ret+24(FP)
	RET

// func axpy2AVX2(alpha float32, x, y, acc []float32)
// For i < len(x): acc[i] += alpha*y[i], then y[i] += alpha*x[i] (acc gets
// y's old value). Each y element is loaded once and stored once.
TEXT ·axpy2AVX2(SB), NOSPLIT, $0-80
	MOVSS        alpha+0(FP), X0
	VBROADCASTSS X0, Y0
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         y_base+32(FP), DI
	MOVQ         acc_base+56(FP), DX
	XORQ         AX, AX
	MOVQ         CX, BX
	ANDQ         $-8, BX

axpy2_loop8:
	CMPQ        AX, BX
	JGE         axpy2_tail
	VMOVUPS     (DI)(AX*4), Y1
	VMOVUPS     (DX)(AX*4), Y2
	VFMADD231PS Y1, Y0, Y2
	VMOVUPS     Y2, (DX)(AX*4)
	VMOVUPS     (SI)(AX*4), Y3
	VFMADD231PS Y3, Y0, Y1
	VMOVUPS     Y1, (DI)(AX*4)
	ADDQ        $8, AX
	JMP         axpy2_loop8

axpy2_tail:
	CMPQ        AX, CX
	JGE         axpy2_done
	VMOVSS      (DI)(AX*4), X1
	VMOVSS      (DX)(AX*4), X2
	VFMADD231SS X1, X0, X2
	VMOVSS      X2, (DX)(AX*4)
	VMOVSS      (SI)(AX*4), X3
	VFMADD231SS X3, X0, X1
	VMOVSS      X1, (DI)(AX*4)
	INCQ        AX
	JMP         axpy2_tail

axpy2_done:
	VZEROUPPER
	RET
