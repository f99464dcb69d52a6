package bart

import (
	"errors"
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/internal/reorder"
)

// DecoderOptions size a Decoder. The zero value means one row of up to
// max_position_embeddings target and source tokens.
type DecoderOptions struct {
	Batch     int // rows (default 1)
	MaxLen    int // target positions per row (default and maximum max_position_embeddings)
	MaxSource int // source positions per row (default and maximum max_position_embeddings)
	// MaxRows is the number of new tokens one pass computes, all rows
	// together; longer inputs are split into passes (default
	// min(512, Batch*MaxLen)).
	MaxRows int
	// AllLogits computes the logits at every new position, read with
	// AllLogits; by default only each row's last position gets logits.
	AllLogits bool
	// CaptureCross keeps every cross-attention probability (per layer,
	// head, target position and source position), read with
	// CrossAttention. It costs 4·L·nh·MaxLen·MaxSource bytes per row.
	CaptureCross bool
}

// Decoder holds, for a batch of rows, the decoder's self-attention
// key/value cache, the cross-attention keys and values computed once from
// each row's encoder output, and every buffer a pass needs, allocated once
// (like gpt2.State). A Decoder is not safe for concurrent use.
type Decoder struct {
	m   *Model
	opt DecoderOptions
	nb  int // Batch + 1: the last row is Reorder's spare

	lens    []int // target tokens cached per row
	srcLens []int // source tokens per row (0: no source yet)

	selfK, selfV   []float32 // [L, nb, MaxLen, C]
	crossK, crossV []float32 // [L, nb, MaxSource, C]
	cross          []float32 // [L, nb, nh, MaxLen, MaxSource] with CaptureCross

	x, h, qkv, q, att, ff []float32 // pass buffers, [R, ·]
	probs                 []float32 // [nh, n, ctx] per segment
	last                  []float32 // [Batch, C]
	lg                    []float32 // [Batch, Vt]
	logits                []float32 // [nb, Vt] latest last-position logits
	hidden                []float32 // [nb, C] the decoder output those logits came from
	hasLog                []bool
	all                   []float32 // [N, Vt] with AllLogits
	allOff, allN          []int

	segs   []segment
	lastOf []int
	job    attnJob
}

// NewDecoder allocates a Decoder for m. Rows get their source with
// SetSource before their first Forward.
func (m *Model) NewDecoder(opt DecoderOptions) *Decoder {
	c := m.Config
	if opt.Batch <= 0 {
		opt.Batch = 1
	}
	if opt.MaxLen <= 0 || opt.MaxLen > c.MaxPositions {
		opt.MaxLen = c.MaxPositions
	}
	if opt.MaxSource <= 0 || opt.MaxSource > c.MaxPositions {
		opt.MaxSource = c.MaxPositions
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = min(512, opt.Batch*opt.MaxLen)
	}
	B, S, Ss, R := opt.Batch, opt.MaxLen, opt.MaxSource, opt.MaxRows
	C, F, L, nh, Vt := c.DModel, c.DecoderFFN, c.DecoderLayers, c.DecoderHeads, c.DecoderVocab
	nb := B + 1
	d := &Decoder{
		m: m, opt: opt, nb: nb,
		lens: make([]int, nb), srcLens: make([]int, nb),
		selfK: make([]float32, L*nb*S*C), selfV: make([]float32, L*nb*S*C),
		crossK: make([]float32, L*nb*Ss*C), crossV: make([]float32, L*nb*Ss*C),
		x: make([]float32, R*C), h: make([]float32, R*C), qkv: make([]float32, R*3*C),
		q: make([]float32, R*C), att: make([]float32, R*C), ff: make([]float32, R*F),
		probs: make([]float32, nh*R*max(S, Ss)),
		last:  make([]float32, B*C), lg: make([]float32, B*Vt),
		logits: make([]float32, nb*Vt), hidden: make([]float32, nb*C), hasLog: make([]bool, nb),
		allOff: make([]int, B), allN: make([]int, B),
		segs: make([]segment, 0, B), lastOf: make([]int, 0, B),
	}
	if opt.CaptureCross {
		d.cross = make([]float32, L*nb*nh*S*Ss)
	}
	d.job = attnJob{nh: nh, hs: C / nh, C: C, scale: float32(1 / math.Sqrt(float64(C/nh))), probs: d.probs, out: d.att}
	d.job.run = d.job.tasks
	return d
}

