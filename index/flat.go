package index

import (
	"math"
	"sync/atomic"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Blocking of the batched flat search: qBlock queries against bBlock base
// vectors per matrix multiply.
const (
	qBlock = 256
	bBlock = 1024
)

// flat is exact search: no structure, every ready slot is compared with the
// query (hnswlib's BruteforceSearch).
type flat struct{}

func (flat) grow(int) {}

// prepare completes every new slot: there is nothing to link.
func (flat) prepare(_ *Index, slots []uint32, _ func(int)) int { return len(slots) }

func (flat) insertThreads(int) int    { return 1 }
func (flat) insert(*Index, uint32)    {}
func (flat) update(*Index, uint32)    {}
func (flat) check(*Index) error       { return nil }
func (flat) stats(*Stats, int)        {}
func (flat) makeWritable(n int) error { return nil }

func (flat) sections(*Index, int, *manifest) []section { return nil }

func (flat) open(*Index, sectionFunc, manifest, uint64, bool) error { return nil }

// search scans every slot for one query. (SearchBatch hands flat indexes
// the whole batch through searchBatch instead.)
func (flat) search(x *Index, q []float32, p searchParams, accept func(uint32) bool, s *scratch) {
	x.flatScan(q, p.k, 0, int(x.nslots.Load()), accept, &s.top)
}

func (flat) searchBatch(x *Index, qs []float32, nq, k int, accept func(uint32) bool, threads int, out [][]Result) {
	x.flatBatch(qs, nq, k, accept, threads, out)
}

// flatBatch is exact search: every ready slot is compared with every query.
// Unfiltered batches of 8 or more queries compute dot products a block at a
// time with Sgemm (distances from ‖q‖² + ‖b‖² − 2q·b for L2); otherwise
// each query scans the base with Dot/SqDist, split across threads.
func (x *Index) flatBatch(qs []float32, nq, k int, accept func(uint32) bool, threads int, out [][]Result) {
	n := int(x.nslots.Load())
	if accept == nil && nq >= 8 {
		x.flatGemm(qs, nq, k, n, threads, out)
		return
	}
	if nq >= threads {
		parallelFor(nq, threads, func(i int) {
			s := getScratch(0)
			q := x.prepQuery(s, qs[i*x.dim:(i+1)*x.dim])
			x.flatScan(q, k, 0, n, accept, &s.top)
			out[i] = x.results(s, k)
			putScratch(s)
		})
		return
	}
	// Few queries, several threads: split the base.
	for i := 0; i < nq; i++ {
		parts := threads
		heaps := make([]*scratch, parts)
		q := x.prepQuery(getScratch(0), qs[i*x.dim:(i+1)*x.dim])
		parallelFor(parts, parts, func(p int) {
			s := getScratch(0)
			x.flatScan(q, k, p*n/parts, (p+1)*n/parts, accept, &s.top)
			heaps[p] = s
		})
		all := heaps[0]
		for _, h := range heaps[1:] {
			for _, it := range h.top {
				all.top.Keep(it, k)
			}
			putScratch(h)
		}
		out[i] = x.results(all, k)
		putScratch(all)
	}
}

func (x *Index) flatScan(q []float32, k, lo, hi int, accept func(uint32) bool, top *maxHeap) {
	*top = (*top)[:0]
	for s := lo; s < hi; s++ {
		if accept != nil {
			if !accept(uint32(s)) {
				continue
			}
		} else if atomic.LoadUint32(&x.flags[s]) != flagReady {
			continue
		}
		top.Keep(item{Key: x.distance(q, x.vec(uint32(s))), Value: uint32(s)}, k)
	}
}

// baseNorms returns the squared norms of the first n slots (L2 only),
// computing the missing ones.
func (x *Index) baseNorms(n int) []float32 {
	x.normMu.Lock()
	defer x.normMu.Unlock()
	if len(x.norms) < n {
		nn := make([]float32, n)
		copy(nn, x.norms[:min(len(x.norms), x.normValid)])
		x.norms = nn
	}
	for i := x.normValid; i < n; i++ {
		v := x.vec(uint32(i))
		x.norms[i] = kernels.Dot(v, v)
	}
	x.normValid = max(x.normValid, n)
	return x.norms[:n]
}

func (x *Index) flatGemm(qs []float32, nq, k, n, threads int, out [][]Result) {
	var norms []float32
	if x.opts.Metric == L2 {
		norms = x.baseNorms(n)
	}
	d := x.dim
	nblocks := (nq + qBlock - 1) / qBlock
	// One level of threads: query blocks in parallel, each multiply on its
	// own goroutine; or, with fewer blocks than threads, the blocks one
	// after the other, each multiply split across the kernels' pool. With
	// threads = 1 nothing runs in parallel.
	gemm, blockThreads := kernels.SgemmSerial, threads
	if threads > 1 && nblocks < threads {
		gemm, blockThreads = kernels.Sgemm, 1
	}
	parallelFor(nblocks, blockThreads, func(b int) {
		q0 := b * qBlock
		qn := min(qBlock, nq-q0)
		qb := make([]float32, qn*d)
		copy(qb, qs[q0*d:(q0+qn)*d])
		qnorm := make([]float32, qn)
		for i := 0; i < qn; i++ {
			v := qb[i*d : (i+1)*d]
			if x.opts.Metric == Cosine {
				normalize(v, "query")
			}
			qnorm[i] = kernels.Dot(v, v)
		}
		heaps := make([]maxHeap, qn)
		for i := range heaps {
			heaps[i] = make(maxHeap, 0, k+1)
		}
		c := make([]float32, qn*bBlock)
		for b0 := 0; b0 < n; b0 += bBlock {
			bn := min(bBlock, n-b0)
			// The multiply leaves in c what the distance needs beyond a
			// per-query constant: ‖b‖² − 2q·b for L2 (c starts as the base
			// norms, beta 1), −q·b otherwise. The selection loop below then
			// only compares c against the k-th best.
			alpha, beta := float32(-1), float32(0)
			if norms != nil {
				alpha, beta = -2, 1
				for i := 0; i < qn; i++ {
					copy(c[i*bn:(i+1)*bn], norms[b0:b0+bn])
				}
			}
			gemm(false, true, qn, bn, d, alpha, qb, d, x.vecs[b0*d:(b0+bn)*d], d, beta, c, bn)
			for i := 0; i < qn; i++ {
				row := c[i*bn : (i+1)*bn]
				h := &heaps[i]
				off := float32(1) // 1 − q·b for cosine and dot
				if norms != nil {
					off = qnorm[i]
				}
				thr := float32(math.Inf(1))
				if len(*h) == k {
					thr = (*h)[0].Key - off
				}
				for j, v := range row {
					if v >= thr {
						continue
					}
					s := uint32(b0 + j)
					if atomic.LoadUint32(&x.flags[s]) != flagReady {
						continue
					}
					dist := v + off
					if norms != nil && dist < 0 {
						dist = 0
					}
					if len(*h) < k {
						h.Push(item{Key: dist, Value: s})
					} else {
						h.ReplaceTop(item{Key: dist, Value: s}) // dist is below the worst kept
					}
					if len(*h) == k {
						thr = (*h)[0].Key - off
					}
				}
			}
		}
		for i := 0; i < qn; i++ {
			list := heaps[i].Drain(nil)
			res := make([]Result, len(list))
			for j, it := range list {
				res[j] = Result{ID: x.labels[it.Value], Distance: it.Key}
			}
			out[q0+i] = res
		}
	})
}
