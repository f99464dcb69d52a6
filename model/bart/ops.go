package bart

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// linear computes dst = src·Wᵀ + bias for rows rows: src is [rows, in],
// W is nn.Linear's [out, in], dst is [rows, out].
func linear(dst, src []float32, rows, in, out int, W, bias []float32) {
	for r := range rows {
		copy(dst[r*out:(r+1)*out], bias)
	}
	kernels.Sgemm(false, true, rows, out, in, 1, src, in, W, in, 1, dst, out)
}

// activate applies the configured activation to x in place.
func activate(act string, x []float32) {
	switch act {
	case "gelu":
		kernels.GeluErf(x, x)
	case "gelu_new":
		kernels.GeluTanh(x, x)
	case "relu":
		pointwise(x, relu)
	case "silu":
		pointwise(x, silu)
	}
}

// parallelPointwise is the length from which pointwise splits x across
// threads (a decoding step's few thousand values stay on one thread, with
// no closure allocated).
const parallelPointwise = 1 << 15

// pointwise applies f to x, split across threads when x is long.
func pointwise(x []float32, f func([]float32)) {
	if len(x) < parallelPointwise {
		f(x)
		return
	}
	kernels.Parallel(len(x), 4096, func(lo, hi int) { f(x[lo:hi]) })
}

func relu(x []float32) {
	for i, v := range x {
		x[i] = max(v, 0)
	}
}

// silu computes x·sigmoid(x) (swish) in place, as torch's silu does in
// float32 up to rounding.
func silu(x []float32) {
	for i, v := range x {
		x[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
	}
}

// segment is the rows of one sequence in a pass: n new tokens (or source
// tokens) starting at position pos0, packed at row row of the pass buffers.
type segment struct {
	seq  int
	toks []int
	row  int
	pos0 int
	last bool // ends the row's tokens of this Forward

	// Set for each attention call.
	k, v []float32 // keys and values [ctx, C] of this segment's sequence
	ctx  int       // keys attended (causal: position pos0+i sees pos0+i+1)
	poff int       // offset of this segment's [nh, n, ctx] probabilities
}

// attnJob is multi-head attention over the segments of a pass, split
// across threads by (segment, head). Its fields are set before each call;
// run is bound once so that a call allocates nothing.
type attnJob struct {
	segs   []segment
	nh, hs int
	C      int
	scale  float32
	q      []float32 // query of pass row r at q[r*ldq:], head h at +h*hs
	ldq    int
	causal bool
	probs  []float32 // per segment [nh, n, ctx] at its poff
	out    []float32 // [R, C]
	run    func(lo, hi int)
}

// layout sets each segment's ctx and poff and returns the probabilities
// needed. kv gives a segment's keys and values (nil: keep them).
func (j *attnJob) layout() int {
	off := 0
	for i := range j.segs {
		g := &j.segs[i]
		if j.causal {
			g.ctx = g.pos0 + len(g.toks)
		}
		g.poff = off
		off += j.nh * len(g.toks) * g.ctx
	}
	return off
}

// tasks runs (segment, head) tasks [lo, hi).
func (j *attnJob) tasks(lo, hi int) {
	for t := lo; t < hi; t++ {
		j.task(&j.segs[t/j.nh], t%j.nh)
	}
}

// task computes head h of segment g: probabilities softmax(scale·q·kᵀ) over
// the keys each query may see, then their weighted sum of the values.
func (j *attnJob) task(g *segment, h int) {
	n, ctx, C, hs := len(g.toks), g.ctx, j.C, j.hs
	P := j.probs[g.poff+h*n*ctx : g.poff+(h+1)*n*ctx]
	k, v := g.k[h*hs:], g.v[h*hs:]
	if n < 4 {
		for i := range n {
			r := g.row + i
			q := j.q[r*j.ldq+h*hs : r*j.ldq+(h+1)*hs]
			row := P[i*ctx : (i+1)*ctx]
			seen := j.seen(g, i)
			for t := range seen {
				row[t] = j.scale * kernels.Dot(q, k[t*C:t*C+hs])
			}
			kernels.Softmax(row[:seen])
			clear(row[seen:])
			o := j.out[r*C+h*hs : r*C+(h+1)*hs]
			clear(o)
			for t := range seen {
				kernels.Axpy(row[t], v[t*C:t*C+hs], o)
			}
		}
		return
	}
	kernels.SgemmSerial(false, true, n, ctx, hs, j.scale, j.q[g.row*j.ldq+h*hs:], j.ldq, k, C, 0, P, ctx)
	for i := range n {
		row := P[i*ctx : (i+1)*ctx]
		seen := j.seen(g, i)
		kernels.Softmax(row[:seen])
		clear(row[seen:])
	}
	kernels.SgemmSerial(false, false, n, hs, ctx, 1, P, ctx, v, C, 0, j.out[g.row*C+h*hs:], C)
}

// seen is the number of keys query i of segment g attends to.
func (j *attnJob) seen(g *segment, i int) int {
	if j.causal {
		return g.pos0 + i + 1
	}
	return g.ctx
}

// attendSerial is the number of multiply-adds (scores and weighted sum,
// all heads) below which attention stays on the calling thread: a decoding
// step over a short context costs less than handing work to another thread.
const attendSerial = 1 << 16

// attend runs the job over every (segment, head).
func (j *attnJob) attend() {
	work := 0
	for i := range j.segs {
		work += 2 * len(j.segs[i].toks) * j.segs[i].ctx * j.nh * j.hs
	}
	if work < attendSerial {
		j.tasks(0, len(j.segs)*j.nh)
		return
	}
	kernels.Parallel(len(j.segs)*j.nh, 1, j.run)
}
