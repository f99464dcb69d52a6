//go:build !amd64 || noasm

package kernels

// Generic twins of the float16 assembly kernels declared in f16_amd64.go.
// They are never selected on these builds; they keep the dispatch code
// compiling everywhere.

func f16gemv16AVX2(nblk, k int, a []float32, b []uint16, bias, c []float32) {
	f16gemv16Generic(nblk, k, a, b, bias, c)
}

func f16gemv16AVX512(nblk, k int, a []float32, b []uint16, bias, c []float32) {
	f16gemv16Generic(nblk, k, a, b, bias, c)
}

func f16gemm4x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int) {
	f16gemm4x16Generic(nblk, k, a, lda, b, bias, c, ldc)
}

func f16gemm8x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int) {
	f16gemm8x16Generic(nblk, k, a, lda, b, bias, c, ldc)
}
