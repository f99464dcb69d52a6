package kernels

import (
	"sync"
	"sync/atomic"
)

// Blocking of the packed matrix multiply (Goto/BLIS order). For each
// ncBlock-wide column block of C and each kcBlock-deep slice of the inner
// dimension, a kc×nc block of op(B) is packed into nr-wide panels (it stays
// in L2/L3); then for each mcBlock-tall row block of op(A), a mc×kc block
// is packed into mr-tall panels (it stays in L2) and the micro kernel
// sweeps mr×nr tiles of C, streaming one kc×nr panel of B from L1.
// kc×16 floats of B (16 KiB) fit Zen's 32 KiB L1d with room for the A
// panel; mc×kc floats of A (144 KiB) leave room in a 512 KiB-1 MiB L2 for a
// second hardware thread doing the same.
// They are variables only so that the tuning benchmark can vary them.
var (
	kcBlock = 256
	mcBlock = 144 // a multiple of every mr (4, 6)
	ncBlock = 4096
)

// gemmShape is the micro kernel tile (mr rows × nr columns) of a level.
func gemmShape(lvl int) (mr, nr int) {
	switch lvl {
	case levelAVX512:
		return 6, 32
	case levelAVX2:
		return 6, 16
	}
	return 4, 4
}

// micro runs the level's micro kernel: with acc[i][j] = sum_{p<k}
// a[p*mr+i]*b[p*nr+j], c[i*ldc+j] = alpha*acc[i][j] + beta*c[i*ldc+j] (c not
// read when beta == 0).
func micro(lvl, k int, a, b, c []float32, ldc int, alpha, beta float32) {
	switch lvl {
	case levelAVX512:
		gemm6x32AVX512(k, a, b, c, ldc, alpha, beta)
	case levelAVX2:
		gemm6x16AVX2(k, a, b, c, ldc, alpha, beta)
	default:
		micro4x4Generic(k, a, b, c, ldc, alpha, beta)
	}
}

// gemmWork holds one worker's packing buffers. They come from a sync.Pool
// and only grow, so a steady stream of same-sized calls allocates nothing.
type gemmWork struct {
	a, b []float32 // packed op(A) and op(B) blocks
	tmp  []float32 // one mr×nr edge tile
	x    []float32 // gathered strided vector (GEMV with transA)
}

