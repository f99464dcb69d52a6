package kernels

// The generic kernels below are the reference semantics of every kernel and
// the fallback on CPUs without the assembly versions.

func dotGeneric(x, y []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(x)
	y = y[:n]
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < n; i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpyGeneric(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

func axpy2Generic(alpha float32, x, y, acc []float32) {
	y = y[:len(x)]
	acc = acc[:len(x)]
	for i, v := range x {
		old := y[i]
		acc[i] += alpha * old
		y[i] = old + alpha*v
	}
}

func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

func addGeneric(dst, a, b []float32) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

func mulGeneric(dst, a, b []float32) {
	a = a[:len(dst)]
	b = b[:len(dst)]
	for i := range dst {
		dst[i] = a[i] * b[i]
	}
}

func sqDistGeneric(x, y []float32) float32 {
	var s float32
	y = y[:len(x)]
	for i, v := range x {
		d := v - y[i]
		s += d * d
	}
	return s
}

// sgemmNaive is the reference matrix multiply: the triple loop.
func sgemmNaive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

func maxGeneric(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		if v > m {
			m = v
		}
	}
	return m
}

// microGeneric is the micro kernel contract for any tile size: with
// acc[i][j] = sum_{p<k} a[p*mr+i]*b[p*nr+j], c[i*ldc+j] = alpha*acc[i][j] +
// beta*c[i*ldc+j], c not read when beta == 0.
func microGeneric(mr, nr, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	for i := 0; i < mr; i++ {
		for j := 0; j < nr; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[p*mr+i] * b[p*nr+j]
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// micro4x4Generic is microGeneric for the generic level's 4×4 tile, with
// the 16 accumulators in local variables (registers on arm64).
func micro4x4Generic(k int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:4*k]
	b = b[:4*k]
	for p := 0; p+4 <= len(a); p += 4 {
		ap := a[p : p+4 : p+4]
		bp := b[p : p+4 : p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	acc := [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}}
	for i := range acc {
		ci := c[i*ldc : i*ldc+4]
		for j, v := range acc[i] {
			if beta == 0 {
				ci[j] = alpha * v
			} else {
				ci[j] = alpha*v + beta*ci[j]
			}
		}
	}
}

// gemvN4Generic computes y[j] += x0*b[j] + x1*b[ldb+j] + x2*b[2*ldb+j] +
// x3*b[3*ldb+j] for j < len(y).
func gemvN4Generic(x0, x1, x2, x3 float32, b []float32, ldb int, y []float32) {
	n := len(y)
	b0 := b[:n]
	b1 := b[ldb : ldb+n]
	b2 := b[2*ldb : 2*ldb+n]
	b3 := b[3*ldb : 3*ldb+n]
	for j := range y {
		y[j] += x0*b0[j] + x1*b1[j] + x2*b2[j] + x3*b3[j]
	}
}

// gemvT4Generic sets y[r] = sum_{p<len(x)} x[p]*b[r*ldb+p] for r < 4.
func gemvT4Generic(x, b []float32, ldb int, y []float32) {
	n := len(x)
	for r := range 4 {
		y[r] = dotGeneric(x, b[r*ldb:r*ldb+n])
	}
}

// gemvTRowsGeneric sets y[r] = sum_{p<len(x)} x[p]*b[r*ldb+p] for r < len(y).
func gemvTRowsGeneric(x, b []float32, ldb int, y []float32) {
	n := len(x)
	for r := range y {
		y[r] = dotGeneric(x, b[r*ldb:r*ldb+n])
	}
}
