package kernels

import "sync"

// rowJob carries the arguments of a row kernel (softmax, layernorm, GELU)
// split across the worker pool. Jobs are pooled and run is bound once, so a
// call allocates nothing (a closure handed to Parallel would escape).
type rowJob struct {
	kind        int
	lvl         int
	dst, x      []float32
	gamma, beta []float32
	dy          []float32 // the gradient GeluTanhBackward applies
	cols        int
	causal      bool
	offset      int
	eps         float32
	run         func(lo, hi int)
}

const (
	rowSoftmax = iota
	rowLayerNorm
	rowGeluTanh
	rowGeluErf
	rowGeluTanhBackward
)

var rowJobs = sync.Pool{New: func() any {
	j := new(rowJob)
	j.run = j.do
	return j
}}

func (j *rowJob) release() {
	j.dst, j.x, j.gamma, j.beta, j.dy = nil, nil, nil, nil, nil
	rowJobs.Put(j)
}

// do runs the job on rows (or, for GELU, elements) [lo, hi).
func (j *rowJob) do(lo, hi int) {
	cols := j.cols
	switch j.kind {
	case rowSoftmax:
		for i := lo; i < hi; i++ {
			n := cols
			if j.causal {
				n = min(max(i+j.offset+1, 1), cols)
			}
			softmaxL(j.lvl, j.x[i*cols:(i+1)*cols], n)
		}
	case rowLayerNorm:
		for i := lo; i < hi; i++ {
			layerNormL(j.lvl, j.dst[i*cols:(i+1)*cols], j.x[i*cols:(i+1)*cols], j.gamma[:cols], j.beta[:cols], j.eps)
		}
	case rowGeluTanh:
		geluTanhL(j.lvl, j.dst[lo:hi], j.x[lo:hi])
	case rowGeluErf:
		geluErfL(j.lvl, j.dst[lo:hi], j.x[lo:hi])
	case rowGeluTanhBackward:
		geluTanhBackwardL(j.lvl, j.dst[lo:hi], j.x[lo:hi], j.dy[lo:hi])
	}
}
