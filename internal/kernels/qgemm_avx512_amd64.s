//go:build !noasm

#include "textflag.h"

// Int8 linear-layer kernels with AVX512-VNNI (VPDPBUSD on zmm), and the
// one-row (decoding) kernel for AVX2. Contracts: see qgemm_amd64.go and the
// generic twins in qgemm.go.
//
// VPDPBUSD adds the four u8·s8 products of each dword lane straight into
// the int32 lane, so there is no int16 intermediate to saturate: the same
// kernel serves QInt8 and QInt7 weights. One group of 4 k of a packed
// 16-column block is 64 bytes with column j in dword lane j: one zmm.

// Dequantize and store one row of 16 columns (see QSTORE in
// qgemm_avx2_amd64.s; the same operations in the same order, so the
// results are bit-identical to the AVX2 kernels'): R10 = rp of the row
// group, R11 = cp, DX = c row; advances DX by R9.
#define VSTORE(acc, roff) \
	VCVTDQ2PS    acc, acc \
	VMULPS       (R11), acc, acc \
	VBROADCASTSS roff(R10), Z14 \
	VBROADCASTSS roff+4(R10), Z15 \
	VMULPS       Z14, acc, acc \
	VFNMADD231PS 64(R11), Z15, acc \
	VADDPS       128(R11), acc, acc \
	VMOVUPS      acc, (DX) \
	ADDQ         R9, DX

// func qgemm4x16VNNI(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int)
//
// Per row group, two sets of four accumulators (Z0-Z3 for the even group
// of 4 k, Z4-Z7 for the odd one) keep eight VPDPBUSD chains in flight.
TEXT ·qgemm4x16VNNI(SB), NOSPLIT, $0-152
	MOVQ groups+0(FP), AX
	MOVQ a_base+16(FP), R13
	MOVQ lda+40(FP), R8
	MOVQ b_base+48(FP), R12
	MOVQ rp_base+72(FP), R10
	MOVQ cp_base+96(FP), R11
	MOVQ c_base+120(FP), DX
	MOVQ ldc+144(FP), R9
	SHLQ $2, R9
	TESTQ AX, AX
	JZ    vend

vgroup:
	MOVQ   R13, SI
	LEAQ   (SI)(R8*2), DI
	MOVQ   R12, BX
	MOVQ   kp+8(FP), CX
	SHRQ   $3, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	TESTQ  CX, CX
	JZ     vsum

vloop:
	VMOVDQU32    (BX), Z8
	VMOVDQU32    64(BX), Z9
	VPBROADCASTD (SI), Z10
	VPBROADCASTD 4(SI), Z11
	VPDPBUSD     Z8, Z10, Z0
	VPDPBUSD     Z9, Z11, Z4
	VPBROADCASTD (SI)(R8*1), Z12
	VPBROADCASTD 4(SI)(R8*1), Z13
	VPDPBUSD     Z8, Z12, Z1
	VPDPBUSD     Z9, Z13, Z5
	VPBROADCASTD (DI), Z10
	VPBROADCASTD 4(DI), Z11
	VPDPBUSD     Z8, Z10, Z2
	VPDPBUSD     Z9, Z11, Z6
	VPBROADCASTD (DI)(R8*1), Z12
	VPBROADCASTD 4(DI)(R8*1), Z13
	VPDPBUSD     Z8, Z12, Z3
	VPDPBUSD     Z9, Z13, Z7
	ADDQ         $8, SI
	ADDQ         $8, DI
	ADDQ         $128, BX
	DECQ         CX
	JNZ          vloop

vsum:
	VPADDD Z4, Z0, Z0
	VPADDD Z5, Z1, Z1
	VPADDD Z6, Z2, Z2
	VPADDD Z7, Z3, Z3
	VSTORE(Z0, 0)
	VSTORE(Z1, 8)
	VSTORE(Z2, 16)
	VSTORE(Z3, 24)
	ADDQ $32, R10
	LEAQ (R13)(R8*4), R13
	DECQ AX
	JNZ  vgroup

vend:
	VZEROUPPER
	RET

// func qgemv16VNNI(nblk, kp int, a []uint8, b []int8, rp, cp, c []float32)
//
// One activation row times nblk consecutive packed blocks (kp*16 bytes
// each, read once in memory order), four VPDPBUSD chains per block.
TEXT ·qgemv16VNNI(SB), NOSPLIT, $0-136
	MOVQ nblk+0(FP), AX
	MOVQ kp+8(FP), R8
	MOVQ a_base+16(FP), R13
	MOVQ b_base+40(FP), BX
	MOVQ rp_base+64(FP), R10
	MOVQ cp_base+88(FP), R11
	MOVQ c_base+112(FP), DX
	MOVQ $64, R9
	TESTQ AX, AX
	JZ    gvend

