package gpt2

import (
	"errors"
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// ErrContext is wrapped by Forward's error when a sequence would grow past
// the State's MaxSeq positions (at most the model's n_positions).
var ErrContext = errors.New("context length exceeded")

// Activation is what a Hook sees: one named intermediate value of one
// sequence at one layer. The struct and Data are reused between calls.
type Activation struct {
	Name  string    // "resid_pre", "attn_probs", "mlp_act", "resid_post" or "ln_f"
	Layer int       // block index, -1 for ln_f
	Seq   int       // index of the sequence in the batch
	Pos   int       // position of the first of the T rows (tokens cached before them)
	Shape []int     // [T, C], [nh, T, Tctx] or [T, 4C]; row-major
	Data  []float32 // the model's buffer itself: valid during the call, may be modified in place

	shape [3]int
}

// Hook observes (and may modify) intermediate values during Forward. It is
// called synchronously, in forward order, once per hook point, layer and
// sequence of each pass.
type Hook func(a *Activation)

// StateOptions sizes a State. The zero value means one sequence of up to
// n_positions tokens.
type StateOptions struct {
	Batch   int // number of sequences (default 1)
	MaxSeq  int // positions cached per sequence (default and maximum n_positions)
	MaxRows int // new tokens one pass computes, all sequences together; longer inputs are split into passes (default min(512, Batch*MaxSeq))
}

// ForwardOptions select what Forward computes besides the last logits.
type ForwardOptions struct {
	// AllLogits computes the logits at every new position, read with
	// State.AllLogits. By default only each sequence's last position gets
	// logits (all a generator needs).
	AllLogits bool
	// Hook, if not nil, is called at every hook point.
	Hook Hook
}

// State holds the key/value cache of a batch of sequences and every buffer
// a forward pass needs, allocated once by NewState (llm.c style). A State is
// not safe for concurrent use; use one per goroutine.
type State struct {
	m    *Model
	opt  StateOptions
	lens []int // tokens cached per sequence

	key, val []float32 // [L, B, S, C] caches

	// Activations of one pass of up to R rows (rows = new tokens of all sequences, packed).
	x      []float32 // [R, C] residual stream
	h      []float32 // [R, C] LayerNorm output
	qkv    []float32 // [R, 3C]
	att    []float32 // [R, C] attention output, input of attn.c_proj
	fc     []float32 // [R, 4C] MLP hidden, after GELU
	probs  []float32 // attention probabilities, [nh, n, Tctx] per segment
	last   []float32 // [B, C] ln_f output at each sequence's last row
	lg     []float32 // [B, V] logits computed in one pass
	logits []float32 // [B, V] latest last-position logits per sequence
	hidden []float32 // [B, C] the ln_f output those logits were computed from
	all    []float32 // [N, V] logits at every position (AllLogits), grown on demand
	allOff []int     // per sequence: first row in all
	allN   []int     // per sequence: rows in all
	hasLog []bool    // per sequence: logits holds a value

	segs   []segment // the current pass
	lastOf []int     // sequences whose last row is in this pass, in lg row order
	layer  int       // layer the attention workers work on
	phase  int       // what attendHeads computes: phaseProbs, phaseValues or both
	attnFn func(lo, hi int)

	// One-token attention (decoding): the segment in hand, how many parts
	// its cached positions are split into, each part's partial output
	// ([parts, C]) and the functions Parallel runs, bound once.
	one                  *segment
	oneParts             int
	onePart              []float32
	oneProbsFn, oneValFn func(lo, hi int)
	act                  Activation
}

// segment is the rows of one sequence in a pass.
type segment struct {
	seq   int
	toks  []int // the n new token ids
	row   int   // first row in the pass buffers
	pos0  int   // tokens cached before them
	poff  int   // offset of this segment's [nh, n, Tctx] block in probs
	last  bool  // ends the sequence's input of this Forward
	small bool  // attention by per-head loops instead of matrix multiplies
}

// smallSeg is the segment length below which attention runs as per-head
// dot products split across threads (decoding) instead of per-head
// matrix multiplies (prefill).
var smallSeg = 16

// attnBlock is the row block of prefill attention: each block of query rows
// multiplies only the keys it can see (causal), in one matrix multiply.
var attnBlock = 128

// NewState allocates a State for m.
func (m *Model) NewState(opt StateOptions) *State {
	c := m.Config
	if opt.Batch <= 0 {
		opt.Batch = 1
	}
	if opt.MaxSeq <= 0 || opt.MaxSeq > c.NPositions {
		opt.MaxSeq = c.NPositions
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = min(512, opt.Batch*opt.MaxSeq)
	}
	B, S, R, C, V := opt.Batch, opt.MaxSeq, opt.MaxRows, c.NEmbd, c.VocabSize
	s := &State{
		m: m, opt: opt,
		lens:   make([]int, B),
		key:    make([]float32, c.NLayer*B*S*C),
		val:    make([]float32, c.NLayer*B*S*C),
		x:      make([]float32, R*C),
		h:      make([]float32, R*C),
		qkv:    make([]float32, R*3*C),
		att:    make([]float32, R*C),
		fc:     make([]float32, R*4*C),
		probs:  make([]float32, c.NHead*R*S),
		last:   make([]float32, B*C),
		lg:     make([]float32, B*V),
		logits: make([]float32, B*V),
		hidden: make([]float32, B*C),
		allOff: make([]int, B),
		allN:   make([]int, B),
		hasLog: make([]bool, B),
		segs:   make([]segment, 0, B),
		lastOf: make([]int, 0, B),
	}
	s.attnFn = s.attendHeads
	s.onePart = make([]float32, kernels.Threads()*C)
	s.oneProbsFn, s.oneValFn = s.oneProbs, s.oneValues
	return s
}

// Model returns the model the State runs.
func (s *State) Model() *Model { return s.m }

// Options returns the sizes the State was made with (defaults filled in).
func (s *State) Options() StateOptions { return s.opt }

// Len returns the number of tokens cached for sequence seq.
func (s *State) Len(seq int) int { return s.lens[seq] }

// Reset empties every sequence's cache.
func (s *State) Reset() {
	for i := range s.lens {
		s.lens[i] = 0
		s.hasLog[i] = false
	}
}

// Truncate drops sequence seq's cached tokens from position n on, so that
// the next Forward continues from there (n must not exceed Len(seq)).
func (s *State) Truncate(seq, n int) {
	if n < 0 || n > s.lens[seq] {
		panic(fmt.Sprintf("gpt2: Truncate(%d, %d) with %d tokens cached", seq, n, s.lens[seq]))
	}
	s.lens[seq] = n
	s.hasLog[seq] = false
}

// Logits returns the logits [V] after the last token given for sequence seq
// (by this or an earlier Forward), or nil if it has none. The slice is the
// State's buffer, overwritten by the next Forward that includes seq.
func (s *State) Logits(seq int) []float32 {
	if !s.hasLog[seq] {
		return nil
	}
	V := s.m.Config.VocabSize
	return s.logits[seq*V : (seq+1)*V]
}

// Hidden returns the final hidden state [C] the logits of sequence seq were
// computed from: the ln_f output at its last position (the vector kNN-LM's
// keys are made of), or nil if it has no logits. The slice is the State's
// buffer, overwritten by the next Forward that includes seq.
func (s *State) Hidden(seq int) []float32 {
	if !s.hasLog[seq] {
		return nil
	}
	C := s.m.Config.NEmbd
	return s.hidden[seq*C : (seq+1)*C]
}

// AllLogits returns the logits [T, V] at each of the T tokens given for
// sequence seq in the last Forward, which must have set AllLogits. The
// slice is the State's buffer.
func (s *State) AllLogits(seq int) []float32 {
	V := s.m.Config.VocabSize
	return s.all[s.allOff[seq]*V : (s.allOff[seq]+s.allN[seq])*V]
}

// Forward appends tokens[b] to sequence b's cache (for b < len(tokens);
// an empty or missing entry leaves the sequence as it is) and computes the
// logits after each sequence's last new token. Token ids are checked
// against the vocabulary and lengths against MaxSeq (ErrContext); on error
// nothing has changed.
func (s *State) Forward(tokens [][]int, opt ForwardOptions) error {
	c := s.m.Config
	if len(tokens) > s.opt.Batch {
		return fmt.Errorf("gpt2: %d sequences for a State of batch %d", len(tokens), s.opt.Batch)
	}
	total := 0
	for b, t := range tokens {
		if n := s.lens[b] + len(t); n > s.opt.MaxSeq {
			return fmt.Errorf("gpt2: sequence %d would hold %d tokens, more than the %d positions of this state (model context %d): %w",
				b, n, s.opt.MaxSeq, c.NPositions, ErrContext)
		}
		for _, id := range t {
			if id < 0 || id >= c.VocabSize {
				return fmt.Errorf("gpt2: sequence %d: token id %d out of range [0, %d)", b, id, c.VocabSize)
			}
		}
		total += len(t)
	}
	if opt.AllLogits {
		if need := total * c.VocabSize; cap(s.all) < need {
			s.all = make([]float32, need)
		}
		s.all = s.all[:total*c.VocabSize]
		off := 0
		for b := range s.opt.Batch {
			s.allOff[b], s.allN[b] = off, 0
			if b < len(tokens) {
				s.allN[b] = len(tokens[b])
				off += len(tokens[b])
			}
		}
	}
	// Split the packed rows into passes of at most MaxRows.
	b, cur, done := 0, 0, 0
	for done < total {
		s.segs = s.segs[:0]
		rows := 0
		for b < len(tokens) && rows < s.opt.MaxRows {
			n := min(len(tokens[b])-cur, s.opt.MaxRows-rows)
			if n > 0 {
				s.segs = append(s.segs, segment{seq: b, toks: tokens[b][cur : cur+n], row: rows, pos0: s.lens[b],
					last: cur+n == len(tokens[b]), small: n < smallSeg})
				rows += n
				cur += n
			}
			if cur == len(tokens[b]) {
				b, cur = b+1, 0
			}
		}
		s.pass(rows, done, opt)
		for _, g := range s.segs {
			s.lens[g.seq] += len(g.toks)
		}
		done += rows
	}
	return nil
}

// pass runs the network over the rows of s.segs; first is the index of
// its first row among all rows of the Forward call (for AllLogits).
func (s *State) pass(rows, first int, opt ForwardOptions) {
	m := s.m
	c, w := m.Config, &m.Weights
	C := c.NEmbd
	hook := opt.Hook

	// Token and position embeddings (a quantized tied head's rows: see
	// Int8).
	q := m.quant
	for _, g := range s.segs {
		for i, id := range g.toks {
			r := g.row + i
			p := g.pos0 + i
			x := s.x[r*C : (r+1)*C]
			if q != nil && q.embedRow(id, x) {
				kernels.Add(x, x, w.WPE[p*C:(p+1)*C])
			} else {
				kernels.Add(x, w.WTE[id*C:(id+1)*C], w.WPE[p*C:(p+1)*C])
			}
		}
	}
	x, h, qkv, att, fc := s.x[:rows*C], s.h[:rows*C], s.qkv[:rows*3*C], s.att[:rows*C], s.fc[:rows*4*C]
	var qb qBlock
	for l := range w.Blocks {
		blk := &w.Blocks[l]
		if q != nil {
			qb = q.blocks[l]
		}
		if hook != nil {
			s.hookRows(hook, "resid_pre", l, x, C)
		}
		kernels.LayerNorm(h, x, blk.LN1G, blk.LN1B, rows, C, c.LayerNormEps)
		qlinear(qb.attn, qkv, h, nil, rows, C, 3*C, blk.AttnW, blk.AttnB, false)
		s.attention(l, hook)
		qlinear(qb.attnProj, x, att, h, rows, C, C, blk.AttnProjW, blk.AttnProjB, true) // h is free: scratch
		kernels.LayerNorm(h, x, blk.LN2G, blk.LN2B, rows, C, c.LayerNormEps)
		qlinear(qb.fc, fc, h, nil, rows, C, 4*C, blk.FCW, blk.FCB, false)
		if c.Activation == "gelu" {
			kernels.GeluErf(fc, fc)
		} else {
			kernels.GeluTanh(fc, fc)
		}
		if hook != nil {
			s.hookRows(hook, "mlp_act", l, fc, 4*C)
		}
		qlinear(qb.proj, x, fc, h, rows, 4*C, C, blk.ProjW, blk.ProjB, true)
		if hook != nil {
			s.hookRows(hook, "resid_post", l, x, C)
		}
	}
	s.lmHead(rows, first, opt)
}

// lmHead applies ln_f and the LM head: at every row for AllLogits, else at
// each sequence's last row only.
func (s *State) lmHead(rows, first int, opt ForwardOptions) {
	m := s.m
	c, w := m.Config, &m.Weights
	C, V := c.NEmbd, c.VocabSize
	if opt.AllLogits || opt.Hook != nil {
		kernels.LayerNorm(s.h[:rows*C], s.x[:rows*C], w.LNFG, w.LNFB, rows, C, c.LayerNormEps)
		if opt.Hook != nil {
			s.hookRows(opt.Hook, "ln_f", -1, s.h[:rows*C], C)
		}
	}
	if opt.AllLogits {
		out := s.all[first*V : (first+rows)*V]
		s.head(rows, s.h, out)
		for _, g := range s.segs {
			if g.last {
				r := g.row + len(g.toks) - 1
				copy(s.logits[g.seq*V:(g.seq+1)*V], out[r*V:(r+1)*V])
				copy(s.hidden[g.seq*C:(g.seq+1)*C], s.h[r*C:(r+1)*C])
				s.hasLog[g.seq] = true
			}
		}
		return
	}
	s.lastOf = s.lastOf[:0]
	for _, g := range s.segs {
		if !g.last {
			continue
		}
		k := len(s.lastOf)
		r := g.row + len(g.toks) - 1
		if opt.Hook != nil {
			copy(s.last[k*C:(k+1)*C], s.h[r*C:(r+1)*C])
		} else {
			kernels.LayerNorm(s.last[k*C:(k+1)*C], s.x[r*C:(r+1)*C], w.LNFG, w.LNFB, 1, C, c.LayerNormEps)
		}
		copy(s.hidden[g.seq*C:(g.seq+1)*C], s.last[k*C:(k+1)*C])
		s.lastOf = append(s.lastOf, g.seq)
	}
	switch k := len(s.lastOf); k {
	case 0:
	case 1:
		b := s.lastOf[0]
		s.head(1, s.last, s.logits[b*V:(b+1)*V])
		s.hasLog[b] = true
	default:
		s.head(k, s.last, s.lg)
		for i, b := range s.lastOf {
			copy(s.logits[b*V:(b+1)*V], s.lg[i*V:(i+1)*V])
			s.hasLog[b] = true
		}
	}
}

// linear computes out = in·W + b for rows×nin in and W [nin, nout] (the
// Conv1D layout), or out += in·W + b when acc is set (a residual add).
func linear(out, in []float32, rows, nin, nout int, W, b []float32, acc bool) {
	for r := 0; r < rows; r++ {
		o := out[r*nout : (r+1)*nout]
		if acc {
			kernels.Add(o, o, b)
		} else {
			copy(o, b)
		}
	}
	kernels.Sgemm(false, false, rows, nout, nin, 1, in, nin, W, nout, 1, out, nout)
}

// cache returns the key and value caches of layer l, sequence b: [S, C].
func (s *State) cache(l, b int) (k, v []float32) {
	S, C := s.opt.MaxSeq, s.m.Config.NEmbd
	o := (l*s.opt.Batch + b) * S * C
	return s.key[o : o+S*C], s.val[o : o+S*C]
}

// attention runs causal self-attention of layer l for every segment: it
// appends k and v to the caches, then splits the heads across threads
// (attendHeads), in two phases so that a hook sees every head's
// probabilities (and may change them) before they weight the values.
func (s *State) attention(l int, hook Hook) {
	c := s.m.Config
	C, nh := c.NEmbd, c.NHead
	off := 0
	for i := range s.segs {
		g := &s.segs[i]
		k, v := s.cache(l, g.seq)
		for j := range g.toks {
			r := g.row + j
			p := g.pos0 + j
			copy(k[p*C:(p+1)*C], s.qkv[r*3*C+C:r*3*C+2*C])
			copy(v[p*C:(p+1)*C], s.qkv[r*3*C+2*C:r*3*C+3*C])
		}
		g.poff = off
		n := len(g.toks)
		off += nh * n * (g.pos0 + n)
	}
	s.layer = l
	if hook == nil {
		s.phase = phaseBoth
		s.attendOnes()
		s.attendByHeads()
		return
	}
	s.phase = phaseProbs
	s.attendOnes()
	s.attendByHeads()
	{
		for i := range s.segs {
			g := &s.segs[i]
			n := len(g.toks)
			ctx := g.pos0 + n
			s.act.shape = [3]int{nh, n, ctx}
			s.callHook(hook, "attn_probs", l, g, s.act.shape[:3], s.probs[g.poff:g.poff+nh*n*ctx])
		}
	}
	s.phase = phaseValues
	s.attendOnes()
	s.attendByHeads()
}

// attendByHeads runs s.phase for the segments attendOnes leaves (more than
// one new token), split across threads by heads.
func (s *State) attendByHeads() {
	for i := range s.segs {
		if len(s.segs[i].toks) != 1 {
			kernels.Parallel(s.m.Config.NHead, 1, s.attnFn)
			return
		}
	}
}

// onePartMin is the number of cached positions per thread below which
// one-token attention stays on one thread (a variable so that tests can
// split short contexts too).
var onePartMin = 64

// attendOnes runs s.phase for every segment of one new token (a decoding
// step). Such a segment attends over the cache position by position, every
// head of a cached row in turn, rather than head by head: a row of K or V
// holds all heads' slices side by side, so the cache is read as one stream
// in memory order, where one head's slices alone are 256-byte pieces 3 KiB
// apart (GPT-2 small). With the cache in memory rather than L3 that is
// 10-17 % faster per token at 500-900 positions. The positions are split
// into parts across threads; for the values, each part sums into its own
// partial output, and the parts are added at the end.
func (s *State) attendOnes() {
	c := s.m.Config
	C, nh := c.NEmbd, c.NHead
	for i := range s.segs {
		g := &s.segs[i]
		if len(g.toks) != 1 {
			continue
		}
		ctx := g.pos0 + 1
		s.one = g
		s.oneParts = min(kernels.Threads(), max(ctx/onePartMin, 1))
		if s.phase&phaseProbs != 0 {
			kernels.Parallel(s.oneParts, 1, s.oneProbsFn)
			for h := range nh {
				kernels.Softmax(s.probs[g.poff+h*ctx : g.poff+(h+1)*ctx])
			}
		}
		if s.phase&phaseValues != 0 {
			kernels.Parallel(s.oneParts, 1, s.oneValFn)
			out := s.att[g.row*C : (g.row+1)*C]
			copy(out, s.onePart[:C])
			for t := 1; t < s.oneParts; t++ {
				kernels.Add(out, out, s.onePart[t*C:(t+1)*C])
			}
		}
	}
	s.one = nil
}

// oneRange is part t's share of the ctx cached positions.
func (s *State) oneRange(t, ctx int) (lo, hi int) {
	return t * ctx / s.oneParts, (t + 1) * ctx / s.oneParts
}

// oneProbs computes the scaled scores q·k of the one-token segment for
// parts [lo, hi) of its cached positions, every head of a row in turn.
func (s *State) oneProbs(lo, hi int) {
	c := s.m.Config
	C, nh, hs := c.NEmbd, c.NHead, c.HeadDim()
	scale := float32(1 / math.Sqrt(float64(hs)))
	g := s.one
	k, _ := s.cache(s.layer, g.seq)
	ctx := g.pos0 + 1
	q := s.qkv[g.row*3*C : g.row*3*C+C]
	p := s.probs[g.poff : g.poff+nh*ctx]
	for t := lo; t < hi; t++ {
		j0, j1 := s.oneRange(t, ctx)
		for j := j0; j < j1; j++ {
			row := k[j*C : (j+1)*C]
			for h := range nh {
				p[h*ctx+j] = scale * kernels.Dot(q[h*hs:(h+1)*hs], row[h*hs:(h+1)*hs])
			}
		}
	}
}

// oneValues sums probability × value of the one-token segment over parts
// [lo, hi) of its cached positions, each part into its own partial output.
func (s *State) oneValues(lo, hi int) {
	c := s.m.Config
	C, nh, hs := c.NEmbd, c.NHead, c.HeadDim()
	g := s.one
	_, v := s.cache(s.layer, g.seq)
	ctx := g.pos0 + 1
	p := s.probs[g.poff : g.poff+nh*ctx]
	for t := lo; t < hi; t++ {
		part := s.onePart[t*C : (t+1)*C]
		clear(part)
		j0, j1 := s.oneRange(t, ctx)
		for j := j0; j < j1; j++ {
			row := v[j*C : (j+1)*C]
			for h := range nh {
				kernels.Axpy(p[h*ctx+j], row[h*hs:(h+1)*hs], part[h*hs:(h+1)*hs])
			}
		}
	}
}

// Phases of attendHeads.
const (
	phaseProbs  = 1 << iota // scores and softmax
	phaseValues             // probabilities times values
	phaseBoth   = phaseProbs | phaseValues
)

// attendHeads is causal self-attention for heads [lo, hi) of every
// segment of the pass: phaseProbs computes the scaled scores q·k and their
// softmax into s.probs, phaseValues the probability-weighted sum of the
// values into s.att. Short segments (decoding) use dot products; longer ones
// (prefill) use matrix multiplies over blocks of query rows, each block
// multiplying only the keys it can see. It runs on the kernels worker pool,
// one range of heads per thread.
func (s *State) attendHeads(lo, hi int) {
	c := s.m.Config
	C, hs := c.NEmbd, c.HeadDim()
	scale := float32(1 / math.Sqrt(float64(hs)))
	for i := range s.segs {
		g := &s.segs[i]
		n := len(g.toks)
		if n == 1 {
			continue // attendOnes
		}
		k, v := s.cache(s.layer, g.seq)
		ctx := g.pos0 + n
		for h := lo; h < hi; h++ {
			p := s.probs[g.poff+h*n*ctx : g.poff+(h+1)*n*ctx]
			if !g.small {
				for i0 := 0; i0 < n; i0 += attnBlock {
					i1 := min(i0+attnBlock, n)
					if s.phase&phaseProbs != 0 {
						kernels.Sgemm(false, true, i1-i0, g.pos0+i1, hs, scale,
							s.qkv[(g.row+i0)*3*C+h*hs:], 3*C, k[h*hs:], C, 0, p[i0*ctx:], ctx)
						for i := i0; i < i1; i++ {
							row := p[i*ctx : (i+1)*ctx]
							seen := g.pos0 + i + 1
							kernels.Softmax(row[:seen])
							clear(row[seen:])
						}
					}
					if s.phase&phaseValues != 0 {
						kernels.Sgemm(false, false, i1-i0, hs, g.pos0+i1, 1,
							p[i0*ctx:], ctx, v[h*hs:], C, 0, s.att[(g.row+i0)*C+h*hs:], C)
					}
				}
				continue
			}
			for i := 0; i < n; i++ {
				r := g.row + i
				row := p[i*ctx : (i+1)*ctx]
				seen := g.pos0 + i + 1
				if s.phase&phaseProbs != 0 {
					// scores = scale * q·Kᵀ over the cached keys (rows of
					// stride C), one matrix-vector product.
					q := s.qkv[r*3*C+h*hs : r*3*C+(h+1)*hs]
					kernels.Sgemm(false, true, 1, seen, hs, scale, q, hs, k[h*hs:], C, 0, row, seen)
					kernels.Softmax(row[:seen])
					clear(row[seen:])
				}
				if s.phase&phaseValues != 0 {
					// out = probs·V over the cached values.
					o := s.att[r*C+h*hs : r*C+(h+1)*hs]
					kernels.Sgemm(false, false, 1, hs, seen, 1, row, seen, v[h*hs:], C, 0, o, hs)
				}
			}
		}
	}
}

// hookRows calls hook for each segment's rows of buf (width cols).
func (s *State) hookRows(hook Hook, name string, layer int, buf []float32, cols int) {
	for i := range s.segs {
		g := &s.segs[i]
		n := len(g.toks)
		s.act.shape = [3]int{n, cols}
		s.callHook(hook, name, layer, g, s.act.shape[:2], buf[g.row*cols:(g.row+n)*cols])
	}
}

func (s *State) callHook(hook Hook, name string, layer int, g *segment, shape []int, data []float32) {
	a := &s.act
	a.Name, a.Layer, a.Seq, a.Pos, a.Shape, a.Data = name, layer, g.seq, g.pos0, shape, data
	hook(a)
}

// Forward runs one sequence through the model from an empty cache and
// returns the logits at every position, [len(ids), V] row-major (a new
// State's buffer, owned by the caller). hook may be nil.
func (m *Model) Forward(ids []int, hook Hook) ([]float32, error) {
	if len(ids) == 0 {
		return nil, errors.New("gpt2: Forward: no tokens")
	}
	if len(ids) > m.Config.NPositions {
		return nil, fmt.Errorf("gpt2: %d tokens, more than the model's %d positions: %w", len(ids), m.Config.NPositions, ErrContext)
	}
	s := m.NewState(StateOptions{Batch: 1, MaxSeq: len(ids)})
	if err := s.Forward([][]int{ids}, ForwardOptions{AllLogits: true, Hook: hook}); err != nil {
		return nil, err
	}
	return s.AllLogits(0), nil
}
