package gpt2

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/loupe-ml/loupe/autograd"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// What training needs from the model: its parameters by name, GPT-2's
// initialisation, dropout masks and the backward pass over every position
// (the loss of language modelling is at every position, where the
// attributions' Backward starts from one position per sequence).

// Param is one parameter tensor: its Hugging Face name (without the
// "transformer." prefix), shape and values.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
}

// Params lists the tensors of w in checkpoint order (wte, wpe, the blocks,
// ln_f). A tied LM head is WTE and is not listed again; an untied one is
// listed last as lm_head.weight. The Data slices are w's own.
func (c Config) Params(w *Weights) []Param {
	v := *w
	sp := specs(c, &v)
	out := make([]Param, 0, len(sp)+1)
	for _, s := range sp {
		out = append(out, Param{Name: s.name, Shape: s.shape, Data: *s.dst})
	}
	if len(w.LMHead) > 0 && !w.Tied() {
		out = append(out, Param{Name: "lm_head.weight", Shape: []int{c.VocabSize, c.NEmbd}, Data: w.LMHead})
	}
	return out
}

// Init returns a model of configuration cfg with GPT-2's initialisation
// (as transformers' GPT2PreTrainedModel and nanoGPT do it): every weight
// matrix and both embeddings drawn from N(0, 0.02²), the two projections
// back into the residual stream (attn.c_proj and mlp.c_proj) from
// N(0, (0.02/√(2·n_layer))²), biases 0, LayerNorm gains 1, and the LM head
// tied to wte. The normal draws come from a PCG stream seeded with seed.
func Init(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("gpt2: config: %w", err)
	}
	m := &Model{Config: cfg}
	rng := rand.New(rand.NewPCG(seed, 0x6770743269))
	projStd := 0.02 / math.Sqrt(2*float64(cfg.NLayer))
	for _, s := range specs(cfg, &m.Weights) {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		v := make([]float32, n)
		switch {
		case strings.HasSuffix(s.name, "ln_1.weight") || strings.HasSuffix(s.name, "ln_2.weight") || s.name == "ln_f.weight":
			for i := range v {
				v[i] = 1
			}
		case strings.HasSuffix(s.name, ".bias"):
		default:
			std := 0.02
			if strings.HasSuffix(s.name, "c_proj.weight") {
				std = projStd
			}
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		*s.dst = v
	}
	m.Weights.LMHead = m.Weights.WTE
	return m, nil
}

// dropper draws inverted-dropout masks: each element is 0 with
// probability p and 1/(1-p) otherwise.
type dropper struct {
	rng   *rand.Rand
	p     float32
	scale float32
}

func newDropper(p float32, seed uint64) *dropper {
	return &dropper{rng: rand.New(rand.NewPCG(seed, 0x64726f70)), p: p, scale: 1 / (1 - p)}
}

// mask fills m with a fresh mask and returns it.
func (d *dropper) mask(m []float32) []float32 {
	for i := range m {
		if d.rng.Float32() < d.p {
			m[i] = 0
		} else {
			m[i] = d.scale
		}
	}
	return m
}

