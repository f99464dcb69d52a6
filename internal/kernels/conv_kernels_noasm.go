//go:build !amd64 || noasm

package kernels

// Generic twins of conv_amd64.s (see conv_kernels_amd64.go); never
// selected on these builds.

func convMicro6x32AVX512(k int, a []float32, lda int, b, c []float32, ldc int) {
	convMicroGeneric(6, 32, k, a, lda, b, c, ldc)
}

func convMicro6x16AVX2(k int, a []float32, lda int, b, c []float32, ldc int) {
	convMicroGeneric(6, 16, k, a, lda, b, c, ldc)
}

func convMicro6x16AVX512(k int, a []float32, lda int, b, c []float32, ldc int) {
	for i := 0; i < 6; i++ {
		for j := 0; j < 16; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[i*lda+p] * b[p*32+j]
			}
			c[i*ldc+j] += s
		}
	}
}

func gatherEvenAVX512(dst, src []float32) int {
	n := min(len(dst), len(src)/2) &^ 15
	for i := range n {
		dst[i] = src[2*i]
	}
	return n
}

func convDirect4x64AVX512(inC, kh, kw int, src []float32, off, plane, row int, w []float32, ldw, wskip int, masks []uint16, dst []float32, ldd int) {
	convDirect4x64Generic(inC, kh, kw, src, off, plane, row, w, ldw, wskip, masks, dst, ldd)
}
