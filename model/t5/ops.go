package t5

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// linear computes dst = src·Wᵀ for rows rows: src is [rows, in], W is
// nn.Linear's [out, in] (T5 has no biases), dst is [rows, out].
func linear(dst, src []float32, rows, in, out int, W []float32) {
	kernels.Sgemm(false, true, rows, out, in, 1, src, in, W, in, 0, dst, out)
}

// rmsNormSerial is the size from which rmsNorm splits rows across threads.
const rmsNormSerial = 1 << 15

// rmsNorm is T5LayerNorm: dst = g · x / sqrt(mean(x²) + eps) per row of
// width C, without mean subtraction or bias (the mean of squares is
// accumulated in float64, transformers computes it in float32).
func rmsNorm(dst, x, g []float32, rows, C int, eps float32) {
	if rows*C < rmsNormSerial {
		rmsRows(dst, x, g, 0, rows, C, eps)
		return
	}
	kernels.Parallel(rows, 1, func(lo, hi int) { rmsRows(dst, x, g, lo, hi, C, eps) })
}

func rmsRows(dst, x, g []float32, lo, hi, C int, eps float32) {
	for r := lo; r < hi; r++ {
		xr, dr := x[r*C:(r+1)*C], dst[r*C:(r+1)*C]
		s := 0.0
		for _, v := range xr {
			s += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(float64(float32(s/float64(C))+eps)))
		for j, v := range xr {
			dr[j] = g[j] * (v * inv)
		}
	}
}

// activate applies act to x in place.
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

