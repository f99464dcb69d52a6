//go:build !noasm

#include "textflag.h"

// Kernels of the float16-weight linear layer. Contracts: see f16_amd64.go
// and f16gemv16Generic in f16.go. A packed block holds k rows of 32 bytes:
// the 16 columns' halves for one k. VCVTPH2PS widens them to float32
// exactly: one zmm, or two ymm.
//
// Arguments (one-row kernels): nblk+0, k+8, a_base+16, b_base+40,
// bias_base+64, c_base+88.

// func f16gemv16AVX512(nblk, k int, a []float32, b []uint16, bias, c []float32)
//
// Eight partial sums per column (Z0-Z7: k mod 8), as the generic kernel:
// eight k per loop trip; the k mod 8 steps left go to Z0.
TEXT ·f16gemv16AVX512(SB), NOSPLIT, $0-112
	MOVQ  nblk+0(FP), AX
	MOVQ  k+8(FP), R8
	MOVQ  a_base+16(FP), R13
	MOVQ  b_base+40(FP), BX
	MOVQ  bias_base+64(FP), R11
	MOVQ  c_base+88(FP), DX
	TESTQ AX, AX
	JZ    zend

zblock:
	MOVQ   R13, SI
	MOVQ   R8, CX
	SHRQ   $3, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	TESTQ  CX, CX
	JZ     ztail

zloop:
	// The weights 2 KiB ahead (the four lines of a later trip), as the
	// bf16 one-row kernel.
	PREFETCHT0   2048(BX)
	PREFETCHT0   2112(BX)
	PREFETCHT0   2176(BX)
	PREFETCHT0   2240(BX)
	VCVTPH2PS    (BX), Z16
	VCVTPH2PS    32(BX), Z17
	VCVTPH2PS    64(BX), Z18
	VCVTPH2PS    96(BX), Z19
	VCVTPH2PS    128(BX), Z20
	VCVTPH2PS    160(BX), Z21
	VCVTPH2PS    192(BX), Z22
	VCVTPH2PS    224(BX), Z23
	VBROADCASTSS (SI), Z24
	VBROADCASTSS 4(SI), Z25
	VBROADCASTSS 8(SI), Z26
	VBROADCASTSS 12(SI), Z27
	VBROADCASTSS 16(SI), Z28
	VBROADCASTSS 20(SI), Z29
	VBROADCASTSS 24(SI), Z30
	VBROADCASTSS 28(SI), Z31
	VFMADD231PS  Z24, Z16, Z0
	VFMADD231PS  Z25, Z17, Z1
	VFMADD231PS  Z26, Z18, Z2
	VFMADD231PS  Z27, Z19, Z3
	VFMADD231PS  Z28, Z20, Z4
	VFMADD231PS  Z29, Z21, Z5
	VFMADD231PS  Z30, Z22, Z6
	VFMADD231PS  Z31, Z23, Z7
	ADDQ         $32, SI
	ADDQ         $256, BX
	DECQ         CX
	JNZ          zloop

ztail:
	// k mod 8 steps left, all into Z0.
	MOVQ  R8, CX
	ANDQ  $7, CX
	JZ    zsum

ztloop:
	VCVTPH2PS    (BX), Z16
	VBROADCASTSS (SI), Z24
	VFMADD231PS  Z24, Z16, Z0
	ADDQ         $4, SI
	ADDQ         $32, BX
	DECQ         CX
	JNZ          ztloop

zsum:
	VADDPS  Z1, Z0, Z0
	VADDPS  Z3, Z2, Z2
	VADDPS  Z5, Z4, Z4
	VADDPS  Z7, Z6, Z6
	VADDPS  Z2, Z0, Z0
	VADDPS  Z6, Z4, Z4
	VADDPS  Z4, Z0, Z0
	VADDPS  (R11), Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ    $64, R11
	ADDQ    $64, DX
	DECQ    AX
	JNZ     zblock

zend:
	VZEROUPPER
	RET

