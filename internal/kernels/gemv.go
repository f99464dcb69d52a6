package kernels

// The matrix-vector case. Batch-1 decoding multiplies one activation row by
// every weight matrix, so each weight is read once per token and the time is
// set by memory bandwidth: the kernels below stream the weights exactly once
// with both threads, the threads claiming chunks of the weights from a
// counter.
//
//   - y = x·B with B k×n (GPT-2 Conv1D weights [in, out]): chunks of rows of
//     B, each swept four rows at a time (gemvN4) into per-thread partial
//     sums that stay in L1/L2 (gemvSplitK).
//   - y = x·Bᵀ with B n×k (a tied LM head, nn.Linear [out, in]): chunks of
//     rows of B, four dot products at a time (gemvT4).
//
// Both read a chunk as four long streams: the four rows taken together are
// a quarter of the chunk apart, not neighbours, so each stream runs through
// a quarter of the chunk in memory order. On Zen 3 (the 2-vCPU EPYC of
// docs/kernels.md) four such streams per thread read 10-40% faster than
// either one stream or four neighbouring rows (which make four streams a
// row long each), and faster than eight streams.

const (
	// gemvRows: Sgemm with m <= gemvRows (batch-1 and small-batch decoding)
	// runs as matrix-vector products that read B once for all m rows: each
	// L1-sized piece of B is applied to every row before moving on.
	gemvRows = 8
	// gemvParallel is the size (n*k) from which a GEMV splits across threads.
	gemvParallel = 64 * 1024
	// gemvSweepWidth is the width of the slice of y a row sweep keeps in L1
	// (16 KiB) with one row of A; with several rows the slice is narrower,
	// so that their slices together and the rows of B stay in L1.
	gemvSweepWidth = 4096
	// gemvUnit is the granularity of the split across threads (a multiple
	// of the vector width, so only the last part has a scalar tail).
	gemvUnit = 16
	// gemvChunkBytes is about how much of B one chunk of a threaded GEMV
	// reads: threads claim chunks one at a time, so that they finish
	// together however unevenly they run.
	gemvChunkBytes = 256 << 10
	// gemvMinStrip is the narrowest column strip of B (row-major, not
	// transposed) a chunk covers: each row of the strip is one contiguous
	// run of memory.
	gemvMinStrip = 512
	// gemvSplitKMaxMN is the largest m×n whose product splits across
	// threads by rows of B rather than by columns: each thread's partial
	// sums (m×n floats, 128 KiB at most) should stay in L2.
	gemvSplitKMaxMN = 32768
)

// gemvSplitK computes y = alpha*x·B + beta*y for the m rows of x (stride
// ldx) and of y (stride ldy), B k×n row-major, by splitting the rows of B
// across threads. Consecutive rows of B are consecutive in memory, so each
// chunk of rows is one contiguous block of the weights — the access pattern
// hardware prefetchers handle best. The chunks are grouped into a fixed
// number of segments (runs of consecutive chunks); threads claim segments
// as they become free, each segment is summed into its own partial sums
// (m×n floats; segment 0 into y itself), and the partial sums are added to
// y in segment order at the end. Which thread computes a segment never
// changes the result: the same call gives the same bits every time. A
// split by columns would instead give every thread k short strided runs.
func gemvSplitK(lvl, m, n, k int, alpha float32, x []float32, ldx int, b []float32, ldb int, beta float32, y []float32, ldy int) {
	j, parts := newSplitKJob(lvl, m, n, k, alpha, x, ldx, b, ldb, beta, y, ldy)
	Parallel(parts, 1, j.run)
	j.finishSplitK()
	j.release()
}

// splitKSegmentsPerThread is how many segments gemvSplitK makes per
// thread: more than one, so a thread slowed by a busy sibling takes fewer.
const splitKSegmentsPerThread = 2

// newSplitKJob sets up gemvSplitK's job and the number of parts to run.
func newSplitKJob(lvl, m, n, k int, alpha float32, x []float32, ldx int, b []float32, ldb int, beta float32, y []float32, ldy int) (*gemmJob, int) {
	rows := max(gemvChunkBytes/(4*n), 4) &^ 3 // whole 4-row steps of the row sweep
	chunks := (k + rows - 1) / rows
	parts := min(Threads(), chunks)
	segs := min(chunks, splitKSegmentsPerThread*parts)
	j := jobs.Get().(*gemmJob)
	part := j.part
	*j = gemmJob{lvl: lvl, m: m, n: n, k: k, alpha: alpha, beta: beta, x: x, lda: ldx, b: b, ldb: ldb,
		c: y, ldc: ldy, unit: rows, gemv: true, splitK: true, chunks: int64(segs), nchunk: chunks, run: j.run}
	j.part = grow(part, (segs-1)*m*n)
	return j, parts
}

