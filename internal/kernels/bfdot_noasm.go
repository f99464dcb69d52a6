//go:build !amd64 || noasm

package kernels

func bfdot8x16AVX512BF16(nblk, kp int, a []uint16, lda int, b []uint16, bias, c []float32, ldc int) {
	bfdot8x16Generic(nblk, kp, a, lda, b, bias, c, ldc)
}

func bfRound32AVX512BF16(n int, x []float32, dst []uint16) {
	for i, v := range x[:n] {
		dst[i] = bfRoundDAZ(v)
	}
}
