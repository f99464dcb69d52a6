package t5

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

// rmsSave is an RMS norm's input and reciprocal root mean squares, kept
// for its backward.
type rmsSave struct{ in, rstd []float32 }

// ffSave is what a feed-forward keeps: wi's output [rows, F] (the
// activation's input), or for gated models wi_0's and wi_1's side by side
// [rows, 2F] and the activation of wi_0's [rows, F].
type ffSave struct{ pre, act []float32 }

// encSave is what one encoder block keeps.
type encSave struct {
	ln1, ln2 rmsSave
	qkv, att []float32 // [S, 3I], [nh, S, S]
	ff       ffSave
}

// decSave is what one decoder block keeps.
type decSave struct {
	ln1, ln2, ln3 rmsSave
	qkv, selfAtt  []float32 // [T, 3I], [nh, T, T]
	q, k, v       []float32 // [T, I], [S, I], [S, I]
	crossAtt      []float32 // [nh, T, S]
	ff            ffSave
}

// Pass is a forward pass over one source of S tokens and one target of T
// decoder inputs with the activations its backward pass needs. It reads
// the model's weights and never changes them; a Pass is not safe for
// concurrent use, but one Model may run many Passes at once.
type Pass struct {
	S, T int
	// SrcX and TgtX are the inputs: the token embeddings of the source
	// [S, C] and of the decoder inputs [T, C] (T5 adds no positions and
	// does not scale them).
	SrcX, TgtX []float32
	// Hidden is lm_head's input at every target position [T, C]: the
	// decoder's final_layer_norm output, times d_model^-0.5 with a tied
	// head.
	Hidden []float32

	m                  *Model
	encFinal, decFinal rmsSave
	enc                []encSave
	dec                []decSave
}

// Embed returns the token embeddings of ids, [len(ids), C] (rows of
// shared.weight, which both stacks read): the input ForwardPass
// differentiates.
func (m *Model) Embed(ids []int) ([]float32, error) {
	c := m.Config
	if err := encdec.CheckIDs("t5", "input", 0, ids, c.VocabSize); err != nil {
		return nil, err
	}
	x := make([]float32, len(ids)*c.DModel)
	autograd.EmbeddingForward(x, m.Weights.Embed, ids, c.DModel)
	return x, nil
}

// headScale is the factor of the decoder output before lm_head:
// d_model^-0.5 with a tied head, else 1.
func (m *Model) headScale() float32 {
	if m.Config.TieWordEmbeddings {
		return float32(1 / math.Sqrt(float64(m.Config.DModel)))
	}
	return 1
}

// relBias returns the relative position bias of every head for tq
// queries over tk keys, [nh, tq, tk]: bidirectional (the encoder, tq =
// tk) or causal (the decoder's self-attention; entries of future keys are
// 0 and unused).
func (m *Model) relBias(table []float32, n int, bidirectional bool) []float32 {
	c := m.Config
	nh := c.Heads
	tab := biasTable(table, nh, n, bidirectional, c.Buckets, c.MaxDistance)
	W := n
	if bidirectional {
		W = 2*n - 1
	}
	out := make([]float32, nh*n*n)
	for h := range nh {
		for i := range n {
			row := out[(h*n+i)*n : (h*n+i+1)*n]
			for j := range n {
				switch {
				case bidirectional:
					row[j] = tab[h*W+n-1+j-i]
				case j <= i:
					row[j] = tab[h*W+i-j]
				}
			}
		}
	}
	return out
}

