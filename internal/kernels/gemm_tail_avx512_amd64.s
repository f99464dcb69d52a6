//go:build !noasm

#include "textflag.h"

// The AVX-512 micro kernel for the last column panel of a block when at
// most 16 of its 32 columns are used (Sgemm with n = 40, 80, 77: attention
// heads of 40 or 80 values, 77 text tokens): a 6×16 tile read from the
// 32-wide packed panel, so half the work of the 6×32 kernel. Even and odd
// steps of k go to separate accumulators (12 chains of FMAs, enough to hide
// their latency), summed at the end. Contract: see gemm_tail_amd64.go.

#define TSTEP(off, boff, r0, r1, r2, r3, r4, r5) \
	VMOVUPS      boff(BX), Z12 \
	VBROADCASTSS off(AX), Z14 \
	VBROADCASTSS off+4(AX), Z15 \
	VFMADD231PS  Z12, Z14, r0 \
	VFMADD231PS  Z12, Z15, r1 \
	VBROADCASTSS off+8(AX), Z14 \
	VBROADCASTSS off+12(AX), Z15 \
	VFMADD231PS  Z12, Z14, r2 \
	VFMADD231PS  Z12, Z15, r3 \
	VBROADCASTSS off+16(AX), Z14 \
	VBROADCASTSS off+20(AX), Z15 \
	VFMADD231PS  Z12, Z14, r4 \
	VFMADD231PS  Z12, Z15, r5

#define TSTORE_BETA(r) \
	VMULPS      Z12, r, r \
	VFMADD231PS (DX), Z13, r \
	VMOVUPS     r, (DX) \
	ADDQ        R8, DX

#define TSTORE_NOBETA(r) \
	VMULPS  Z12, r, r \
	VMOVUPS r, (DX) \
	ADDQ    R8, DX

// func gemm6x16AVX512(k int, a, b, c []float32, ldc int, alpha, beta float32)
TEXT ·gemm6x16AVX512(SB), NOSPLIT, $0-96
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

	CMPQ CX, $2
	JLT  t_tail

t_loop2:
	PREFETCHT0 1024(BX)
	TSTEP(0, 0, Z0, Z1, Z2, Z3, Z4, Z5)
	TSTEP(24, 128, Z6, Z7, Z8, Z9, Z10, Z11)
	ADDQ $48, AX
	ADDQ $256, BX
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  t_loop2

t_tail:
	TESTQ CX, CX
	JEQ   t_sum
	TSTEP(0, 0, Z0, Z1, Z2, Z3, Z4, Z5)

t_sum:
	VADDPS Z6, Z0, Z0
	VADDPS Z7, Z1, Z1
	VADDPS Z8, Z2, Z2
	VADDPS Z9, Z3, Z3
	VADDPS Z10, Z4, Z4
	VADDPS Z11, Z5, Z5
	VBROADCASTSS alpha+88(FP), Z12
	VBROADCASTSS beta+92(FP), Z13
	MOVL         beta+92(FP), R9
	ANDL         $0x7fffffff, R9
	JEQ          t_nobeta
	TSTORE_BETA(Z0)
	TSTORE_BETA(Z1)
	TSTORE_BETA(Z2)
	TSTORE_BETA(Z3)
	TSTORE_BETA(Z4)
	TSTORE_BETA(Z5)
	VZEROUPPER
	RET

t_nobeta:
	TSTORE_NOBETA(Z0)
	TSTORE_NOBETA(Z1)
	TSTORE_NOBETA(Z2)
	TSTORE_NOBETA(Z3)
	TSTORE_NOBETA(Z4)
	TSTORE_NOBETA(Z5)
	VZEROUPPER
	RET
