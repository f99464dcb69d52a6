package kernels

import "fmt"

func checkLen(kernel string, name string, have, want int) {
	if have < want {
		panic(fmt.Sprintf("kernels: %s: len(%s) = %d, need at least %d", kernel, name, have, want))
	}
}

// Dot returns sum_i x[i]*y[i]. len(y) must be at least len(x).
func Dot(x, y []float32) float32 {
	checkLen("Dot", "y", len(y), len(x))
	return dotL(level, x, y)
}

// Axpy computes y[i] += alpha*x[i] for i < len(x). x and y may be the same
// slice but must not otherwise overlap.
func Axpy(alpha float32, x, y []float32) {
	checkLen("Axpy", "y", len(y), len(x))
	axpyL(level, alpha, x, y)
}

// Axpy2 computes, for i < len(x), acc[i] += alpha*y[i] and then
// y[i] += alpha*x[i]: acc receives y's value from before the update. It is
// the paired update of skip-gram's negative sampling (acc is the input
// word's gradient, y the output row, x the input row), reading and writing
// y once instead of twice. The three slices must not overlap.
func Axpy2(alpha float32, x, y, acc []float32) {
	checkLen("Axpy2", "y", len(y), len(x))
	checkLen("Axpy2", "acc", len(acc), len(x))
	// The switch is written out rather than calling axpy2L: skip-gram calls
	// Axpy2 about six times per trained pair, and the extra call level cost
	// measurable training speed.
	if level >= levelAVX2 {
		axpy2AVX2(alpha, x, y, acc)
		return
	}
	axpy2Generic(alpha, x, y, acc)
}

// Scale computes x[i] *= alpha.
func Scale(alpha float32, x []float32) { scaleL(level, alpha, x) }

// Add computes dst[i] = a[i] + b[i] for i < len(dst). dst may alias a or b.
func Add(dst, a, b []float32) {
	checkLen("Add", "a", len(a), len(dst))
	checkLen("Add", "b", len(b), len(dst))
	addL(level, dst, a, b)
}

// Mul computes dst[i] = a[i] * b[i] for i < len(dst). dst may alias a or b.
func Mul(dst, a, b []float32) {
	checkLen("Mul", "a", len(a), len(dst))
	checkLen("Mul", "b", len(b), len(dst))
	mulL(level, dst, a, b)
}

// SqDist returns the squared Euclidean distance sum_i (x[i]-y[i])^2.
func SqDist(x, y []float32) float32 {
	checkLen("SqDist", "y", len(y), len(x))
	return sqDistL(level, x, y)
}

// Softmax replaces x by softmax(x), computed stably (max subtracted).
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	softmaxL(level, x, len(x))
}

// SoftmaxRows applies Softmax to each of the rows of x, a rows×cols matrix.
// If causal is true, row i may only see columns j <= i+offset: later columns
// are set to exactly 0 and excluded from the normalisation (offset is the
// number of earlier positions held in a KV cache). Rows split across threads.
func SoftmaxRows(x []float32, rows, cols int, causal bool, offset int) {
	checkLen("SoftmaxRows", "x", len(x), rows*cols)
	j := rowJobs.Get().(*rowJob)
	j.kind, j.lvl, j.x, j.cols, j.causal, j.offset = rowSoftmax, level, x, cols, causal, offset
	Parallel(rows, 16, j.run)
	j.release()
}

// LayerNorm normalises each row of x (rows×cols) to mean 0 and variance 1
// (biased variance, eps added before the square root), then applies
// dst = norm*gamma + beta. dst may alias x.
func LayerNorm(dst, x, gamma, beta []float32, rows, cols int, eps float32) {
	checkLen("LayerNorm", "x", len(x), rows*cols)
	checkLen("LayerNorm", "dst", len(dst), rows*cols)
	checkLen("LayerNorm", "gamma", len(gamma), cols)
	checkLen("LayerNorm", "beta", len(beta), cols)
	j := rowJobs.Get().(*rowJob)
	j.kind, j.lvl, j.dst, j.x, j.gamma, j.beta, j.cols, j.eps = rowLayerNorm, level, dst, x, gamma, beta, cols, eps
	Parallel(rows, 8, j.run)
	j.release()
}

// GeluTanh computes dst = 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))), GPT-2's
// gelu_new. dst may alias x.
func GeluTanh(dst, x []float32) {
	checkLen("GeluTanh", "x", len(x), len(dst))
	j := rowJobs.Get().(*rowJob)
	j.kind, j.lvl, j.dst, j.x = rowGeluTanh, level, dst, x
	Parallel(len(dst), 4096, j.run)
	j.release()
}

