//go:build !amd64 || noasm

package kernels

// Generic twins of groupnorm_avx2_amd64.s (see groupnorm_amd64.go); never
// selected on these builds.

func affineSiLUAVX2(dst, x []float32, m, a, b float32) {
	n := len(dst) &^ 7
	affineGeneric(dst[:n], x, m, a, b, true)
}

func affineAVX2(dst, x []float32, m, a, b float32) {
	n := len(dst) &^ 7
	affineGeneric(dst[:n], x, m, a, b, false)
}