// BackwardHidden runs the backward pass from dlnf, the gradient of the
// loss with respect to the output of ln_f at every row of the pass
// ([B*T, C]), adds every weight gradient of the blocks, ln_f and wpe to
// grads, and returns the gradient with respect to the input embeddings X0
// ([B*T, C]; it lives in the pass's scratch, valid until the pass is
// reused), which the caller scatters to its token ids. The LM head is
// the caller's: it computes dlnf from its logits and adds the head's own
// gradient. The pass must have been run with PassOptions.Train.
func (p *Pass) BackwardHidden(dlnf []float32, grads *Grads) ([]float32, error) {
	m := p.m
	c := m.Config
	C, L, nh := c.NEmbd, c.NLayer, c.NHead
	B, T := p.B, p.T
	BT := B * T
	switch {
	case p.ln1 == nil:
		return nil, errors.New("gpt2: BackwardHidden needs a pass run with PassOptions.Train")
	case len(dlnf) != BT*C:
		return nil, fmt.Errorf("gpt2: BackwardHidden: %d gradient values, want %d rows × %d", len(dlnf), BT, C)
	case grads == nil || len(grads.Blocks) != L:
		return nil, fmt.Errorf("gpt2: BackwardHidden: gradients must be allocated for the model's %d blocks (Config.NewGrads)", L)
	}
	g, w := grads, &m.Weights
	_, geluBack := m.gelu()
	// Scratch, kept in the pass for the next step (PassOptions.Reuse): the
	// residual stream's gradient [BT, C] (returned), then dproj, dln, dy
	// [BT, C], dact, dfc [BT, 4C] and dqkv [BT, 3C].
	p.grad = reuse(p.grad, 17*BT*C)
	clear(p.grad[:BT*C])
	buf := p.grad
	next := func(n int) []float32 { v := buf[:n]; buf = buf[n:]; return v }
	dres := next(BT * C)
	dproj, dln, dy := next(BT*C), next(BT*C), next(BT*C)
	dact, dfc, dqkv := next(BT*4*C), next(BT*4*C), next(BT*3*C)
	autograd.LayerNormBackward(dres, g.LNFG, g.LNFB, dlnf, p.Resid[L], w.LNFG, p.lnfm, p.lnfr, BT, C)
	C4 := 4 * C
	for l := L - 1; l >= 0; l-- {
		blk, gb := &w.Blocks[l], &g.Blocks[l]
		// resid[l+1] = mid + dropout(mlp(ln_2(mid)))
		d := dres
		if p.keepMLP != nil {
			kernels.Mul(dproj, dres, p.keepMLP[l])
			d = dproj
		}
		clear(dact)
		autograd.MatmulBackward(dact, gb.ProjW, gb.ProjB, d, p.Act[l], blk.ProjW, BT, C4, C)
		if len(p.ivs) > 0 {
			for b := 0; b < B; b++ {
				scaleRows(dact[b*T*C4:(b+1)*T*C4], p.ivs, l, 0, T, C4)
			}
		}
		clear(dfc)
		geluBack(dfc, p.fc[l], dact)
		clear(dln)
		autograd.MatmulBackward(dln, gb.FCW, gb.FCB, dfc, p.ln2[l], blk.FCW, BT, C, C4)
		autograd.LayerNormBackward(dres, gb.LN2G, gb.LN2B, dln, p.mid[l], blk.LN2G, p.ln2m[l], p.ln2r[l], BT, C)
		// mid = resid[l] + dropout(attn(ln_1(resid[l])))
		d = dres
		if p.keepAttn != nil {
			kernels.Mul(dproj, dres, p.keepAttn[l])
			d = dproj
		}
		clear(dy)
		autograd.MatmulBackward(dy, gb.AttnProjW, gb.AttnProjB, d, p.y[l], blk.AttnProjW, BT, C, C)
		clear(dqkv)
		for b := 0; b < B; b++ {
			var keep []float32
			if p.keepAtt != nil {
				keep = p.keepAtt[l][b*nh*T*T : (b+1)*nh*T*T]
			}
			autograd.AttentionMatmulBackward(dqkv[b*T*3*C:(b+1)*T*3*C], dy[b*T*C:(b+1)*T*C], p.qkv[l][b*T*3*C:(b+1)*T*3*C], p.Att[l][b*nh*T*T:(b+1)*nh*T*T], keep, T, C, nh)
		}
		clear(dln)
		autograd.MatmulBackward(dln, gb.AttnW, gb.AttnB, dqkv, p.ln1[l], blk.AttnW, BT, C, 3*C)
		autograd.LayerNormBackward(dres, gb.LN1G, gb.LN1B, dln, p.Resid[l], blk.LN1G, p.ln1m[l], p.ln1r[l], BT, C)
	}
	// resid[0] = dropout(x0 + wpe)
	if p.keepEmb != nil {
		kernels.Mul(dres, dres, p.keepEmb)
	}
	if g.WPE != nil {
		for b := 0; b < B; b++ {
			autograd.AddBackward(g.WPE[:T*C], nil, dres[b*T*C:(b+1)*T*C])
		}
	}
	return dres, nil
}

// Clone returns a copy of m whose weights are its own writable slices on
// the heap (a loaded model's weights may be read-only pages of the
// memory-mapped checkpoint), for training. A tied LM head stays tied. The
// copy of a model loaded from a loupe quantize directory shares its
// quantized weights (they are never written) and stays quantized, so that
// training it fails (ErrStoredQuantized) rather than starting from
// missing float32 weights.
func (m *Model) Clone() *Model {
	c := &Model{Config: m.Config}
	if m.storedQuantized() {
		c.quant = m.quant
	}
	src := m.Config.Params(&m.Weights)
	for i, s := range specs(c.Config, &c.Weights) {
		*s.dst = append([]float32(nil), src[i].Data...) // same order
	}
	if m.Weights.Tied() {
		c.Weights.LMHead = c.Weights.WTE
	} else {
		c.Weights.LMHead = append([]float32(nil), m.Weights.LMHead...)
	}
	return c
}
