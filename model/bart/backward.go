package bart

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/autograd"
	"github.com/loupe-ml/loupe/internal/encdec"
)

// The differentiable pass: a forward over one source and one target (the
// decoder's inputs) that starts from token embeddings and keeps what its
// backward needs, and that backward, written with autograd's forward and
// backward pairs as model/gpt2's is. It computes the network Encode and
// Decoder.Forward compute (a test holds them within 1e-4) without caches,
// so that saliency can differentiate a target token's probability with
// respect to the source's and the target prefix's token embeddings.

// lnSave is a LayerNorm's input and statistics, kept for its backward.
type lnSave struct{ in, mean, rstd []float32 }

func newLNSave(rows, C int) lnSave {
	return lnSave{in: make([]float32, rows*C), mean: make([]float32, rows), rstd: make([]float32, rows)}
}

// encSave is what one encoder layer keeps: its two LayerNorms (on the
// residual before the sublayer with pre-LayerNorm, after adding it with
// post-LayerNorm), the fused q,k,v [S, 3C], the probabilities [nh, S, S]
// and fc1's output [S, F] (the activation's input).
type encSave struct {
	ln1, ln2 lnSave
	qkv, att []float32
	fc       []float32
}

// decSave is what one decoder layer keeps: three LayerNorms, the
// self-attention's fused q,k,v [T, 3C] and probabilities [nh, T, T], the
// cross-attention's queries [T, C], keys and values [S, C] (from the
// encoder's output) and probabilities [nh, T, S], and fc1's output [T, F].
type decSave struct {
	ln1, ln2, ln3 lnSave
	qkv, selfAtt  []float32
	q, k, v       []float32
	crossAtt      []float32
	fc            []float32
}

// Pass is a forward pass over one source of S tokens and one target of T
// decoder inputs with the activations its backward pass needs. It reads
// the model's weights and never changes them; a Pass is not safe for
// concurrent use, but one Model may run many Passes at once.
type Pass struct {
	S, T int
	// SrcX and TgtX are the inputs: the token embeddings of the source
	// [S, C] and of the decoder inputs [T, C], before embed_scale (the
	// pass scales them, adds the positions and applies
	// layernorm_embedding, as the model does).
	SrcX, TgtX []float32
	// Hidden is the decoder's final hidden state at every position [T, C]
	// (after mBART's final layer_norm): lm_head's input.
	Hidden []float32

	m                  *Model
	encEmbLN, decEmbLN lnSave
	encFinal, decFinal lnSave
	enc                []encSave
	dec                []decSave
}

// EmbedSource returns the encoder's token embeddings of ids, [len(ids), C]
// (rows of the token table, before embed_scale): the source input
// ForwardPass differentiates.
func (m *Model) EmbedSource(ids []int) ([]float32, error) {
	return embedRows("source", m.Weights.EncEmbed, ids, m.Config.VocabSize, m.Config.DModel)
}

// EmbedTarget returns the decoder's token embeddings of ids (target
// vocabulary), [len(ids), C]: the target input ForwardPass
// differentiates.
func (m *Model) EmbedTarget(ids []int) ([]float32, error) {
	return embedRows("target", m.Weights.DecEmbed, ids, m.Config.DecoderVocab, m.Config.DModel)
}

func embedRows(what string, table []float32, ids []int, vocab, C int) ([]float32, error) {
	if err := encdec.CheckIDs("bart", what, 0, ids, vocab); err != nil {
		return nil, err
	}
	x := make([]float32, len(ids)*C)
	autograd.EmbeddingForward(x, table, ids, C)
	return x, nil
}

// embedScale is the factor token embeddings are multiplied by.
func (m *Model) embedScale() float32 {
	if m.Config.ScaleEmbedding {
		return float32(math.Sqrt(float64(m.Config.DModel)))
	}
	return 1
}

