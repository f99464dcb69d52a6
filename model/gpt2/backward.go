package gpt2

import (
	"errors"
	"fmt"

	"github.com/loupe-ml/loupe/autograd"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// The differentiable pass: a forward that keeps the activations a backward
// pass needs, and that backward pass, written with autograd's forward and
// backward pairs (llm.c pairs gpt2_forward with gpt2_backward the same
// way). It computes the same network as State.Forward (a parity test holds
// them within 1e-5) but without a cache, over B sequences of T positions
// that start from input embeddings, so that attributions can differentiate
// the embeddings. Row r of a [B*T, X] buffer is position r%T of sequence r/T.

// Pass is a forward pass over B sequences of T positions with the
// activations its backward pass and the hidden-state views need. It reads
// the model's weights and never changes them; a Pass is not safe for
// concurrent use, but one Model may run many Passes at once.
type Pass struct {
	B, T int
	// X0 is the input: the token embeddings [B*T, C] (position embeddings
	// 0..T-1 are added inside, as GPT-2 does for inputs_embeds).
	X0 []float32
	// Resid[l] is the residual stream entering block l ([B*T, C]);
	// Resid[NLayer] is the input of ln_f.
	Resid [][]float32
	// Att[l] holds block l's attention probabilities [B, nh, T, T].
	Att [][]float32
	// Act[l] holds block l's MLP activations after GELU and interventions
	// ([B*T, 4C]); only with PassOptions.KeepAct, else nil.
	Act [][]float32
	// LNF is the output of ln_f [B*T, C].
	LNF []float32

	m          *Model
	ivs        []Intervention
	mid        [][]float32 // L × [BT, C]: residual stream between attention and MLP
	ln1m, ln1r [][]float32 // L × [BT]: LayerNorm means and reciprocal std devs
	ln2m, ln2r [][]float32
	qkv        [][]float32 // L × [BT, 3C]
	fc         [][]float32 // L × [BT, 4C] MLP pre-activations
	lnfm, lnfr []float32

	// Training only (PassOptions.Train and Dropout).
	ln1, y, ln2 [][]float32 // L × [BT, C]: inputs of c_attn, attn.c_proj and c_fc
	dropout     float32
	keepEmb     []float32   // [BT, C] dropout scales of the embeddings
	keepAtt     [][]float32 // L × [B, nh, T, T] of the attention probabilities
	keepAttn    [][]float32 // L × [BT, C] of the attention branch
	keepMLP     [][]float32 // L × [BT, C] of the MLP branch
	scratch     []float32
	grad        []float32 // BackwardHidden's buffers
}

// PassOptions select what ForwardPass keeps and changes.
type PassOptions struct {
	// KeepAct keeps the MLP activations in Pass.Act.
	KeepAct bool
	// Interventions scale MLP neurons in the forward pass (and their
	// gradients in the backward pass).
	Interventions []Intervention
	// Train keeps the input of every matrix multiply (the ln_1 and ln_2
	// outputs, the attention output and the MLP activation) for
	// BackwardHidden, which training uses.
	Train bool
	// Dropout is the probability of zeroing an element where GPT-2 applies
	// dropout (embd_pdrop on the embeddings, attn_pdrop on the attention
	// probabilities, resid_pdrop on each block's two branches), one value
	// for all three as nanoGPT does; kept elements are scaled by 1/(1-p).
	// 0 turns dropout off. The masks are drawn from DropoutSeed alone, so
	// a pass is reproducible.
	Dropout     float32
	DropoutSeed uint64
	// Reuse, when not nil, lends its buffers to the new pass (which then
	// owns them: Reuse must not be used afterwards). A training loop
	// passes its previous step's Pass so that a step allocates nothing
	// large.
	Reuse *Pass
}

// Embed returns the token embeddings of ids, [len(ids), C]: the input
// ForwardPass differentiates. It checks the ids against the vocabulary.
func (m *Model) Embed(ids []int) ([]float32, error) {
	return m.EmbedInto(nil, ids)
}

// EmbedInto is Embed writing into dst when it is large enough.
func (m *Model) EmbedInto(dst []float32, ids []int) ([]float32, error) {
	c := m.Config
	for i, id := range ids {
		if id < 0 || id >= c.VocabSize {
			return nil, fmt.Errorf("gpt2: token id %d at position %d outside the vocabulary of %d", id, i, c.VocabSize)
		}
	}
	x := reuse(dst, len(ids)*c.NEmbd)
	autograd.EmbeddingForward(x, m.float32Model().Weights.WTE, ids, c.NEmbd)
	return x, nil
}

// reuse returns s[:n] when s can hold n values, else a new slice. The
// contents are not cleared.
func reuse(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

// reuseAll is reuse over a list of per-layer buffers.
func reuseAll(s [][]float32, layers, n int) [][]float32 {
	if len(s) != layers {
		s = make([][]float32, layers)
	}
	for l := range s {
		s[l] = reuse(s[l], n)
	}
	return s
}

func (m *Model) gelu() (fwd func(out, in []float32), bwd func(din, in, dout []float32)) {
	if m.Config.Activation == "gelu" {
		return autograd.GeluErfForward, autograd.GeluErfBackward
	}
	return autograd.GeluTanhForward, autograd.GeluTanhBackward
}

// ForwardPass runs the model on B sequences of T input embeddings x0
// ([B*T, C]; the Pass keeps the slice) and keeps the activations of every
// block. It is float32 whatever Quantize set: a model quantized at load
// keeps its float32 weights for it; a model loaded from a loupe quantize
// directory runs it (and Backward, Embed and Pass.Logits) on float32 weights
// dequantized from the stored ones, built on the first call and kept
// (as much memory as the float32 checkpoint's matrices), so that saliency
// works there too, on the dequantized weights. Training
// (PassOptions.Train) on a quantized model is an error.
func (m *Model) ForwardPass(x0 []float32, B, T int, opt PassOptions) (*Pass, error) {
	c := m.Config
	C, L, nh := c.NEmbd, c.NLayer, c.NHead
	switch {
	case B < 1 || T < 1:
		return nil, fmt.Errorf("gpt2: ForwardPass of %d sequences × %d positions: want at least one of each", B, T)
	case T > c.NPositions:
		return nil, fmt.Errorf("gpt2: %d positions exceed the model's %d: %w", T, c.NPositions, ErrContext)
	case len(x0) != B*T*C:
		return nil, fmt.Errorf("gpt2: ForwardPass input has %d values, want %d sequences × %d positions × %d", len(x0), B, T, C)
	case !(opt.Dropout >= 0 && opt.Dropout < 1):
		return nil, fmt.Errorf("gpt2: dropout probability %v, want 0 <= p < 1", opt.Dropout)
	case opt.Train && m.quant != nil:
		return nil, m.CheckTrainable()
	}
	m = m.float32Model()
	if err := c.CheckInterventions(opt.Interventions); err != nil {
		return nil, fmt.Errorf("gpt2: %w", err)
	}
	w := &m.Weights
	BT := B * T
	p := opt.Reuse
	if p == nil {
		p = &Pass{}
	}
	*p = Pass{B: B, T: T, X0: x0, m: m, ivs: opt.Interventions, dropout: opt.Dropout,
		Resid: p.Resid, Att: p.Att, Act: p.Act, LNF: p.LNF, mid: p.mid, ln1m: p.ln1m, ln1r: p.ln1r, ln2m: p.ln2m, ln2r: p.ln2r,
		qkv: p.qkv, fc: p.fc, lnfm: p.lnfm, lnfr: p.lnfr, ln1: p.ln1, y: p.y, ln2: p.ln2,
		keepEmb: p.keepEmb, keepAtt: p.keepAtt, keepAttn: p.keepAttn, keepMLP: p.keepMLP, scratch: p.scratch, grad: p.grad}
	p.Resid = reuseAll(p.Resid, L+1, BT*C)
	p.Att = reuseAll(p.Att, L, B*nh*T*T)
	p.mid, p.qkv, p.fc = reuseAll(p.mid, L, BT*C), reuseAll(p.qkv, L, BT*3*C), reuseAll(p.fc, L, BT*4*C)
	p.ln1m, p.ln1r, p.ln2m, p.ln2r = reuseAll(p.ln1m, L, BT), reuseAll(p.ln1r, L, BT), reuseAll(p.ln2m, L, BT), reuseAll(p.ln2r, L, BT)
	if opt.KeepAct || opt.Train {
		p.Act = reuseAll(p.Act, L, BT*4*C)
	} else {
		p.Act = make([][]float32, L)
	}
	if opt.Train {
		p.ln1, p.y, p.ln2 = reuseAll(p.ln1, L, BT*C), reuseAll(p.y, L, BT*C), reuseAll(p.ln2, L, BT*C)
	} else {
		p.ln1, p.y, p.ln2 = nil, nil, nil
	}
	var drop *dropper
	if opt.Dropout > 0 {
		drop = newDropper(opt.Dropout, opt.DropoutSeed)
		p.keepEmb = drop.mask(reuse(p.keepEmb, BT*C))
		p.keepAtt = reuseAll(p.keepAtt, L, B*nh*T*T)
		p.keepAttn, p.keepMLP = reuseAll(p.keepAttn, L, BT*C), reuseAll(p.keepMLP, L, BT*C)
	} else {
		p.keepEmb, p.keepAtt, p.keepAttn, p.keepMLP = nil, nil, nil, nil
	}
	for b := 0; b < B; b++ {
		autograd.AddForward(p.Resid[0][b*T*C:(b+1)*T*C], x0[b*T*C:(b+1)*T*C], w.WPE[:T*C])
	}
	if drop != nil {
		kernels.Mul(p.Resid[0], p.Resid[0], p.keepEmb)
	}
	// scratch: ln [BT*C], y [BT*C], proj [BT*C], act [BT*4C] when not kept.
	p.scratch = reuse(p.scratch, 7*BT*C)
	ln, y, proj, act := p.scratch[:BT*C], p.scratch[BT*C:2*BT*C], p.scratch[2*BT*C:3*BT*C], p.scratch[3*BT*C:]
	eps := c.LayerNormEps
	for l := 0; l < L; l++ {
		blk := &w.Blocks[l]
		x := p.Resid[l]
		if opt.Train {
			ln, y = p.ln1[l], p.y[l]
		}
		// mid = x + attn(ln_1(x))
		autograd.LayerNormForward(ln, p.ln1m[l], p.ln1r[l], x, blk.LN1G, blk.LN1B, BT, C, eps)
		autograd.MatmulForward(p.qkv[l], ln, blk.AttnW, blk.AttnB, BT, C, 3*C)
		var keepAtt []float32
		if drop != nil {
			keepAtt = drop.mask(p.keepAtt[l])
		}
		for b := 0; b < B; b++ {
			var k []float32
			if keepAtt != nil {
				k = keepAtt[b*nh*T*T : (b+1)*nh*T*T]
			}
			autograd.AttentionMatmulForward(y[b*T*C:(b+1)*T*C], p.Att[l][b*nh*T*T:(b+1)*nh*T*T], k, p.qkv[l][b*T*3*C:(b+1)*T*3*C], T, C, nh)
		}
		autograd.MatmulForward(proj, y, blk.AttnProjW, blk.AttnProjB, BT, C, C)
		if drop != nil {
			kernels.Mul(proj, proj, drop.mask(p.keepAttn[l]))
		}
		autograd.AddForward(p.mid[l], x, proj)
		// resid = mid + mlp(ln_2(mid))
		if opt.Train {
			ln = p.ln2[l]
		}
		autograd.LayerNormForward(ln, p.ln2m[l], p.ln2r[l], p.mid[l], blk.LN2G, blk.LN2B, BT, C, eps)
		autograd.MatmulForward(p.fc[l], ln, blk.FCW, blk.FCB, BT, C, 4*C)
		a := act
		if p.Act[l] != nil {
			a = p.Act[l]
		}
		p.activation(a, l)
		autograd.MatmulForward(proj, a, blk.ProjW, blk.ProjB, BT, 4*C, C)
		if drop != nil {
			kernels.Mul(proj, proj, drop.mask(p.keepMLP[l]))
		}
		autograd.AddForward(p.Resid[l+1], p.mid[l], proj)
	}
	p.LNF, p.lnfm, p.lnfr = reuse(p.LNF, BT*C), reuse(p.lnfm, BT), reuse(p.lnfr, BT)
	autograd.LayerNormForward(p.LNF, p.lnfm, p.lnfr, p.Resid[L], w.LNFG, w.LNFB, BT, C, eps)
	return p, nil
}

// activation computes block l's MLP activation a ([B*T, 4C]) from the
// pre-activation: GELU, then the interventions.
func (p *Pass) activation(a []float32, l int) {
	gelu, _ := p.m.gelu()
	gelu(a, p.fc[l])
	C4 := 4 * p.m.Config.NEmbd
	if len(p.ivs) > 0 {
		for b := 0; b < p.B; b++ {
			scaleRows(a[b*p.T*C4:(b+1)*p.T*C4], p.ivs, l, 0, p.T, C4)
		}
	}
}

// Unembed applies the LM head to n rows of h ([n, C]), after ln_f when lnf
// is set, and returns the logits [n, V]. h is not changed. The head is the
// inference pass's: after Quantize, the int8, bf16 or f16 one (as Forward's
// logits); Pass.Logits keeps the float32 head of the differentiable pass.
func (m *Model) Unembed(h []float32, n int, lnf bool) []float32 {
	c := m.Config
	C := c.NEmbd
	if lnf {
		x := make([]float32, n*C)
		autograd.LayerNormForward(x, make([]float32, n), make([]float32, n), h, m.Weights.LNFG, m.Weights.LNFB, n, C, c.LayerNormEps)
		h = x
	}
	q := m.quant
	if q == nil || q.head == nil {
		return m.unembed32(h, n)
	}
	out := make([]float32, n*c.VocabSize)
	for i, part := range q.head {
		part.Apply(n, h, C, out[i*headRows:], c.VocabSize)
	}
	return out
}

// unembed32 applies the float32 LM head to n rows of h ([n, C]).
func (m *Model) unembed32(h []float32, n int) []float32 {
	c := m.Config
	out := make([]float32, n*c.VocabSize)
	autograd.LinearTForward(out, h, m.Weights.LMHead, n, c.NEmbd, c.VocabSize)
	return out
}

// Logits returns the logits at the given rows of the pass ([len(rows), V]).
func (p *Pass) Logits(rows []int) []float32 {
	C := p.m.Config.NEmbd
	h := make([]float32, len(rows)*C)
	for i, r := range rows {
		copy(h[i*C:(i+1)*C], p.LNF[r*C:(r+1)*C])
	}
	return p.m.unembed32(h, len(rows))
}

// Seed is where a backward pass starts: the logits at the last position
// (Len-1) of sequence Seq of the forward pass. Positions after Len-1 do not
// influence them, so only the first Len positions of the sequence take part
// (a prefix's activations are the first rows of the longer sequence's,
// attention being causal), and the input gradient it yields has Len rows.
type Seed struct {
	Seq, Len int
}

// Grads receives weight gradients; it is laid out like Weights. Backward
// adds (+=) into the slices that are not nil and skips the nil ones, so a
// caller that only wants the input gradient (saliency) passes nil and pays
// nothing for weight gradients. When the model's LM head is tied to the
// token embedding (Weights.LMHead is Weights.WTE), the head's gradient goes
// to WTE; otherwise to LMHead. WTE gets only that: the token-embedding
// gradient of the input is Backward's result, which the caller scatters to
// its token ids (autograd.EmbeddingBackward).
type Grads = Weights

// NewGrads allocates zeroed gradient buffers for every weight of c (with a
// tied LM head, so LMHead is nil).
func (c Config) NewGrads() *Grads {
	g := &Grads{}
	for _, s := range specs(c, g) {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		*s.dst = make([]float32, n)
	}
	return g
}

// Tied reports whether the LM head is the token embedding itself.
func (w *Weights) Tied() bool {
	return len(w.LMHead) > 0 && len(w.WTE) > 0 && &w.LMHead[0] == &w.WTE[0]
}

// Backward runs the backward pass from the gradients dlogits ([len(seeds),
// V]: row i is the gradient of the loss with respect to seed i's logits)
// and returns the gradient with respect to the input embeddings X0 of each
// seed's positions, stacked as [ΣLen, C] (seed i's rows follow seed
// i-1's). With grads not nil it also adds the weight gradients to it (see
// Grads). Without weight gradients every matrix multiply is one GEMM over
// all seeds' rows together, and the top block runs on the seeds' last rows
// alone (the gradient there is zero elsewhere until attention spreads it).
func (p *Pass) Backward(seeds []Seed, dlogits []float32, grads *Grads) ([]float32, error) {
	m := p.m
	c := m.Config
	C, L, nh, V := c.NEmbd, c.NLayer, c.NHead, c.VocabSize
	T := p.T
	S := len(seeds)
	if S == 0 {
		return nil, errors.New("gpt2: Backward: no seeds")
	}
	if p.dropout > 0 {
		return nil, errors.New("gpt2: Backward: the pass used dropout (use BackwardHidden)")
	}
	if len(dlogits) != S*V {
		return nil, fmt.Errorf("gpt2: Backward: %d logit gradients, want %d seeds × %d", len(dlogits), S, V)
	}
	off := make([]int, S+1)
	for i, s := range seeds {
		if s.Seq < 0 || s.Seq >= p.B || s.Len < 1 || s.Len > T {
			return nil, fmt.Errorf("gpt2: Backward: seed %d (sequence %d, length %d) outside the pass's %d sequences × %d positions", i, s.Seq, s.Len, p.B, T)
		}
		off[i+1] = off[i] + s.Len
	}
	if grads == nil {
		grads = &Grads{Blocks: make([]Block, L)}
	} else if len(grads.Blocks) != L {
		return nil, fmt.Errorf("gpt2: Backward: gradients for %d blocks, the model has %d", len(grads.Blocks), L)
	}
	g, w := grads, &m.Weights
	R := off[S]
	fwd := func(i int) int { return seeds[i].Seq * T }            // seed i's first forward row
	lastF := func(i int) int { return fwd(i) + seeds[i].Len - 1 } // its last forward row
	lastR := func(i int) int { return off[i] + seeds[i].Len - 1 } // its last stacked row
	rowsOf := func(dst, src []float32, width int) []float32 {     // seeds' rows of a forward buffer, stacked
		for i, s := range seeds {
			copy(dst[off[i]*width:off[i+1]*width], src[fwd(i)*width:(fwd(i)+s.Len)*width])
		}
		return dst
	}
	lastOf := func(dst, src []float32, width int) []float32 { // seeds' last rows of a forward buffer
		for i := range seeds {
			copy(dst[i*width:(i+1)*width], src[lastF(i)*width:(lastF(i)+1)*width])
		}
		return dst
	}

	// LM head and ln_f, at each seed's last row.
	dh := make([]float32, S*C)
	var hin []float32
	dhead := g.LMHead
	if w.Tied() {
		dhead = g.WTE
	}
	if dhead != nil {
		hin = lastOf(make([]float32, S*C), p.LNF, C)
	}
	autograd.LinearTBackward(dh, dhead, dlogits, hin, w.LMHead, S, C, V)
	dres := make([]float32, R*C)
	for i := range seeds {
		fr, gr := lastF(i), lastR(i)
		autograd.LayerNormBackward(dres[gr*C:(gr+1)*C], g.LNFG, g.LNFB, dh[i*C:(i+1)*C], p.Resid[L][fr*C:(fr+1)*C], w.LNFG, p.lnfm[fr:fr+1], p.lnfr[fr:fr+1], 1, C)
	}

	dact := make([]float32, R*4*C)
	dfc := make([]float32, R*4*C)
	dln := make([]float32, R*C)
	dy := make([]float32, R*C)
	dqkv := make([]float32, R*3*C)
	_, geluBack := m.gelu()
	dS, dactS, dfcS, dlnS := make([]float32, S*C), make([]float32, S*4*C), make([]float32, S*4*C), make([]float32, S*C)
	// The weight gradients need each matrix multiply's input; the forward
	// did not keep them, so they are recomputed per block, at every row
	// of the pass, then gathered into the seeds' rows.
	in := &blockInputs{}
	if g.weightsWanted() {
		in = newBlockInputs(p, R, S)
	}
	C4 := 4 * C
	for l := L - 1; l >= 0; l-- {
		blk, gb := &w.Blocks[l], &g.Blocks[l]
		if in.want {
			in.compute(p, l)
		}
		// resid[l+1] = mid + mlp(ln_2(mid))
		if l == L-1 {
			for i := range seeds {
				copy(dS[i*C:(i+1)*C], dres[lastR(i)*C:(lastR(i)+1)*C])
			}
			clear(dactS)
			autograd.MatmulBackward(dactS, gb.ProjW, gb.ProjB, dS, in.rows(lastOf, in.act, C4), blk.ProjW, S, C4, C)
			for i, s := range seeds {
				scaleRows(dactS[i*C4:(i+1)*C4], p.ivs, l, s.Len-1, 1, C4)
			}
			clear(dfcS)
			for i := range seeds {
				fr := lastF(i)
				geluBack(dfcS[i*C4:(i+1)*C4], p.fc[l][fr*C4:(fr+1)*C4], dactS[i*C4:(i+1)*C4])
			}
			clear(dlnS)
			autograd.MatmulBackward(dlnS, gb.FCW, gb.FCB, dfcS, in.rows(lastOf, in.ln2, C), blk.FCW, S, C, C4)
			for i := range seeds {
				fr, gr := lastF(i), lastR(i)
				autograd.LayerNormBackward(dres[gr*C:(gr+1)*C], gb.LN2G, gb.LN2B, dlnS[i*C:(i+1)*C], p.mid[l][fr*C:(fr+1)*C], blk.LN2G, p.ln2m[l][fr:fr+1], p.ln2r[l][fr:fr+1], 1, C)
			}
			for i := range seeds {
				copy(dS[i*C:(i+1)*C], dres[lastR(i)*C:(lastR(i)+1)*C])
			}
			clear(dlnS)
			autograd.MatmulBackward(dlnS, gb.AttnProjW, gb.AttnProjB, dS, in.rows(lastOf, in.y, C), blk.AttnProjW, S, C, C)
			clear(dy)
			for i := range seeds {
				copy(dy[lastR(i)*C:(lastR(i)+1)*C], dlnS[i*C:(i+1)*C])
			}
		} else {
			clear(dact)
			autograd.MatmulBackward(dact, gb.ProjW, gb.ProjB, dres, in.rows(rowsOf, in.act, C4), blk.ProjW, R, C4, C)
			for i, s := range seeds {
				scaleRows(dact[off[i]*C4:off[i+1]*C4], p.ivs, l, 0, s.Len, C4)
			}
			clear(dfc)
			for i, s := range seeds {
				f := fwd(i)
				geluBack(dfc[off[i]*C4:off[i+1]*C4], p.fc[l][f*C4:(f+s.Len)*C4], dact[off[i]*C4:off[i+1]*C4])
			}
			clear(dln)
			autograd.MatmulBackward(dln, gb.FCW, gb.FCB, dfc, in.rows(rowsOf, in.ln2, C), blk.FCW, R, C, C4)
			for i, s := range seeds {
				f := fwd(i)
				autograd.LayerNormBackward(dres[off[i]*C:off[i+1]*C], gb.LN2G, gb.LN2B, dln[off[i]*C:off[i+1]*C], p.mid[l][f*C:(f+s.Len)*C], blk.LN2G, p.ln2m[l][f:f+s.Len], p.ln2r[l][f:f+s.Len], s.Len, C)
			}
			clear(dy)
			autograd.MatmulBackward(dy, gb.AttnProjW, gb.AttnProjB, dres, in.rows(rowsOf, in.y, C), blk.AttnProjW, R, C, C)
		}
		// mid = resid[l] + attn(ln_1(resid[l])); dy is the gradient at
		// attn.c_proj's input.
		clear(dqkv)
		for i, s := range seeds {
			b := s.Seq
			autograd.AttentionBackward(dqkv[off[i]*3*C:off[i+1]*3*C], dy[off[i]*C:off[i+1]*C], p.qkv[l][b*T*3*C:(b*T+s.Len)*3*C], p.Att[l][b*nh*T*T:(b+1)*nh*T*T], s.Len, T, C, nh)
		}
		clear(dln)
		autograd.MatmulBackward(dln, gb.AttnW, gb.AttnB, dqkv, in.rows(rowsOf, in.ln1, C), blk.AttnW, R, C, 3*C)
		for i, s := range seeds {
			f := fwd(i)
			autograd.LayerNormBackward(dres[off[i]*C:off[i+1]*C], gb.LN1G, gb.LN1B, dln[off[i]*C:off[i+1]*C], p.Resid[l][f*C:(f+s.Len)*C], blk.LN1G, p.ln1m[l][f:f+s.Len], p.ln1r[l][f:f+s.Len], s.Len, C)
		}
	}
	// resid[0] = x0 + wpe: the gradient passes to both unchanged.
	if g.WPE != nil {
		for i, s := range seeds {
			autograd.AddBackward(g.WPE[:s.Len*C], nil, dres[off[i]*C:off[i+1]*C])
		}
	}
	return dres, nil
}

// weightsWanted reports whether any block or ln_f gradient is asked for
// (the ones whose matrix multiplies need their inputs recomputed).
func (g *Grads) weightsWanted() bool {
	for i := range g.Blocks {
		b := &g.Blocks[i]
		if b.LN1G != nil || b.LN1B != nil || b.AttnW != nil || b.AttnB != nil || b.AttnProjW != nil || b.AttnProjB != nil ||
			b.LN2G != nil || b.LN2B != nil || b.FCW != nil || b.FCB != nil || b.ProjW != nil || b.ProjB != nil {
			return true
		}
	}
	return false
}

// blockInputs recomputes one block's matrix-multiply inputs at every row
// of a pass (ln_1 and ln_2 outputs, the attention output y, the MLP
// activation) and gathers them into the seeds' rows.
type blockInputs struct {
	want             bool      // weight gradients are asked for
	c                int       // C
	ln1, y, ln2, act []float32 // full pass rows, [BT, C] or [BT, 4C]
	mean, rstd, att  []float32 // scratch
	buf4, buf        []float32 // gathered rows
}

func newBlockInputs(p *Pass, R, S int) *blockInputs {
	C, nh := p.m.Config.NEmbd, p.m.Config.NHead
	BT := p.B * p.T
	n := max(R, S)
	return &blockInputs{
		want: true, c: C,
		ln1: make([]float32, BT*C), y: make([]float32, BT*C), ln2: make([]float32, BT*C), act: make([]float32, BT*4*C),
		mean: make([]float32, BT), rstd: make([]float32, BT), att: make([]float32, nh*p.T*p.T),
		buf4: make([]float32, n*4*C), buf: make([]float32, n*C),
	}
}

func (in *blockInputs) compute(p *Pass, l int) {
	c := p.m.Config
	C, nh, T := c.NEmbd, c.NHead, p.T
	BT := p.B * T
	blk := &p.m.Weights.Blocks[l]
	autograd.LayerNormForward(in.ln1, in.mean, in.rstd, p.Resid[l], blk.LN1G, blk.LN1B, BT, C, c.LayerNormEps)
	for b := 0; b < p.B; b++ {
		autograd.AttentionForward(in.y[b*T*C:(b+1)*T*C], in.att, p.qkv[l][b*T*3*C:(b+1)*T*3*C], T, T, C, nh)
	}
	autograd.LayerNormForward(in.ln2, in.mean, in.rstd, p.mid[l], blk.LN2G, blk.LN2B, BT, C, c.LayerNormEps)
	p.activation(in.act, l)
}

// rows gathers rows of src (width columns) with gather (all of each
// seed's rows, or only its last), or returns nil when no inputs are
// recomputed.
func (in *blockInputs) rows(gather func(dst, src []float32, width int) []float32, src []float32, width int) []float32 {
	if !in.want {
		return nil
	}
	dst := in.buf
	if width != in.c {
		dst = in.buf4
	}
	return gather(dst, src, width)
}