// ForwardPass runs the model on the source embeddings src ([S, C]) and the
// decoder-input embeddings tgt ([T, C]), as Embed gives them (or any point
// between them and zero, for integrated gradients), keeping every
// activation. The Pass keeps both slices.
func (m *Model) ForwardPass(src, tgt []float32) (*Pass, error) {
	c, w := m.Config, &m.Weights
	C, I, nh, eps := c.DModel, c.Inner(), c.Heads, c.LayerNormEps
	S, T := len(src)/C, len(tgt)/C
	switch {
	case c.EncoderOnly:
		return nil, fmt.Errorf("t5: %w", ErrEncoderOnly)
	case S < 1 || T < 1 || len(src) != S*C || len(tgt) != T*C:
		return nil, fmt.Errorf("t5: ForwardPass of %d source and %d target values: want whole rows of %d, at least one each", len(src), len(tgt), C)
	}
	p := &Pass{S: S, T: T, SrcX: src, TgtX: tgt, m: m, enc: make([]encSave, c.EncoderLayers), dec: make([]decSave, c.DecoderLayers)}

	// Encoder.
	self := autograd.MHA{Tq: S, Tk: S, Heads: nh, HeadDim: c.DKV, LDQ: 3 * I, LDK: 3 * I, LDV: 3 * I, LDO: I, Scale: 1,
		Bias: m.relBias(w.EncRelBias, S, true)}
	x := append([]float32(nil), src...)
	h, y, o := make([]float32, S*C), make([]float32, S*I), make([]float32, S*C)
	for l := range w.Encoder {
		L, s := &w.Encoder[l], &p.enc[l]
		s.qkv, s.att = make([]float32, S*3*I), make([]float32, nh*S*S)
		rmsForward(h, x, L.SelfLN, S, C, eps, &s.ln1)
		linear(s.qkv, h, S, C, 3*I, m.encQKV[l])
		self.Forward(y, s.att, s.qkv, s.qkv[I:], s.qkv[2*I:])
		linear(o, y, S, I, C, L.SelfAttn.OW)
		autograd.AddForward(x, x, o)
		rmsForward(h, x, L.FFLN, S, C, eps, &s.ln2)
		m.ffForward(o, h, S, m.encWI[l], L.FF.WO, &s.ff)
		autograd.AddForward(x, x, o)
	}
	enc := make([]float32, S*C)
	rmsForward(enc, x, w.EncFinalLN, S, C, eps, &p.encFinal)

	// Decoder.
	self = autograd.MHA{Tq: T, Tk: T, Heads: nh, HeadDim: c.DKV, LDQ: 3 * I, LDK: 3 * I, LDV: 3 * I, LDO: I, Scale: 1, Causal: true,
		Bias: m.relBias(w.DecRelBias, T, false)}
	cross := autograd.MHA{Tq: T, Tk: S, Heads: nh, HeadDim: c.DKV, LDQ: I, LDK: I, LDV: I, LDO: I, Scale: 1}
	x = append([]float32(nil), tgt...)
	h, y, o = make([]float32, T*C), make([]float32, T*I), make([]float32, T*C)
	for l := range w.Decoder {
		L, s := &w.Decoder[l], &p.dec[l]
		s.qkv, s.selfAtt = make([]float32, T*3*I), make([]float32, nh*T*T)
		s.q, s.k, s.v, s.crossAtt = make([]float32, T*I), make([]float32, S*I), make([]float32, S*I), make([]float32, nh*T*S)
		rmsForward(h, x, L.SelfLN, T, C, eps, &s.ln1)
		linear(s.qkv, h, T, C, 3*I, m.selfQKV[l])
		self.Forward(y, s.selfAtt, s.qkv, s.qkv[I:], s.qkv[2*I:])
		linear(o, y, T, I, C, L.SelfAttn.OW)
		autograd.AddForward(x, x, o)

		rmsForward(h, x, L.CrossLN, T, C, eps, &s.ln2)
		linear(s.q, h, T, C, I, L.CrossAttn.QW)
		linear(s.k, enc, S, C, I, L.CrossAttn.KW)
		linear(s.v, enc, S, C, I, L.CrossAttn.VW)
		cross.Forward(y, s.crossAtt, s.q, s.k, s.v)
		linear(o, y, T, I, C, L.CrossAttn.OW)
		autograd.AddForward(x, x, o)

		rmsForward(h, x, L.FFLN, T, C, eps, &s.ln3)
		m.ffForward(o, h, T, m.decWI[l], L.FF.WO, &s.ff)
		autograd.AddForward(x, x, o)
	}
	p.Hidden = make([]float32, T*C)
	rmsForward(p.Hidden, x, w.DecFinalLN, T, C, eps, &p.decFinal)
	if sc := m.headScale(); sc != 1 {
		for i := range p.Hidden {
			p.Hidden[i] *= sc
		}
	}
	return p, nil
}

// rmsForward writes RMSNorm(x) to out, saving x and the statistics in s.
func rmsForward(out, x, g []float32, rows, C int, eps float32, s *rmsSave) {
	*s = rmsSave{in: append([]float32(nil), x[:rows*C]...), rstd: make([]float32, rows)}
	autograd.RMSNormForward(out, s.rstd, s.in, g, rows, C, eps)
}

