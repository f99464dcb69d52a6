//go:build !noasm

#include "textflag.h"

// One-row kernels of the bf16-weight linear layer. Contracts: see
// bf16_amd64.go and bfgemv16Generic in bf16.go. A packed block is k rows
// of 32 bytes (16 bf16 columns); a bf16 value widens to float32 as a
// zero-extended 16-bit word shifted left by 16.
//
// Arguments (both kernels): nblk+0, k+8, a_base+16, b_base+40,
// bias_base+64, c_base+88.

// func bfgemv16AVX512(nblk, k int, a []float32, b []uint16, bias, c []float32)
TEXT ·bfgemv16AVX512(SB), NOSPLIT, $0-112
	MOVQ nblk+0(FP), AX
	MOVQ k+8(FP), R8
	MOVQ a_base+16(FP), R13
	MOVQ b_base+40(FP), BX
	MOVQ bias_base+64(FP), R11
	MOVQ c_base+88(FP), DX
	TESTQ AX, AX
	JZ    zend

zblock:
	MOVQ   R13, SI
	MOVQ   R8, CX
	SHRQ   $2, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	TESTQ  CX, CX
	JZ     ztail

zloop:
	VPMOVZXWD    (BX), Z4
	VPMOVZXWD    32(BX), Z5
	VPMOVZXWD    64(BX), Z6
	VPMOVZXWD    96(BX), Z7
	VPSLLD       $16, Z4, Z4
	VPSLLD       $16, Z5, Z5
	VPSLLD       $16, Z6, Z6
	VPSLLD       $16, Z7, Z7
	VBROADCASTSS (SI), Z8
	VBROADCASTSS 4(SI), Z9
	VBROADCASTSS 8(SI), Z10
	VBROADCASTSS 12(SI), Z11
	VFMADD231PS  Z8, Z4, Z0
	VFMADD231PS  Z9, Z5, Z1
	VFMADD231PS  Z10, Z6, Z2
	VFMADD231PS  Z11, Z7, Z3
	ADDQ         $16, SI
	ADDQ         $128, BX
	DECQ         CX
	JNZ          zloop

ztail:
	// k mod 4 steps left, into partial sums 0, 1, 2 in turn.
	MOVQ  R8, CX
	ANDQ  $3, CX
	JZ    zsum
	VPMOVZXWD    (BX), Z4
	VPSLLD       $16, Z4, Z4
	VBROADCASTSS (SI), Z8
	VFMADD231PS  Z8, Z4, Z0
	ADDQ         $32, BX
	DECQ  CX
	JZ    zsum
	VPMOVZXWD    (BX), Z5
	VPSLLD       $16, Z5, Z5
	VBROADCASTSS 4(SI), Z9
	VFMADD231PS  Z9, Z5, Z1
	ADDQ         $32, BX
	DECQ  CX
	JZ    zsum
	VPMOVZXWD    (BX), Z6
	VPSLLD       $16, Z6, Z6
	VBROADCASTSS 8(SI), Z10
	VFMADD231PS  Z10, Z6, Z2
	ADDQ         $32, BX

zsum:
	VADDPS  Z1, Z0, Z0
	VADDPS  Z3, Z2, Z2
	VADDPS  Z2, Z0, Z0
	VADDPS  (R11), Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ    $64, R11
	ADDQ    $64, DX
	DECQ    AX
	JNZ     zblock

zend:
	VZEROUPPER
	RET

// func bfgemv16AVX2(nblk, k int, a []float32, b []uint16, bias, c []float32)
TEXT ·bfgemv16AVX2(SB), NOSPLIT, $0-112
	MOVQ nblk+0(FP), AX
	MOVQ k+8(FP), R8
	MOVQ a_base+16(FP), R13
	MOVQ b_base+40(FP), BX
	MOVQ bias_base+64(FP), R11
	MOVQ c_base+88(FP), DX
	TESTQ AX, AX
	JZ    yend

yblock:
	MOVQ   R13, SI
	MOVQ   R8, CX
	SHRQ   $1, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ  CX, CX
	JZ     ytail

yloop:
	VPMOVZXWD    (BX), Y4
	VPMOVZXWD    16(BX), Y5
	VPMOVZXWD    32(BX), Y6
	VPMOVZXWD    48(BX), Y7
	VPSLLD       $16, Y4, Y4
	VPSLLD       $16, Y5, Y5
	VPSLLD       $16, Y6, Y6
	VPSLLD       $16, Y7, Y7
	VBROADCASTSS (SI), Y8
	VBROADCASTSS 4(SI), Y9
	VFMADD231PS  Y8, Y4, Y0
	VFMADD231PS  Y8, Y5, Y1
	VFMADD231PS  Y9, Y6, Y2
	VFMADD231PS  Y9, Y7, Y3
	ADDQ         $8, SI
	ADDQ         $64, BX
	DECQ         CX
	JNZ          yloop

ytail:
	TESTQ $1, R8
	JZ    ysum
	VPMOVZXWD    (BX), Y4
	VPMOVZXWD    16(BX), Y5
	VPSLLD       $16, Y4, Y4
	VPSLLD       $16, Y5, Y5
	VBROADCASTSS (SI), Y8
	VFMADD231PS  Y8, Y4, Y0
	VFMADD231PS  Y8, Y5, Y1
	ADDQ         $32, BX

ysum:
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	VADDPS  (R11), Y0, Y0
	VADDPS  32(R11), Y1, Y1
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    $64, R11
	ADDQ    $64, DX
	DECQ    AX
	JNZ     yblock

yend:
	VZEROUPPER
	RET
