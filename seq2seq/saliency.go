package seq2seq

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/model/t5"
)

// Input saliency of an encoder-decoder: for every target token, the
// gradient of its probability (or logit) with respect to the token
// embeddings of the whole source and of the decoder inputs before it (the
// start token and the earlier target tokens), reduced per token as
// package explain reduces GPT-2's (an L2 norm per token, normalised to sum
// to 1 over the source and the prefix together). The gradients come from
// the models' differentiable passes (bart.Pass, t5.Pass): one forward over
// the source and the teacher-forced target, one backward for all target
// tokens at once.

// Saliency is the input attribution of every target token.
type Saliency struct {
	// Methods are the attribution methods computed (explain.Methods
	// names), Target what they explain ("prob" or "logit"), IGSteps the
	// integrated-gradients steps (0 when not computed).
	Methods []string `json:"methods"`
	Target  string   `json:"target"`
	IGSteps int      `json:"ig_steps,omitempty"`
	// Source[method][i][j] is the share of source token j in target token
	// i's attribution; Prefix[method][i][k] that of decoder input k
	// (k = 0: the start token, k > 0: target token k-1), k <= i. Source
	// and prefix together sum to 1 for each i.
	Source map[string][][]float64 `json:"source"`
	// PrefixTokens are the display strings of the decoder inputs: the
	// start token, then the target tokens but the last.
	PrefixTokens []string               `json:"prefix_tokens"`
	Prefix       map[string][][]float64 `json:"prefix"`
	// Value[i] is the explained value (probability or logit) of target
	// token i.
	Value []float64 `json:"value"`
	// Completeness checks integrated gradients per target token (the raw
	// attributions sum to F(input) − F(zero embeddings)); only with
	// integrated_gradients.
	Completeness []explain.IGCheck `json:"completeness,omitempty"`
}

// SaliencyOptions select the attributions of Pipeline.Saliency.
type SaliencyOptions struct {
	Methods []string       // explain.Methods names; nil or empty: grad_x_input
	Target  explain.Target // explain.TargetProb (Ecco's) or explain.TargetLogit
	IGSteps int            // integrated-gradients steps; 0: 20
}

// defaultIGSteps is explain's default number of integrated-gradients
// steps.
const defaultIGSteps = 20

// maxSaliencyRows bounds the rows (seeds × (source + target)) of one
// batched backward pass.
const maxSaliencyRows = 2048

// diffPass is what saliency needs of bart.Pass and t5.Pass.
type diffPass interface {
	Logits(rows []int) []float32
	Backward(seeds []int, dlogits []float32) (dsrc, dtgt []float32, err error)
}

// diffModel binds a model's differentiable pass.
type diffModel struct {
	width, vocab int
	embedSource  func([]int) ([]float32, error)
	embedTarget  func([]int) ([]float32, error)
	forward      func(src, tgt []float32) (diffPass, error)
}

func bartDiff(m *bart.Model) diffModel {
	return diffModel{width: m.Config.DModel, vocab: m.Config.DecoderVocab, embedSource: m.EmbedSource, embedTarget: m.EmbedTarget,
		forward: func(src, tgt []float32) (diffPass, error) { return m.ForwardPass(src, tgt) }}
}

func t5Diff(m *t5.Model) diffModel {
	return diffModel{width: m.Config.DModel, vocab: m.Config.VocabSize, embedSource: m.Embed, embedTarget: m.Embed,
		forward: func(src, tgt []float32) (diffPass, error) { return m.ForwardPass(src, tgt) }}
}

func (p *Pipeline) diff() diffModel {
	if p.T5 != nil {
		return t5Diff(p.T5)
	}
	return bartDiff(p.Model)
}

// Saliency attributes each token of target (ids after the decoder's start
// token start) to the source tokens src and the decoder inputs before it.
func (p *Pipeline) Saliency(ctx context.Context, src []int, start int, target []int, opt SaliencyOptions) (*Saliency, error) {
	if err := p.CheckSource(src); err != nil {
		return nil, err
	}
	s, err := saliency(ctx, p.diff(), src, start, target, opt)
	if err != nil {
		return nil, err
	}
	s.PrefixTokens = p.displayTokens(append([]int{start}, target[:len(target)-1]...))
	return s, nil
}