// func f16gemv16AVX2(nblk, k int, a []float32, b []uint16, bias, c []float32)
//
// Four partial sums per column (k mod 4), each in two ymm (columns 0-7,
// 8-15; Y0-Y7): four k per loop trip; the k mod 4 steps left go to the
// first sum (Y0, Y1).
TEXT ·f16gemv16AVX2(SB), NOSPLIT, $0-112
	MOVQ  nblk+0(FP), AX
	MOVQ  k+8(FP), R8
	MOVQ  a_base+16(FP), R13
	MOVQ  b_base+40(FP), BX
	MOVQ  bias_base+64(FP), R11
	MOVQ  c_base+88(FP), DX
	TESTQ AX, AX
	JZ    yend

yblock:
	MOVQ   R13, SI
	MOVQ   R8, CX
	SHRQ   $2, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ  CX, CX
	JZ     ytail

yloop:
	VCVTPH2PS    (BX), Y8
	VCVTPH2PS    16(BX), Y9
	VCVTPH2PS    32(BX), Y10
	VCVTPH2PS    48(BX), Y11
	VBROADCASTSS (SI), Y12
	VBROADCASTSS 4(SI), Y13
	VFMADD231PS  Y12, Y8, Y0
	VFMADD231PS  Y12, Y9, Y1
	VFMADD231PS  Y13, Y10, Y2
	VFMADD231PS  Y13, Y11, Y3
	VCVTPH2PS    64(BX), Y8
	VCVTPH2PS    80(BX), Y9
	VCVTPH2PS    96(BX), Y10
	VCVTPH2PS    112(BX), Y11
	VBROADCASTSS 8(SI), Y12
	VBROADCASTSS 12(SI), Y13
	VFMADD231PS  Y12, Y8, Y4
	VFMADD231PS  Y12, Y9, Y5
	VFMADD231PS  Y13, Y10, Y6
	VFMADD231PS  Y13, Y11, Y7
	ADDQ         $16, SI
	ADDQ         $128, BX
	DECQ         CX
	JNZ          yloop

ytail:
	MOVQ R8, CX
	ANDQ $3, CX
	JZ   ysum

ytloop:
	VCVTPH2PS    (BX), Y8
	VCVTPH2PS    16(BX), Y9
	VBROADCASTSS (SI), Y12
	VFMADD231PS  Y12, Y8, Y0
	VFMADD231PS  Y12, Y9, Y1
	ADDQ         $4, SI
	ADDQ         $32, BX
	DECQ         CX
	JNZ          ytloop

ysum:
	VADDPS  Y2, Y0, Y0
	VADDPS  Y3, Y1, Y1
	VADDPS  Y6, Y4, Y4
	VADDPS  Y7, Y5, Y5
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
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

// func f16gemm4x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int)
//
// Four rows at a time: per row two partial sums (k even, k odd; Z0-Z7),
// each k's weights widened once for the four rows; two k per loop trip.
TEXT ·f16gemm4x16AVX512(SB), NOSPLIT, $0-128
	MOVQ  nblk+0(FP), AX
	MOVQ  k+8(FP), R8
	MOVQ  a_base+16(FP), R13
	MOVQ  lda+40(FP), R9
	SHLQ  $2, R9
	MOVQ  b_base+48(FP), BX
	MOVQ  bias_base+72(FP), R11
	MOVQ  c_base+96(FP), DX
	MOVQ  ldc+120(FP), R10
	SHLQ  $2, R10
	TESTQ AX, AX
	JZ    mend

mblock:
	MOVQ   R13, SI
	LEAQ   (R13)(R9*2), DI
	MOVQ   R8, CX
	SHRQ   $1, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	TESTQ  CX, CX
	JZ     modd