// finishSplitK adds the partial sums of segments 1.. into y, in order.
func (j *gemmJob) finishSplitK() {
	mn := j.m * j.n
	for i := 0; i < j.m; i++ {
		y := j.c[i*j.ldc : i*j.ldc+j.n]
		for s := 1; s < int(j.chunks); s++ {
			addL(j.lvl, y, y, j.part[(s-1)*mn+i*j.n:(s-1)*mn+(i+1)*j.n])
		}
	}
}

// splitKSegment sums segment s of the chunks of rows of B times x: into y
// itself (scaled by beta on its first chunk) for segment 0, into the
// segment's partial sums for the others.
func (j *gemmJob) splitKSegment(s int) {
	segs := int(j.chunks)
	c0, c1 := s*j.nchunk/segs, (s+1)*j.nchunk/segs
	y, ldy, beta := j.c, j.ldc, j.beta
	if s > 0 {
		mn := j.m * j.n
		y, ldy, beta = j.part[(s-1)*mn:s*mn], j.n, 0
	}
	for ch := c0; ch < c1; ch++ {
		p0, p1 := ch*j.unit, min((ch+1)*j.unit, j.k)
		gemvN(j.lvl, 0, j.n, j.m, p1-p0, j.alpha, j.x[p0:], j.lda, j.b[p0*j.ldb:], j.ldb, beta, y, ldy)
		beta = 1
	}
}

// sgemv computes C = alpha*op(A)*op(B) + beta*C for m <= gemvRows rows of C
// as matrix-vector products sharing each piece of B. Rows of op(A) must be
// contiguous: with transA they are first gathered into a pooled buffer.
func sgemv(lvl int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	var w *gemmWork
	x, ldx := a, lda
	if transA {
		if m == 1 && lda == 1 {
			ldx = k
		} else {
			w = workBuffers.Get().(*gemmWork)
			w.x = grow(w.x, m*k)
			for i := 0; i < m; i++ {
				xi := w.x[i*k : i*k+k]
				for p := range xi {
					xi[p] = a[p*lda+i]
				}
			}
			x, ldx = w.x, k
		}
	}
	if !transB && Threads() > 1 && n*k >= gemvParallel && k >= 8*Threads() && m*n <= gemvSplitKMaxMN {
		gemvSplitK(lvl, m, n, k, alpha, x, ldx, b, ldb, beta, c, ldc)
	} else if Threads() > 1 && n*k >= gemvParallel && n >= 2*gemvUnit {
		// Chunks of about gemvChunkBytes of B: whole rows of B with
		// transB, column strips at least gemvMinStrip wide without.
		unit := gemvMinStrip
		if transB {
			unit = max(gemvChunkBytes/(4*k), 1)
		}
		unit = (unit + gemvUnit - 1) &^ (gemvUnit - 1)
		chunks := (n + unit - 1) / unit
		j := jobs.Get().(*gemmJob)
		part := j.part
		*j = gemmJob{lvl: lvl, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
			x: x, lda: ldx, b: b, ldb: ldb, c: c, ldc: ldc, gemv: true, unit: unit, chunks: int64(chunks),
			part: part, run: j.run}
		Parallel(min(Threads(), chunks), 1, j.run)
		j.release()
	} else if transB {
		gemvT(lvl, 0, n, m, k, alpha, x, ldx, b, ldb, beta, c, ldc)
	} else {
		gemvN(lvl, 0, n, m, k, alpha, x, ldx, b, ldb, beta, c, ldc)
	}
	if w != nil {
		workBuffers.Put(w)
	}
}

