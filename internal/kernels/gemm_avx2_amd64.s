//go:build !noasm

#include "textflag.h"

// Matrix kernels, AVX2 + FMA. Contracts: see stubs_amd64.go.

// One step of the 6×16 micro kernel: p-th column of the A panel (6 values
// at off(AX)) times p-th row of the B panel (16 values at boff(BX)).
#define STEP6x16(off, boff) \
	VMOVUPS      boff(BX), Y12 \
	VMOVUPS      boff+32(BX), Y13 \
	VBROADCASTSS off(AX), Y14 \
	VBROADCASTSS off+4(AX), Y15 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS off+8(AX), Y14 \
	VBROADCASTSS off+12(AX), Y15 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	VBROADCASTSS off+16(AX), Y14 \
	VBROADCASTSS off+20(AX), Y15 \
	VFMADD231PS  Y12, Y14, Y8 \
	VFMADD231PS  Y13, Y14, Y9 \
	VFMADD231PS  Y12, Y15, Y10 \
	VFMADD231PS  Y13, Y15, Y11

// Row r of C: c = alpha*acc (+ beta*c).
#define STOREROW_BETA(r0, r1) \
	VMULPS      Y12, r0, r0 \
	VMULPS      Y12, r1, r1 \
	VFMADD231PS (DX), Y13, r0 \
	VFMADD231PS 32(DX), Y13, r1 \
	VMOVUPS     r0, (DX) \
	VMOVUPS     r1, 32(DX) \
	ADDQ        R8, DX

#define STOREROW_NOBETA(r0, r1) \
	VMULPS  Y12, r0, r0 \
	VMULPS  Y12, r1, r1 \
	VMOVUPS r0, (DX) \
	VMOVUPS r1, 32(DX) \
	ADDQ    R8, DX

// func gemm6x16AVX2(k int, a, b, c []float32, ldc int, alpha, beta float32)
TEXT ·gemm6x16AVX2(SB), NOSPLIT, $0-96
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), AX
	MOVQ b_base+32(FP), BX
	MOVQ c_base+56(FP), DX
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	// Warm the C tile's lines while the loop runs.
	MOVQ     DX, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ     R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ     R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ     R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ     R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)
	ADDQ     R8, R9
	PREFETCHT0 (R9)
	PREFETCHT0 60(R9)

	CMPQ CX, $4
	JLT  k_tail