mloop:
	VCVTPH2PS    (BX), Z16
	VCVTPH2PS    32(BX), Z17
	VBROADCASTSS (SI), Z20
	VBROADCASTSS 4(SI), Z21
	VBROADCASTSS (SI)(R9*1), Z22
	VBROADCASTSS 4(SI)(R9*1), Z23
	VBROADCASTSS (DI), Z24
	VBROADCASTSS 4(DI), Z25
	VBROADCASTSS (DI)(R9*1), Z26
	VBROADCASTSS 4(DI)(R9*1), Z27
	VFMADD231PS  Z20, Z16, Z0
	VFMADD231PS  Z21, Z17, Z1
	VFMADD231PS  Z22, Z16, Z2
	VFMADD231PS  Z23, Z17, Z3
	VFMADD231PS  Z24, Z16, Z4
	VFMADD231PS  Z25, Z17, Z5
	VFMADD231PS  Z26, Z16, Z6
	VFMADD231PS  Z27, Z17, Z7
	ADDQ         $8, SI
	ADDQ         $8, DI
	ADDQ         $64, BX
	DECQ         CX
	JNZ          mloop

modd:
	// An odd k: the last one, into the even sums.
	TESTQ        $1, R8
	JZ           msum
	VCVTPH2PS    (BX), Z16
	VBROADCASTSS (SI), Z20
	VBROADCASTSS (SI)(R9*1), Z22
	VBROADCASTSS (DI), Z24
	VBROADCASTSS (DI)(R9*1), Z26
	VFMADD231PS  Z20, Z16, Z0
	VFMADD231PS  Z22, Z16, Z2
	VFMADD231PS  Z24, Z16, Z4
	VFMADD231PS  Z26, Z16, Z6
	ADDQ         $32, BX

msum:
	VMOVUPS (R11), Z16
	VADDPS  Z1, Z0, Z0
	VADDPS  Z3, Z2, Z2
	VADDPS  Z5, Z4, Z4
	VADDPS  Z7, Z6, Z6
	VADDPS  Z16, Z0, Z0
	VADDPS  Z16, Z2, Z2
	VADDPS  Z16, Z4, Z4
	VADDPS  Z16, Z6, Z6
	LEAQ    (DX)(R10*2), R12
	VMOVUPS Z0, (DX)
	VMOVUPS Z2, (DX)(R10*1)
	VMOVUPS Z4, (R12)
	VMOVUPS Z6, (R12)(R10*1)
	ADDQ    $64, R11
	ADDQ    $64, DX
	DECQ    AX
	JNZ     mblock

mend:
	VZEROUPPER
	RET

// func f16gemm8x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int)
//
// Eight rows at a time, each as f16gemm4x16AVX512's rows: two partial sums
// per row (k even, k odd; Z0-Z15), each k's weights widened once for the
// eight rows, the activations broadcast inside the FMAs; two k per loop
// trip. Rows: SI, SI+lda, SI+2·lda, DI = SI+3·lda, DI+lda, DI+2·lda,
// R12 = SI+6·lda, R12+lda.
TEXT ·f16gemm8x16AVX512(SB), NOSPLIT, $0-128
	MOVQ  nblk+0(FP), AX
	MOVQ  k+8(FP), R8
	MOVQ  a_base+16(FP), R13
	MOVQ  lda+40(FP), R9
	SHLQ  $2, R9
	LEAQ  (R9)(R9*2), R14
	MOVQ  b_base+48(FP), BX
	MOVQ  bias_base+72(FP), R11
	MOVQ  c_base+96(FP), DX
	MOVQ  ldc+120(FP), R10
	SHLQ  $2, R10
	TESTQ AX, AX
	JZ    eend

eblock:
	MOVQ   R13, SI
	LEAQ   (R13)(R14*1), DI
	LEAQ   (DI)(R14*1), R12
	MOVQ   R8, CX
	SHRQ   $1, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	VXORPS Z8, Z8, Z8
	VXORPS Z9, Z9, Z9
	VXORPS Z10, Z10, Z10
	VXORPS Z11, Z11, Z11
	VXORPS Z12, Z12, Z12
	VXORPS Z13, Z13, Z13
	VXORPS Z14, Z14, Z14
	VXORPS Z15, Z15, Z15
	TESTQ  CX, CX
	JZ     eodd

