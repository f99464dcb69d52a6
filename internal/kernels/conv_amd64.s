//go:build !noasm

#include "textflag.h"

// Conv2D's micro kernels: the 6-row tiles of sgemm.go's kernels, but with A
// read in place from the row-major weight matrix (six rows lda floats
// apart) instead of a packed panel, and C accumulated (c += A·B): the
// weights of a convolution are A as they are stored, so Conv2D packs only
// B, from the image. Contracts: see conv_kernels_amd64.go.

// One step of the 6×32 AVX-512 tile: column p of the six A rows (at
// off(AX) + r·lda, R9 = lda, R10 = 3·lda, R11 = 5·lda bytes) times row p
// of the B panel (32 values at boff(BX)).
#define CSTEP6x32(off, boff) \
	VMOVUPS      boff(BX), Z12 \
	VMOVUPS      boff+64(BX), Z13 \
	VBROADCASTSS off(AX), Z14 \
	VBROADCASTSS off(AX)(R9*1), Z15 \
	VFMADD231PS  Z12, Z14, Z0 \
	VFMADD231PS  Z13, Z14, Z1 \
	VFMADD231PS  Z12, Z15, Z2 \
	VFMADD231PS  Z13, Z15, Z3 \
	VBROADCASTSS off(AX)(R9*2), Z14 \
	VBROADCASTSS off(AX)(R10*1), Z15 \
	VFMADD231PS  Z12, Z14, Z4 \
	VFMADD231PS  Z13, Z14, Z5 \
	VFMADD231PS  Z12, Z15, Z6 \
	VFMADD231PS  Z13, Z15, Z7 \
	VBROADCASTSS off(AX)(R9*4), Z14 \
	VBROADCASTSS off(AX)(R11*1), Z15 \
	VFMADD231PS  Z12, Z14, Z8 \
	VFMADD231PS  Z13, Z14, Z9 \
	VFMADD231PS  Z12, Z15, Z10 \
	VFMADD231PS  Z13, Z15, Z11

#define CACC512(r0, r1) \
	VADDPS  (DX), r0, r0 \
	VADDPS  64(DX), r1, r1 \
	VMOVUPS r0, (DX) \
	VMOVUPS r1, 64(DX) \
	ADDQ    R8, DX