// gemvN computes, for each row i < m and column j0 <= j < j1,
// y[i*ldy+j] = alpha*sum_p x[i*ldx+p]*b[p*ldb+j] + beta*y[i*ldy+j].
//
// Columns go in slices of y that stay in L1 (all of them at once for a
// GPT-2 layer with one row of x); within a slice, each pass applies four
// rows of B a quarter of k apart (gemvN4), so the k rows are read as four
// streams, and the k%4 rows left over one at a time.
func gemvN(lvl, j0, j1, m, k int, alpha float32, x []float32, ldx int, b []float32, ldb int, beta float32, y []float32, ldy int) {
	for i := 0; i < m; i++ {
		yy := y[i*ldy+j0 : i*ldy+j1]
		if beta == 0 {
			clear(yy)
		} else if beta != 1 {
			scaleL(lvl, beta, yy)
		}
	}
	chunk := gemvSweepWidth
	if m > 1 {
		chunk = max(gemvSweepWidth/(2*m), 256)
	}
	q := k / 4 // rows p, q+p, 2q+p and 3q+p go together: four long streams
	for c0 := j0; c0 < j1; c0 += chunk {
		c1 := min(c0+chunk, j1)
		n8 := (c1 - c0) &^ 7
		if n8 > 0 {
			for p := 0; p < q; p++ {
				bp := b[p*ldb+c0:]
				for i := 0; i < m; i++ {
					xi := x[i*ldx : i*ldx+k]
					gemvN4L(lvl, alpha*xi[p], alpha*xi[q+p], alpha*xi[2*q+p], alpha*xi[3*q+p], bp, q*ldb, y[i*ldy+c0:i*ldy+c0+n8])
				}
			}
			for p := 4 * q; p < k; p++ {
				for i := 0; i < m; i++ {
					axpyL(lvl, alpha*x[i*ldx+p], b[p*ldb+c0:p*ldb+c0+n8], y[i*ldy+c0:i*ldy+c0+n8])
				}
			}
		}
		for j := c0 + n8; j < c1; j++ {
			for i := 0; i < m; i++ {
				var s float32
				for p, v := range x[i*ldx : i*ldx+k] {
					s += v * b[p*ldb+j]
				}
				y[i*ldy+j] += alpha * s
			}
		}
	}
}

// gemvT computes, for each row i < m and j0 <= j < j1,
// y[i*ldy+j] = alpha*sum_p x[i*ldx+p]*b[j*ldb+p] + beta*y[i*ldy+j].
//
// The rows of B go in blocks whose raw sums land in a stack buffer before
// alpha, beta and the k%8 tail apply. A block is read as four long streams
// (gemvTQuarters), each group of four rows of B staying in L1 while every
// row of x passes over it.
func gemvT(lvl, j0, j1, m, k int, alpha float32, x []float32, ldx int, b []float32, ldb int, beta float32, y []float32, ldy int) {
	k8 := k &^ 7
	const block = 256
	var t [gemvRows * block]float32
	for j := j0; j < j1; j += block {
		nr := min(block, j1-j)
		for i0 := 0; i0 < m; i0 += gemvRows {
			mi := min(gemvRows, m-i0)
			gemvTQuarters(lvl, mi, k8, x[i0*ldx:], ldx, b[j*ldb:], ldb, t[:mi*nr], nr)
			for i := i0; i < i0+mi; i++ {
				xi := x[i*ldx : i*ldx+k]
				yi := y[i*ldy+j : i*ldy+j+nr]
				for r, s := range t[(i-i0)*nr : (i-i0+1)*nr] {
					if k8 < k {
						row := b[(j+r)*ldb : (j+r)*ldb+k]
						for p := k8; p < k; p++ {
							s += xi[p] * row[p]
						}
					}
					if beta == 0 {
						yi[r] = alpha * s
					} else {
						yi[r] = alpha*s + beta*yi[r]
					}
				}
			}
		}
	}
}

// gemvTQuarters sets t[i*ld+r] = sum_{p<k8} x[i*ldx+p]*b[r*ldb+p] for
// i < m and r < ld, k8 a multiple of 8. Four rows of B a quarter of the
// block apart go together, so that B is read as four streams in memory
// order, and each such group meets every row of x while it is in L1.
func gemvTQuarters(lvl, m, k8 int, x []float32, ldx int, b []float32, ldb int, t []float32, ld int) {
	q := ld / 4
	var s [4]float32
	for r := 0; r < q; r++ {
		br := b[r*ldb:]
		for i := 0; i < m; i++ {
			gemvT4L(lvl, x[i*ldx:i*ldx+k8], br, q*ldb, s[:])
			ti := t[i*ld : (i+1)*ld]
			ti[r], ti[q+r], ti[2*q+r], ti[3*q+r] = s[0], s[1], s[2], s[3]
		}
	}
	if 4*q < ld {
		for i := 0; i < m; i++ {
			gemvTRowsL(lvl, x[i*ldx:i*ldx+k8], b[4*q*ldb:], ldb, t[i*ld+4*q:(i+1)*ld])
		}
	}
}