eloop:
	VCVTPH2PS        (BX), Z16
	VCVTPH2PS        32(BX), Z17
	VFMADD231PS.BCST (SI), Z16, Z0
	VFMADD231PS.BCST 4(SI), Z17, Z1
	VFMADD231PS.BCST (SI)(R9*1), Z16, Z2
	VFMADD231PS.BCST 4(SI)(R9*1), Z17, Z3
	VFMADD231PS.BCST (SI)(R9*2), Z16, Z4
	VFMADD231PS.BCST 4(SI)(R9*2), Z17, Z5
	VFMADD231PS.BCST (DI), Z16, Z6
	VFMADD231PS.BCST 4(DI), Z17, Z7
	VFMADD231PS.BCST (DI)(R9*1), Z16, Z8
	VFMADD231PS.BCST 4(DI)(R9*1), Z17, Z9
	VFMADD231PS.BCST (DI)(R9*2), Z16, Z10
	VFMADD231PS.BCST 4(DI)(R9*2), Z17, Z11
	VFMADD231PS.BCST (R12), Z16, Z12
	VFMADD231PS.BCST 4(R12), Z17, Z13
	VFMADD231PS.BCST (R12)(R9*1), Z16, Z14
	VFMADD231PS.BCST 4(R12)(R9*1), Z17, Z15
	ADDQ             $8, SI
	ADDQ             $8, DI
	ADDQ             $8, R12
	ADDQ             $64, BX
	DECQ             CX
	JNZ              eloop

eodd:
	// An odd k: the last one, into the even sums.
	TESTQ            $1, R8
	JZ               esum
	VCVTPH2PS        (BX), Z16
	VFMADD231PS.BCST (SI), Z16, Z0
	VFMADD231PS.BCST (SI)(R9*1), Z16, Z2
	VFMADD231PS.BCST (SI)(R9*2), Z16, Z4
	VFMADD231PS.BCST (DI), Z16, Z6
	VFMADD231PS.BCST (DI)(R9*1), Z16, Z8
	VFMADD231PS.BCST (DI)(R9*2), Z16, Z10
	VFMADD231PS.BCST (R12), Z16, Z12
	VFMADD231PS.BCST (R12)(R9*1), Z16, Z14
	ADDQ             $32, BX

esum:
	VMOVUPS (R11), Z16
	VADDPS  Z1, Z0, Z0
	VADDPS  Z3, Z2, Z2
	VADDPS  Z5, Z4, Z4
	VADDPS  Z7, Z6, Z6
	VADDPS  Z9, Z8, Z8
	VADDPS  Z11, Z10, Z10
	VADDPS  Z13, Z12, Z12
	VADDPS  Z15, Z14, Z14
	VADDPS  Z16, Z0, Z0
	VADDPS  Z16, Z2, Z2
	VADDPS  Z16, Z4, Z4
	VADDPS  Z16, Z6, Z6
	VADDPS  Z16, Z8, Z8
	VADDPS  Z16, Z10, Z10
	VADDPS  Z16, Z12, Z12
	VADDPS  Z16, Z14, Z14
	MOVQ    DX, CX
	VMOVUPS Z0, (CX)
	ADDQ    R10, CX
	VMOVUPS Z2, (CX)
	ADDQ    R10, CX
	VMOVUPS Z4, (CX)
	ADDQ    R10, CX
	VMOVUPS Z6, (CX)
	ADDQ    R10, CX
	VMOVUPS Z8, (CX)
	ADDQ    R10, CX
	VMOVUPS Z10, (CX)
	ADDQ    R10, CX
	VMOVUPS Z12, (CX)
	ADDQ    R10, CX
	VMOVUPS Z14, (CX)
	ADDQ    $64, R11
	ADDQ    $64, DX
	DECQ    AX
	JNZ     eblock

eend:
	VZEROUPPER
	RET
