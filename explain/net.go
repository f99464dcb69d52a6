package explain

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/autograd"
)

// Net is a differentiable GPT-2: the forward pass of Hugging Face's
// GPT2LMHeadModel written with autograd's operations, keeping the activations
// the backward pass needs. It reads the weights and never changes them, so
// one Net may be shared by concurrent explanations.
type Net struct {
	Config  Config
	Weights *Weights
}

// NewNet checks that the weights have the shapes cfg implies.
func NewNet(cfg Config, w *Weights) (*Net, error) {
	C, V, P, L := cfg.NEmbd, cfg.VocabSize, cfg.NPositions, cfg.NLayer
	if C <= 0 || V <= 0 || P <= 0 || L <= 0 || cfg.NHead <= 0 || C%cfg.NHead != 0 {
		return nil, fmt.Errorf("explain: bad config: n_embd %d, n_head %d, n_layer %d, vocab %d, n_positions %d", C, cfg.NHead, L, V, P)
	}
	if w == nil {
		return nil, fmt.Errorf("explain: nil weights")
	}
	check := func(name string, x []float32, want int) error {
		if len(x) != want {
			return fmt.Errorf("explain: weight %s has %d values, want %d", name, len(x), want)
		}
		return nil
	}
	if w.LMHead != nil {
		if err := check("lm_head.weight", w.LMHead, V*C); err != nil {
			return nil, err
		}
	}
	errs := []error{check("wte", w.WTE, V*C), check("wpe", w.WPE, P*C), check("ln_f.weight", w.LNFG, C), check("ln_f.bias", w.LNFB, C)}
	if len(w.Blocks) != L {
		return nil, fmt.Errorf("explain: %d blocks, config says n_layer %d", len(w.Blocks), L)
	}
	for l, b := range w.Blocks {
		p := fmt.Sprintf("h.%d.", l)
		errs = append(errs,
			check(p+"ln_1.weight", b.LN1G, C), check(p+"ln_1.bias", b.LN1B, C),
			check(p+"attn.c_attn.weight", b.AttnW, C*3*C), check(p+"attn.c_attn.bias", b.AttnB, 3*C),
			check(p+"attn.c_proj.weight", b.AttnProjW, C*C), check(p+"attn.c_proj.bias", b.AttnProjB, C),
			check(p+"ln_2.weight", b.LN2G, C), check(p+"ln_2.bias", b.LN2B, C),
			check(p+"mlp.c_fc.weight", b.FCW, C*4*C), check(p+"mlp.c_fc.bias", b.FCB, 4*C),
			check(p+"mlp.c_proj.weight", b.ProjW, 4*C*C), check(p+"mlp.c_proj.bias", b.ProjB, C))
	}
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
	}
	if cfg.LayerNormEps == 0 {
		cfg.LayerNormEps = 1e-5
	}
	return &Net{Config: cfg, Weights: w}, nil
}

// head is the LM head matrix [V, C] (wte unless the checkpoint unties it).
func (n *Net) head() []float32 {
	if n.Weights.LMHead != nil {
		return n.Weights.LMHead
	}
	return n.Weights.WTE
}

func (n *Net) erfGelu() bool { return n.Config.Activation == "gelu" }

// Intervention scales one MLP neuron's activation (after GELU, the input of
// c_proj) at chosen positions during the forward pass: Scale 0 inhibits it,
// Scale > 1 induces it. Positions nil means every position.
type Intervention struct {
	Layer     int     `json:"layer"`
	Neuron    int     `json:"neuron"`
	Positions []int   `json:"positions,omitempty"`
	Scale     float32 `json:"scale"`
}

