//go:build !amd64 || noasm

package kernels

// Generic twins of the assembly kernels declared in stubs_amd64.go, with the
// same signatures. They are never selected on these builds (detectCPU
// leaves every SIMD level off); they exist so the dispatch code compiles
// everywhere and state each kernel's meaning as a plain loop.

func dotAVX2(x, y []float32) float32               { return dotGeneric(x, y) }
func axpyAVX2(alpha float32, x, y []float32)       { axpyGeneric(alpha, x, y) }
func scaleAVX2(alpha float32, x []float32)         { scaleGeneric(alpha, x) }
func axpy2AVX2(alpha float32, x, y, acc []float32) { axpy2Generic(alpha, x, y, acc) }
func addAVX2(dst, a, b []float32)                  { addGeneric(dst, a, b) }
func mulAVX2(dst, a, b []float32)                  { mulGeneric(dst, a, b) }
func sqDistAVX2(x, y []float32) float32            { return sqDistGeneric(x, y) }
func maxAVX2(x []float32) float32                  { return maxGeneric(x) }

func gemm6x16AVX2(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	microGeneric(6, 16, k, a, b, c, ldc, alpha, beta)
}

func gemvN4AVX2(x0, x1, x2, x3 float32, b []float32, ldb int, y []float32) {
	gemvN4Generic(x0, x1, x2, x3, b, ldb, y)
}

func gemvT4AVX2(x, b []float32, ldb int, y []float32)    { gemvT4Generic(x, b, ldb, y) }
func gemvTRowsAVX2(x, b []float32, ldb int, y []float32) { gemvTRowsGeneric(x, b, ldb, y) }

func dotAVX512(x, y []float32) float32         { return dotGeneric(x, y) }
func axpyAVX512(alpha float32, x, y []float32) { axpyGeneric(alpha, x, y) }

func gemm6x32AVX512(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	microGeneric(6, 32, k, a, b, c, ldc, alpha, beta)
}

func expSumAVX2(dst, x []float32, shift float32) float64 {
	n := len(dst) &^ 7
	return expSumGeneric(dst[:n], x[:n], shift)
}

func expSumAVX512(dst, x []float32, shift float32) float64 {
	n := len(dst) &^ 15
	return expSumGeneric(dst[:n], x[:n], shift)
}

func geluTanhAVX2(dst, x []float32) {
	n := len(dst) &^ 7
	geluTanhGeneric(dst[:n], x[:n])
}

func geluTanhBackwardAVX2(dx, x, dy []float32) {
	n := len(dx) &^ 7
	geluTanhBackwardGeneric(dx[:n], x[:n], dy[:n])
}

func geluErfAVX2(dst, x []float32) {
	n := len(dst) &^ 7
	geluErfGeneric(dst[:n], x[:n])
}

func sumAVX2(x []float32) float64 {
	var s float64
	for _, v := range x[:len(x)&^7] {
		s += float64(v)
	}
	return s
}

func sqDevAVX2(x []float32, mean float32) float64 {
	var s float64
	for _, v := range x[:len(x)&^7] {
		d := v - mean
		s += float64(d * d)
	}
	return s
}

func normAffineAVX2(dst, x, gamma, beta []float32, mean, rstd float32) {
	for i := range dst[:len(dst)&^7] {
		dst[i] = (x[i]-mean)*rstd*gamma[i] + beta[i]
	}
}

func adamwAVX2(w, g, m, v []float32, s *AdamWStep) { adamwGeneric(w, g, m, v, s) }
