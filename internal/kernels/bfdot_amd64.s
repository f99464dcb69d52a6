//go:build !noasm

#include "textflag.h"

// The VDPBF16PS prefill kernel of BF16Linear (see bfdot.go) and the
// activations' rounding. Go's assembler (1.26) knows neither VDPBF16PS nor
// VCVTNE2PS2BF16, so they are written as bytes (the encodings GNU as 2.40
// gives; register operands only):
//   DPLO(r): vdpbf16ps zmm(r), zmm16, zmm(24+r)   62 92 7e 40 52 (c0+9r)
//   DPHI(r): vdpbf16ps zmm(8+r), zmm17, zmm(24+r) 62 12 76 40 52 (c0+9r)
//   CVT:     vcvtne2ps2bf16 zmm2, zmm1, zmm0       62 f2 77 48 72 d0
// (zmm2's low 16 bf16 from zmm0, high 16 from zmm1).
#define DPLO(modrm) BYTE $0x62; BYTE $0x92; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE modrm
#define DPHI(modrm) BYTE $0x62; BYTE $0x12; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE modrm
#define CVT BYTE $0x62; BYTE $0xf2; BYTE $0x77; BYTE $0x48; BYTE $0x72; BYTE $0xd0

// The eight rows' bf16 pairs q (SI, DI = SI+3·lda, R12 = SI+6·lda; R9 =
// lda in bytes) broadcast into Z24-Z31.
#define BCAST8 \
	VPBROADCASTD (SI), Z24 \
	VPBROADCASTD (SI)(R9*1), Z25 \
	VPBROADCASTD (SI)(R9*2), Z26 \
	VPBROADCASTD (DI), Z27 \
	VPBROADCASTD (DI)(R9*1), Z28 \
	VPBROADCASTD (DI)(R9*2), Z29 \
	VPBROADCASTD (R12), Z30 \
	VPBROADCASTD (R12)(R9*1), Z31

// func bfdot8x16AVX512BF16(nblk, kp int, a []uint16, lda int, b []uint16, bias, c []float32, ldc int)
TEXT ·bfdot8x16AVX512BF16(SB), NOSPLIT, $0-128
	MOVQ  nblk+0(FP), AX
	MOVQ  kp+8(FP), R8
	MOVQ  R8, R15
	SHLQ  $5, R15               // block stride: kp·16 bf16 = kp·32 bytes
	SHRQ  $1, R8                // pairs of k
	MOVQ  a_base+16(FP), R13
	MOVQ  lda+40(FP), R9
	SHLQ  $1, R9
	LEAQ  (R9)(R9*2), R14       // 3·lda bytes
	MOVQ  b_base+48(FP), BX
	MOVQ  bias_base+72(FP), R11
	MOVQ  c_base+96(FP), DX
	MOVQ  ldc+120(FP), R10
	SHLQ  $2, R10

pair:
	CMPQ AX, $2
	JB   single
	MOVQ R13, SI
	LEAQ (R13)(R14*1), DI
	LEAQ (DI)(R14*1), R12
	MOVQ R8, CX
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

ploop:
	VMOVDQU32 (BX), Z16
	VMOVDQU32 (BX)(R15*1), Z17
	BCAST8
	DPLO($0xc0)
	DPLO($0xc9)
	DPLO($0xd2)
	DPLO($0xdb)
	DPLO($0xe4)
	DPLO($0xed)
	DPLO($0xf6)
	DPLO($0xff)
	DPHI($0xc0)
	DPHI($0xc9)
	DPHI($0xd2)
	DPHI($0xdb)
	DPHI($0xe4)
	DPHI($0xed)
	DPHI($0xf6)
	DPHI($0xff)
	ADDQ $4, SI
	ADDQ $4, DI
	ADDQ $4, R12
	ADDQ $64, BX
	DECQ CX
	JNZ  ploop

	VMOVUPS (R11), Z16
	VMOVUPS 64(R11), Z17
	MOVQ    DX, CX
	VADDPS  Z16, Z0, Z0
	VADDPS  Z17, Z8, Z8
	VMOVUPS Z0, (CX)
	VMOVUPS Z8, 64(CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z1, Z1
	VADDPS  Z17, Z9, Z9
	VMOVUPS Z1, (CX)
	VMOVUPS Z9, 64(CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z2, Z2
	VADDPS  Z17, Z10, Z10
	VMOVUPS Z2, (CX)
	VMOVUPS Z10, 64(CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z3, Z3
	VADDPS  Z17, Z11, Z11
	VMOVUPS Z3, (CX)
	VMOVUPS Z11, 64(CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z4, Z4
	VADDPS  Z17, Z12, Z12
	VMOVUPS Z4, (CX)
	VMOVUPS Z12, 64(CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z5, Z5
	VADDPS  Z17, Z13, Z13
	VMOVUPS Z5, (CX)
	VMOVUPS Z13, 64(CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z6, Z6
	VADDPS  Z17, Z14, Z14
	VMOVUPS Z6, (CX)
	VMOVUPS Z14, 64(CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z7, Z7
	VADDPS  Z17, Z15, Z15
	VMOVUPS Z7, (CX)
	VMOVUPS Z15, 64(CX)
	ADDQ    R15, BX             // past the second block
	ADDQ    $128, R11
	ADDQ    $128, DX
	SUBQ    $2, AX
	JMP     pair

single:
	TESTQ AX, AX
	JZ    done
	MOVQ  R13, SI
	LEAQ  (R13)(R14*1), DI
	LEAQ  (DI)(R14*1), R12
	MOVQ  R8, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

sloop:
	VMOVDQU32 (BX), Z16
	BCAST8
	DPLO($0xc0)
	DPLO($0xc9)
	DPLO($0xd2)
	DPLO($0xdb)
	DPLO($0xe4)
	DPLO($0xed)
	DPLO($0xf6)
	DPLO($0xff)
	ADDQ $4, SI
	ADDQ $4, DI
	ADDQ $4, R12
	ADDQ $64, BX
	DECQ CX
	JNZ  sloop

	VMOVUPS (R11), Z16
	MOVQ    DX, CX
	VADDPS  Z16, Z0, Z0
	VMOVUPS Z0, (CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z1, Z1
	VMOVUPS Z1, (CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z2, Z2
	VMOVUPS Z2, (CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z3, Z3
	VMOVUPS Z3, (CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z4, Z4
	VMOVUPS Z4, (CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z5, Z5
	VMOVUPS Z5, (CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z6, Z6
	VMOVUPS Z6, (CX)
	ADDQ    R10, CX
	VADDPS  Z16, Z7, Z7
	VMOVUPS Z7, (CX)

done:
	VZEROUPPER
	RET

// func bfRound32AVX512BF16(n int, x []float32, dst []uint16)
TEXT ·bfRound32AVX512BF16(SB), NOSPLIT, $0-56
	MOVQ  n+0(FP), CX
	MOVQ  x_base+8(FP), SI
	MOVQ  dst_base+32(FP), DI
	SHRQ  $5, CX
	JZ    rdone

rloop:
	VMOVUPS   (SI), Z0
	VMOVUPS   64(SI), Z1
	CVT
	VMOVDQU32 Z2, (DI)
	ADDQ      $128, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       rloop

rdone:
	VZEROUPPER
	RET
