//go:build !amd64 || noasm

package kernels

// gemm6x16AVX512 is the generic twin of gemm_tail_avx512_amd64.s (see
// gemm_tail_amd64.go); never selected on these builds.
func gemm6x16AVX512(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	for i := 0; i < 6; i++ {
		for j := 0; j < 16; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[p*6+i] * b[p*32+j]
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
