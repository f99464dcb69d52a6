package encdec

import "github.com/loupe-ml/loupe/internal/kernels"

// Segment is the rows of one sequence in a pass: its new tokens (or source
// tokens) Toks starting at position Pos0, packed from row Row of the pass
// buffers.
type Segment struct {
	Seq  int   // the sequence (decoder row or source index)
	Toks []int // the tokens of this pass
	Row  int   // first pass row
	Pos0 int   // position of Toks[0] in the sequence
	Last bool  // ends the sequence's tokens of this Forward

	// Set for each attention call.
	K, V []float32 // keys and values [Ctx, Stride] of this segment's sequence
	Ctx  int       // keys attended (causal: position Pos0+i sees Pos0+i+1)
	POff int       // offset of this segment's [Heads, n, Ctx] probabilities
}

// Bias is a relative position bias table added to the attention scores:
// query position p and key position t read Table[h*Width + i] with
// i = p − t for causal attention and i = Center + t − p otherwise. The
// zero Bias adds nothing.
type Bias struct {
	Table         []float32
	Width, Center int
}

// Attention is multi-head attention over the segments of a pass, split
// across threads by (segment, head): scores Scale·q·kᵀ plus the position
// Bias, softmax over the keys each query sees, weighted sum of the values.
// Its fields are set before each Run; a Run allocates nothing once the
// first has run.
type Attention struct {
	Segs    []Segment
	Heads   int
	HeadDim int
	Stride  int       // row stride of keys, values and Out (Heads·HeadDim)
	Scale   float32   // 1/sqrt(HeadDim) for BART, 1 for T5
	Q       []float32 // query of pass row r at Q[r*LDQ:], head h at +h*HeadDim
	LDQ     int
	Causal  bool // each query sees the keys up to its own position; Ctx is set by Run
	Bias    Bias
	Probs   []float32 // per segment [Heads, n, Ctx] at its POff
	Out     []float32 // [rows, Stride]
	run     func(lo, hi int)
}

// Run sets each segment's POff (and Ctx when causal) and runs every
// (segment, head).
func (j *Attention) Run() {
	off := 0
	for i := range j.Segs {
		g := &j.Segs[i]
		if j.Causal {
			g.Ctx = g.Pos0 + len(g.Toks)
		}
		g.POff = off
		off += j.Heads * len(g.Toks) * g.Ctx
	}
	j.attend()
}

// RunFused copies the keys and values of the fused rows qkv ([rows, 3·Stride]:
// query, key, value) into k and v ([rows, Stride]), points every segment at
// its rows of them and runs the job with Q = qkv (bidirectional
// self-attention of an encoder).
func (j *Attention) RunFused(k, v, qkv []float32, rows int) {
	I := j.Stride
	for r := range rows {
		copy(k[r*I:(r+1)*I], qkv[r*3*I+I:r*3*I+2*I])
		copy(v[r*I:(r+1)*I], qkv[r*3*I+2*I:r*3*I+3*I])
	}
	for i := range j.Segs {
		g := &j.Segs[i]
		g.K, g.V = k[g.Row*I:], v[g.Row*I:]
	}
	j.Q, j.LDQ = qkv, 3*I
	j.Run()
}

// tasks runs (segment, head) tasks [lo, hi).
func (j *Attention) tasks(lo, hi int) {
	for t := lo; t < hi; t++ {
		j.task(&j.Segs[t/j.Heads], t%j.Heads)
	}
}

// addBias adds the position bias of head h, query position p, to the
// scores row[:seen].
func (j *Attention) addBias(row []float32, h, p int) {
	if j.Bias.Table == nil {
		return
	}
	b := j.Bias.Table[h*j.Bias.Width : (h+1)*j.Bias.Width]
	if j.Causal {
		// rel = t − p ≤ 0 at index p − t.
		for t := range row {
			row[t] += b[p-t]
		}
		return
	}
	o := j.Bias.Center - p
	for t := range row {
		row[t] += b[o+t]
	}
}

// task computes head h of segment g: probabilities softmax(scale·q·kᵀ +
// bias) over the keys each query may see, then their weighted sum of the
// values.
func (j *Attention) task(g *Segment, h int) {
	n, ctx, I, hs := len(g.Toks), g.Ctx, j.Stride, j.HeadDim
	P := j.Probs[g.POff+h*n*ctx : g.POff+(h+1)*n*ctx]
	k, v := g.K[h*hs:], g.V[h*hs:]
	if n < 4 {
		for i := range n {
			r := g.Row + i
			q := j.Q[r*j.LDQ+h*hs : r*j.LDQ+(h+1)*hs]
			row := P[i*ctx : (i+1)*ctx]
			seen := j.seen(g, i)
			for t := range seen {
				row[t] = j.Scale * kernels.Dot(q, k[t*I:t*I+hs])
			}
			j.addBias(row[:seen], h, g.Pos0+i)
			kernels.Softmax(row[:seen])
			clear(row[seen:])
			o := j.Out[r*I+h*hs : r*I+(h+1)*hs]
			clear(o)
			for t := range seen {
				kernels.Axpy(row[t], v[t*I:t*I+hs], o)
			}
		}
		return
	}
	kernels.SgemmSerial(false, true, n, ctx, hs, j.Scale, j.Q[g.Row*j.LDQ+h*hs:], j.LDQ, k, I, 0, P, ctx)
	for i := range n {
		row := P[i*ctx : (i+1)*ctx]
		seen := j.seen(g, i)
		j.addBias(row[:seen], h, g.Pos0+i)
		kernels.Softmax(row[:seen])
		clear(row[seen:])
	}
	kernels.SgemmSerial(false, false, n, hs, ctx, 1, P, ctx, v, I, 0, j.Out[g.Row*I+h*hs:], I)
}

// seen is the number of keys query i of segment g attends to.
func (j *Attention) seen(g *Segment, i int) int {
	if j.Causal {
		return g.Pos0 + i + 1
	}
	return g.Ctx
}

// attendSerial is the number of multiply-adds (scores and weighted sum,
// all heads) below which attention stays on the calling thread: a decoding
// step over a short context costs less than handing work to another thread.
const attendSerial = 1 << 16

// attend runs the job over every (segment, head).
func (j *Attention) attend() {
	work := 0
	for i := range j.Segs {
		work += 2 * len(j.Segs[i].Toks) * j.Segs[i].Ctx * j.Heads * j.HeadDim
	}
	if work < attendSerial {
		j.tasks(0, len(j.Segs)*j.Heads)
		return
	}
	if j.run == nil {
		j.run = j.tasks
	}
	kernels.Parallel(len(j.Segs)*j.Heads, 1, j.run)
}