// ffForward computes the feed-forward of h [rows, C] into out [rows, C]
// (wi [F, C], or wi_0 and wi_1 stacked [2F, C] when gated; wo [C, F]),
// saving what its backward needs in s.
func (m *Model) ffForward(out, h []float32, rows int, wi, wo []float32, s *ffSave) {
	c := m.Config
	C, F := c.DModel, c.DFF
	fwd, _ := encdec.ActivationGrad(c.Activation)
	ff := make([]float32, rows*F)
	if !c.Gated {
		s.pre = make([]float32, rows*F)
		linear(s.pre, h, rows, C, F, wi)
		fwd(ff, s.pre)
		linear(out, ff, rows, F, C, wo)
		return
	}
	s.pre, s.act = make([]float32, rows*2*F), make([]float32, rows*F)
	linear(s.pre, h, rows, C, 2*F, wi)
	for r := range rows {
		fwd(s.act[r*F:(r+1)*F], s.pre[r*2*F:r*2*F+F])
		autograd.MulForward(ff[r*F:(r+1)*F], s.act[r*F:(r+1)*F], s.pre[r*2*F+F:(r+1)*2*F])
	}
	linear(out, ff, rows, F, C, wo)
}

// Logits returns the logits at the given target positions of the pass
// ([len(rows), V]): lm_head on Hidden.
func (p *Pass) Logits(rows []int) []float32 {
	c := p.m.Config
	C, V := c.DModel, c.VocabSize
	h := make([]float32, len(rows)*C)
	for i, r := range rows {
		copy(h[i*C:(i+1)*C], p.Hidden[r*C:(r+1)*C])
	}
	out := make([]float32, len(rows)*V)
	linear(out, h, len(rows), C, V, p.m.Weights.LMHead)
	return out
}

// Backward runs the backward pass from the logit gradients dlogits
// ([len(seeds), V]: row g is the gradient of a scalar with respect to the
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
	C, I, V, nh, S, T := c.DModel, c.Inner(), c.VocabSize, c.Heads, p.S, p.T
	G := len(seeds)
	dst, est, err := encdec.SeedStacks("t5", seeds, dlogits, T, S, V)
	if err != nil {
		return nil, nil, err
	}
	lens, R, GS := dst.Lens, dst.Rows, est.Rows

	// lm_head (and the tied head's rescale) at each seed's row, then
	// final_layer_norm.
	dh := make([]float32, G*C)
	autograd.LinearTBackward(dh, nil, dlogits, nil, w.LMHead, G, C, V)
	if sc := m.headScale(); sc != 1 {
		for i := range dh {
			dh[i] *= sc
		}
	}
	dfin := make([]float32, R*C)
	for g := range seeds {
		r := dst.Off[g] + lens[g] - 1
		copy(dfin[r*C:(r+1)*C], dh[g*C:(g+1)*C])
	}
	dx := make([]float32, R*C)
	rmsBackward(dx, dfin, dst, C, w.DecFinalLN, p.decFinal)

	// Decoder: seed g over its first lens[g] positions, reading the
	// pass's [T, T] and [T, S] probabilities.
	self := func(g int) autograd.MHA {
		return autograd.MHA{Tq: lens[g], Tk: lens[g], Heads: nh, HeadDim: c.DKV, LDQ: 3 * I, LDK: 3 * I, LDV: 3 * I, LDO: I, Scale: 1, Causal: true, LDA: T, HeadStride: T * T}
	}
	dEnc := make([]float32, GS*C)
	dhh, dy, dqkv, dq := make([]float32, R*C), make([]float32, R*I), make([]float32, R*3*I), make([]float32, R*I)
	dk, dv := make([]float32, GS*I), make([]float32, GS*I)
	for l := len(w.Decoder) - 1; l >= 0; l-- {
		L, s := &w.Decoder[l], &p.dec[l]
		// x += ff(rms(x))
		clear(dhh)
		m.ffBackward(dhh, dx, dst, m.decWI[l], L.FF.WO, s.ff)
		rmsBackward(dx, dhh, dst, C, L.FFLN, s.ln3)
		// x += cross(rms(x), enc)
		clear(dy)
		autograd.LinearTBackward(dy, nil, dx, nil, L.CrossAttn.OW, R, I, C)
		clear(dq)
		clear(dk)
		clear(dv)
		for g := range G {
			a := autograd.MHA{Tq: lens[g], Tk: S, Heads: nh, HeadDim: c.DKV, LDQ: I, LDK: I, LDV: I, LDO: I, Scale: 1, LDA: S, HeadStride: T * S}
			a.Backward(dst.Seed(dq, g, I), est.Seed(dk, g, I), est.Seed(dv, g, I), dst.Seed(dy, g, I), s.q, s.k, s.v, s.crossAtt)
		}
		clear(dhh)
		autograd.LinearTBackward(dhh, nil, dq, nil, L.CrossAttn.QW, R, C, I)
		autograd.LinearTBackward(dEnc, nil, dk, nil, L.CrossAttn.KW, GS, C, I)
		autograd.LinearTBackward(dEnc, nil, dv, nil, L.CrossAttn.VW, GS, C, I)
		rmsBackward(dx, dhh, dst, C, L.CrossLN, s.ln2)
		// x += self(rms(x))
		clear(dhh)
		selfBackward(dhh, dx, dy, dqkv, dst, C, I, self, s.qkv, s.selfAtt, L.SelfAttn.OW, m.selfQKV[l])
		rmsBackward(dx, dhh, dst, C, L.SelfLN, s.ln1)
	}
	dtgt = dst.Spread(dx, T, C)

	// Encoder: every seed over every source position.
	encSelf := autograd.MHA{Tq: S, Tk: S, Heads: nh, HeadDim: c.DKV, LDQ: 3 * I, LDK: 3 * I, LDV: 3 * I, LDO: I, Scale: 1}
	self = func(int) autograd.MHA { return encSelf }
	dx = make([]float32, GS*C)
	rmsBackward(dx, dEnc, est, C, w.EncFinalLN, p.encFinal)
	dhh, dy, dqkv = make([]float32, GS*C), make([]float32, GS*I), make([]float32, GS*3*I)
	for l := len(w.Encoder) - 1; l >= 0; l-- {
		L, s := &w.Encoder[l], &p.enc[l]
		clear(dhh)
		m.ffBackward(dhh, dx, est, m.encWI[l], L.FF.WO, s.ff)
		rmsBackward(dx, dhh, est, C, L.FFLN, s.ln2)
		clear(dhh)
		selfBackward(dhh, dx, dy, dqkv, est, C, I, self, s.qkv, s.att, L.SelfAttn.OW, m.encQKV[l])
		rmsBackward(dx, dhh, est, C, L.SelfLN, s.ln1)
	}
	return dx, dtgt, nil
}

