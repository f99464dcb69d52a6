package kernels

import (
	"sync"
	"sync/atomic"
)

// blockKernel names one of the kernels of the 16-bit weight layouts that
// runBlocks can call.
type blockKernel int

const (
	bfDot8   blockKernel = iota // bfdot8x16AVX512BF16: eight bf16-rounded rows
	bfGemm4                     // bfgemm4x16AVX512: four rows
	bfGemv                      // bfgemvL: one row
	f16Gemm8                    // f16gemm8x16AVX512: eight rows
	f16Gemm4                    // f16gemm4x16AVX512: four rows
	f16Gemv                     // f16gemvL: one row
)

// blockCall is one kernel call's operands but the column blocks: rows of
// activations a (lda apart) times packed weights b (each block kp·16
// values) plus bias. A concrete type rather than a closure, so that the
// stack buffer runBlocks hands it does not escape to the heap.
type blockCall struct {
	kern   blockKernel
	lvl    int // kernel level, for the one-row kernels
	k, kp  int // the activations' length; a block's packed length per column
	a      []float32
	abf    []uint16 // bfDot8: the activations rounded to bf16
	lda    int
	b      []uint16
	bias   []float32
	blockN int // values per packed block: kp·16
}

// run writes the rows×16 outputs of nblk column blocks from block blk
// into c (leading dimension ldc).
func (bc *blockCall) run(nblk, blk int, c []float32, ldc int) {
	b := bc.b[blk*bc.blockN : (blk+nblk)*bc.blockN]
	bias := bc.bias[blk*16 : (blk+nblk)*16]
	switch bc.kern {
	case bfDot8:
		bfdot8x16AVX512BF16(nblk, bc.kp, bc.abf, bc.lda, b, bias, c, ldc)
	case bfGemm4:
		bfgemm4x16AVX512(nblk, bc.k, bc.a, bc.lda, b, bias, c, ldc)
	case bfGemv:
		bfgemvL(bc.lvl, nblk, bc.k, bc.a, b, bias, c[:nblk*16])
	case f16Gemm8:
		f16gemm8x16AVX512(nblk, bc.k, bc.a, bc.lda, b, bias, c, ldc)
	case f16Gemm4:
		f16gemm4x16AVX512(nblk, bc.k, bc.a, bc.lda, b, bias, c, ldc)
	case f16Gemv:
		f16gemvL(bc.lvl, nblk, bc.k, bc.a, b, bias, c[:nblk*16])
	}
}

// runBlocks applies bc to column blocks [b0, b1) of the rows×n output c
// (row-major, leading dimension ldc; c starts at the first row's column
// 0). Whole blocks [b0, n/16) are written in place; a last, partial block
// is computed into a stack buffer and only its n mod 16 columns are
// copied out, so kernels always write whole blocks. rows is at most 8.
func runBlocks(rows, n, ldc, b0, b1 int, c []float32, bc *blockCall) {
	const nr = 16
	full := min(b1, n/nr)
	if full > b0 {
		bc.run(full-b0, b0, c[b0*nr:], ldc)
	}
	if b1 > full {
		var tmp [8 * nr]float32
		bc.run(1, full, tmp[:rows*nr], nr)
		for r := 0; r < rows; r++ {
			copy(c[r*ldc+full*nr:r*ldc+n], tmp[r*nr:])
		}
	}
}

// halfJob is one BF16Linear or F16Linear Apply split across the worker
// pool. Chunks of whole column blocks (contiguous runs of the packed
// weights, about bfChunkBytes each, at least four per thread when there
// are enough blocks) are claimed by the threads in memory order, so each
// weight is read once from memory; every row of the call runs over a
// chunk in turn, the second and later ones reading it from L2. Each output
// is computed by one kernel call whoever claims its chunk, so the result
// does not depend on the threads. Jobs are pooled and run is bound once,
// so Apply allocates nothing in the steady state.
type halfJob struct {
	lvl        int
	m          int
	a          []float32
	lda        int
	c          []float32
	ldc        int
	abf        []uint16 // bf16 with VDPBF16PS: the activations in bf16, rows kp apart; or nil
	w          []uint16 // the packed weights: blocks of kp·16 values
	bias       []float32
	n, k, kp   int
	eight      blockKernel // the eight-row kernel, when has8
	four, one  blockKernel // the four-row kernel (when has4) and the one-row kernel
	has8, has4 bool
	unit       int   // column blocks per chunk
	chunks     int64 // number of chunks
	next       int64 // chunks handed out (atomic)
	run        func(lo, hi int)
}

var halfJobs = sync.Pool{New: func() any {
	j := new(halfJob)
	j.run = j.do
	return j
}}

// start runs the job on the pool and puts it back.
func (j *halfJob) start() {
	blocks := (j.n + 15) / 16
	th := Threads()
	j.unit = max(1, min(blocks/(4*th), bfChunkBytes/(j.kp*16*2)))
	j.chunks = int64((blocks + j.unit - 1) / j.unit)
	parts := th
	if j.m == 1 && blocks*j.kp*16*2 < bfParallelBytes {
		parts = 1
	}
	j.next = 0
	Parallel(int(min(j.chunks, int64(parts))), 1, j.run)
	j.a, j.c, j.abf, j.w, j.bias = nil, nil, nil, nil, nil
	halfJobs.Put(j)
}

// call is the kernel call of kind kern for rows [i, i+rows) of the job.
func (j *halfJob) call(kern blockKernel, i, rows int) blockCall {
	bc := blockCall{kern: kern, lvl: j.lvl, k: j.k, kp: j.kp, lda: j.lda, b: j.w, bias: j.bias, blockN: j.kp * 16}
	if kern == bfDot8 {
		bc.k, bc.abf, bc.lda = j.kp, j.abf[i*j.kp:(i+rows)*j.kp], j.kp
	} else {
		bc.a = j.a[i*j.lda : (i+rows-1)*j.lda+j.k]
	}
	return bc
}

// do claims chunks of column blocks until none are left; Parallel's range
// only says how many threads take part. Rows go eight, then four, then
// one at a time, as the kernels the job has allow.
func (j *halfJob) do(lo, hi int) {
	blocks := (j.n + 15) / 16
	for {
		ch := int(atomic.AddInt64(&j.next, 1) - 1)
		if ch >= int(j.chunks) {
			return
		}
		b0, b1 := ch*j.unit, min((ch+1)*j.unit, blocks)
		i := 0
		if j.has8 {
			for ; i+8 <= j.m; i += 8 {
				bc := j.call(j.eight, i, 8)
				runBlocks(8, j.n, j.ldc, b0, b1, j.c[i*j.ldc:(i+7)*j.ldc+j.n], &bc)
			}
		}
		if j.has4 {
			for ; i+4 <= j.m; i += 4 {
				bc := j.call(j.four, i, 4)
				runBlocks(4, j.n, j.ldc, b0, b1, j.c[i*j.ldc:(i+3)*j.ldc+j.n], &bc)
			}
		}
		for ; i < j.m; i++ {
			bc := j.call(j.one, i, 1)
			runBlocks(1, j.n, j.ldc, b0, b1, j.c[i*j.ldc:i*j.ldc+j.n], &bc)
		}
	}
}
