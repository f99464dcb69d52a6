package encdec

import (
	"fmt"

	"github.com/loupe-ml/loupe/internal/reorder"
)

// Sizes are a Decoder's capacity (defaults already filled in by the model
// package) and the decoder geometry of its model.
type Sizes struct {
	Batch, MaxLen, MaxSource, MaxRows int
	AllLogits, CaptureCross           bool
	CaptureHidden                     bool // keep each layer's output at every position (LayerHidden)
	CaptureSelf                       bool // keep every self-attention probability (SelfAttention)

	Layers  int
	Heads   int
	HeadDim int
	Width   int     // d_model: the residual stream X, H and the hidden states
	FFN     int     // width of the FF buffer
	Vocab   int     // target vocabulary: logits per position
	Scale   float32 // attention score scale (1/sqrt(HeadDim), or 1 for T5)
	// MaxLenNote follows MaxLen in the error of a Forward past it (such as
	// " (max_position_embeddings 1024)").
	MaxLenNote string
}

// Decoder is the per-row state of an encoder-decoder model's decoder for a
// batch of rows: self-attention key/value caches, the cross-attention keys
// and values of each row's source, captured cross-attention probabilities,
// the buffers of a pass (allocated once) and the latest logits. The model
// package runs its layers in the pass function given to NewDecoder, over
// the rows Forward packed into Segs, reading and writing X, H, QKV, Q, Att
// and FF, and ends it with LMHead.
type Decoder struct {
	pkg        string
	errContext error
	sz         Sizes
	nb         int // Batch + 1: the last row is Reorder's spare
	inner      int // Heads·HeadDim: width of keys, values and Att

	lens    []int // target tokens cached per row
	srcLens []int // source tokens per row (0: no source yet)

	selfK, selfV   []float32 // [L, nb, MaxLen, inner]
	crossK, crossV []float32 // [L, nb, MaxSource, inner]
	cross          []float32 // [L, nb, nh, MaxLen, MaxSource] with CaptureCross
	selfP          []float32 // [L, nb, nh, MaxLen, MaxLen] with CaptureSelf
	layerH         []float32 // [L, nb, MaxLen, Width] with CaptureHidden

	// Pass buffers: X and H [MaxRows, Width], QKV [MaxRows, 3·inner], Q and
	// Att [MaxRows, inner], FF [MaxRows, FFN].
	X, H, QKV, Q, Att, FF []float32
	// Segs are the segments of the running pass.
	Segs []Segment

	probs        []float32 // [nh, n, ctx] per segment
	last         []float32 // [Batch, Width]
	lg           []float32 // [Batch, Vocab]
	logits       []float32 // [nb, Vocab] latest last-position logits
	hidden       []float32 // [nb, Width] the lm_head inputs of those logits
	hasLog       []bool
	all          []float32 // [N, Vocab] with AllLogits
	allOff, allN []int
	lastOf       []int
	job          Attention
	pass         func(rows, first int)
}

// NewDecoder allocates a Decoder of sizes sz. pass runs the model over the
// rows of Segs (rows in all; first is the index of the first among all rows
// of the Forward call). Errors and panics start with pkg; errors about
// lengths wrap errContext.
func NewDecoder(pkg string, errContext error, sz Sizes, pass func(rows, first int)) *Decoder {
	B, S, Ss, R := sz.Batch, sz.MaxLen, sz.MaxSource, sz.MaxRows
	C, F, L, nh, V := sz.Width, sz.FFN, sz.Layers, sz.Heads, sz.Vocab
	I := nh * sz.HeadDim
	nb := B + 1
	d := &Decoder{
		pkg: pkg, errContext: errContext, sz: sz, nb: nb, inner: I,
		lens: make([]int, nb), srcLens: make([]int, nb),
		selfK: make([]float32, L*nb*S*I), selfV: make([]float32, L*nb*S*I),
		crossK: make([]float32, L*nb*Ss*I), crossV: make([]float32, L*nb*Ss*I),
		X: make([]float32, R*C), H: make([]float32, R*C), QKV: make([]float32, R*3*I),
		Q: make([]float32, R*I), Att: make([]float32, R*I), FF: make([]float32, R*F),
		probs: make([]float32, nh*R*max(S, Ss)),
		last:  make([]float32, B*C), lg: make([]float32, B*V),
		logits: make([]float32, nb*V), hidden: make([]float32, nb*C), hasLog: make([]bool, nb),
		allOff: make([]int, B), allN: make([]int, B),
		Segs: make([]Segment, 0, B), lastOf: make([]int, 0, B),
		pass: pass,
	}
	if sz.CaptureCross {
		d.cross = make([]float32, L*nb*nh*S*Ss)
	}
	if sz.CaptureSelf {
		d.selfP = make([]float32, L*nb*nh*S*S)
	}
	if sz.CaptureHidden {
		d.layerH = make([]float32, L*nb*S*C)
	}
	d.job = Attention{Heads: nh, HeadDim: sz.HeadDim, Stride: I, Scale: sz.Scale, Probs: d.probs, Out: d.Att}
	d.job.run = d.job.tasks
	return d
}