// rmsBackward accumulates into dx the gradient at an RMS norm's input given
// dout at its output, for the seeds of st.
func rmsBackward(dx, dout []float32, st encdec.Stack, C int, g []float32, s rmsSave) {
	for k, n := range st.Lens {
		autograd.RMSNormBackward(st.Seed(dx, k, C), nil, st.Seed(dout, k, C), s.in, g, s.rstd, n, C)
	}
}

// selfBackward accumulates into din the gradient of a self-attention at
// its (normed) input: output projection wo [C, I], attention a(g) for seed
// g, fused q,k,v projection wqkv [3I, C]; dy and dqkv are scratch.
func selfBackward(din, dout, dy, dqkv []float32, st encdec.Stack, C, I int, a func(g int) autograd.MHA, qkv, att, wo, wqkv []float32) {
	clear(dy)
	autograd.LinearTBackward(dy, nil, dout, nil, wo, st.Rows, I, C)
	clear(dqkv)
	for g := range st.Lens {
		d, ag := st.Seed(dqkv, g, 3*I), a(g)
		ag.Backward(d, d[I:], d[2*I:], st.Seed(dy, g, I), qkv, qkv[I:], qkv[2*I:], att)
	}
	autograd.LinearTBackward(din, nil, dqkv, nil, wqkv, st.Rows, C, 3*I)
}

// ffBackward accumulates into din the gradient of the feed-forward at its
// (normed) input given dout at its output, for the seeds of st.
func (m *Model) ffBackward(din, dout []float32, st encdec.Stack, wi, wo []float32, s ffSave) {
	c := m.Config
	C, F := c.DModel, c.DFF
	n := st.Rows
	_, bwd := encdec.ActivationGrad(c.Activation)
	dff := make([]float32, n*F)
	autograd.LinearTBackward(dff, nil, dout, nil, wo, n, F, C)
	if !c.Gated {
		dpre := make([]float32, n*F)
		for g, rows := range st.Lens {
			bwd(st.Seed(dpre, g, F), s.pre[:rows*F], st.Seed(dff, g, F))
		}
		autograd.LinearTBackward(din, nil, dpre, nil, wi, n, C, F)
		return
	}
	// ff = act(a) ⊙ b with [a, b] = wi·h: da = act'(a)·(dff ⊙ b), db = dff ⊙ act(a).
	dpre, dact := make([]float32, n*2*F), make([]float32, F)
	for g, rows := range st.Lens {
		dffg, dpreg := st.Seed(dff, g, F), st.Seed(dpre, g, 2*F)
		for r := range rows {
			d := dffg[r*F : (r+1)*F]
			pa, pb := s.pre[r*2*F:r*2*F+F], s.pre[r*2*F+F:(r+1)*2*F]
			dp := dpreg[r*2*F : (r+1)*2*F]
			clear(dact)
			autograd.MulBackward(dact, dp[F:], d, s.act[r*F:(r+1)*F], pb)
			bwd(dp[:F], pa, dact)
		}
	}
	autograd.LinearTBackward(din, nil, dpre, nil, wi, n, C, 2*F)
}
