//go:build !noasm

#include "textflag.h"

// Int8 linear-layer kernels, AVX2. Contracts: see qgemm_amd64.go and the
// generic twins in qgemm.go.

DATA qOnes<>+0(SB)/8, $0x0001000100010001
DATA qOnes<>+8(SB)/8, $0x0001000100010001
DATA qOnes<>+16(SB)/8, $0x0001000100010001
DATA qOnes<>+24(SB)/8, $0x0001000100010001
GLOBL qOnes<>(SB), RODATA|NOPTR, $32

DATA q127<>+0(SB)/4, $127
GLOBL q127<>(SB), RODATA|NOPTR, $4

// One row of the QInt8 kernel for one group of 4 k: broadcast the row's 4
// activation bytes, multiply with both column halves (Y8, Y9), widen the
// int16 pair sums to int32 (Y13 = ones) and accumulate.
#define QROW8(src, acc0, acc1) \
	VPBROADCASTD src, Y10 \
	VPMADDUBSW   Y8, Y10, Y11 \
	VPMADDUBSW   Y9, Y10, Y12 \
	VPMADDWD     Y13, Y11, Y11 \
	VPMADDWD     Y13, Y12, Y12 \
	VPADDD       Y11, acc0, acc0 \
	VPADDD       Y12, acc1, acc1

// One row of the QInt7 kernel for two groups of 4 k (Y8, Y9: group 0;
// Y10, Y11: group 1): the two VPMADDUBSW results are added in int16 before
// one VPMADDWD.
#define QROW7(src0, src1, acc0, acc1) \
	VPBROADCASTD src0, Y12 \
	VPBROADCASTD src1, Y13 \
	VPMADDUBSW   Y8, Y12, Y14 \
	VPMADDUBSW   Y10, Y13, Y15 \
	VPADDW       Y15, Y14, Y14 \
	VPMADDWD     qOnes<>(SB), Y14, Y14 \
	VPADDD       Y14, acc0, acc0 \
	VPMADDUBSW   Y9, Y12, Y14 \
	VPMADDUBSW   Y11, Y13, Y15 \
	VPADDW       Y15, Y14, Y14 \
	VPMADDWD     qOnes<>(SB), Y14, Y14 \
	VPADDD       Y14, acc1, acc1

// Dequantize and store one row: c = (acc*s_w)*s_a - (s_a*z)*(s_w*Σw) + bias.
// R10 = rp of the row, R11 = cp, DX = c row; advances DX by ldc (R9).
#define QSTORE(acc0, acc1, roff) \
	VCVTDQ2PS    acc0, acc0 \
	VCVTDQ2PS    acc1, acc1 \
	VMULPS       (R11), acc0, acc0 \
	VMULPS       32(R11), acc1, acc1 \
	VBROADCASTSS roff(R10), Y14 \
	VBROADCASTSS roff+4(R10), Y15 \
	VMULPS       Y14, acc0, acc0 \
	VMULPS       Y14, acc1, acc1 \
	VFNMADD231PS 64(R11), Y15, acc0 \
	VFNMADD231PS 96(R11), Y15, acc1 \
	VADDPS       128(R11), acc0, acc0 \
	VADDPS       160(R11), acc1, acc1 \
	VMOVUPS      acc0, (DX) \
	VMOVUPS      acc1, 32(DX) \
	ADDQ         R9, DX

// Arguments; AX = row groups left, R12 = b panel, R13 = the group's first
// activation row.
#define QARGS \
	MOVQ groups+0(FP), AX \
	MOVQ a_base+16(FP), R13 \
	MOVQ lda+40(FP), R8 \
	MOVQ b_base+48(FP), R12 \
	MOVQ rp_base+72(FP), R10 \
	MOVQ cp_base+96(FP), R11 \
	MOVQ c_base+120(FP), DX \
	MOVQ ldc+144(FP), R9 \
	SHLQ $2, R9

// Start one row group: rows at SI, SI+lda, DI, DI+lda; zero accumulators.
#define QGROUP \
	MOVQ  R13, SI \
	LEAQ  (SI)(R8*2), DI \
	MOVQ  R12, BX \
	MOVQ  kp+8(FP), CX \
	VPXOR Y0, Y0, Y0 \
	VPXOR Y1, Y1, Y1 \
	VPXOR Y2, Y2, Y2 \
	VPXOR Y3, Y3, Y3 \
	VPXOR Y4, Y4, Y4 \
	VPXOR Y5, Y5, Y5 \
	VPXOR Y6, Y6, Y6 \
	VPXOR Y7, Y7, Y7

