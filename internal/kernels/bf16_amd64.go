//go:build !noasm

package kernels

// Assembly kernels of the bf16-weight linear layer (bf16_amd64.s). Each
// one's meaning is bfgemv16Generic (bf16.go); bf16_noasm.go maps them to
// it on other builds. Callers guarantee the preconditions: k > 0, nblk
// blocks of kp*16 weights (kp = k rounded up to even), 16*nblk bias values
// and outputs.

// bfgemv16AVX2 is bfgemv16Generic with AVX2 and FMA, summing in another
// order: four partial sums per column (k mod 4; the last k mod 4 terms go
// to the even and odd ones), each in two ymm.
//
//go:noescape
func bfgemv16AVX2(nblk, k int, a []float32, b []uint16, bias, c []float32)

// bfgemv16AVX512 is bfgemv16Generic with AVX-512F: the same eight
// partial sums in the same order, with fused multiply-adds.
//
//go:noescape
func bfgemv16AVX512(nblk, k int, a []float32, b []uint16, bias, c []float32)

// bfgemm4x16AVX512 is bfgemm4x16Generic with AVX-512F: the same partial
// sums in the same order, with fused multiply-adds. lda and ldc count
// float32s.
//
//go:noescape
func bfgemm4x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int)