gvblock:
	MOVQ   R13, SI
	MOVQ   R8, CX
	SHRQ   $4, CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	TESTQ  CX, CX
	JZ     gvtail

gvloop:
	VPBROADCASTD (SI), Z10
	VPBROADCASTD 4(SI), Z11
	VPBROADCASTD 8(SI), Z12
	VPBROADCASTD 12(SI), Z13
	VPDPBUSD     (BX), Z10, Z0
	VPDPBUSD     64(BX), Z11, Z1
	VPDPBUSD     128(BX), Z12, Z2
	VPDPBUSD     192(BX), Z13, Z3
	ADDQ         $16, SI
	ADDQ         $256, BX
	DECQ         CX
	JNZ          gvloop

gvtail:
	// kp is a multiple of 8: at most two groups of 4 k are left.
	TESTQ $8, R8
	JZ    gvsum
	VPBROADCASTD (SI), Z10
	VPBROADCASTD 4(SI), Z11
	VPDPBUSD     (BX), Z10, Z0
	VPDPBUSD     64(BX), Z11, Z1
	ADDQ         $128, BX

gvsum:
	VPADDD Z1, Z0, Z0
	VPADDD Z3, Z2, Z2
	VPADDD Z2, Z0, Z0
	VSTORE(Z0, 0)
	ADDQ $192, R11
	DECQ AX
	JNZ  gvblock

gvend:
	VZEROUPPER
	RET

DATA qgvOnes<>+0(SB)/8, $0x0001000100010001
DATA qgvOnes<>+8(SB)/8, $0x0001000100010001
DATA qgvOnes<>+16(SB)/8, $0x0001000100010001
DATA qgvOnes<>+24(SB)/8, $0x0001000100010001
GLOBL qgvOnes<>(SB), RODATA|NOPTR, $32

// One group of 4 k for the AVX2 one-row kernel: weights at off(BX),
// activations at aoff(SI); Y13 = int16 ones.
#define GROW(off, aoff, acc0, acc1) \
	VPBROADCASTD aoff(SI), Y10 \
	VPMADDUBSW   off(BX), Y10, Y11 \
	VPMADDUBSW   off+32(BX), Y10, Y12 \
	VPMADDWD     Y13, Y11, Y11 \
	VPMADDWD     Y13, Y12, Y12 \
	VPADDD       Y11, acc0, acc0 \
	VPADDD       Y12, acc1, acc1

// func qgemv16AVX2(nblk, kp int, a []uint8, b []int8, rp, cp, c []float32)
//
// qgemv16Generic for weights in [-127, 127] (both precisions): one
// activation row times nblk consecutive packed blocks.
TEXT ·qgemv16AVX2(SB), NOSPLIT, $0-136
	MOVQ    nblk+0(FP), AX
	MOVQ    kp+8(FP), R8
	MOVQ    a_base+16(FP), R13
	MOVQ    b_base+40(FP), BX
	MOVQ    rp_base+64(FP), R10
	MOVQ    cp_base+88(FP), R11
	MOVQ    c_base+112(FP), DX
	VMOVDQU qgvOnes<>(SB), Y13
	TESTQ   AX, AX
	JZ      g2end

g2block:
	MOVQ  R13, SI
	MOVQ  R8, CX
	SHRQ  $3, CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3

g2loop:
	GROW(0, 0, Y0, Y1)
	GROW(64, 4, Y2, Y3)
	ADDQ $8, SI
	ADDQ $128, BX
	DECQ CX
	JNZ  g2loop

	VPADDD       Y2, Y0, Y0
	VPADDD       Y3, Y1, Y1
	VCVTDQ2PS    Y0, Y0
	VCVTDQ2PS    Y1, Y1
	VMULPS       (R11), Y0, Y0
	VMULPS       32(R11), Y1, Y1
	VBROADCASTSS (R10), Y14
	VBROADCASTSS 4(R10), Y15
	VMULPS       Y14, Y0, Y0
	VMULPS       Y14, Y1, Y1
	VFNMADD231PS 64(R11), Y15, Y0
	VFNMADD231PS 96(R11), Y15, Y1
	VADDPS       128(R11), Y0, Y0
	VADDPS       160(R11), Y1, Y1
	VMOVUPS      Y0, (DX)
	VMOVUPS      Y1, 32(DX)
	ADDQ         $64, DX
	ADDQ         $192, R11
	DECQ         AX
	JNZ          g2block

g2end:
	VZEROUPPER
	RET
