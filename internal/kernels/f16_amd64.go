//go:build !noasm

package kernels

// Assembly kernels of the float16-weight linear layer (f16_amd64.s). Each
// one's meaning is f16gemv16Generic or f16gemm4x16Generic (f16.go);
// f16_noasm.go maps them to those on other builds. Callers guarantee the
// preconditions: k > 0, nblk blocks of k*16 weights, 16*nblk bias values
// and outputs.

// f16gemv16AVX2 is f16gemv16Generic with AVX2, F16C and FMA, summing in
// another order: four partial sums per column (k mod 4; the last k mod 4
// terms go to the first), each in two ymm.
//
//go:noescape
func f16gemv16AVX2(nblk, k int, a []float32, b []uint16, bias, c []float32)

// f16gemv16AVX512 is f16gemv16Generic with AVX-512F: the same eight
// partial sums in the same order, with fused multiply-adds.
//
//go:noescape
func f16gemv16AVX512(nblk, k int, a []float32, b []uint16, bias, c []float32)

// f16gemm4x16AVX512 is f16gemm4x16Generic with AVX-512F: the same partial
// sums in the same order, with fused multiply-adds. lda and ldc count
// float32s.
//
//go:noescape
func f16gemm4x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int)

// f16gemm8x16AVX512 is f16gemm4x16Generic on rows 0-3 and then on rows
// 4-7 (a[4*lda:], c[4*ldc:]) with AVX-512F: the same partial sums in the
// same order, each k's weights widened once for the eight rows.
//
//go:noescape
func f16gemm8x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int)