// Store the group's 4 rows, move to the next group.
#define QNEXT \
	QSTORE(Y0, Y1, 0) \
	QSTORE(Y2, Y3, 8) \
	QSTORE(Y4, Y5, 16) \
	QSTORE(Y6, Y7, 24) \
	ADDQ $32, R10 \
	LEAQ (R13)(R8*4), R13 \
	DECQ AX

// func qgemm4x16AVX2(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int)
TEXT ·qgemm4x16AVX2(SB), NOSPLIT, $0-152
	QARGS
	VMOVDQU qOnes<>(SB), Y13
	TESTQ   AX, AX
	JZ      end8

group8:
	QGROUP
	SHRQ    $2, CX
	JZ      done8

loop8:
	VMOVDQU (BX), Y8
	VMOVDQU 32(BX), Y9
	QROW8((SI), Y0, Y1)
	QROW8((SI)(R8*1), Y2, Y3)
	QROW8((DI), Y4, Y5)
	QROW8((DI)(R8*1), Y6, Y7)
	ADDQ    $4, SI
	ADDQ    $4, DI
	ADDQ    $64, BX
	DECQ    CX
	JNZ     loop8

done8:
	QNEXT
	JNZ group8

end8:
	VZEROUPPER
	RET

// func qgemm4x16x7AVX2(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int)
TEXT ·qgemm4x16x7AVX2(SB), NOSPLIT, $0-152
	QARGS
	TESTQ AX, AX
	JZ    end7

group7:
	QGROUP
	SHRQ    $3, CX
	JZ      done7

loop7:
	VMOVDQU (BX), Y8
	VMOVDQU 32(BX), Y9
	VMOVDQU 64(BX), Y10
	VMOVDQU 96(BX), Y11
	QROW7((SI), 4(SI), Y0, Y1)
	QROW7((SI)(R8*1), 4(SI)(R8*1), Y2, Y3)
	QROW7((DI), 4(DI), Y4, Y5)
	QROW7((DI)(R8*1), 4(DI)(R8*1), Y6, Y7)
	ADDQ    $8, SI
	ADDQ    $8, DI
	ADDQ    $128, BX
	DECQ    CX
	JNZ     loop7

done7:
	QNEXT
	JNZ group7

end7:
	VZEROUPPER
	RET

// func qMinMaxAVX2(x []float32) (lo, hi float32)
TEXT ·qMinMaxAVX2(SB), NOSPLIT, $0-32
	MOVQ    x_base+0(FP), SI
	MOVQ    x_len+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVUPS Y0, Y1
	ADDQ    $32, SI
	SUBQ    $8, CX
	JZ      reduce

mmloop:
	VMOVUPS (SI), Y2
	VMINPS  Y2, Y0, Y0
	VMAXPS  Y2, Y1, Y1
	ADDQ    $32, SI
	SUBQ    $8, CX
	JNZ     mmloop

reduce:
	VEXTRACTF128 $1, Y0, X2
	VMINPS       X2, X0, X0
	VPERMILPS    $0x4E, X0, X2
	VMINPS       X2, X0, X0
	VPERMILPS    $0xB1, X0, X2
	VMINPS       X2, X0, X0
	VEXTRACTF128 $1, Y1, X2
	VMAXPS       X2, X1, X1
	VPERMILPS    $0x4E, X1, X2
	VMAXPS       X2, X1, X1
	VPERMILPS    $0xB1, X1, X2
	VMAXPS       X2, X1, X1
	VMOVSS       X0, lo+24(FP)
	VMOVSS       X1, hi+28(FP)
	VZEROUPPER
	RET

// func qQuantAVX2(q []uint8, x []float32, inv, z float32)
TEXT ·qQuantAVX2(SB), NOSPLIT, $0-56
	MOVQ         q_base+0(FP), DI
	MOVQ         x_base+24(FP), SI
	MOVQ         x_len+32(FP), CX
	VBROADCASTSS inv+48(FP), Y0
	VBROADCASTSS z+52(FP), Y1
	VPXOR        Y2, Y2, Y2
	VPBROADCASTD q127<>(SB), Y3

qloop:
	VMULPS       (SI), Y0, Y4
	VADDPS       Y1, Y4, Y4
	VCVTPS2DQ    Y4, Y4
	VPMAXSD      Y2, Y4, Y4
	VPMINSD      Y3, Y4, Y4
	VEXTRACTI128 $1, Y4, X5
	VPACKUSDW    X5, X4, X4
	VPACKUSWB    X4, X4, X4
	VMOVQ        X4, (DI)
	ADDQ         $32, SI
	ADDQ         $8, DI
	SUBQ         $8, CX
	JNZ          qloop
	VZEROUPPER
	RET