func silu(x []float32) {
	for i, v := range x {
		x[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
	}
}

// feedForward computes T5's DenseReluDense (or its gated form) of the
// normed rows h [rows, C] into out [rows, C]; ff is [rows, F] scratch and,
// for gated models, ff2 [rows, 2F] holds act(wi_0·h) and wi_1·h side by side
// (one matrix multiply with the stacked [2F, C] matrix).
func (m *Model) feedForward(out, h, ff, ff2 []float32, rows int, wi, wo []float32) {
	c := m.Config
	C, F := c.DModel, c.DFF
	if !c.Gated {
		linear(ff, h, rows, C, F, wi)
		activate(c.Activation, ff)
		linear(out, ff, rows, F, C, wo)
		return
	}
	linear(ff2, h, rows, C, 2*F, wi)
	for r := range rows {
		a, b := ff2[r*2*F:r*2*F+F], ff2[r*2*F+F:(r+1)*2*F]
		activate(c.Activation, a)
		kernels.Mul(ff[r*F:(r+1)*F], a, b)
	}
	linear(out, ff, rows, F, C, wo)
}

// bucket is transformers' T5Attention._relative_position_bucket for one
// relative position rel = key position − query position: bidirectional
// (encoder) splits the buckets between the two directions; causal
// (decoder) sees rel ≤ 0 only. Half of a direction's buckets are exact
// distances, the rest logarithmic up to maxDistance. The logarithm is
// computed in float32 as torch does.
func bucket(rel int, bidirectional bool, buckets, maxDistance int) int {
	b := 0
	n := buckets
	if bidirectional {
		n /= 2
		if rel > 0 {
			b += n
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		rel = -min(rel, 0)
	}
	exact := n / 2
	if rel < exact {
		return b + rel
	}
	l := float32(math.Log(float64(float32(rel) / float32(exact))))
	large := exact + int(l/float32(math.Log(float64(maxDistance)/float64(exact)))*float32(n-exact))
	return b + min(large, n-1)
}

// biasTable returns the relative position bias of every head for relative
// positions −(span−1) … span−1 (bidirectional) or 0 … −(span−1) (causal):
// out[h*W + i] with W = 2·span−1 and i = rel + span − 1, or W = span and
// i = −rel. table is relative_attention_bias.weight [buckets, heads].
func biasTable(table []float32, heads, span int, bidirectional bool, buckets, maxDistance int) []float32 {
	W := span
	if bidirectional {
		W = 2*span - 1
	}
	out := make([]float32, heads*W)
	for i := range W {
		rel := -i
		if bidirectional {
			rel = i - (span - 1)
		}
		bk := bucket(rel, bidirectional, buckets, maxDistance)
		for h := range heads {
			out[h*W+i] = table[bk*heads+h]
		}
	}
	return out
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
	k, v []float32 // keys and values [ctx, I] of this segment's sequence
	ctx  int       // keys attended
	poff int       // offset of this segment's [nh, n, ctx] probabilities
}

// attnJob is T5 multi-head attention over the segments of a pass, split
// across threads by (segment, head): scores q·kᵀ (not scaled) plus the
// relative position bias of the head (self-attention) or nothing
// (cross-attention), softmax, weighted sum of the values.
type attnJob struct {
	segs   []segment
	nh, hs int
	I      int       // row stride of keys, values and out: nh·hs
	q      []float32 // query of pass row r at q[r*ldq:], head h at +h*hs
	ldq    int
	causal bool
	// bias, when set, is a biasTable of width biasW: query position p and
	// key position t read bias[h*biasW + biasAt(t−p)].
	bias        []float32
	biasW, bctr int // bctr: index of rel 0 (span−1 bidirectional, 0 causal)
	probs       []float32
	out         []float32 // [R, I]
	run         func(lo, hi int)
}

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

func (j *attnJob) tasks(lo, hi int) {
	for t := lo; t < hi; t++ {
		j.task(&j.segs[t/j.nh], t%j.nh)
	}
}

// addBias adds the position bias of head h, query position p, to the
// scores row[:seen].
func (j *attnJob) addBias(row []float32, h, p int) {
	if j.bias == nil {
		return
	}
	b := j.bias[h*j.biasW : (h+1)*j.biasW]
	if j.causal {
		// rel = t − p ≤ 0 at index p − t.
		for t := range row {
			row[t] += b[p-t]
		}
		return
	}
	o := j.bctr - p
	for t := range row {
		row[t] += b[o+t]
	}
}

func (j *attnJob) task(g *segment, h int) {
	n, ctx, I, hs := len(g.toks), g.ctx, j.I, j.hs
	P := j.probs[g.poff+h*n*ctx : g.poff+(h+1)*n*ctx]
	k, v := g.k[h*hs:], g.v[h*hs:]
	if n < 4 {
		for i := range n {
			r := g.row + i
			q := j.q[r*j.ldq+h*hs : r*j.ldq+(h+1)*hs]
			row := P[i*ctx : (i+1)*ctx]
			seen := j.seen(g, i)
			for t := range seen {
				row[t] = kernels.Dot(q, k[t*I:t*I+hs])
			}
			j.addBias(row[:seen], h, g.pos0+i)
			kernels.Softmax(row[:seen])
			clear(row[seen:])
			o := j.out[r*I+h*hs : r*I+(h+1)*hs]
			clear(o)
			for t := range seen {
				kernels.Axpy(row[t], v[t*I:t*I+hs], o)
			}
		}
		return
	}
	kernels.SgemmSerial(false, true, n, ctx, hs, 1, j.q[g.row*j.ldq+h*hs:], j.ldq, k, I, 0, P, ctx)
	for i := range n {
		row := P[i*ctx : (i+1)*ctx]
		seen := j.seen(g, i)
		j.addBias(row[:seen], h, g.pos0+i)
		kernels.Softmax(row[:seen])
		clear(row[seen:])
	}
	kernels.SgemmSerial(false, false, n, hs, ctx, 1, P, ctx, v, I, 0, j.out[g.row*I+h*hs:], I)
}

func (j *attnJob) seen(g *segment, i int) int {
	if j.causal {
		return g.pos0 + i + 1
	}
	return g.ctx
}

// attendSerial is the number of multiply-adds below which attention stays
// on the calling thread.
const attendSerial = 1 << 16

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
