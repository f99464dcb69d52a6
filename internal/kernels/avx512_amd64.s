//go:build !noasm

#include "textflag.h"

// AVX-512F kernels. They are only selected when the CPU reports AVX-512F
// and a start-up self-check against the generic kernels passes (see
// selfcheck.go). Contracts: see stubs_amd64.go.

// func dotAVX512(x, y []float32) float32
TEXT ·dotAVX512(SB), NOSPLIT, $0-52
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	MOVQ   y_base+24(FP), DI
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	CMPQ   CX, $64
	JLT    dot_tail16

dot_loop64:
	VMOVUPS     (SI), Z4
	VMOVUPS     64(SI), Z5
	VMOVUPS     128(SI), Z6
	VMOVUPS     192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, CX
	CMPQ        CX, $64
	JGE         dot_loop64

dot_tail16:
	CMPQ        CX, $16
	JLT         dot_reduce
	VMOVUPS     (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         dot_tail16

dot_reduce:
	VADDPS        Z1, Z0, Z0
	VADDPS        Z3, Z2, Z2
	VADDPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	TESTQ         CX, CX
	JEQ           dot_done

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

// func axpyAVX512(alpha float32, x, y []float32)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-56
	VBROADCASTSS alpha+0(FP), Z0
	MOVQ         x_base+8(FP), SI
	MOVQ         x_len+16(FP), CX
	MOVQ         y_base+32(FP), DI
	CMPQ         CX, $64
	JLT          axpy_tail16

axpy_loop64:
	VMOVUPS     (DI), Z1
	VMOVUPS     64(DI), Z2
	VMOVUPS     128(DI), Z3
	VMOVUPS     192(DI), Z4
	VFMADD231PS (SI), Z0, Z1
	VFMADD231PS 64(SI), Z0, Z2
	VFMADD231PS 128(SI), Z0, Z3
	VFMADD231PS 192(SI), Z0, Z4
	VMOVUPS     Z1, (DI)
	VMOVUPS     Z2, 64(DI)
	VMOVUPS     Z3, 128(DI)
	VMOVUPS     Z4, 192(DI)
	ADDQ        $256, SI
	ADDQ        $256, DI
	SUBQ        $64, CX
	CMPQ        CX, $64
	JGE         axpy_loop64

axpy_tail16:
	CMPQ        CX, $16
	JLT         axpy_tail1
	VMOVUPS     (DI), Z1
	VFMADD231PS (SI), Z0, Z1
	VMOVUPS     Z1, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX
	JMP         axpy_tail16

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

// One step of the 6×32 micro kernel.
#define STEP6x32(off, boff) \
	VMOVUPS      boff(BX), Z12 \
	VMOVUPS      boff+64(BX), Z13 \
	VBROADCASTSS off(AX), Z14 \
	VBROADCASTSS off+4(AX), Z15 \
	VFMADD231PS  Z12, Z14, Z0 \
	VFMADD231PS  Z13, Z14, Z1 \
	VFMADD231PS  Z12, Z15, Z2 \
	VFMADD231PS  Z13, Z15, Z3 \
	VBROADCASTSS off+8(AX), Z14 \
	VBROADCASTSS off+12(AX), Z15 \
	VFMADD231PS  Z12, Z14, Z4 \
	VFMADD231PS  Z13, Z14, Z5 \
	VFMADD231PS  Z12, Z15, Z6 \
	VFMADD231PS  Z13, Z15, Z7 \
	VBROADCASTSS off+16(AX), Z14 \
	VBROADCASTSS off+20(AX), Z15 \
	VFMADD231PS  Z12, Z14, Z8 \
	VFMADD231PS  Z13, Z14, Z9 \
	VFMADD231PS  Z12, Z15, Z10 \
	VFMADD231PS  Z13, Z15, Z11

#define STOREROW512_BETA(r0, r1) \
	VMULPS      Z12, r0, r0 \
	VMULPS      Z12, r1, r1 \
	VFMADD231PS (DX), Z13, r0 \
	VFMADD231PS 64(DX), Z13, r1 \
	VMOVUPS     r0, (DX) \
	VMOVUPS     r1, 64(DX) \
	ADDQ        R8, DX

#define STOREROW512_NOBETA(r0, r1) \
	VMULPS  Z12, r0, r0 \
	VMULPS  Z12, r1, r1 \
	VMOVUPS r0, (DX) \
	VMOVUPS r1, 64(DX) \
	ADDQ    R8, DX

// func gemm6x32AVX512(k int, a, b, c []float32, ldc int, alpha, beta float32)
TEXT ·gemm6x32AVX512(SB), NOSPLIT, $0-96
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), AX
	MOVQ b_base+32(FP), BX
	MOVQ c_base+56(FP), DX
	MOVQ ldc+80(FP), R8
	SHLQ $2, R8

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

	CMPQ CX, $4
	JLT  k_tail

k_loop4:
	PREFETCHT0 1024(BX)
	STEP6x32(0, 0)
	PREFETCHT0 1088(BX)
	STEP6x32(24, 128)
	PREFETCHT0 1152(BX)
	STEP6x32(48, 256)
	PREFETCHT0 1216(BX)
	STEP6x32(72, 384)
	ADDQ $96, AX
	ADDQ $512, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  k_loop4

k_tail:
	TESTQ CX, CX
	JEQ   store

k_loop1:
	STEP6x32(0, 0)
	ADDQ $24, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  k_loop1

store:
	VBROADCASTSS alpha+88(FP), Z12
	VBROADCASTSS beta+92(FP), Z13
	MOVL         beta+92(FP), R9
	ANDL         $0x7fffffff, R9
	JEQ          store_nobeta
	STOREROW512_BETA(Z0, Z1)
	STOREROW512_BETA(Z2, Z3)
	STOREROW512_BETA(Z4, Z5)
	STOREROW512_BETA(Z6, Z7)
	STOREROW512_BETA(Z8, Z9)
	STOREROW512_BETA(Z10, Z11)
	VZEROUPPER
	RET

store_nobeta:
	STOREROW512_NOBETA(Z0, Z1)
	STOREROW512_NOBETA(Z2, Z3)
	STOREROW512_NOBETA(Z4, Z5)
	STOREROW512_NOBETA(Z6, Z7)
	STOREROW512_NOBETA(Z8, Z9)
	STOREROW512_NOBETA(Z10, Z11)
	VZEROUPPER
	RET
