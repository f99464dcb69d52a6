//go:build !noasm

package kernels

// Assembly kernels (AVX2+FMA in avx2_amd64.s and gemm_avx2_amd64.s, AVX-512F
// in avx512_amd64.s). Each one's meaning is its generic twin in
// stubs_noasm.go, which is also what other architectures build. Callers
// guarantee the length preconditions stated here; the assembly does not check.

// dotAVX2 returns sum_{i<len(x)} x[i]*y[i]; len(y) >= len(x).
//
//go:noescape
func dotAVX2(x, y []float32) float32

// axpyAVX2 computes y[i] += alpha*x[i] for i < len(x); len(y) >= len(x).
//
//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

// axpy2AVX2 computes, for i < len(x), acc[i] += alpha*y[i] and then
// y[i] += alpha*x[i] (acc gets y's old value); len(y), len(acc) >= len(x).
//
//go:noescape
func axpy2AVX2(alpha float32, x, y, acc []float32)

// scaleAVX2 computes x[i] *= alpha.
//
//go:noescape
func scaleAVX2(alpha float32, x []float32)

// addAVX2 computes dst[i] = a[i] + b[i] for i < len(dst).
//
//go:noescape
func addAVX2(dst, a, b []float32)

// mulAVX2 computes dst[i] = a[i] * b[i] for i < len(dst).
//
//go:noescape
func mulAVX2(dst, a, b []float32)

// sqDistAVX2 returns sum_{i<len(x)} (x[i]-y[i])^2; len(y) >= len(x).
//
//go:noescape
func sqDistAVX2(x, y []float32) float32

// maxAVX2 returns the largest element of x; len(x) >= 1.
//
//go:noescape
func maxAVX2(x []float32) float32

// gemm6x16AVX2 is the 6×16 micro kernel: with acc[i][j] =
// sum_{p<k} a[p*6+i]*b[p*16+j] it sets c[i*ldc+j] = alpha*acc[i][j] +
// beta*c[i*ldc+j] for i < 6, j < 16, not reading c when beta == 0.
//
//go:noescape
func gemm6x16AVX2(k int, a, b, c []float32, ldc int, alpha, beta float32)

// gemvN4AVX2 computes y[j] += x0*b[j] + x1*b[ldb+j] + x2*b[2*ldb+j] +
// x3*b[3*ldb+j] for j < len(y); len(y) is a multiple of 8.
//
//go:noescape
func gemvN4AVX2(x0, x1, x2, x3 float32, b []float32, ldb int, y []float32)

// gemvT4AVX2 sets y[r] = sum_{p<len(x)} x[p]*b[r*ldb+p] for r < 4; len(x)
// is a multiple of 8.
//
//go:noescape
func gemvT4AVX2(x, b []float32, ldb int, y []float32)

// gemvTRowsAVX2 sets y[r] = sum_{p<len(x)} x[p]*b[r*ldb+p] for r < len(y),
// one row of b after the other; len(x) is a multiple of 8.
//
//go:noescape
func gemvTRowsAVX2(x, b []float32, ldb int, y []float32)

// dotAVX512 is dotAVX2 with 16-lane vectors.
//
//go:noescape
func dotAVX512(x, y []float32) float32

// axpyAVX512 is axpyAVX2 with 16-lane vectors.
//
//go:noescape
func axpyAVX512(alpha float32, x, y []float32)

// gemm6x32AVX512 is the AVX-512 micro kernel: gemm6x16AVX2's contract with
// b packed 32 wide (b[p*32+j]) and j < 32.
//
//go:noescape
func gemm6x32AVX512(k int, a, b, c []float32, ldc int, alpha, beta float32)

// expSumAVX2 sets dst[i] = exp(x[i]-shift) for i < len(dst)&^7 and returns
// the sum of those values (accumulated in float64). len(x) >= len(dst).
//
//go:noescape
func expSumAVX2(dst, x []float32, shift float32) float64

// expSumAVX512 is expSumAVX2 in 16 lanes: dst[i] = exp(x[i]-shift) for
// i < len(dst)&^15, each with the bits expSumAVX2 gives it, and their sum.
//
//go:noescape
func expSumAVX512(dst, x []float32, shift float32) float64

// geluTanhAVX2 sets dst[i] = 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))) with
// x = x[i], for i < len(dst)&^7. len(x) >= len(dst).
//
//go:noescape
func geluTanhAVX2(dst, x []float32)

// geluTanhBackwardAVX2 adds gelu'(x[i])*dy[i] to dx[i] for the tanh-form
// GELU, for i < len(dx)&^7. len(x), len(dy) >= len(dx).
//
//go:noescape
func geluTanhBackwardAVX2(dx, x, dy []float32)

// geluErfAVX2 sets dst[i] = 0.5x(1+erf(x/sqrt 2)) with x = x[i], for
// i < len(dst)&^7. len(x) >= len(dst).
//
//go:noescape
func geluErfAVX2(dst, x []float32)

// sumAVX2 returns sum_{i < len(x)&^7} x[i], accumulated in float64.
//
//go:noescape
func sumAVX2(x []float32) float64

// sqDevAVX2 returns sum_{i < len(x)&^7} (x[i]-mean)^2, accumulated in
// float64.
//
//go:noescape
func sqDevAVX2(x []float32, mean float32) float64

// normAffineAVX2 sets dst[i] = (x[i]-mean)*rstd*gamma[i] + beta[i] for
// i < len(dst)&^7; x, gamma and beta are at least as long as dst.
//
//go:noescape
func normAffineAVX2(dst, x, gamma, beta []float32, mean, rstd float32)

// adamwAVX2 is adamwGeneric on 8 lanes; len(w) is a multiple of 8.
//
//go:noescape
func adamwAVX2(w, g, m, v []float32, s *AdamWStep)