k_loop4:
	PREFETCHT0 512(BX)
	STEP6x16(0, 0)
	STEP6x16(24, 64)
	PREFETCHT0 576(BX)
	STEP6x16(48, 128)
	STEP6x16(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k_loop4

k_tail:
	TESTQ CX, CX
	JEQ   store

k_loop1:
	STEP6x16(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  k_loop1

store:
	VBROADCASTSS alpha+88(FP), Y12
	VBROADCASTSS beta+92(FP), Y13
	MOVL         beta+92(FP), R9
	ANDL         $0x7fffffff, R9
	JEQ          store_nobeta
	STOREROW_BETA(Y0, Y1)
	STOREROW_BETA(Y2, Y3)
	STOREROW_BETA(Y4, Y5)
	STOREROW_BETA(Y6, Y7)
	STOREROW_BETA(Y8, Y9)
	STOREROW_BETA(Y10, Y11)
	VZEROUPPER
	RET

store_nobeta:
	STOREROW_NOBETA(Y0, Y1)
	STOREROW_NOBETA(Y2, Y3)
	STOREROW_NOBETA(Y4, Y5)
	STOREROW_NOBETA(Y6, Y7)
	STOREROW_NOBETA(Y8, Y9)
	STOREROW_NOBETA(Y10, Y11)
	VZEROUPPER
	RET

// func gemvN4AVX2(x0, x1, x2, x3 float32, b []float32, ldb int, y []float32)
TEXT ·gemvN4AVX2(SB), NOSPLIT, $0-72
	VBROADCASTSS x0+0(FP), Y0
	VBROADCASTSS x1+4(FP), Y1
	VBROADCASTSS x2+8(FP), Y2
	VBROADCASTSS x3+12(FP), Y3
	MOVQ         b_base+16(FP), SI
	MOVQ         ldb+40(FP), R8
	SHLQ         $2, R8
	LEAQ         (SI)(R8*1), R9
	LEAQ         (R9)(R8*1), R10
	LEAQ         (R10)(R8*1), R11
	MOVQ         y_base+48(FP), DI
	MOVQ         y_len+56(FP), CX
	CMPQ         CX, $16
	JLT          gn_tail8

gn_loop16:
	VMOVUPS     (DI), Y4
	VMOVUPS     32(DI), Y5
	VMULPS      (R9), Y1, Y6
	VMULPS      32(R9), Y1, Y7
	VFMADD231PS (SI), Y0, Y4
	VFMADD231PS 32(SI), Y0, Y5
	VFMADD231PS (R10), Y2, Y6
	VFMADD231PS 32(R10), Y2, Y7
	VFMADD231PS (R11), Y3, Y4
	VFMADD231PS 32(R11), Y3, Y5
	VADDPS      Y6, Y4, Y4
	VADDPS      Y7, Y5, Y5
	VMOVUPS     Y4, (DI)
	VMOVUPS     Y5, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, R9
	ADDQ        $64, R10
	ADDQ        $64, R11
	ADDQ        $64, DI
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         gn_loop16

gn_tail8:
	TESTQ       CX, CX
	JEQ         gn_done
	VMOVUPS     (DI), Y4
	VMULPS      (R9), Y1, Y6
	VFMADD231PS (SI), Y0, Y4
	VFMADD231PS (R10), Y2, Y6
	VFMADD231PS (R11), Y3, Y4
	VADDPS      Y6, Y4, Y4
	VMOVUPS     Y4, (DI)

gn_done:
	VZEROUPPER
	RET

// func gemvT4AVX2(x, b []float32, ldb int, y []float32)
// Four rows of b, ldb apart, side by side: four streams through memory.
TEXT ·gemvT4AVX2(SB), NOSPLIT, $0-80
	MOVQ   x_base+0(FP), DI
	MOVQ   x_len+8(FP), CX
	MOVQ   b_base+24(FP), SI
	MOVQ   ldb+48(FP), R8
	SHLQ   $2, R8
	LEAQ   (SI)(R8*1), R9
	LEAQ   (R9)(R8*1), R10
	LEAQ   (R10)(R8*1), R11
	MOVQ   y_base+56(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ   CX, $16
	JLT    gt_tail8

gt_loop16:
	VMOVUPS     (DI), Y8
	VMOVUPS     32(DI), Y9
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS 32(SI), Y9, Y4
	VFMADD231PS (R9), Y8, Y1
	VFMADD231PS 32(R9), Y9, Y5
	VFMADD231PS (R10), Y8, Y2
	VFMADD231PS 32(R10), Y9, Y6
	VFMADD231PS (R11), Y8, Y3
	VFMADD231PS 32(R11), Y9, Y7
	ADDQ        $64, DI
	ADDQ        $64, SI
	ADDQ        $64, R9
	ADDQ        $64, R10
	ADDQ        $64, R11
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         gt_loop16

gt_tail8:
	TESTQ       CX, CX
	JEQ         gt_reduce
	VMOVUPS     (DI), Y8
	VFMADD231PS (SI), Y8, Y0
	VFMADD231PS (R9), Y8, Y1
	VFMADD231PS (R10), Y8, Y2
	VFMADD231PS (R11), Y8, Y3

gt_reduce:
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DX)
	VZEROUPPER
	RET

// func gemvTRowsAVX2(x, b []float32, ldb int, y []float32)
// One row of b at a time, so the weights stream through memory in order.
TEXT ·gemvTRowsAVX2(SB), NOSPLIT, $0-80
	MOVQ x_base+0(FP), DI
	MOVQ x_len+8(FP), CX
	MOVQ b_base+24(FP), SI
	MOVQ ldb+48(FP), R8
	SHLQ $2, R8
	MOVQ y_base+56(FP), DX
	MOVQ y_len+64(FP), R9

gr_row:
	TESTQ  R9, R9
	JEQ    gr_done
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   CX, R10
	MOVQ   DI, R11
	MOVQ   SI, R12
	CMPQ   R10, $32
	JLT    gr_tail8

gr_loop32:
	VMOVUPS     (R11), Y4
	VMOVUPS     32(R11), Y5
	VMOVUPS     64(R11), Y6
	VMOVUPS     96(R11), Y7
	VFMADD231PS (R12), Y4, Y0
	VFMADD231PS 32(R12), Y5, Y1
	VFMADD231PS 64(R12), Y6, Y2
	VFMADD231PS 96(R12), Y7, Y3
	ADDQ        $128, R11
	ADDQ        $128, R12
	SUBQ        $32, R10
	CMPQ        R10, $32
	JGE         gr_loop32

gr_tail8:
	CMPQ        R10, $8
	JLT         gr_reduce
	VMOVUPS     (R11), Y4
	VFMADD231PS (R12), Y4, Y0
	ADDQ        $32, R11
	ADDQ        $32, R12
	SUBQ        $8, R10
	JMP         gr_tail8

gr_reduce:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (DX)
	ADDQ         $4, DX
	ADDQ         R8, SI
	DECQ         R9
	JMP          gr_row

gr_done:
	VZEROUPPER
	RET