// GeluTanhBackward accumulates dx += gelu'(x)·dy for GeluTanh, the
// derivative taken exactly (not from GeluTanh's output). dx must not alias
// x or dy.
func GeluTanhBackward(dx, x, dy []float32) {
	checkLen("GeluTanhBackward", "x", len(x), len(dx))
	checkLen("GeluTanhBackward", "dy", len(dy), len(dx))
	j := rowJobs.Get().(*rowJob)
	j.kind, j.lvl, j.dst, j.x, j.dy = rowGeluTanhBackward, level, dx, x, dy
	Parallel(len(dx), 4096, j.run)
	j.release()
}

// GeluErf computes dst = 0.5x(1+erf(x/sqrt 2)), BERT's exact GELU. dst may
// alias x.
func GeluErf(dst, x []float32) {
	checkLen("GeluErf", "x", len(x), len(dst))
	j := rowJobs.Get().(*rowJob)
	j.kind, j.lvl, j.dst, j.x = rowGeluErf, level, dst, x
	Parallel(len(dst), 4096, j.run)
	j.release()
}

// Argmax returns the index of the largest element of x (the first on ties),
// or -1 for an empty slice.
func Argmax(x []float32) int {
	if len(x) == 0 {
		return -1
	}
	return argmaxL(level, x)
}

// TopK returns the indices of the k largest elements of x, largest first
// (earlier index first on ties), reusing idx's storage when it is large
// enough (cap(idx) >= k; otherwise a new slice is allocated). k is clamped
// to len(x). It keeps a heap of the k best (O(n log k)), so it suits k much
// smaller than len(x), the sampling case.
func TopK(x []float32, k int, idx []int) []int {
	if k > len(x) {
		k = len(x)
	}
	if k <= 0 {
		return idx[:0]
	}
	if cap(idx) < k {
		idx = make([]int, 0, k)
	}
	return topKHeap(x, k, idx)
}

// Sgemm computes C = alpha*op(A)*op(B) + beta*C where op(X) is X or its
// transpose. op(A) is m×k, op(B) is k×n and C is m×n, all row-major with
// leading dimensions lda, ldb, ldc. When beta is 0, C is not read (it may
// hold NaNs). When alpha is 0 or k is 0, A and B are not read.
//
// Products with m <= 8 (batch-1 and small-batch decoding) run as
// matrix-vector kernels that read B once at memory bandwidth; larger ones
// use the packed, cache-blocked micro-kernel path. Both split across the
// worker pool when large enough and allocate nothing in the steady state.
// C must not overlap A or B. Sgemm is safe for concurrent use (on distinct
// C) and may be called from inside Parallel.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	sgemm(level, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmSerial is Sgemm computed on the calling goroutine alone, by the
// packed micro-kernel path whatever the size: for callers that split their
// own work across threads (one multiply per thread) or that were asked to
// use a single thread.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	w := workBuffers.Get().(*gemmWork)
	gemmSerial(level, w, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	workBuffers.Put(w)
}

func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels: Sgemm: negative size m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("A", a, ar, ac, lda)
	checkMatrix("B", b, br, bc, ldb)
	checkMatrix("C", c, m, n, ldc)
}

func checkMatrix(name string, x []float32, rows, cols, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels: Sgemm: ld%s = %d < %d columns", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("kernels: Sgemm: len(%s) = %d, need %d for %dx%d with ld %d", name, len(x), need, rows, cols, ld))
	}
}

// Prefetch hints that x will be read soon: on amd64 every cache line of x
// is requested into L1 without waiting for it; elsewhere (and with
// LOUPE_KERNELS=generic) it does nothing. A graph search calls it for all
// of a node's unvisited neighbours before computing their distances, so
// that the memory latencies overlap instead of adding up.
func Prefetch(x []float32) {
	if level >= levelAVX2 {
		prefetchAVX2(x)
	}
}

// SumExp returns sum_i exp(x[i]-shift), accumulated in float64, without
// modifying x: the denominator of a softmax or, with shift = max(x), of a
// numerically stable log-sum-exp over a vocabulary. It uses Softmax's
// vectorised exp (relative error below 1e-7 per term).
func SumExp(x []float32, shift float32) float64 {
	var buf [1024]float32
	var sum float64
	for len(x) > 0 {
		n := min(len(x), len(buf))
		if level >= levelAVX2 {
			n8 := n &^ 7
			sum += expSumAVX2(buf[:n8], x[:n8], shift)
			sum += expSumGeneric(buf[n8:n], x[n8:n], shift)
		} else {
			sum += expSumGeneric(buf[:n], x[:n], shift)
		}
		x = x[n:]
	}
	return sum
}