// pass holds a forward pass over B sequences of T positions each, with the
// activations the backward pass and the hidden-state views need. Row r of a
// [B*T, X] buffer is position r%T of sequence r/T.
type pass struct {
	B, T     int
	x0       []float32   // [BT, C] token embeddings: what attributions differentiate
	resid    [][]float32 // L+1 × [BT, C]: resid_pre of each block, then the input of ln_f
	mid      [][]float32 // L × [BT, C]: residual stream between attention and MLP
	ln1m     [][]float32 // L × [BT] LayerNorm means and reciprocal std devs
	ln1r     [][]float32
	ln2m     [][]float32
	ln2r     [][]float32
	qkv      [][]float32 // L × [BT, 3C]
	att      [][]float32 // L × [B, nh, T, T]
	fc       [][]float32 // L × [BT, 4C] MLP pre-activations
	act      [][]float32 // L × [BT, 4C] MLP activations after GELU (only with keepAct)
	lnf      []float32   // [BT, C] output of ln_f
	lnfm     []float32
	lnfr     []float32
	interven []Intervention
}

// forward runs the model on B sequences of T token embeddings x0 ([B*T, C];
// the pass keeps the slice), adding position embeddings 0..T-1 inside as
// GPT-2 does for inputs_embeds. keepAct keeps the MLP activations.
func (n *Net) forward(x0 []float32, B, T int, keepAct bool, iv []Intervention) *pass {
	cfg, w := n.Config, n.Weights
	C, L, nh := cfg.NEmbd, cfg.NLayer, cfg.NHead
	BT := B * T
	p := &pass{B: B, T: T, x0: x0, interven: iv}
	p.resid = make([][]float32, L+1)
	p.resid[0] = make([]float32, BT*C)
	for b := 0; b < B; b++ {
		autograd.AddForward(p.resid[0][b*T*C:(b+1)*T*C], x0[b*T*C:(b+1)*T*C], w.WPE[:T*C])
	}
	mk := func() [][]float32 { return make([][]float32, L) }
	p.mid, p.ln1m, p.ln1r, p.ln2m, p.ln2r, p.qkv, p.att, p.fc, p.act = mk(), mk(), mk(), mk(), mk(), mk(), mk(), mk(), mk()
	ln := make([]float32, BT*C)
	y := make([]float32, BT*C)
	proj := make([]float32, BT*C)
	act := make([]float32, BT*4*C)
	eps := cfg.LayerNormEps
	for l := 0; l < L; l++ {
		blk := &w.Blocks[l]
		x := p.resid[l]
		p.ln1m[l], p.ln1r[l] = make([]float32, BT), make([]float32, BT)
		autograd.LayerNormForward(ln, p.ln1m[l], p.ln1r[l], x, blk.LN1G, blk.LN1B, BT, C, eps)
		p.qkv[l] = make([]float32, BT*3*C)
		autograd.MatmulForward(p.qkv[l], ln, blk.AttnW, blk.AttnB, BT, C, 3*C)
		p.att[l] = make([]float32, B*nh*T*T)
		for b := 0; b < B; b++ {
			autograd.AttentionForward(y[b*T*C:(b+1)*T*C], p.att[l][b*nh*T*T:(b+1)*nh*T*T], p.qkv[l][b*T*3*C:(b+1)*T*3*C], T, T, C, nh)
		}
		autograd.MatmulForward(proj, y, blk.AttnProjW, blk.AttnProjB, BT, C, C)
		p.mid[l] = make([]float32, BT*C)
		autograd.AddForward(p.mid[l], x, proj)
		p.ln2m[l], p.ln2r[l] = make([]float32, BT), make([]float32, BT)
		autograd.LayerNormForward(ln, p.ln2m[l], p.ln2r[l], p.mid[l], blk.LN2G, blk.LN2B, BT, C, eps)
		p.fc[l] = make([]float32, BT*4*C)
		autograd.MatmulForward(p.fc[l], ln, blk.FCW, blk.FCB, BT, C, 4*C)
		a := act
		if keepAct {
			a = make([]float32, BT*4*C)
			p.act[l] = a
		}
		if n.erfGelu() {
			autograd.GeluErfForward(a, p.fc[l])
		} else {
			autograd.GeluTanhForward(a, p.fc[l])
		}
		for _, v := range iv {
			if v.Layer != l {
				continue
			}
			for b := 0; b < B; b++ {
				apply := func(t int) {
					if t >= 0 && t < T {
						a[(b*T+t)*4*C+v.Neuron] *= v.Scale
					}
				}
				if v.Positions == nil {
					for t := 0; t < T; t++ {
						apply(t)
					}
				}
				for _, t := range v.Positions {
					apply(t)
				}
			}
		}
		autograd.MatmulForward(proj, a, blk.ProjW, blk.ProjB, BT, 4*C, C)
		p.resid[l+1] = make([]float32, BT*C)
		autograd.AddForward(p.resid[l+1], p.mid[l], proj)
	}
	p.lnf, p.lnfm, p.lnfr = make([]float32, BT*C), make([]float32, BT), make([]float32, BT)
	autograd.LayerNormForward(p.lnf, p.lnfm, p.lnfr, p.resid[L], w.LNFG, w.LNFB, BT, C, eps)
	return p
}