// ForwardPass runs the model on the source embeddings src ([S, C]) and the
// decoder-input embeddings tgt ([T, C]), as EmbedSource and EmbedTarget
// give them (or any point between them and zero, for integrated
// gradients), keeping every activation. The Pass keeps both slices.
func (m *Model) ForwardPass(src, tgt []float32) (*Pass, error) {
	c, w := m.Config, &m.Weights
	C := c.DModel
	S, T := len(src)/C, len(tgt)/C
	switch {
	case S < 1 || T < 1 || len(src) != S*C || len(tgt) != T*C:
		return nil, fmt.Errorf("bart: ForwardPass of %d source and %d target values: want whole rows of %d, at least one each", len(src), len(tgt), C)
	case S > c.MaxPositions || T > c.MaxPositions:
		return nil, fmt.Errorf("bart: ForwardPass of %d source and %d target tokens: more than max_position_embeddings %d: %w", S, T, c.MaxPositions, ErrContext)
	}
	p := &Pass{S: S, T: T, SrcX: src, TgtX: tgt, m: m, enc: make([]encSave, c.EncoderLayers), dec: make([]decSave, c.DecoderLayers)}
	fwdAct, _ := encdec.ActivationGrad(c.Activation)

	// Encoder.
	nh, F := c.EncoderHeads, c.EncoderFFN
	self := autograd.MHA{Tq: S, Tk: S, Heads: nh, HeadDim: C / nh, LDQ: 3 * C, LDK: 3 * C, LDV: 3 * C, LDO: C, Scale: float32(1 / math.Sqrt(float64(C/nh)))}
	x := m.embedForward(src, S, w.EncPos, w.EncEmbLNG, w.EncEmbLNB, &p.encEmbLN)
	y, a := make([]float32, S*C), make([]float32, S*F)
	for l := range w.Encoder {
		L, s := &w.Encoder[l], &p.enc[l]
		s.qkv, s.att, s.fc = make([]float32, S*3*C), make([]float32, nh*S*S), make([]float32, S*F)
		m.subForward(x, S, L.SelfLNG, L.SelfLNB, &s.ln1, func(h, o []float32) {
			encdec.Linear(s.qkv, h, S, C, 3*C, m.encQKV[l], m.encQKVB[l])
			self.Forward(y, s.att, s.qkv, s.qkv[C:], s.qkv[2*C:])
			encdec.Linear(o, y, S, C, C, L.SelfAttn.OW, L.SelfAttn.OB)
		})
		m.subForward(x, S, L.FinalLNG, L.FinalLNB, &s.ln2, func(h, o []float32) {
			encdec.Linear(s.fc, h, S, C, F, L.FC1W, L.FC1B)
			fwdAct(a, s.fc)
			encdec.Linear(o, a, S, F, C, L.FC2W, L.FC2B)
		})
	}
	if c.PreLayerNorm {
		x = m.normForward(x, S, w.EncFinalLNG, w.EncFinalLNB, &p.encFinal)
	}
	enc := x

	// Decoder.
	nh, F = c.DecoderHeads, c.DecoderFFN
	hd, scale := C/nh, float32(1/math.Sqrt(float64(C/nh)))
	self = autograd.MHA{Tq: T, Tk: T, Heads: nh, HeadDim: hd, LDQ: 3 * C, LDK: 3 * C, LDV: 3 * C, LDO: C, Scale: scale, Causal: true}
	cross := autograd.MHA{Tq: T, Tk: S, Heads: nh, HeadDim: hd, LDQ: C, LDK: C, LDV: C, LDO: C, Scale: scale}
	x = m.embedForward(tgt, T, w.DecPos, w.DecEmbLNG, w.DecEmbLNB, &p.decEmbLN)
	y, a = make([]float32, T*C), make([]float32, T*F)
	for l := range w.Decoder {
		L, s := &w.Decoder[l], &p.dec[l]
		s.qkv, s.selfAtt = make([]float32, T*3*C), make([]float32, nh*T*T)
		s.q, s.k, s.v, s.crossAtt = make([]float32, T*C), make([]float32, S*C), make([]float32, S*C), make([]float32, nh*T*S)
		s.fc = make([]float32, T*F)
		m.subForward(x, T, L.SelfLNG, L.SelfLNB, &s.ln1, func(h, o []float32) {
			encdec.Linear(s.qkv, h, T, C, 3*C, m.selfQKV[l], m.selfQKVB[l])
			self.Forward(y, s.selfAtt, s.qkv, s.qkv[C:], s.qkv[2*C:])
			encdec.Linear(o, y, T, C, C, L.SelfAttn.OW, L.SelfAttn.OB)
		})
		m.subForward(x, T, L.CrossLNG, L.CrossLNB, &s.ln2, func(h, o []float32) {
			encdec.Linear(s.q, h, T, C, C, L.CrossAttn.QW, L.CrossAttn.QB)
			encdec.Linear(s.k, enc, S, C, C, L.CrossAttn.KW, L.CrossAttn.KB)
			encdec.Linear(s.v, enc, S, C, C, L.CrossAttn.VW, L.CrossAttn.VB)
			cross.Forward(y, s.crossAtt, s.q, s.k, s.v)
			encdec.Linear(o, y, T, C, C, L.CrossAttn.OW, L.CrossAttn.OB)
		})
		m.subForward(x, T, L.FinalLNG, L.FinalLNB, &s.ln3, func(h, o []float32) {
			encdec.Linear(s.fc, h, T, C, F, L.FC1W, L.FC1B)
			fwdAct(a, s.fc)
			encdec.Linear(o, a, T, F, C, L.FC2W, L.FC2B)
		})
	}
	if c.PreLayerNorm {
		x = m.normForward(x, T, w.DecFinalLNG, w.DecFinalLNB, &p.decFinal)
	}
	p.Hidden = x
	return p, nil
}

