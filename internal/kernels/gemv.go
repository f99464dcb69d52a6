package kernels

// The matrix-vector case. Batch-1 decoding multiplies one activation row by
// every weight matrix, so each weight is read once per token and the time is
// set by memory bandwidth: the kernels below stream the weights exactly once
// with both threads, each thread owning a contiguous range of outputs.
//
//   - y = x·B with B k×n (GPT-2 Conv1D weights [in, out]): a row sweep, four
//     rows of B at a time (gemvN4), over column chunks of y that stay in L1.
//   - y = x·Bᵀ with B n×k (a tied LM head, nn.Linear [out, in]): one dot
//     product per row of B, four rows at a time sharing the loads of x
//     (gemvT4).

const (
	// gemvRows: Sgemm with m <= gemvRows runs as m matrix-vector products
	// (each reads B once, which beats packing B for so few rows).
	gemvRows = 4
	// gemvParallel is the size (n*k) from which a GEMV splits across threads.
	gemvParallel = 64 * 1024
	// gemvChunk is the width of the slice of y a row sweep keeps in L1.
	gemvChunk = 2048
	// gemvUnit is the granularity of the split across threads (a multiple
	// of the vector width, so only the last part has a scalar tail).
	gemvUnit = 16
)

// sgemv computes one row of C: y[j] = alpha*sum_p x[p]*op(B)[p][j] +
// beta*y[j] for j < n, where x[p] is a[p*lda] when transA and a[p]
// otherwise.
func sgemv(lvl int, transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, y []float32) {
	var w *gemmWork
	var x []float32
	if transA && lda != 1 {
		w = workBuffers.Get().(*gemmWork)
		w.x = grow(w.x, k)
		for p := range w.x {
			w.x[p] = a[p*lda]
		}
		x = w.x
	} else {
		x = a[:k]
	}
	y = y[:n]
	if Threads() > 1 && n*k >= gemvParallel && n >= 2*gemvUnit {
		j := jobs.Get().(*gemmJob)
		*j = gemmJob{lvl: lvl, transB: transB, n: n, k: k, alpha: alpha, beta: beta,
			x: x, b: b, ldb: ldb, c: y, gemv: true, unit: gemvUnit, run: j.run}
		Parallel((n+gemvUnit-1)/gemvUnit, 8, j.run)
		j.release()
	} else if transB {
		gemvT(lvl, 0, n, k, alpha, x, b, ldb, beta, y)
	} else {
		gemvN(lvl, 0, n, k, alpha, x, b, ldb, beta, y)
	}
	if w != nil {
		workBuffers.Put(w)
	}
}

// gemvN computes y[j] = alpha*sum_p x[p]*b[p*ldb+j] + beta*y[j] for
// j0 <= j < j1.
func gemvN(lvl, j0, j1, k int, alpha float32, x, b []float32, ldb int, beta float32, y []float32) {
	yy := y[j0:j1]
	if beta == 0 {
		clear(yy)
	} else if beta != 1 {
		scaleL(lvl, beta, yy)
	}
	for c0 := j0; c0 < j1; c0 += gemvChunk {
		c1 := min(c0+gemvChunk, j1)
		n8 := (c1 - c0) &^ 7
		if n8 > 0 {
			yc := y[c0 : c0+n8]
			p := 0
			for ; p+4 <= k; p += 4 {
				gemvN4L(lvl, alpha*x[p], alpha*x[p+1], alpha*x[p+2], alpha*x[p+3], b[p*ldb+c0:], ldb, yc)
			}
			for ; p < k; p++ {
				axpyL(lvl, alpha*x[p], b[p*ldb+c0:p*ldb+c0+n8], yc)
			}
		}
		for j := c0 + n8; j < c1; j++ {
			var s float32
			for p, v := range x[:k] {
				s += v * b[p*ldb+j]
			}
			y[j] += alpha * s
		}
	}
}

// gemvT computes y[j] = alpha*sum_p x[p]*b[j*ldb+p] + beta*y[j] for
// j0 <= j < j1.
func gemvT(lvl, j0, j1, k int, alpha float32, x, b []float32, ldb int, beta float32, y []float32) {
	x = x[:k]
	k8 := k &^ 7
	var t [4]float32
	j := j0
	for ; j+4 <= j1; j += 4 {
		if k8 > 0 {
			gemvT4L(lvl, x[:k8], b[j*ldb:], ldb, t[:])
		} else {
			t = [4]float32{}
		}
		for r := range 4 {
			s := t[r]
			row := b[(j+r)*ldb : (j+r)*ldb+k]
			for p := k8; p < k; p++ {
				s += x[p] * row[p]
			}
			if beta == 0 {
				y[j+r] = alpha * s
			} else {
				y[j+r] = alpha*s + beta*y[j+r]
			}
		}
	}
	for ; j < j1; j++ {
		s := dotL(lvl, x, b[j*ldb:j*ldb+k])
		if beta == 0 {
			y[j] = alpha * s
		} else {
			y[j] = alpha*s + beta*y[j]
		}
	}
}