// saliency is Pipeline.Saliency on model dm.
func saliency(ctx context.Context, dm diffModel, src []int, start int, target []int, opt SaliencyOptions) (*Saliency, error) {
	if err := (explain.AttributionOptions{Methods: opt.Methods, Target: opt.Target, IGSteps: opt.IGSteps}).Check(); err != nil {
		return nil, err
	}
	if len(target) == 0 {
		return nil, fmt.Errorf("seq2seq: saliency: the target is empty")
	}
	methods := opt.Methods
	if len(methods) == 0 {
		methods = []string{explain.MethodGradXInput}
	}
	want := map[string]bool{}
	for _, m := range methods {
		want[m] = true
	}
	C, S, T := dm.width, len(src), len(target)
	input := append([]int{start}, target[:T-1]...)
	xs, err := dm.embedSource(src)
	if err != nil {
		return nil, fmt.Errorf("seq2seq: saliency: %w", err)
	}
	xt, err := dm.embedTarget(input)
	if err != nil {
		return nil, fmt.Errorf("seq2seq: saliency: %w", err)
	}
	res := &Saliency{Methods: methods, Target: targetName(opt.Target), Source: map[string][][]float64{}, Prefix: map[string][][]float64{}}
	// x[i] is target token i's input: the source rows, then its prefix's.
	x := make([][]float32, T)
	for i := range T {
		x[i] = append(append(make([]float32, 0, (S+i+1)*C), xs...), xt[:(i+1)*C]...)
	}
	split := func(name string, i int, scores []float64) {
		if res.Source[name] == nil {
			res.Source[name], res.Prefix[name] = make([][]float64, T), make([][]float64, T)
		}
		res.Source[name][i], res.Prefix[name][i] = scores[:S], scores[S:]
	}
	grads, vals, err := dm.inputGradients(ctx, xs, xt, target, opt.Target, nil)
	if err != nil {
		return nil, err
	}
	res.Value = vals
	for i, g := range grads {
		if want[explain.MethodGradient] {
			split(explain.MethodGradient, i, explain.NormalisedNorms(g, nil, C))
		}
		if want[explain.MethodGradXInput] {
			split(explain.MethodGradXInput, i, explain.NormalisedNorms(g, x[i], C))
		}
	}
	if !want[explain.MethodIntegrated] {
		return res, nil
	}
	// Integrated gradients from zero embeddings (source and prefix
	// alike): attr = x ⊙ Σ_k w_k ∇F(α_k x), on Captum's Gauss-Legendre
	// nodes, as explain does for GPT-2.
	steps := opt.IGSteps
	if steps == 0 {
		steps = defaultIGSteps
	}
	res.IGSteps = steps
	alphas, weights := explain.GaussLegendre(steps)
	total := make([][]float32, T)
	for i := range T {
		total[i] = make([]float32, (S+i+1)*C)
	}
	for k, a := range alphas {
		as, at := scaled(xs, float32(a)), scaled(xt, float32(a))
		g, _, err := dm.inputGradients(ctx, as, at, target, opt.Target, []float32{float32(weights[k])})
		if err != nil {
			return nil, err
		}
		for i := range T {
			for j, v := range g[i] {
				total[i][j] += v
			}
		}
	}
	zp, err := dm.forward(make([]float32, S*C), make([]float32, T*C))
	if err != nil {
		return nil, err
	}
	base := targetValues(zp, target, opt.Target, dm.vocab)
	res.Completeness = make([]explain.IGCheck, T)
	for i := range T {
		attr := make([]float32, len(total[i]))
		var sum float64
		for j := range attr {
			attr[j] = total[i][j] * x[i][j]
			sum += float64(attr[j])
		}
		split(explain.MethodIntegrated, i, explain.NormalisedNorms(attr, nil, C))
		delta := res.Value[i] - base[i]
		c := explain.IGCheck{Sum: sum, Delta: delta, AbsErr: math.Abs(sum - delta)}
		if delta != 0 {
			c.RelErr = c.AbsErr / math.Abs(delta)
		}
		res.Completeness[i] = c
	}
	return res, nil
}

// scaled returns a·x in a new slice.
func scaled(x []float32, a float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = a * v
	}
	return out
}

func targetName(t explain.Target) string {
	if t == explain.TargetLogit {
		return "logit"
	}
	return "prob"
}