// embedForward returns the embeddings of a stack's input rows: X·scale +
// positions 0..rows-1, then layernorm_embedding (saved in s) when the
// model has one.
func (m *Model) embedForward(X []float32, rows int, pos, g, b []float32, s *lnSave) []float32 {
	C := m.Config.DModel
	scale, off := m.embedScale(), m.Config.posOffset()
	e := make([]float32, rows*C)
	for i := range rows {
		row, pe := e[i*C:(i+1)*C], pos[(i+off)*C:(i+off+1)*C]
		for j := range row {
			row[j] = X[i*C+j]*scale + pe[j]
		}
	}
	if !m.Config.LayerNormEmbedding {
		return e
	}
	return m.normForward(e, rows, g, b, s)
}

// normForward returns LayerNorm(x) in a new buffer, saving x and the
// statistics in s.
func (m *Model) normForward(x []float32, rows int, g, b []float32, s *lnSave) []float32 {
	C := m.Config.DModel
	*s = newLNSave(rows, C)
	copy(s.in, x)
	out := make([]float32, rows*C)
	autograd.LayerNormForward(out, s.mean, s.rstd, s.in, g, b, rows, C, m.Config.LayerNormEps)
	return out
}

// subForward runs a residual sublayer f (f(h, o) writes the sublayer's
// output o from its input h, both [rows, C]) on x in place: x = LN(x +
// f(x)) with post-LayerNorm, x = x + f(LN(x)) with pre-LayerNorm (mBART),
// saving the LayerNorm's input and statistics in s.
func (m *Model) subForward(x []float32, rows int, g, b []float32, s *lnSave, f func(h, o []float32)) {
	C, eps := m.Config.DModel, m.Config.LayerNormEps
	*s = newLNSave(rows, C)
	o := make([]float32, rows*C)
	if m.Config.PreLayerNorm {
		copy(s.in, x)
		h := make([]float32, rows*C)
		autograd.LayerNormForward(h, s.mean, s.rstd, s.in, g, b, rows, C, eps)
		f(h, o)
		autograd.AddForward(x, x, o)
		return
	}
	f(x, o)
	autograd.AddForward(s.in, x, o)
	autograd.LayerNormForward(x, s.mean, s.rstd, s.in, g, b, rows, C, eps)
}

// Logits returns the logits at the given target positions of the pass
// ([len(rows), Vt]): lm_head and final_logits_bias on Hidden.
func (p *Pass) Logits(rows []int) []float32 {
	c := p.m.Config
	C, Vt := c.DModel, c.DecoderVocab
	h := make([]float32, len(rows)*C)
	for i, r := range rows {
		copy(h[i*C:(i+1)*C], p.Hidden[r*C:(r+1)*C])
	}
	out := make([]float32, len(rows)*Vt)
	encdec.Linear(out, h, len(rows), C, Vt, p.m.Weights.LMHead, p.m.Weights.FinalLogitsBias)
	return out
}

