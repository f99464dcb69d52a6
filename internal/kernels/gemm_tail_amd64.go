//go:build !noasm

package kernels

// gemm6x16AVX512 is gemm6x32AVX512 on the first 16 columns of a 32-wide
// packed B panel (b[p*32+j], j < 16): c[i*ldc+j] = alpha*acc[i][j] +
// beta*c[i*ldc+j] for i < 6, j < 16 (c not read when beta == 0), with a a
// packed 6-row A panel.
//
//go:noescape
func gemm6x16AVX512(k int, a, b, c []float32, ldc int, alpha, beta float32)
