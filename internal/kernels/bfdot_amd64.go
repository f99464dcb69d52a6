//go:build !noasm

package kernels

// bfdot8x16AVX512BF16 is bfdot8x16Generic with AVX512_BF16's VDPBF16PS
// (two column blocks at a time, then a last odd one). lda and ldc count
// elements (uint16 and float32).
//
//go:noescape
func bfdot8x16AVX512BF16(nblk, kp int, a []uint16, lda int, b []uint16, bias, c []float32, ldc int)

// bfRound32AVX512BF16 rounds x[:n] (n a multiple of 32) to bfloat16 into
// dst with VCVTNE2PS2BF16 (bfRoundDAZ's rounding).
//
//go:noescape
func bfRound32AVX512BF16(n int, x []float32, dst []uint16)