// SourceSizes fills in the Batch (enc.Rows()) and MaxSource (the longest
// source) defaults of a decoder for enc and checks that enc has Batch
// sources or one.
func SourceSizes(pkg string, enc Source, batch, maxSource int) (int, int, error) {
	if batch <= 0 {
		batch = enc.Rows()
	}
	if enc.Rows() != batch && enc.Rows() != 1 {
		return 0, 0, fmt.Errorf("%s: %d sources for a decoder of %d rows (want %d or 1)", pkg, enc.Rows(), batch, batch)
	}
	if maxSource <= 0 {
		for b := range enc.Rows() {
			maxSource = max(maxSource, enc.Len(b))
		}
	}
	return batch, maxSource, nil
}

// SetSources gives each row its source with set(row, source): row b takes
// source b when enc has Batch rows, or source 0 when it has one.
func (d *Decoder) SetSources(enc Source, set func(row, src int) error) error {
	for b := range d.sz.Batch {
		src := b
		if enc.Rows() == 1 {
			src = 0
		}
		if err := set(b, src); err != nil {
			return err
		}
	}
	return nil
}

// Len returns the number of target tokens cached for row.
func (d *Decoder) Len(row int) int { return d.lens[row] }

// SourceLen returns the number of source tokens of row (0 before
// SetSource).
func (d *Decoder) SourceLen(row int) int { return d.srcLens[row] }

// selfCache returns the self-attention keys and values of layer l, row b:
// [MaxLen, inner].
func (d *Decoder) selfCache(l, b int) (k, v []float32) {
	n := d.sz.MaxLen * d.inner
	o := (l*d.nb + b) * n
	return d.selfK[o : o+n], d.selfV[o : o+n]
}

// crossCache returns the cross-attention keys and values of layer l, row
// b: [MaxSource, inner].
func (d *Decoder) crossCache(l, b int) (k, v []float32) {
	n := d.sz.MaxSource * d.inner
	o := (l*d.nb + b) * n
	return d.crossK[o : o+n], d.crossV[o : o+n]
}

// crossProbs returns the captured cross-attention probabilities of layer
// l, row b, head h: [MaxLen, MaxSource].
func (d *Decoder) crossProbs(l, b, h int) []float32 {
	S, Ss := d.sz.MaxLen, d.sz.MaxSource
	o := ((l*d.nb+b)*d.sz.Heads + h) * S * Ss
	return d.cross[o : o+S*Ss]
}

// selfProbs returns the captured self-attention probabilities of layer l,
// row b, head h: [MaxLen, MaxLen], row p holding positions 0..p.
func (d *Decoder) selfProbs(l, b, h int) []float32 {
	S := d.sz.MaxLen
	o := ((l*d.nb+b)*d.sz.Heads + h) * S * S
	return d.selfP[o : o+S*S]
}