// logitsAt computes the LM head (tied to wte) for the given rows of h ([*, C]).
func (n *Net) logitsAt(h []float32, rows []int) []float32 {
	C, V := n.Config.NEmbd, n.Config.VocabSize
	in := make([]float32, len(rows)*C)
	for i, r := range rows {
		copy(in[i*C:(i+1)*C], h[r*C:(r+1)*C])
	}
	out := make([]float32, len(rows)*V)
	autograd.LinearTForward(out, in, n.head(), len(rows), C, V)
	return out
}

// Target says which scalar of the output an attribution explains.
type Target int

const (
	// TargetProb is the softmax probability of the token (Ecco's choice).
	TargetProb Target = iota
	// TargetLogit is the token's logit.
	TargetLogit
)

// segment asks for the gradient of one target: the output at position Len-1
// of forward sequence Seq, for token Token, scaled by Weight. Positions past
// Len-1 do not influence it, so only the first Len rows take part.
type segment struct {
	Seq, Len, Token int
	Weight          float32
}

// targetValues returns, for each segment, the target's value and the gradient
// of the target with respect to the logits ([S, V]).
func (n *Net) targetValues(p *pass, segs []segment, tgt Target) (vals []float64, dlogits []float32) {
	V := n.Config.VocabSize
	rows := make([]int, len(segs))
	for i, s := range segs {
		rows[i] = s.Seq*p.T + s.Len - 1
	}
	logits := n.logitsAt(p.lnf, rows)
	vals = make([]float64, len(segs))
	dlogits = make([]float32, len(segs)*V)
	for i, s := range segs {
		z := logits[i*V : (i+1)*V]
		d := dlogits[i*V : (i+1)*V]
		if tgt == TargetLogit {
			vals[i] = float64(z[s.Token])
			d[s.Token] = s.Weight
			continue
		}
		softmax(z)
		pt := z[s.Token]
		vals[i] = float64(pt)
		for j, pj := range z {
			d[j] = -s.Weight * pt * pj
		}
		d[s.Token] += s.Weight * pt
	}
	return vals, dlogits
}