// Backward runs the backward pass from the logit gradients dlogits
// ([len(seeds), Vt]: row g is the gradient of a scalar with respect to the
// logits at target position seeds[g]) and returns, for every seed, the
// gradient with respect to the source embeddings SrcX ([len(seeds)·S, C],
// seed g's rows from g·S) and to the decoder-input embeddings TgtX
// ([len(seeds)·T, C]; rows past a seed's position are zero: the decoder
// is causal, and a seed's decoder backward runs over its prefix only).
// The seeds run together: every matrix multiply is one product over all
// seeds' rows. No weight gradients are computed.
func (p *Pass) Backward(seeds []int, dlogits []float32) (dsrc, dtgt []float32, err error) {
	m := p.m
	c, w := m.Config, &m.Weights
	C, Vt, S, T := c.DModel, c.DecoderVocab, p.S, p.T
	G := len(seeds)
	dst, est, err := encdec.SeedStacks("bart", seeds, dlogits, T, S, Vt)
	if err != nil {
		return nil, nil, err
	}
	_, bwdAct := encdec.ActivationGrad(c.Activation)
	lens, R, GS := dst.Lens, dst.Rows, est.Rows

	// lm_head at each seed's row.
	dh := make([]float32, G*C)
	autograd.LinearTBackward(dh, nil, dlogits, nil, w.LMHead, G, C, Vt)
	dx := make([]float32, R*C)
	for g := range seeds {
		r := dst.Off[g] + lens[g] - 1
		copy(dx[r*C:(r+1)*C], dh[g*C:(g+1)*C])
	}
	if c.PreLayerNorm {
		dx = m.normBackward(dx, dst, w.DecFinalLNG, p.decFinal)
	}

	// Decoder: seed g over its first lens[g] positions, reading the
	// pass's [T, T] and [T, S] probabilities.
	nh, F := c.DecoderHeads, c.DecoderFFN
	hd, scale := C/nh, float32(1/math.Sqrt(float64(C/nh)))
	self := func(g int) autograd.MHA {
		return autograd.MHA{Tq: lens[g], Tk: lens[g], Heads: nh, HeadDim: hd, LDQ: 3 * C, LDK: 3 * C, LDV: 3 * C, LDO: C, Scale: scale, Causal: true, LDA: T, HeadStride: T * T}
	}
	cross := func(g int) autograd.MHA {
		return autograd.MHA{Tq: lens[g], Tk: S, Heads: nh, HeadDim: hd, LDQ: C, LDK: C, LDV: C, LDO: C, Scale: scale, LDA: S, HeadStride: T * S}
	}
	dEnc := make([]float32, GS*C)
	dy, dqkv, dq := make([]float32, R*C), make([]float32, R*3*C), make([]float32, R*C)
	dk, dv := make([]float32, GS*C), make([]float32, GS*C)
	da, dfc := make([]float32, R*F), make([]float32, R*F)
	for l := len(w.Decoder) - 1; l >= 0; l-- {
		L, s := &w.Decoder[l], &p.dec[l]
		m.subBackward(dx, dst, L.FinalLNG, s.ln3, func(dout, din []float32) {
			m.ffBackward(din, dout, da, dfc, dst, F, s.fc, L.FC1W, L.FC2W, bwdAct)
		})
		m.subBackward(dx, dst, L.CrossLNG, s.ln2, func(dout, din []float32) {
			clear(dy)
			autograd.LinearTBackward(dy, nil, dout, nil, L.CrossAttn.OW, R, C, C)
			clear(dq)
			clear(dk)
			clear(dv)
			for g := range G {
				a := cross(g)
				a.Backward(dst.Seed(dq, g, C), est.Seed(dk, g, C), est.Seed(dv, g, C), dst.Seed(dy, g, C), s.q, s.k, s.v, s.crossAtt)
			}
			autograd.LinearTBackward(din, nil, dq, nil, L.CrossAttn.QW, R, C, C)
			autograd.LinearTBackward(dEnc, nil, dk, nil, L.CrossAttn.KW, GS, C, C)
			autograd.LinearTBackward(dEnc, nil, dv, nil, L.CrossAttn.VW, GS, C, C)
		})
		m.subBackward(dx, dst, L.SelfLNG, s.ln1, func(dout, din []float32) {
			m.selfBackward(din, dout, dy, dqkv, dst, self, s.qkv, s.selfAtt, L.SelfAttn.OW, m.selfQKV[l])
		})
	}
	dtgt = dst.Spread(m.embedBackward(dx, dst, w.DecEmbLNG, p.decEmbLN), T, C)

	// Encoder: every seed over every source position.
	nh, F = c.EncoderHeads, c.EncoderFFN
	encSelf := autograd.MHA{Tq: S, Tk: S, Heads: nh, HeadDim: C / nh, LDQ: 3 * C, LDK: 3 * C, LDV: 3 * C, LDO: C, Scale: float32(1 / math.Sqrt(float64(C/nh)))}
	self = func(int) autograd.MHA { return encSelf }
	dx = dEnc
	if c.PreLayerNorm {
		dx = m.normBackward(dx, est, w.EncFinalLNG, p.encFinal)
	}
	dy, dqkv = make([]float32, GS*C), make([]float32, GS*3*C)
	da, dfc = make([]float32, GS*F), make([]float32, GS*F)
	for l := len(w.Encoder) - 1; l >= 0; l-- {
		L, s := &w.Encoder[l], &p.enc[l]
		m.subBackward(dx, est, L.FinalLNG, s.ln2, func(dout, din []float32) {
			m.ffBackward(din, dout, da, dfc, est, F, s.fc, L.FC1W, L.FC2W, bwdAct)
		})
		m.subBackward(dx, est, L.SelfLNG, s.ln1, func(dout, din []float32) {
			m.selfBackward(din, dout, dy, dqkv, est, self, s.qkv, s.att, L.SelfAttn.OW, m.encQKV[l])
		})
	}
	dsrc = m.embedBackward(dx, est, w.EncEmbLNG, p.encEmbLN)
	return dsrc, dtgt, nil
}

