//go:build !amd64 || noasm

package kernels

// Generic twins of the bf16 assembly kernels declared in bf16_amd64.go.
// They are never selected on these builds; they keep the dispatch code
// compiling everywhere.

func bfgemv16AVX2(nblk, k int, a []float32, b []uint16, bias, c []float32) {
	bfgemv16Generic(nblk, k, a, b, bias, c)
}

func bfgemv16AVX512(nblk, k int, a []float32, b []uint16, bias, c []float32) {
	bfgemv16Generic(nblk, k, a, b, bias, c)
}

func bfgemm4x16AVX512(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int) {
	bfgemm4x16Generic(nblk, k, a, lda, b, bias, c, ldc)
}
