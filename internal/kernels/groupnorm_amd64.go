//go:build !noasm

package kernels

// affineSiLUAVX2 sets dst[i] = y/(1+exp(-y)), y = (x[i]-m)*a+b, for
// i < len(dst)&^7. len(x) >= len(dst).
//
//go:noescape
func affineSiLUAVX2(dst, x []float32, m, a, b float32)

// affineAVX2 sets dst[i] = (x[i]-m)*a+b for i < len(dst)&^7. len(x) >= len(dst).
//
//go:noescape
func affineAVX2(dst, x []float32, m, a, b float32)