// NewDecoderFor allocates a Decoder sized for enc and gives each row its
// source: row b takes source b when enc has Batch rows (the default Batch
// is enc.Rows()), or source 0 when enc has one (beams of one source).
// MaxSource defaults to the longest source.
func (m *Model) NewDecoderFor(enc *Encoded, opt DecoderOptions) (*Decoder, error) {
	if opt.Batch <= 0 {
		opt.Batch = enc.Rows()
	}
	if enc.Rows() != opt.Batch && enc.Rows() != 1 {
		return nil, fmt.Errorf("bart: %d sources for a decoder of %d rows (want %d or 1)", enc.Rows(), opt.Batch, opt.Batch)
	}
	if opt.MaxSource <= 0 {
		for b := range enc.Rows() {
			opt.MaxSource = max(opt.MaxSource, enc.Len(b))
		}
	}
	d := m.NewDecoder(opt)
	for b := range opt.Batch {
		src := b
		if enc.Rows() == 1 {
			src = 0
		}
		if err := d.SetSource(b, enc, src); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Model returns the model the Decoder runs.
func (d *Decoder) Model() *Model { return d.m }

// Options returns the sizes the Decoder was made with (defaults filled in).
func (d *Decoder) Options() DecoderOptions { return d.opt }

// Len returns the number of target tokens cached for row.
func (d *Decoder) Len(row int) int { return d.lens[row] }

// SourceLen returns the number of source tokens of row (0 before
// SetSource).
func (d *Decoder) SourceLen(row int) int { return d.srcLens[row] }

// selfCache returns the self-attention keys and values of layer l, row b:
// [MaxLen, C].
func (d *Decoder) selfCache(l, b int) (k, v []float32) {
	S, C := d.opt.MaxLen, d.m.Config.DModel
	o := (l*d.nb + b) * S * C
	return d.selfK[o : o+S*C], d.selfV[o : o+S*C]
}

// crossCache returns the cross-attention keys and values of layer l, row
// b: [MaxSource, C].
func (d *Decoder) crossCache(l, b int) (k, v []float32) {
	S, C := d.opt.MaxSource, d.m.Config.DModel
	o := (l*d.nb + b) * S * C
	return d.crossK[o : o+S*C], d.crossV[o : o+S*C]
}

// crossProbs returns the captured cross-attention probabilities of layer
// l, row b, head h: [MaxLen, MaxSource].
func (d *Decoder) crossProbs(l, b, h int) []float32 {
	S, Ss, nh := d.opt.MaxLen, d.opt.MaxSource, d.m.Config.DecoderHeads
	o := ((l*d.nb+b)*nh + h) * S * Ss
	return d.cross[o : o+S*Ss]
}

// SetSource empties row's target cache and computes its cross-attention
// keys and values at every layer from source encRow of enc.
func (d *Decoder) SetSource(row int, enc *Encoded, encRow int) error {
	c := d.m.Config
	C := c.DModel
	if row < 0 || row >= d.opt.Batch {
		return fmt.Errorf("bart: SetSource: row %d outside [0, %d)", row, d.opt.Batch)
	}
	if encRow < 0 || encRow >= enc.Rows() {
		return fmt.Errorf("bart: SetSource: source %d outside [0, %d)", encRow, enc.Rows())
	}
	if enc.C != C {
		return fmt.Errorf("bart: SetSource: encoder states are %d wide, the model %d", enc.C, C)
	}
	n := enc.Len(encRow)
	if n > d.opt.MaxSource {
		return fmt.Errorf("bart: SetSource: source %d has %d tokens, more than this decoder's MaxSource %d: %w", encRow, n, d.opt.MaxSource, ErrContext)
	}
	states := enc.States(encRow)
	for l := range d.m.Weights.Decoder {
		a := &d.m.Weights.Decoder[l].CrossAttn
		k, v := d.crossCache(l, row)
		linear(k, states, n, C, C, a.KW, a.KB)
		linear(v, states, n, C, C, a.VW, a.VB)
	}
	d.srcLens[row] = n
	d.lens[row] = 0
	d.hasLog[row] = false
	return nil
}

// Reset empties every row's target cache (sources are kept).
func (d *Decoder) Reset() {
	for i := range d.lens {
		d.lens[i] = 0
		d.hasLog[i] = false
	}
}

// Truncate drops row's cached target tokens from position n on, so that
// the next Forward continues from there (n must not exceed Len(row)).
func (d *Decoder) Truncate(row, n int) {
	if n < 0 || n > d.lens[row] {
		panic(fmt.Sprintf("bart: Truncate(%d, %d) with %d tokens cached", row, n, d.lens[row]))
	}
	d.lens[row] = n
	d.hasLog[row] = false
}

// Logits returns the logits [Vt] after the last token given for row (by
// this or an earlier Forward), or nil if it has none. The slice is the
// Decoder's buffer, overwritten by the next Forward that includes row.
func (d *Decoder) Logits(row int) []float32 {
	if !d.hasLog[row] {
		return nil
	}
	V := d.m.Config.DecoderVocab
	return d.logits[row*V : (row+1)*V]
}

// Hidden returns the decoder's final hidden state [C] that row's logits
// were computed from (the input of lm_head at its last position), or nil
// if it has none. The slice is the Decoder's buffer, overwritten by the
// next Forward that includes row.
func (d *Decoder) Hidden(row int) []float32 {
	if !d.hasLog[row] {
		return nil
	}
	C := d.m.Config.DModel
	return d.hidden[row*C : (row+1)*C]
}

// AllLogits returns the logits [T, Vt] at each of the T tokens given for
// row in the last Forward, which needs DecoderOptions.AllLogits. The slice
// is the Decoder's buffer.
func (d *Decoder) AllLogits(row int) []float32 {
	V := d.m.Config.DecoderVocab
	return d.all[d.allOff[row]*V : (d.allOff[row]+d.allN[row])*V]
}

// CrossAttention returns the cross-attention probabilities over row's
// source tokens [SourceLen(row)] of target position pos at layer and head;
// nil without DecoderOptions.CaptureCross or for a position not cached.
// The slice is the Decoder's buffer.
func (d *Decoder) CrossAttention(row, layer, head, pos int) []float32 {
	if d.cross == nil || pos < 0 || pos >= d.lens[row] {
		return nil
	}
	Ss := d.opt.MaxSource
	return d.crossProbs(layer, row, head)[pos*Ss : pos*Ss+d.srcLens[row]]
}

// Forward appends tokens[b] to row b's target (for b < len(tokens); an
// empty or missing entry leaves the row as it is) and computes the logits
// after each row's last new token. Ids are checked against the target
// vocabulary and lengths against MaxLen (ErrContext); on error nothing has
// changed. The first token of a target is usually
// Config.DecoderStartTokenID.
func (d *Decoder) Forward(tokens [][]int) error {
	c := d.m.Config
	if len(tokens) > d.opt.Batch {
		return fmt.Errorf("bart: %d rows for a decoder of batch %d", len(tokens), d.opt.Batch)
	}
	total := 0
	for b, t := range tokens {
		if len(t) == 0 {
			continue
		}
		if d.srcLens[b] == 0 {
			return fmt.Errorf("bart: row %d has no source (SetSource)", b)
		}
		if n := d.lens[b] + len(t); n > d.opt.MaxLen {
			return fmt.Errorf("bart: row %d would hold %d target tokens, more than this decoder's %d (max_position_embeddings %d): %w",
				b, n, d.opt.MaxLen, c.MaxPositions, ErrContext)
		}
		if err := checkIDs("row", b, t, c.DecoderVocab); err != nil {
			return err
		}
		total += len(t)
	}
	V := c.DecoderVocab
	if d.opt.AllLogits {
		if need := total * V; cap(d.all) < need {
			d.all = make([]float32, need)
		}
		d.all = d.all[:total*V]
		off := 0
		for b := range d.opt.Batch {
			d.allOff[b], d.allN[b] = off, 0
			if b < len(tokens) {
				d.allN[b] = len(tokens[b])
				off += len(tokens[b])
			}
		}
	}
	b, cur, done := 0, 0, 0
	for done < total {
		d.segs = d.segs[:0]
		rows := 0
		for b < len(tokens) && rows < d.opt.MaxRows {
			n := min(len(tokens[b])-cur, d.opt.MaxRows-rows)
			if n > 0 {
				d.segs = append(d.segs, segment{seq: b, toks: tokens[b][cur : cur+n], row: rows, pos0: d.lens[b],
					last: cur+n == len(tokens[b])})
				rows += n
				cur += n
			}
			if cur == len(tokens[b]) {
				b, cur = b+1, 0
			}
		}
		d.pass(rows, done)
		for _, g := range d.segs {
			d.lens[g.seq] += len(g.toks)
		}
		done += rows
	}
	return nil
}

// pass runs the decoder over the rows of d.segs; first is the index of its
// first row among all rows of the Forward call (for AllLogits).
func (d *Decoder) pass(rows, first int) {
	m := d.m
	c, w := m.Config, &m.Weights
	C, F := c.DModel, c.DecoderFFN
	x, h, qkv, q, ff := d.x[:rows*C], d.h[:rows*C], d.qkv[:rows*3*C], d.q[:rows*C], d.ff[:rows*F]
	m.embed(x, d.segs, w.DecEmbed, w.DecPos, w.DecEmbLNG, w.DecEmbLNB)
	j := &d.job
	j.segs = d.segs
	for l := range w.Decoder {
		L := &w.Decoder[l]
		// Self-attention over the cached target, causal.
		linear(qkv, m.preNorm(h, x, L.SelfLNG, L.SelfLNB, rows), rows, C, 3*C, m.selfQKV[l], m.selfQKVB[l])
		for i := range d.segs {
			g := &d.segs[i]
			k, v := d.selfCache(l, g.seq)
			for t := range g.toks {
				r, p := g.row+t, g.pos0+t
				copy(k[p*C:(p+1)*C], qkv[r*3*C+C:r*3*C+2*C])
				copy(v[p*C:(p+1)*C], qkv[r*3*C+2*C:r*3*C+3*C])
			}
			g.k, g.v = k, v
		}
		j.q, j.ldq, j.causal = qkv, 3*C, true
		j.layout()
		j.attend()
		linear(h, d.att[:rows*C], rows, C, C, L.SelfAttn.OW, L.SelfAttn.OB)
		m.residual(x, h, L.SelfLNG, L.SelfLNB, rows)

		// Cross-attention over the row's source.
		linear(q, m.preNorm(h, x, L.CrossLNG, L.CrossLNB, rows), rows, C, C, L.CrossAttn.QW, L.CrossAttn.QB)
		for i := range d.segs {
			g := &d.segs[i]
			g.k, g.v = d.crossCache(l, g.seq)
			g.ctx = d.srcLens[g.seq]
		}
		j.q, j.ldq, j.causal = q, C, false
		j.layout()
		j.attend()
		if d.cross != nil {
			d.capture(l)
		}
		linear(h, d.att[:rows*C], rows, C, C, L.CrossAttn.OW, L.CrossAttn.OB)
		m.residual(x, h, L.CrossLNG, L.CrossLNB, rows)

		// Feed-forward.
		linear(ff, m.preNorm(h, x, L.FinalLNG, L.FinalLNB, rows), rows, C, F, L.FC1W, L.FC1B)
		activate(c.Activation, ff)
		linear(h, ff, rows, F, C, L.FC2W, L.FC2B)
		m.residual(x, h, L.FinalLNG, L.FinalLNB, rows)
	}
	if c.PreLayerNorm {
		kernels.LayerNorm(x, x, w.DecFinalLNG, w.DecFinalLNB, rows, C, c.LayerNormEps)
	}
	d.lmHead(rows, first)
}

// capture copies layer l's cross-attention probabilities of this pass into
// the capture buffer.
func (d *Decoder) capture(l int) {
	nh, Ss := d.m.Config.DecoderHeads, d.opt.MaxSource
	for _, g := range d.segs {
		n := len(g.toks)
		for h := range nh {
			P := d.probs[g.poff+h*n*g.ctx : g.poff+(h+1)*n*g.ctx]
			dst := d.crossProbs(l, g.seq, h)
			for i := range n {
				copy(dst[(g.pos0+i)*Ss:(g.pos0+i)*Ss+g.ctx], P[i*g.ctx:(i+1)*g.ctx])
			}
		}
	}
}

// lmHead computes logits = h·LMHeadᵀ + final_logits_bias at every row for
// AllLogits, else at each row's last new token only.
func (d *Decoder) lmHead(rows, first int) {
	m := d.m
	c, w := m.Config, &m.Weights
	C, V := c.DModel, c.DecoderVocab
	if d.opt.AllLogits {
		out := d.all[first*V : (first+rows)*V]
		linear(out, d.x, rows, C, V, w.LMHead, w.FinalLogitsBias)
		for _, g := range d.segs {
			if g.last {
				r := g.row + len(g.toks) - 1
				copy(d.logits[g.seq*V:(g.seq+1)*V], out[r*V:(r+1)*V])
				copy(d.hidden[g.seq*C:(g.seq+1)*C], d.x[r*C:(r+1)*C])
				d.hasLog[g.seq] = true
			}
		}
		return
	}
	d.lastOf = d.lastOf[:0]
	for _, g := range d.segs {
		if !g.last {
			continue
		}
		k := len(d.lastOf)
		r := g.row + len(g.toks) - 1
		copy(d.last[k*C:(k+1)*C], d.x[r*C:(r+1)*C])
		copy(d.hidden[g.seq*C:(g.seq+1)*C], d.x[r*C:(r+1)*C])
		d.lastOf = append(d.lastOf, g.seq)
	}
	switch k := len(d.lastOf); k {
	case 0:
	case 1:
		b := d.lastOf[0]
		linear(d.logits[b*V:(b+1)*V], d.last, 1, C, V, w.LMHead, w.FinalLogitsBias)
		d.hasLog[b] = true
	default:
		linear(d.lg, d.last, k, C, V, w.LMHead, w.FinalLogitsBias)
		for i, b := range d.lastOf {
			copy(d.logits[b*V:(b+1)*V], d.lg[i*V:(i+1)*V])
			d.hasLog[b] = true
		}
	}
}

// CopySeq makes row dst a copy of row src: its self-attention cache, its
// source's cross-attention keys and values, captured probabilities, length
// and last logits. Copying a row to itself does nothing.
func (d *Decoder) CopySeq(dst, src int) {
	if dst < 0 || dst >= d.nb || src < 0 || src >= d.nb {
		panic(fmt.Sprintf("bart: CopySeq(%d, %d) in a decoder of batch %d", dst, src, d.opt.Batch))
	}
	if dst == src {
		return
	}
	c := d.m.Config
	C := c.DModel
	n, ns := d.lens[src]*C, d.srcLens[src]*C
	for l := range c.DecoderLayers {
		kd, vd := d.selfCache(l, dst)
		ks, vs := d.selfCache(l, src)
		copy(kd[:n], ks[:n])
		copy(vd[:n], vs[:n])
		kd, vd = d.crossCache(l, dst)
		ks, vs = d.crossCache(l, src)
		copy(kd[:ns], ks[:ns])
		copy(vd[:ns], vs[:ns])
		if d.cross != nil {
			m := d.lens[src] * d.opt.MaxSource
			for h := range c.DecoderHeads {
				copy(d.crossProbs(l, dst, h)[:m], d.crossProbs(l, src, h)[:m])
			}
		}
	}
	d.lens[dst], d.srcLens[dst], d.hasLog[dst] = d.lens[src], d.srcLens[src], d.hasLog[src]
	if d.hasLog[src] {
		V := c.DecoderVocab
		copy(d.logits[dst*V:(dst+1)*V], d.logits[src*V:(src+1)*V])
		copy(d.hidden[dst*C:(dst+1)*C], d.hidden[src*C:(src+1)*C])
	}
}

// Reorder makes row b a copy of what row from[b] holds now, for every
// b < len(from), as CopySeq would if each copy read the rows as they were
// before the call (transformers' reorder_cache; cross-attention keys and
// values move too). Several rows may take the same source; a row whose
// source is itself is left alone. A cycle (a permutation) goes through row
// spare, which must lie outside [0, len(from)) and is then lost; spare -1
// uses the Decoder's own spare row. It allocates nothing for up to 64
// rows.
func (d *Decoder) Reorder(from []int, spare int) {
	if spare < 0 {
		spare = d.nb - 1
	}
	reorder.Rows("bart", from, spare, d.opt.Batch, d.nb, d.CopySeq)
}

// Forward is the teacher-forced pass: it encodes src and returns the
// logits at every position of tgt, [len(tgt), Vt] row-major (the target
// usually starts with Config.DecoderStartTokenID).
func (m *Model) Forward(src, tgt []int) ([]float32, error) {
	if len(tgt) == 0 {
		return nil, errors.New("bart: Forward: empty target")
	}
	if len(tgt) > m.Config.MaxPositions {
		return nil, fmt.Errorf("bart: Forward: %d target tokens, more than max_position_embeddings %d: %w", len(tgt), m.Config.MaxPositions, ErrContext)
	}
	enc, err := m.Encode([][]int{src})
	if err != nil {
		return nil, err
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{Batch: 1, MaxLen: len(tgt), AllLogits: true})
	if err != nil {
		return nil, err
	}
	if err := d.Forward([][]int{tgt}); err != nil {
		return nil, err
	}
	return d.AllLogits(0), nil
}
