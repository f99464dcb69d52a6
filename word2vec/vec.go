package word2vec

import "github.com/loupe-ml/loupe/internal/kernels"

// The training hot loop works on vectors of Dim (typically 100) floats. It
// uses the SIMD kernels of internal/kernels (the pure-Go loops below made
// training 2× slower at Dim 100 on the development machine) and, for the
// paired update of a noise word, a fused AVX2 loop of its own that reads
// the output row once.

// useKernels selects the kernels (true) or the plain Go loops (false).
var useKernels = true

// dot returns Σ x[i]·y[i].
func dot(x, y []float32) float32 {
	if useKernels {
		return kernels.Dot(x, y)
	}
	return dotGo(x, y)
}

// axpy2 does e += g·l2 and then l2 += g·l1 (with l2's old value in the
// first).
func axpy2(g float32, l1, l2, e []float32) {
	if haveAVX2 {
		if len(l2) < len(l1) || len(e) < len(l1) {
			panic("word2vec: axpy2: short slice")
		}
		axpy2AVX2(g, l1, l2, e)
		return
	}
	if useKernels {
		kernels.Axpy(g, l2, e)
		kernels.Axpy(g, l1, l2)
		return
	}
	axpy2Go(g, l1, l2, e)
}

// add does dst += x.
func add(dst, x []float32) {
	if useKernels {
		kernels.Axpy(1, x, dst)
		return
	}
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// scale does x *= a.
func scale(x []float32, a float32) {
	kernels.Scale(a, x)
}

func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpy2Go(g float32, l1, l2, e []float32) {
	l2 = l2[:len(l1)]
	e = e[:len(l1)]
	for i, x := range l1 {
		y := l2[i]
		e[i] += g * y
		l2[i] = y + g*x
	}
}