// targetValues returns the explained value of each target token in pass p
// (target token i is predicted at decoder position i).
func targetValues(p diffPass, target []int, tgt explain.Target, V int) []float64 {
	rows := make([]int, len(target))
	for i := range rows {
		rows[i] = i
	}
	logits := p.Logits(rows)
	d := make([]float32, V)
	vals := make([]float64, len(target))
	for i, tok := range target {
		vals[i] = explain.TargetGradient(d, logits[i*V:(i+1)*V], tok, tgt, 1)
	}
	return vals
}

// inputGradients runs one forward pass on the source and decoder-input
// embeddings xs and xt and a backward pass per chunk of target tokens; it
// returns for each target token i the gradient of its target (scaled by
// weight[0] when weight is given) with respect to the source rows and the
// first i+1 decoder-input rows, stacked [(S+i+1)·C], and the targets'
// values.
func (dm diffModel) inputGradients(ctx context.Context, xs, xt []float32, target []int, tgt explain.Target, weight []float32) ([][]float32, []float64, error) {
	C, V := dm.width, dm.vocab
	S, T := len(xs)/C, len(xt)/C
	p, err := dm.forward(xs, xt)
	if err != nil {
		return nil, nil, err
	}
	w := float32(1)
	if weight != nil {
		w = weight[0]
	}
	grads := make([][]float32, T)
	vals := make([]float64, T)
	per := max(1, maxSaliencyRows/(S+T))
	for lo := 0; lo < T; lo += per {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		hi := min(lo+per, T)
		seeds := make([]int, hi-lo)
		for k := range seeds {
			seeds[k] = lo + k
		}
		logits := p.Logits(seeds)
		dl := make([]float32, len(logits))
		for k, i := range seeds {
			vals[i] = explain.TargetGradient(dl[k*V:(k+1)*V], logits[k*V:(k+1)*V], target[i], tgt, w)
		}
		dsrc, dtgt, err := p.Backward(seeds, dl)
		if err != nil {
			return nil, nil, err
		}
		for k, i := range seeds {
			g := make([]float32, 0, (S+i+1)*C)
			g = append(g, dsrc[k*S*C:(k+1)*S*C]...)
			grads[i] = append(g, dtgt[k*T*C:(k*T+i+1)*C]...)
		}
	}
	return grads, vals, nil
}

// writeSaliency writes the saliency as loupe translate --explain prints
// it: per method, one line per target token with the share of the source
// (the rest is the target prefix) and its top input tokens, src:TOKEN
// (position) for a source token and tgt:TOKEN for a decoder input.
func (e *Explanation) writeSaliency(ew *errWriter, top int) {
	s := e.Saliency
	if s == nil {
		return
	}
	width := 0
	for _, t := range e.Target {
		width = max(width, len([]rune(t)))
	}
	for _, m := range s.Methods {
		ew.printf("saliency: %s of each target token's %s over the source and the target prefix (together 100%%); source share and top input tokens:\n", m, s.Target)
		for i, t := range e.Target {
			src, pre := s.Source[m][i], s.Prefix[m][i]
			var share float64
			for _, v := range src {
				share += v
			}
			ew.printf("%3d %-*s ← source %5.1f%%", i, width, t, 100*share)
			type in struct {
				label string
				v     float64
			}
			var all []in
			for j, v := range src {
				all = append(all, in{fmt.Sprintf("src:%s (%d)", e.Source[j], j), v})
			}
			for k, v := range pre {
				tok := fmt.Sprint(k)
				if k < len(s.PrefixTokens) {
					tok = s.PrefixTokens[k]
				}
				all = append(all, in{fmt.Sprintf("tgt:%s (%d)", tok, k), v})
			}
			sort.SliceStable(all, func(a, b int) bool { return all[a].v > all[b].v })
			for _, a := range all[:min(top, len(all))] {
				ew.printf("  %s %.1f%%", a.label, 100*a.v)
			}
			ew.printf("\n")
		}
	}
	if len(s.Completeness) > 0 {
		worst := 0.0
		for _, c := range s.Completeness {
			worst = max(worst, c.AbsErr)
		}
		ew.printf("integrated gradients completeness (%d steps): max |Σattr − (F(x)−F(0))| = %.3g\n", s.IGSteps, worst)
	}
}