// selfBackward accumulates into din the gradient of a self-attention
// sublayer (fused q,k,v projection wqkv [3C, C], attention a(g) for seed
// g, output projection wo) at its input, for the seeds of st; dy and dqkv
// are scratch.
func (m *Model) selfBackward(din, dout, dy, dqkv []float32, st encdec.Stack, a func(g int) autograd.MHA, qkv, att, wo, wqkv []float32) {
	C := m.Config.DModel
	clear(dy)
	autograd.LinearTBackward(dy, nil, dout, nil, wo, st.Rows, C, C)
	clear(dqkv)
	for g := range st.Lens {
		d, ag := st.Seed(dqkv, g, 3*C), a(g)
		ag.Backward(d, d[C:], d[2*C:], st.Seed(dy, g, C), qkv, qkv[C:], qkv[2*C:], att)
	}
	autograd.LinearTBackward(din, nil, dqkv, nil, wqkv, st.Rows, C, 3*C)
}

// ffBackward accumulates into din the gradient of a feed-forward sublayer
// (fc1 [F, C], the activation of fc1's saved output fc, fc2 [C, F]) at its
// input, for the seeds of st; da and dfc are scratch.
func (m *Model) ffBackward(din, dout, da, dfc []float32, st encdec.Stack, F int, fc, fc1, fc2 []float32, act func(din, in, dout []float32)) {
	C := m.Config.DModel
	clear(da)
	autograd.LinearTBackward(da, nil, dout, nil, fc2, st.Rows, F, C)
	clear(dfc)
	for g, n := range st.Lens {
		act(st.Seed(dfc, g, F), fc[:n*F], st.Seed(da, g, F))
	}
	autograd.LinearTBackward(din, nil, dfc, nil, fc1, st.Rows, C, F)
}

// subBackward turns dx, the gradient at a residual sublayer's output (the
// seeds of st), into the gradient at its input, in place. fb(dout, din)
// accumulates into din the gradient at f's input given the gradient dout
// at its output.
func (m *Model) subBackward(dx []float32, st encdec.Stack, g []float32, s lnSave, fb func(dout, din []float32)) {
	C := m.Config.DModel
	if m.Config.PreLayerNorm {
		// x' = x + f(LN(x)): dx += LN'ᵀ(f'ᵀ dx').
		dh := make([]float32, st.Rows*C)
		fb(dx, dh)
		for k, n := range st.Lens {
			autograd.LayerNormBackward(st.Seed(dx, k, C), nil, nil, st.Seed(dh, k, C), s.in, g, s.mean, s.rstd, n, C)
		}
		return
	}
	// x' = LN(z), z = x + f(x): dz = LN'ᵀ dx'; dx = dz + f'ᵀ dz.
	dz := m.normBackward(dx, st, g, s)
	copy(dx, dz)
	fb(dz, dx)
}

// normBackward returns the gradient at a LayerNorm's input given dout at
// its output, for the seeds of st.
func (m *Model) normBackward(dout []float32, st encdec.Stack, g []float32, s lnSave) []float32 {
	C := m.Config.DModel
	din := make([]float32, st.Rows*C)
	for k, n := range st.Lens {
		autograd.LayerNormBackward(st.Seed(din, k, C), nil, nil, st.Seed(dout, k, C), s.in, g, s.mean, s.rstd, n, C)
	}
	return din
}

// embedBackward returns the gradient at a stack's token embeddings given
// dx at its embedding output: back through layernorm_embedding and
// embed_scale (positions take no part: they are not inputs).
func (m *Model) embedBackward(dx []float32, st encdec.Stack, g []float32, s lnSave) []float32 {
	if m.Config.LayerNormEmbedding {
		dx = m.normBackward(dx, st, g, s)
	}
	if sc := m.embedScale(); sc != 1 {
		for i := range dx {
			dx[i] *= sc
		}
	}
	return dx
}