var workBuffers = sync.Pool{New: func() any { return new(gemmWork) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemmJob describes one Sgemm or GEMV call split across the worker pool.
// Jobs are pooled; run is bound to the job once, when it is created, so
// handing it to Parallel allocates nothing.
type gemmJob struct {
	lvl            int
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	x              []float32 // GEMV rows of op(A), contiguous along k, stride lda
	unit           int       // columns or rows of C per Parallel element
	byCols         bool
	gemv           bool
	splitK         bool      // GEMV split by rows of B: unit rows per chunk, chunks grouped in segments
	part           []float32 // splitK: the partial sums of segments 1.. (m×n each)
	nchunk         int       // splitK: the number of chunks (chunks counts segments)
	next, chunks   int64     // GEMV: chunks (splitK: segments) handed out (atomic) and their number
	run            func(lo, hi int)
}

var jobs = sync.Pool{New: func() any {
	j := new(gemmJob)
	j.run = j.do
	return j
}}

func (j *gemmJob) release() {
	j.a, j.b, j.c, j.x = nil, nil, nil, nil
	j.part = j.part[:0]
	jobs.Put(j)
}

// do computes the part of C given by Parallel's range [lo, hi) of units.
func (j *gemmJob) do(lo, hi int) {
	if j.gemv {
		// Each of Parallel's parts claims chunks of unit columns (or, with
		// splitK, unit rows of B) until none are left, so a thread that
		// starts late or runs slower (a busy sibling, a page fault) takes
		// fewer chunks instead of holding the others up at the end.
		for t := lo; t < hi; t++ {
			for {
				ch := int(atomic.AddInt64(&j.next, 1) - 1)
				if ch >= int(j.chunks) {
					break
				}
				if j.splitK {
					j.splitKSegment(ch)
					continue
				}
				j0, j1 := ch*j.unit, min((ch+1)*j.unit, j.n)
				if j.transB {
					gemvT(j.lvl, j0, j1, j.m, j.k, j.alpha, j.x, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
				} else {
					gemvN(j.lvl, j0, j1, j.m, j.k, j.alpha, j.x, j.lda, j.b, j.ldb, j.beta, j.c, j.ldc)
				}
			}
		}
		return
	}
	w := workBuffers.Get().(*gemmWork)
	if j.byCols {
		c0, c1 := lo*j.unit, min(hi*j.unit, j.n)
		var b []float32
		if j.transB {
			b = j.b[c0*j.ldb:]
		} else {
			b = j.b[c0:]
		}
		gemmSerial(j.lvl, w, j.transA, j.transB, j.m, c1-c0, j.k, j.alpha, j.a, j.lda, b, j.ldb, j.beta, j.c[c0:], j.ldc)
	} else {
		r0, r1 := lo*j.unit, min(hi*j.unit, j.m)
		var a []float32
		if j.transA {
			a = j.a[r0:]
		} else {
			a = j.a[r0*j.lda:]
		}
		gemmSerial(j.lvl, w, j.transA, j.transB, r1-r0, j.n, j.k, j.alpha, a, j.lda, j.b, j.ldb, j.beta, j.c[r0*j.ldc:], j.ldc)
	}
	workBuffers.Put(w)
}

// parallelFlops is the size (m*n*k) from which Sgemm splits across threads.
const parallelFlops = 128 * 128 * 64

// sgemm is Sgemm after argument checks, with the kernel level explicit.
func sgemm(lvl int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if m <= gemvRows {
		sgemv(lvl, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mr, nr := gemmShape(lvl)
	threads := Threads()
	if threads > 1 && m*n*k >= parallelFlops {
		j := jobs.Get().(*gemmJob)
		*j = gemmJob{lvl: lvl, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
			a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc, run: j.run}
		switch {
		case n >= threads*4*nr:
			j.byCols, j.unit = true, nr
			Parallel((n+nr-1)/nr, 4, j.run)
			j.release()
			return
		case m >= threads*2*mr:
			j.unit = mr
			Parallel((m+mr-1)/mr, 2, j.run)
			j.release()
			return
		}
		j.release()
	}
	w := workBuffers.Get().(*gemmWork)
	gemmSerial(lvl, w, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	workBuffers.Put(w)
}

// scaleC sets C = beta*C (C = 0 when beta is 0, without reading C).
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			Scale(beta, row)
		}
	}
}

// gemmSerial is the blocked, packed multiply on one thread.
func gemmSerial(lvl int, w *gemmWork, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := gemmShape(lvl)
	if lvl >= levelAVX2 && !transA && n <= inPlaceMaxPanels*nr && m >= mr {
		gemmInPlaceA(lvl, w, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mc := mcBlock
	if m < mc {
		mc = (m + mr - 1) / mr * mr
	}
	nc := ncBlock
	if n < nc {
		nc = (n + nr - 1) / nr * nr
	}
	kc := min(kcBlock, k)
	w.a = grow(w.a, mc*kc)
	w.b = grow(w.b, nc*kc)
	w.tmp = grow(w.tmp, mr*nr)
	for jc := 0; jc < n; jc += nc {
		nb := min(nc, n-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			packB(w.b, transB, b, ldb, pc, jc, kb, nb, nr)
			bet := beta
			if pc > 0 {
				bet = 1
			}
			for ic := 0; ic < m; ic += mc {
				mb := min(mc, m-ic)
				packA(w.a, transA, a, lda, ic, pc, mb, kb, mr)
				macroKernel(lvl, mr, nr, mb, nb, kb, alpha, w.a, w.b, bet, c[ic*ldc+jc:], ldc, w.tmp)
			}
		}
	}
}

// inPlaceMaxPanels bounds the column panels of products that read A in
// place (gemmInPlaceA): with so few columns each element of A feeds only a
// few vector FMAs, and packing it would cost about as much as using it
// (the attention's weighted sum over 4096 tokens with 40 values per head).
const inPlaceMaxPanels = 4

// gemmInPlaceA is gemmSerial for a row-major A (not transposed) and a
// narrow C: only op(B) is packed (alpha folded into it), A is read in place
// by Conv2D's accumulating micro kernels (convMacro) after C is scaled by
// beta.
func gemmInPlaceA(lvl int, w *gemmWork, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := gemmShape(lvl)
	scaleC(m, n, beta, c, ldc)
	nc := (n + nr - 1) / nr * nr
	kc := min(kcBlock, k)
	w.a = grow(w.a, mr*kc)
	w.b = grow(w.b, nc*kc)
	w.tmp = grow(w.tmp, mr*nr)
	for pc := 0; pc < k; pc += kc {
		kb := min(kc, k-pc)
		packB(w.b, transB, b, ldb, pc, 0, kb, n, nr)
		if alpha != 1 {
			scaleL(lvl, alpha, w.b[:nc*kb])
		}
		for ic := 0; ic < m; ic += mcBlock {
			mb := min(mcBlock, m-ic)
			convMacro(lvl, mr, nr, mb, n, kb, a[ic*lda+pc:], lda, w, c[ic*ldc:], ldc)
		}
	}
}

// macroKernel multiplies a packed mb×kb block of A by a packed kb×nb block
// of B into C, tile by tile. Edge tiles go through tmp.
func macroKernel(lvl, mr, nr, mb, nb, kb int, alpha float32, pa, pb []float32, beta float32, c []float32, ldc int, tmp []float32) {
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		bp := pb[jr*kb : jr*kb+nr*kb]
		for ir := 0; ir < mb; ir += mr {
			mm := min(mr, mb-ir)
			ap := pa[ir*kb : ir*kb+mr*kb]
			if mm == mr && nn == nr {
				micro(lvl, kb, ap, bp, c[ir*ldc+jr:], ldc, alpha, beta)
				continue
			}
			if lvl == levelAVX512 && nn <= 16 {
				// A panel at most half used: the 6×16 kernel, half the work.
				if mm == mr && nn == 16 {
					gemm6x16AVX512(kb, ap, bp, c[ir*ldc+jr:], ldc, alpha, beta)
					continue
				}
				gemm6x16AVX512(kb, ap, bp, tmp, nr, alpha, 0)
			} else {
				micro(lvl, kb, ap, bp, tmp, nr, alpha, 0)
			}
			for i := 0; i < mm; i++ {
				ci := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nn]
				ti := tmp[i*nr : i*nr+nn]
				if beta == 0 {
					copy(ci, ti)
				} else {
					for j, v := range ti {
						ci[j] = v + beta*ci[j]
					}
				}
			}
		}
	}
}

// packA copies the mb×kb block of op(A) at (ic, pc) into mr-row panels:
// panel q holds rows q*mr.. as dst[q*mr*kb + p*mr + i]; missing rows of the
// last panel are zero.
func packA(dst []float32, transA bool, a []float32, lda, ic, pc, mb, kb, mr int) {
	for i0 := 0; i0 < mb; i0 += mr {
		panel := dst[i0*kb : i0*kb+mr*kb]
		rows := min(mr, mb-i0)
		if transA {
			// op(A)[i][p] = a[p*lda+i]: mr contiguous values per p, copied
			// element by element (a copy call per 4-6 values costs more
			// than the copy).
			for p := 0; p < kb; p++ {
				src := a[(pc+p)*lda+ic+i0:]
				src = src[:rows]
				d := panel[p*mr : p*mr+mr]
				for i, v := range src {
					d[i] = v
				}
				for i := rows; i < mr; i++ {
					d[i] = 0
				}
			}
			continue
		}
		interleave(panel, mr, a[(ic+i0)*lda+pc:], lda, rows, kb)
	}
}

// packB copies the kb×nb block of op(B) at (pc, jc) into nr-column panels:
// panel q holds columns q*nr.. as dst[q*nr*kb + p*nr + j]; missing columns
// of the last panel are zero.
func packB(dst []float32, transB bool, b []float32, ldb, pc, jc, kb, nb, nr int) {
	for j0 := 0; j0 < nb; j0 += nr {
		panel := dst[j0*kb : j0*kb+nr*kb]
		cols := min(nr, nb-j0)
		if !transB {
			for p := 0; p < kb; p++ {
				src := b[(pc+p)*ldb+jc+j0:]
				d := panel[p*nr : p*nr+nr]
				copy(d, src[:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: each column of op(B) is a contiguous row of b.
		interleave(panel, nr, b[(jc+j0)*ldb+pc:], ldb, cols, kb)
	}
}

// interleave sets dst[p*w+i] = src[i*ld+p] for i < rows, p < kb, and zeroes
// dst[p*w+i] for rows <= i < w: it packs rows of a row-major matrix as
// columns of a w-wide panel. Four rows go per pass so that each pass writes
// whole 16-byte runs of the panel.
func interleave(dst []float32, w int, src []float32, ld, rows, kb int) {
	dst = dst[:w*kb]
	i := 0
	if rows == 6 {
		// The AVX2/AVX-512 A panel: whole 24-byte runs per p.
		r0 := src[:kb]
		r1 := src[ld : ld+kb]
		r2 := src[2*ld : 2*ld+kb]
		r3 := src[3*ld : 3*ld+kb]
		r4 := src[4*ld : 4*ld+kb]
		r5 := src[5*ld : 5*ld+kb]
		r1, r2, r3, r4, r5 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)], r4[:len(r0)], r5[:len(r0)]
		for p, v := range r0 {
			d := dst[p*w : p*w+6 : p*w+6]
			d[0], d[1], d[2], d[3], d[4], d[5] = v, r1[p], r2[p], r3[p], r4[p], r5[p]
		}
		i = 6
	}
	for ; i+4 <= rows; i += 4 {
		r0 := src[i*ld : i*ld+kb]
		r1 := src[(i+1)*ld : (i+1)*ld+kb]
		r2 := src[(i+2)*ld : (i+2)*ld+kb]
		r3 := src[(i+3)*ld : (i+3)*ld+kb]
		r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
		for p, v := range r0 {
			d := dst[p*w+i : p*w+i+4 : p*w+i+4]
			d[0], d[1], d[2], d[3] = v, r1[p], r2[p], r3[p]
		}
	}
	for ; i < rows; i++ {
		for p, v := range src[i*ld : i*ld+kb] {
			dst[p*w+i] = v
		}
	}
	if rows < w {
		for p := 0; p < kb; p++ {
			clear(dst[p*w+rows : p*w+w])
		}
	}
}