// backward returns d target / d x0 for each segment, stacked as [ΣLen, C]
// (segment i's rows follow segment i-1's). It does not need weight gradients,
// so every matrix multiply costs one GEMM over all segments' rows together.
func (n *Net) backward(p *pass, segs []segment, dlogits []float32) []float32 {
	cfg, w := n.Config, n.Weights
	C, L, nh, V := cfg.NEmbd, cfg.NLayer, cfg.NHead, cfg.VocabSize
	T := p.T
	off := make([]int, len(segs)+1)
	for i, s := range segs {
		off[i+1] = off[i] + s.Len
	}
	R := off[len(segs)]
	S := len(segs)
	// Seed: d ln_f output at each target row, then back through ln_f.
	dh := make([]float32, S*C)
	autograd.LinearTBackward(dh, nil, dlogits, nil, n.head(), S, C, V)
	dres := make([]float32, R*C)
	for i, s := range segs {
		fr := s.Seq*T + s.Len - 1
		gr := off[i] + s.Len - 1
		autograd.LayerNormBackward(dres[gr*C:(gr+1)*C], nil, nil, dh[i*C:(i+1)*C], p.resid[L][fr*C:(fr+1)*C], w.LNFG, p.lnfm[fr:fr+1], p.lnfr[fr:fr+1], 1, C)
	}
	// fwd maps a segment to its forward rows [first, first+Len).
	fwd := func(i int) int { return segs[i].Seq * T }
	dact := make([]float32, R*4*C)
	dfc := make([]float32, R*4*C)
	dln := make([]float32, R*C)
	dy := make([]float32, R*C)
	dqkv := make([]float32, R*3*C)
	gelu := autograd.GeluTanhBackward
	if n.erfGelu() {
		gelu = autograd.GeluErfBackward
	}
	// In the top block the gradient is non-zero only at each segment's target
	// row until attention spreads it, so its MLP and attention projection run
	// on those S rows alone.
	tgtRow := func(i int) int { return off[i] + segs[i].Len - 1 }
	dS, dactS, dfcS, dlnS := make([]float32, S*C), make([]float32, S*4*C), make([]float32, S*4*C), make([]float32, S*C)
	for l := L - 1; l >= 0; l-- {
		blk := &w.Blocks[l]
		// resid[l+1] = mid + mlp(ln2(mid))
		if l == L-1 {
			for i := range segs {
				copy(dS[i*C:(i+1)*C], dres[tgtRow(i)*C:(tgtRow(i)+1)*C])
			}
			clear(dactS)
			autograd.MatmulBackward(dactS, nil, nil, dS, nil, blk.ProjW, S, 4*C, C)
			n.scaleInterventions(dactS, p.interven, l, segs, func(i, t int) int {
				if t != segs[i].Len-1 {
					return -1
				}
				return i
			})
			clear(dfcS)
			for i, s := range segs {
				fr := fwd(i) + s.Len - 1
				gelu(dfcS[i*4*C:(i+1)*4*C], p.fc[l][fr*4*C:(fr+1)*4*C], dactS[i*4*C:(i+1)*4*C])
			}
			clear(dlnS)
			autograd.MatmulBackward(dlnS, nil, nil, dfcS, nil, blk.FCW, S, C, 4*C)
			for i, s := range segs {
				fr, gr := fwd(i)+s.Len-1, tgtRow(i)
				autograd.LayerNormBackward(dres[gr*C:(gr+1)*C], nil, nil, dlnS[i*C:(i+1)*C], p.mid[l][fr*C:(fr+1)*C], blk.LN2G, p.ln2m[l][fr:fr+1], p.ln2r[l][fr:fr+1], 1, C)
			}
			for i := range segs {
				copy(dS[i*C:(i+1)*C], dres[tgtRow(i)*C:(tgtRow(i)+1)*C])
			}
			clear(dlnS)
			autograd.MatmulBackward(dlnS, nil, nil, dS, nil, blk.AttnProjW, S, C, C)
			clear(dy)
			for i := range segs {
				copy(dy[tgtRow(i)*C:(tgtRow(i)+1)*C], dlnS[i*C:(i+1)*C])
			}
		} else {
			clear(dact)
			autograd.MatmulBackward(dact, nil, nil, dres, nil, blk.ProjW, R, 4*C, C)
			n.scaleInterventions(dact, p.interven, l, segs, func(i, t int) int {
				if t < 0 || t >= segs[i].Len {
					return -1
				}
				return off[i] + t
			})
			clear(dfc)
			for i, s := range segs {
				f := fwd(i)
				gelu(dfc[off[i]*4*C:off[i+1]*4*C], p.fc[l][f*4*C:(f+s.Len)*4*C], dact[off[i]*4*C:off[i+1]*4*C])
			}
			clear(dln)
			autograd.MatmulBackward(dln, nil, nil, dfc, nil, blk.FCW, R, C, 4*C)
			for i, s := range segs {
				f := fwd(i)
				autograd.LayerNormBackward(dres[off[i]*C:off[i+1]*C], nil, nil, dln[off[i]*C:off[i+1]*C], p.mid[l][f*C:(f+s.Len)*C], blk.LN2G, p.ln2m[l][f:f+s.Len], p.ln2r[l][f:f+s.Len], s.Len, C)
			}
			clear(dy)
			autograd.MatmulBackward(dy, nil, nil, dres, nil, blk.AttnProjW, R, C, C)
		}
		// mid = resid[l] + attn(ln1(resid[l])); dy is the gradient at attn's c_proj input.
		clear(dqkv)
		for i, s := range segs {
			b := s.Seq
			autograd.AttentionBackward(dqkv[off[i]*3*C:off[i+1]*3*C], dy[off[i]*C:off[i+1]*C], p.qkv[l][b*T*3*C:(b*T+s.Len)*3*C], p.att[l][b*nh*T*T:(b+1)*nh*T*T], s.Len, T, C, nh)
		}
		clear(dln)
		autograd.MatmulBackward(dln, nil, nil, dqkv, nil, blk.AttnW, R, C, 3*C)
		for i, s := range segs {
			f := fwd(i)
			autograd.LayerNormBackward(dres[off[i]*C:off[i+1]*C], nil, nil, dln[off[i]*C:off[i+1]*C], p.resid[l][f*C:(f+s.Len)*C], blk.LN1G, p.ln1m[l][f:f+s.Len], p.ln1r[l][f:f+s.Len], s.Len, C)
		}
	}
	// resid[0] = x0 + wpe: the gradient passes through unchanged.
	return dres
}