// func convMicro6x32AVX512(k int, a []float32, lda int, b, c []float32, ldc int)
TEXT ·convMicro6x32AVX512(SB), NOSPLIT, $0-96
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), AX
	MOVQ lda+32(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	MOVQ b_base+40(FP), BX
	MOVQ c_base+64(FP), DX
	MOVQ ldc+88(FP), R8
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

	// Warm the C tile's lines (two per row) while the loop runs.
	MOVQ       DX, R12
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 64(R12)

	CMPQ CX, $4
	JLT  ck512_tail

ck512_loop4:
	PREFETCHT0 1024(BX)
	CSTEP6x32(0, 0)
	PREFETCHT0 1088(BX)
	CSTEP6x32(4, 128)
	PREFETCHT0 1152(BX)
	CSTEP6x32(8, 256)
	PREFETCHT0 1216(BX)
	CSTEP6x32(12, 384)
	ADDQ $16, AX
	ADDQ $512, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  ck512_loop4

ck512_tail:
	TESTQ CX, CX
	JEQ   ck512_store

ck512_loop1:
	CSTEP6x32(0, 0)
	ADDQ $4, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  ck512_loop1

ck512_store:
	CACC512(Z0, Z1)
	CACC512(Z2, Z3)
	CACC512(Z4, Z5)
	CACC512(Z6, Z7)
	CACC512(Z8, Z9)
	CACC512(Z10, Z11)
	VZEROUPPER
	RET

// One step of the 6×16 AVX2 tile, A addressed as in CSTEP6x32.
#define CSTEP6x16(off, boff) \
	VMOVUPS      boff(BX), Y12 \
	VMOVUPS      boff+32(BX), Y13 \
	VBROADCASTSS off(AX), Y14 \
	VBROADCASTSS off(AX)(R9*1), Y15 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS off(AX)(R9*2), Y14 \
	VBROADCASTSS off(AX)(R10*1), Y15 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	VBROADCASTSS off(AX)(R9*4), Y14 \
	VBROADCASTSS off(AX)(R11*1), Y15 \
	VFMADD231PS  Y12, Y14, Y8 \
	VFMADD231PS  Y13, Y14, Y9 \
	VFMADD231PS  Y12, Y15, Y10 \
	VFMADD231PS  Y13, Y15, Y11

#define CACC256(r0, r1) \
	VADDPS  (DX), r0, r0 \
	VADDPS  32(DX), r1, r1 \
	VMOVUPS r0, (DX) \
	VMOVUPS r1, 32(DX) \
	ADDQ    R8, DX

// func convMicro6x16AVX2(k int, a []float32, lda int, b, c []float32, ldc int)
TEXT ·convMicro6x16AVX2(SB), NOSPLIT, $0-96
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), AX
	MOVQ lda+32(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	MOVQ b_base+40(FP), BX
	MOVQ c_base+64(FP), DX
	MOVQ ldc+88(FP), R8
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
	MOVQ       DX, R12
	PREFETCHT0 (R12)
	PREFETCHT0 28(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 28(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 28(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 28(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 28(R12)
	ADDQ       R8, R12
	PREFETCHT0 (R12)
	PREFETCHT0 28(R12)

	CMPQ CX, $4
	JLT  ck256_tail

ck256_loop4:
	PREFETCHT0 512(BX)
	CSTEP6x16(0, 0)
	CSTEP6x16(4, 64)
	PREFETCHT0 576(BX)
	CSTEP6x16(8, 128)
	CSTEP6x16(12, 192)
	ADDQ $16, AX
	ADDQ $256, BX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  ck256_loop4

ck256_tail:
	TESTQ CX, CX
	JEQ   ck256_store

ck256_loop1:
	CSTEP6x16(0, 0)
	ADDQ $4, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  ck256_loop1

ck256_store:
	CACC256(Y0, Y1)
	CACC256(Y2, Y3)
	CACC256(Y4, Y5)
	CACC256(Y6, Y7)
	CACC256(Y8, Y9)
	CACC256(Y10, Y11)
	VZEROUPPER
	RET

// One step of the 6×16 AVX-512 tile on a 32-wide B panel (its first 16
// columns), A addressed as in CSTEP6x32; r0..r5 the accumulators.
#define CSTEP6x16Z(off, boff, r0, r1, r2, r3, r4, r5) \
	VMOVUPS      boff(BX), Z12 \
	VBROADCASTSS off(AX), Z14 \
	VBROADCASTSS off(AX)(R9*1), Z15 \
	VFMADD231PS  Z12, Z14, r0 \
	VFMADD231PS  Z12, Z15, r1 \
	VBROADCASTSS off(AX)(R9*2), Z14 \
	VBROADCASTSS off(AX)(R10*1), Z15 \
	VFMADD231PS  Z12, Z14, r2 \
	VFMADD231PS  Z12, Z15, r3 \
	VBROADCASTSS off(AX)(R9*4), Z14 \
	VBROADCASTSS off(AX)(R11*1), Z15 \
	VFMADD231PS  Z12, Z14, r4 \
	VFMADD231PS  Z12, Z15, r5

#define CACC512H(r) \
	VADDPS  (DX), r, r \
	VMOVUPS r, (DX) \
	ADDQ    R8, DX

// func convMicro6x16AVX512(k int, a []float32, lda int, b, c []float32, ldc int)
TEXT ·convMicro6x16AVX512(SB), NOSPLIT, $0-96
	MOVQ k+0(FP), CX
	MOVQ a_base+8(FP), AX
	MOVQ lda+32(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	MOVQ b_base+40(FP), BX
	MOVQ c_base+64(FP), DX
	MOVQ ldc+88(FP), R8
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
	JLT  ch_tail

ch_loop2:
	CSTEP6x16Z(0, 0, Z0, Z1, Z2, Z3, Z4, Z5)
	CSTEP6x16Z(4, 128, Z6, Z7, Z8, Z9, Z10, Z11)
	ADDQ $8, AX
	ADDQ $256, BX
	SUBQ $2, CX
	CMPQ CX, $2
	JGE  ch_loop2

ch_tail:
	TESTQ CX, CX
	JEQ   ch_store
	CSTEP6x16Z(0, 0, Z0, Z1, Z2, Z3, Z4, Z5)

ch_store:
	VADDPS Z6, Z0, Z0
	VADDPS Z7, Z1, Z1
	VADDPS Z8, Z2, Z2
	VADDPS Z9, Z3, Z3
	VADDPS Z10, Z4, Z4
	VADDPS Z11, Z5, Z5
	CACC512H(Z0)
	CACC512H(Z1)
	CACC512H(Z2)
	CACC512H(Z3)
	CACC512H(Z4)
	CACC512H(Z5)
	VZEROUPPER
	RET

// Lane indices 0, 2, …, 30 of the 32 floats in two registers (VPERMT2PS).
DATA evenIdx<>+0(SB)/4, $0
DATA evenIdx<>+4(SB)/4, $2
DATA evenIdx<>+8(SB)/4, $4
DATA evenIdx<>+12(SB)/4, $6
DATA evenIdx<>+16(SB)/4, $8
DATA evenIdx<>+20(SB)/4, $10
DATA evenIdx<>+24(SB)/4, $12
DATA evenIdx<>+28(SB)/4, $14
DATA evenIdx<>+32(SB)/4, $16
DATA evenIdx<>+36(SB)/4, $18
DATA evenIdx<>+40(SB)/4, $20
DATA evenIdx<>+44(SB)/4, $22
DATA evenIdx<>+48(SB)/4, $24
DATA evenIdx<>+52(SB)/4, $26
DATA evenIdx<>+56(SB)/4, $28
DATA evenIdx<>+60(SB)/4, $30
GLOBL evenIdx<>(SB), RODATA|NOPTR, $64

// func gatherEvenAVX512(dst, src []float32) int
TEXT ·gatherEvenAVX512(SB), NOSPLIT, $0-56
	MOVQ    dst_base+0(FP), DI
	MOVQ    dst_len+8(FP), CX
	MOVQ    src_base+24(FP), SI
	MOVQ    src_len+32(FP), DX
	SHRQ    $1, DX
	CMPQ    DX, CX
	CMOVQLT DX, CX
	SHRQ    $4, CX              // blocks of 16 outputs (32 inputs)
	MOVQ    CX, AX
	SHLQ    $4, AX
	MOVQ    AX, ret+48(FP)
	TESTQ   CX, CX
	JEQ     ge_done
	VMOVDQU32 evenIdx<>(SB), Z3

ge_loop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	VMOVDQA32 Z3, Z2
	VPERMI2PS Z1, Z0, Z2        // Z2[i] = (Z0:Z1)[idx[i]]
	VMOVUPS   Z2, (DI)
	ADDQ      $128, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       ge_loop
	VZEROUPPER

ge_done:
	RET

// func convDirect4x64AVX512(inC, kh, kw int, src []float32, off, plane, row int, w []float32, ldw, wskip int, masks []uint16, dst []float32, ldd int)
// Four output channels × 64 output columns of a stride-1 convolution,
// reading the input in place: see convDirect4x64Generic. Accumulators
// Z0–Z15 (channel o, 16 columns b at Z(4o+b)), inputs Z16–Z19, weights
// Z20–Z23, the tap's column masks K1–K4 (masked-out lanes read as 0 and
// are not touched in memory).
TEXT ·convDirect4x64AVX512(SB), NOSPLIT, $0-168
	MOVQ inC+0(FP), CX
	MOVQ kh+8(FP), R14
	MOVQ src_base+24(FP), SI
	MOVQ off+48(FP), AX
	LEAQ (SI)(AX*4), SI
	MOVQ plane+56(FP), DX
	SHLQ $2, DX
	MOVQ row+64(FP), R11
	SHLQ $2, R11
	MOVQ w_base+72(FP), R8
	MOVQ ldw+96(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	MOVQ masks_base+112(FP), DI
	MOVQ kw+16(FP), R15
	LEAQ (DI)(R15*8), R15 // end of the masks: 4 per tap column
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

cd_chan:
	MOVQ SI, BX  // row ky of channel c
	MOVQ R14, AX // rows left

cd_ky:
	MOVQ BX, R12 // tap kx
	MOVQ DI, R13 // its masks

cd_kx:
	KMOVW          (R13), K1
	KMOVW          2(R13), K2
	KMOVW          4(R13), K3
	KMOVW          6(R13), K4
	VMOVUPS.Z      (R12), K1, Z16
	VMOVUPS.Z      64(R12), K2, Z17
	VMOVUPS.Z      128(R12), K3, Z18
	VMOVUPS.Z      192(R12), K4, Z19
	VBROADCASTSS   (R8), Z20
	VBROADCASTSS   (R8)(R9*1), Z21
	VBROADCASTSS   (R8)(R9*2), Z22
	VBROADCASTSS   (R8)(R10*1), Z23
	VFMADD231PS    Z16, Z20, Z0
	VFMADD231PS    Z17, Z20, Z1
	VFMADD231PS    Z18, Z20, Z2
	VFMADD231PS    Z19, Z20, Z3
	VFMADD231PS    Z16, Z21, Z4
	VFMADD231PS    Z17, Z21, Z5
	VFMADD231PS    Z18, Z21, Z6
	VFMADD231PS    Z19, Z21, Z7
	VFMADD231PS    Z16, Z22, Z8
	VFMADD231PS    Z17, Z22, Z9
	VFMADD231PS    Z18, Z22, Z10
	VFMADD231PS    Z19, Z22, Z11
	VFMADD231PS    Z16, Z23, Z12
	VFMADD231PS    Z17, Z23, Z13
	VFMADD231PS    Z18, Z23, Z14
	VFMADD231PS    Z19, Z23, Z15
	ADDQ           $4, R12
	ADDQ           $4, R8
	ADDQ           $8, R13
	CMPQ           R13, R15
	JNE            cd_kx
	ADDQ           R11, BX
	DECQ           AX
	JNZ            cd_ky
	ADDQ           wskip+104(FP), R8 // the weights of the rows outside the image
	ADDQ           DX, SI
	DECQ           CX
	JNZ            cd_chan

	MOVQ    dst_base+136(FP), DI
	MOVQ    ldd+160(FP), R9
	SHLQ    $2, R9
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    R9, DI
	VMOVUPS Z4, (DI)
	VMOVUPS Z5, 64(DI)
	VMOVUPS Z6, 128(DI)
	VMOVUPS Z7, 192(DI)
	ADDQ    R9, DI
	VMOVUPS Z8, (DI)
	VMOVUPS Z9, 64(DI)
	VMOVUPS Z10, 128(DI)
	VMOVUPS Z11, 192(DI)
	ADDQ    R9, DI
	VMOVUPS Z12, (DI)
	VMOVUPS Z13, 64(DI)
	VMOVUPS Z14, 128(DI)
	VMOVUPS Z15, 192(DI)
	VZEROUPPER
	RET