// SetSource checks row and source encRow of enc (width wide), has
// project(l, states, n, k, v) write layer l's cross-attention keys and
// values [n, inner] of the source's states [n, width] into k and v, and
// empties row's target cache.
func (d *Decoder) SetSource(row int, enc Source, width, encRow int, project func(l int, states []float32, n int, k, v []float32)) error {
	if row < 0 || row >= d.sz.Batch {
		return fmt.Errorf("%s: SetSource: row %d outside [0, %d)", d.pkg, row, d.sz.Batch)
	}
	if encRow < 0 || encRow >= enc.Rows() {
		return fmt.Errorf("%s: SetSource: source %d outside [0, %d)", d.pkg, encRow, enc.Rows())
	}
	if width != d.sz.Width {
		return fmt.Errorf("%s: SetSource: encoder states are %d wide, the model %d", d.pkg, width, d.sz.Width)
	}
	n := enc.Len(encRow)
	if n > d.sz.MaxSource {
		return fmt.Errorf("%s: SetSource: source %d has %d tokens, more than this decoder's MaxSource %d: %w", d.pkg, encRow, n, d.sz.MaxSource, d.errContext)
	}
	states := enc.States(encRow)
	for l := range d.sz.Layers {
		k, v := d.crossCache(l, row)
		project(l, states, n, k, v)
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

// Truncate drops row's cached target tokens from position n on (n must
// not exceed Len(row); it panics otherwise).
func (d *Decoder) Truncate(row, n int) {
	if n < 0 || n > d.lens[row] {
		panic(fmt.Sprintf("%s: Truncate(%d, %d) with %d tokens cached", d.pkg, row, n, d.lens[row]))
	}
	d.lens[row] = n
	d.hasLog[row] = false
}

// Logits returns the logits [Vocab] after row's last token, or nil.
func (d *Decoder) Logits(row int) []float32 {
	if !d.hasLog[row] {
		return nil
	}
	V := d.sz.Vocab
	return d.logits[row*V : (row+1)*V]
}

// Hidden returns the lm_head input [Width] of row's logits, or nil.
func (d *Decoder) Hidden(row int) []float32 {
	if !d.hasLog[row] {
		return nil
	}
	C := d.sz.Width
	return d.hidden[row*C : (row+1)*C]
}

// AllLogits returns the logits [T, Vocab] at each of the T tokens given for
// row in the last Forward (with Sizes.AllLogits).
func (d *Decoder) AllLogits(row int) []float32 {
	V := d.sz.Vocab
	return d.all[d.allOff[row]*V : (d.allOff[row]+d.allN[row])*V]
}

// CrossAttention returns the captured cross-attention probabilities over
// row's source tokens of target position pos at layer and head; nil
// without Sizes.CaptureCross or for a position not cached.
func (d *Decoder) CrossAttention(row, layer, head, pos int) []float32 {
	if d.cross == nil || pos < 0 || pos >= d.lens[row] {
		return nil
	}
	Ss := d.sz.MaxSource
	return d.crossProbs(layer, row, head)[pos*Ss : pos*Ss+d.srcLens[row]]
}

// SelfAttention returns the captured causal self-attention probabilities
// of row's target position pos at layer and head, over positions 0..pos
// ([pos+1]); nil without Sizes.CaptureSelf or for a position not cached.
func (d *Decoder) SelfAttention(row, layer, head, pos int) []float32 {
	if d.selfP == nil || pos < 0 || pos >= d.lens[row] || layer < 0 || layer >= d.sz.Layers || head < 0 || head >= d.sz.Heads {
		return nil
	}
	S := d.sz.MaxLen
	return d.selfProbs(layer, row, head)[pos*S : pos*S+pos+1]
}

// layerRow returns the captured output of layer l at row b's position p
// ([Width]).
func (d *Decoder) layerRow(l, b, p int) []float32 {
	C := d.sz.Width
	o := ((l*d.nb+b)*d.sz.MaxLen + p) * C
	return d.layerH[o : o+C]
}

// CaptureLayer keeps x ([rows, Width], the residual stream after layer l
// of the running pass) at the positions of Segs, with
// Sizes.CaptureHidden; it does nothing without.
func (d *Decoder) CaptureLayer(l int, x []float32) {
	if d.layerH == nil {
		return
	}
	C := d.sz.Width
	for _, g := range d.Segs {
		for i := range g.Toks {
			r := g.Row + i
			copy(d.layerRow(l, g.Seq, g.Pos0+i), x[r*C:(r+1)*C])
		}
	}
}

// LayerHidden returns the output of decoder layer layer at row's target
// position pos ([Width], before any final norm); nil without
// Sizes.CaptureHidden or for a position not cached.
func (d *Decoder) LayerHidden(row, layer, pos int) []float32 {
	if d.layerH == nil || pos < 0 || pos >= d.lens[row] || layer < 0 || layer >= d.sz.Layers {
		return nil
	}
	return d.layerRow(layer, row, pos)
}

// Forward appends tokens[b] to row b's target (for b < len(tokens); an
// empty or missing entry leaves the row as it is): it checks ids and
// lengths (on error nothing has changed), packs the new tokens into passes
// of at most MaxRows rows and runs the pass function over each.
func (d *Decoder) Forward(tokens [][]int) error {
	if len(tokens) > d.sz.Batch {
		return fmt.Errorf("%s: %d rows for a decoder of batch %d", d.pkg, len(tokens), d.sz.Batch)
	}
	total := 0
	for b, t := range tokens {
		if len(t) == 0 {
			continue
		}
		if d.srcLens[b] == 0 {
			return fmt.Errorf("%s: row %d has no source (SetSource)", d.pkg, b)
		}
		if n := d.lens[b] + len(t); n > d.sz.MaxLen {
			return fmt.Errorf("%s: row %d would hold %d target tokens, more than this decoder's MaxLen %d%s: %w",
				d.pkg, b, n, d.sz.MaxLen, d.sz.MaxLenNote, d.errContext)
		}
		if err := CheckIDs(d.pkg, "row", b, t, d.sz.Vocab); err != nil {
			return err
		}
		total += len(t)
	}
	V := d.sz.Vocab
	if d.sz.AllLogits {
		if need := total * V; cap(d.all) < need {
			d.all = make([]float32, need)
		}
		d.all = d.all[:total*V]
		off := 0
		for b := range d.sz.Batch {
			d.allOff[b], d.allN[b] = off, 0
			if b < len(tokens) {
				d.allN[b] = len(tokens[b])
				off += len(tokens[b])
			}
		}
	}
	b, cur, done := 0, 0, 0
	for done < total {
		d.Segs = d.Segs[:0]
		rows := 0
		for b < len(tokens) && rows < d.sz.MaxRows {
			n := min(len(tokens[b])-cur, d.sz.MaxRows-rows)
			if n > 0 {
				d.Segs = append(d.Segs, Segment{Seq: b, Toks: tokens[b][cur : cur+n], Row: rows, Pos0: d.lens[b],
					Last: cur+n == len(tokens[b])})
				rows += n
				cur += n
			}
			if cur == len(tokens[b]) {
				b, cur = b+1, 0
			}
		}
		d.pass(rows, done)
		for _, g := range d.Segs {
			d.lens[g.Seq] += len(g.Toks)
		}
		done += rows
	}
	return nil
}

// AttendSelf appends the keys and values of the pass rows (columns
// [inner, 2·inner) and [2·inner, 3·inner) of qkv, [rows, 3·inner]) to layer
// l's self-attention cache and runs causal attention of the queries
// (columns [0, inner)) over each row's cache into Att, adding bias.
func (d *Decoder) AttendSelf(l int, qkv []float32, bias Bias) {
	I := d.inner
	for i := range d.Segs {
		g := &d.Segs[i]
		k, v := d.selfCache(l, g.Seq)
		for t := range g.Toks {
			r, p := g.Row+t, g.Pos0+t
			copy(k[p*I:(p+1)*I], qkv[r*3*I+I:r*3*I+2*I])
			copy(v[p*I:(p+1)*I], qkv[r*3*I+2*I:r*3*I+3*I])
		}
		g.K, g.V = k, v
	}
	j := &d.job
	j.Segs, j.Q, j.LDQ, j.Causal, j.Bias = d.Segs, qkv, 3*I, true, bias
	j.Run()
	if d.selfP != nil {
		d.captureSelf(l)
	}
}

// captureSelf copies layer l's self-attention probabilities of this pass
// into the capture buffer (each query's row over the positions it sees).
func (d *Decoder) captureSelf(l int) {
	nh, S := d.sz.Heads, d.sz.MaxLen
	for _, g := range d.Segs {
		n := len(g.Toks)
		for h := range nh {
			P := d.probs[g.POff+h*n*g.Ctx : g.POff+(h+1)*n*g.Ctx]
			dst := d.selfProbs(l, g.Seq, h)
			for i := range n {
				p := g.Pos0 + i
				copy(dst[p*S:p*S+p+1], P[i*g.Ctx:i*g.Ctx+p+1])
			}
		}
	}
}

// AttendCross runs attention of the queries q ([rows, inner]) over each
// row's source keys and values of layer l into Att, without position bias,
// and keeps the probabilities with Sizes.CaptureCross.
func (d *Decoder) AttendCross(l int, q []float32) {
	for i := range d.Segs {
		g := &d.Segs[i]
		g.K, g.V = d.crossCache(l, g.Seq)
		g.Ctx = d.srcLens[g.Seq]
	}
	j := &d.job
	j.Segs, j.Q, j.LDQ, j.Causal, j.Bias = d.Segs, q, d.inner, false, Bias{}
	j.Run()
	if d.cross != nil {
		d.capture(l)
	}
}

// capture copies layer l's cross-attention probabilities of this pass into
// the capture buffer.
func (d *Decoder) capture(l int) {
	nh, Ss := d.sz.Heads, d.sz.MaxSource
	for _, g := range d.Segs {
		n := len(g.Toks)
		for h := range nh {
			P := d.probs[g.POff+h*n*g.Ctx : g.POff+(h+1)*n*g.Ctx]
			dst := d.crossProbs(l, g.Seq, h)
			for i := range n {
				copy(dst[(g.Pos0+i)*Ss:(g.Pos0+i)*Ss+g.Ctx], P[i*g.Ctx:(i+1)*g.Ctx])
			}
		}
	}
}

// LMHead computes logits = X·Wᵀ (+ bias) from the final hidden states in
// X at every row of the pass with Sizes.AllLogits, else at each row's last
// new token only, and keeps each finished row's logits and lm_head input.
func (d *Decoder) LMHead(rows, first int, W, bias []float32) {
	C, V := d.sz.Width, d.sz.Vocab
	if d.sz.AllLogits {
		out := d.all[first*V : (first+rows)*V]
		Linear(out, d.X, rows, C, V, W, bias)
		for _, g := range d.Segs {
			if g.Last {
				r := g.Row + len(g.Toks) - 1
				copy(d.logits[g.Seq*V:(g.Seq+1)*V], out[r*V:(r+1)*V])
				copy(d.hidden[g.Seq*C:(g.Seq+1)*C], d.X[r*C:(r+1)*C])
				d.hasLog[g.Seq] = true
			}
		}
		return
	}
	d.lastOf = d.lastOf[:0]
	for _, g := range d.Segs {
		if !g.Last {
			continue
		}
		k := len(d.lastOf)
		r := g.Row + len(g.Toks) - 1
		copy(d.last[k*C:(k+1)*C], d.X[r*C:(r+1)*C])
		copy(d.hidden[g.Seq*C:(g.Seq+1)*C], d.X[r*C:(r+1)*C])
		d.lastOf = append(d.lastOf, g.Seq)
	}
	switch k := len(d.lastOf); k {
	case 0:
	case 1:
		b := d.lastOf[0]
		Linear(d.logits[b*V:(b+1)*V], d.last, 1, C, V, W, bias)
		d.hasLog[b] = true
	default:
		Linear(d.lg, d.last, k, C, V, W, bias)
		for i, b := range d.lastOf {
			copy(d.logits[b*V:(b+1)*V], d.lg[i*V:(i+1)*V])
			d.hasLog[b] = true
		}
	}
}

// CopySeq makes row dst a copy of row src: its self-attention cache, its
// source's cross-attention keys and values, captured probabilities, length
// and last logits. Copying a row to itself does nothing; rows outside
// [0, Batch] panic.
func (d *Decoder) CopySeq(dst, src int) {
	if dst < 0 || dst >= d.nb || src < 0 || src >= d.nb {
		panic(fmt.Sprintf("%s: CopySeq(%d, %d) in a decoder of batch %d", d.pkg, dst, src, d.sz.Batch))
	}
	if dst == src {
		return
	}
	I := d.inner
	n, ns := d.lens[src]*I, d.srcLens[src]*I
	for l := range d.sz.Layers {
		kd, vd := d.selfCache(l, dst)
		ks, vs := d.selfCache(l, src)
		copy(kd[:n], ks[:n])
		copy(vd[:n], vs[:n])
		kd, vd = d.crossCache(l, dst)
		ks, vs = d.crossCache(l, src)
		copy(kd[:ns], ks[:ns])
		copy(vd[:ns], vs[:ns])
		if d.cross != nil {
			m := d.lens[src] * d.sz.MaxSource
			for h := range d.sz.Heads {
				copy(d.crossProbs(l, dst, h)[:m], d.crossProbs(l, src, h)[:m])
			}
		}
		if d.selfP != nil {
			m := d.lens[src] * d.sz.MaxLen
			for h := range d.sz.Heads {
				copy(d.selfProbs(l, dst, h)[:m], d.selfProbs(l, src, h)[:m])
			}
		}
		if d.layerH != nil && d.lens[src] > 0 {
			C, S := d.sz.Width, d.sz.MaxLen
			od, os := (l*d.nb+dst)*S*C, (l*d.nb+src)*S*C
			m := d.lens[src] * C
			copy(d.layerH[od:od+m], d.layerH[os:os+m])
		}
	}
	d.lens[dst], d.srcLens[dst], d.hasLog[dst] = d.lens[src], d.srcLens[src], d.hasLog[src]
	if d.hasLog[src] {
		V, C := d.sz.Vocab, d.sz.Width
		copy(d.logits[dst*V:(dst+1)*V], d.logits[src*V:(src+1)*V])
		copy(d.hidden[dst*C:(dst+1)*C], d.hidden[src*C:(src+1)*C])
	}
}

// Reorder makes row b a copy of what row from[b] holds now, for every
// b < len(from) (see reorder.Rows); spare -1 is the Decoder's own spare
// row. It allocates nothing for up to reorder.Max rows.
func (d *Decoder) Reorder(from []int, spare int) {
	if spare < 0 {
		spare = d.nb - 1
	}
	reorder.Rows(d.pkg, from, spare, d.sz.Batch, d.nb, d.CopySeq)
}