// scaleInterventions scales the gradient of intervened MLP activations
// (a' = scale·a, so da = scale·da') in buffer d ([rows, 4C]); row(i, t) maps
// position t of segment i to a row of d, or -1 when it is not there.
func (n *Net) scaleInterventions(d []float32, ivs []Intervention, l int, segs []segment, row func(i, t int) int) {
	C4 := 4 * n.Config.NEmbd
	for _, iv := range ivs {
		if iv.Layer != l {
			continue
		}
		for i, s := range segs {
			apply := func(t int) {
				if r := row(i, t); r >= 0 {
					d[r*C4+iv.Neuron] *= iv.Scale
				}
			}
			if iv.Positions == nil {
				for t := 0; t < s.Len; t++ {
					apply(t)
				}
			}
			for _, t := range iv.Positions {
				apply(t)
			}
		}
	}
}

// embed returns the token embeddings of ids ([len(ids), C]).
func (n *Net) embed(ids []int) ([]float32, error) {
	V := n.Config.VocabSize
	for i, id := range ids {
		if id < 0 || id >= V {
			return nil, fmt.Errorf("explain: token id %d at position %d outside the vocabulary of %d", id, i, V)
		}
	}
	if len(ids) > n.Config.NPositions {
		return nil, fmt.Errorf("explain: %d tokens exceed the model's %d positions", len(ids), n.Config.NPositions)
	}
	x := make([]float32, len(ids)*n.Config.NEmbd)
	autograd.EmbeddingForward(x, n.Weights.WTE, ids, n.Config.NEmbd)
	return x, nil
}

// Logits runs the model on ids and returns the logits at every position ([T, V]).
func (n *Net) Logits(ids []int) ([]float32, error) {
	x, err := n.embed(ids)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("explain: no tokens")
	}
	p := n.forward(x, 1, len(ids), false, nil)
	rows := make([]int, len(ids))
	for i := range rows {
		rows[i] = i
	}
	return n.logitsAt(p.lnf, rows), nil
}

// InputGradient returns d target / d (token embedding of each position) for
// the token at position len(ids)-1+1, i.e. the target is the model's output
// for token `token` after reading all of ids. The result is [len(ids), C].
func (n *Net) InputGradient(ids []int, token int, tgt Target) (grad []float32, value float64, err error) {
	x, err := n.embed(ids)
	if err != nil {
		return nil, 0, err
	}
	if len(ids) == 0 {
		return nil, 0, fmt.Errorf("explain: no tokens")
	}
	if token < 0 || token >= n.Config.VocabSize {
		return nil, 0, fmt.Errorf("explain: target token %d outside the vocabulary of %d", token, n.Config.VocabSize)
	}
	p := n.forward(x, 1, len(ids), false, nil)
	segs := []segment{{Seq: 0, Len: len(ids), Token: token, Weight: 1}}
	vals, dl := n.targetValues(p, segs, tgt)
	return n.backward(p, segs, dl), vals[0], nil
}

var _ = math.Sqrt
