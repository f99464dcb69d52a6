package explain

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// Options configures Explain. The zero value explains with grad_x_input for
// the chosen token's probability, the logit lens with the final LayerNorm,
// top-5 layer predictions, attention, and no NMF.
type Options struct {
	Methods []string // attribution methods; default grad_x_input
	Target  Target
	IGSteps int // default 20
	MaxRows int // see AttributionOptions

	Raw  bool // layer predictions/rankings without the final LayerNorm (Ecco's view)
	TopK int  // layer predictions per layer; default 5

	Watch         []int // token ids for rankings_watch
	WatchPosition int   // position whose prediction is watched; default (-1 or 0) the last prompt token

	NMFComponents int // 0 = no NMF
	FromLayer     int // first layer for NMF (0-based)
	ToLayer       int // last layer for NMF, inclusive; -1 = last
	NMFSeed       int64
	NMFIters      int // default 200

	NoAttention bool

	// Interventions scale MLP neurons; if any are given the prompt is
	// regenerated for RegenerateTokens tokens with and without them, through
	// package generate (greedily by Explain; with the request's sampling by
	// Explainer.Explain).
	Interventions    []Intervention
	RegenerateTokens int

	// TokenText renders a token id for display; default "#id".
	TokenText func(id int) string

	// Context, if not nil, stops the work between batches when it is done.
	Context context.Context
}

// Intervention scales one MLP neuron's activation (after GELU, the input of
// c_proj) at chosen positions: Scale 0 inhibits it, Scale > 1 induces it.
// Positions nil means every position. It is model/gpt2's.
type Intervention = gpt2.Intervention

// Result holds every number an explanation shows. Its JSON form is what
// `loupe explain --format json` prints and what the HTML view reads.
type Result struct {
	Model string `json:"model,omitempty"`
	// Precision is the weights' precision of the inference pass that
	// generated the tokens and gave the attention, hidden states and layer
	// predictions ("int8", "bf16", "f16"; empty for float32). The attributions come
	// from the differentiable pass, which is float32 in every case.
	Precision string `json:"precision,omitempty"`
	// Tokens are the tokens of IDs for display (Options.TokenText; an
	// Explainer's shows a leading space as ␣ and stray bytes as \xNN:
	// see DisplayToken).
	Tokens []string `json:"tokens"`
	// RawTokens are the same tokens' text, and Text the whole sequence's
	// (bytes that are not whole UTF-8 characters as U+FFFD), when the
	// Explainer's tokenizer is at hand.
	RawTokens        []string               `json:"raw_tokens,omitempty"`
	Text             string                 `json:"text,omitempty"`
	IDs              []int                  `json:"ids"`
	PromptLength     int                    `json:"prompt_length"`
	Target           string                 `json:"target"`
	TargetValues     []float64              `json:"target_values"`
	Attributions     map[string][][]float64 `json:"attributions"`
	IGSteps          int                    `json:"ig_steps,omitempty"`
	IGCompleteness   []IGCheck              `json:"ig_completeness,omitempty"`
	LogitLens        string                 `json:"logit_lens"`
	Rankings         [][]int                `json:"rankings"`
	LayerPredictions [][][]Prediction       `json:"layer_predictions"`
	RankingsWatch    *Watch                 `json:"rankings_watch,omitempty"`
	NMF              *NMFResult             `json:"nmf,omitempty"`
	Attention        *Attention             `json:"attention,omitempty"`
	Intervention     *InterventionResult    `json:"intervention,omitempty"`
	// Retrieval explains a retrieval-augmented generation (Request.KNN,
	// Request.RALM); nil otherwise.
	Retrieval *Retrieval         `json:"retrieval,omitempty"`
	TimingsMS map[string]float64 `json:"timings_ms"`
	// Stopped is "context_limit" when generation ended because prompt and
	// output filled the model's context before MaxNewTokens; empty otherwise.
	Stopped string `json:"stopped,omitempty"`
	// Finish is why generation ended, as loupe generate reports it:
	// "length", "eos", "stop" or "context"; empty for a given continuation.
	Finish string `json:"finish,omitempty"`
}

// Watch is rankings_watch: the rank of each watched token at one position,
// layer by layer.
type Watch struct {
	Position int      `json:"position"`
	IDs      []int    `json:"ids"`
	Tokens   []string `json:"tokens"`
	// Ranks[l][w] is watched token w's rank (1 = top) after block l+1.
	Ranks [][]int `json:"ranks"`
	// Probs[l][w] is its probability there.
	Probs [][]float64 `json:"probs"`
}

// Attention holds attention probabilities: Probs[l][h][i] lists position i's
// weights over positions 0..i.
type Attention struct {
	Layers int           `json:"layers"`
	Heads  int           `json:"heads"`
	Probs  [][][][]Prob4 `json:"probs"`
}

// Prob4 is a probability written to JSON with 4 decimals.
type Prob4 float32

// MarshalJSON writes p rounded to 4 decimals.
func (p Prob4) MarshalJSON() ([]byte, error) {
	v := math.Round(float64(p)*1e4) / 1e4
	return fmt.Appendf(nil, "%g", v), nil
}

// InterventionResult compares greedy continuations with and without the
// neuron interventions.
type InterventionResult struct {
	Interventions []Intervention `json:"interventions"`
	Baseline      []int          `json:"baseline_ids"`
	BaselineText  []string       `json:"baseline_tokens"`
	Changed       []int          `json:"intervened_ids"`
	ChangedText   []string       `json:"intervened_tokens"`
	// BaselineString and ChangedString are the two continuations as text,
	// when the Explainer's tokenizer is at hand.
	BaselineString string `json:"baseline_text,omitempty"`
	ChangedString  string `json:"intervened_text,omitempty"`
}

// Explain computes attributions, hidden-state evolution, optional NMF,
// attention and interventions for ids, of which the first promptLen are the
// prompt and the rest the output being explained. Attributions come from
// model/gpt2's differentiable pass (ForwardPass and Pass.Backward); the
// hidden states, attention and MLP activations from its KV-cache forward's
// hook points. With Interventions, the prompt is regenerated greedily
// through package generate with and without them.
func Explain(m *gpt2.Model, ids []int, promptLen int, opt Options) (*Result, error) {
	if m == nil {
		return nil, fmt.Errorf("explain: nil model")
	}
	L := m.Config.NLayer
	text := opt.TokenText
	if text == nil {
		text = func(id int) string { return fmt.Sprintf("#%d", id) }
	}
	if promptLen < 1 || promptLen > len(ids) {
		return nil, fmt.Errorf("explain: prompt length %d outside 1..%d tokens", promptLen, len(ids))
	}
	if len(ids) > m.Config.NPositions {
		return nil, fmt.Errorf("explain: %d tokens exceed the model's %d positions", len(ids), m.Config.NPositions)
	}
	if opt.TopK <= 0 {
		opt.TopK = 5
	}
	if err := opt.Check(m.Config); err != nil {
		return nil, err
	}
	to := opt.ToLayer
	if to < 0 {
		to = L - 1
	}
	wpos := opt.WatchPosition
	if wpos <= 0 {
		wpos = promptLen - 1
	}
	if wpos >= len(ids) {
		return nil, fmt.Errorf("explain: watch position %d outside 0..%d", wpos, len(ids)-1)
	}
	res := &Result{IDs: ids, PromptLength: promptLen, TimingsMS: map[string]float64{}}
	for _, id := range ids {
		res.Tokens = append(res.Tokens, text(id))
	}
	res.Target = "probability"
	if opt.Target == TargetLogit {
		res.Target = "logit"
	}
	start := time.Now()
	attr, err := Attribute(m, ids, promptLen, AttributionOptions{Methods: opt.Methods, Target: opt.Target, IGSteps: opt.IGSteps, MaxRows: opt.MaxRows, Context: opt.Context})
	if err != nil {
		return nil, err
	}
	res.TimingsMS["attributions"] = ms(start)
	res.Attributions, res.TargetValues, res.IGCompleteness = attr.Scores, attr.Target, attr.Completeness
	if attr.Completeness != nil {
		res.IGSteps = opt.IGSteps
		if res.IGSteps == 0 {
			res.IGSteps = defaultIGSteps
		}
	}

	if err := ctxErr(opt.Context); err != nil {
		return nil, err
	}
	start = time.Now()
	T := len(ids)
	h, err := hookedPass(m, ids, opt.NMFComponents > 0)
	if err != nil {
		return nil, err
	}
	res.TimingsMS["forward"] = ms(start)

	// Hidden-state evolution at the positions that predicted each generated
	// token, plus the watch position.
	start = time.Now()
	G := T - promptLen
	rows := make([]int, 0, G+1)
	for i := 0; i < G; i++ {
		rows = append(rows, promptLen+i-1)
	}
	rows = append(rows, wpos)
	lens := !opt.Raw
	res.LogitLens = "ln_f"
	if opt.Raw {
		res.LogitLens = "raw"
	}
	V := m.Config.VocabSize
	ll := layerLogits(m, h, rows, lens)
	res.Rankings = make([][]int, L)
	res.LayerPredictions = make([][][]Prediction, G)
	for i := 0; i < G; i++ {
		res.LayerPredictions[i] = make([][]Prediction, L)
	}
	for l := 0; l < L; l++ {
		res.Rankings[l] = make([]int, G)
		for i := 0; i < G; i++ {
			lg := ll[l][i*V : (i+1)*V]
			res.Rankings[l][i] = rankOf(lg, ids[promptLen+i])
			res.LayerPredictions[i][l] = topK(lg, opt.TopK, text)
		}
	}
	if len(opt.Watch) > 0 {
		w := &Watch{Position: wpos, IDs: opt.Watch}
		for _, id := range opt.Watch {
			w.Tokens = append(w.Tokens, text(id))
		}
		for l := 0; l < L; l++ {
			lg := ll[l][G*V : (G+1)*V]
			ranks, probs := make([]int, len(opt.Watch)), make([]float64, len(opt.Watch))
			for k, id := range opt.Watch {
				ranks[k] = rankOf(lg, id)
				probs[k] = softmaxProb(lg, id)
			}
			w.Ranks = append(w.Ranks, ranks)
			w.Probs = append(w.Probs, probs)
		}
		res.RankingsWatch = w
	}
	res.TimingsMS["hidden_states"] = ms(start)

	if opt.NMFComponents > 0 {
		start = time.Now()
		nm, err := nmfOf(m, h, opt.FromLayer, to, opt.NMFComponents, opt.NMFSeed, opt.NMFIters)
		if err != nil {
			return nil, err
		}
		res.NMF = nm
		res.TimingsMS["nmf"] = ms(start)
	}
	if !opt.NoAttention {
		res.Attention = attentionOf(h, L, m.Config.NHead)
	}
	if len(opt.Interventions) > 0 {
		start = time.Now()
		steps := opt.RegenerateTokens
		if steps <= 0 {
			steps = max(G, 1)
		}
		ctx := opt.Context
		if ctx == nil {
			ctx = context.Background()
		}
		gen := generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: steps}
		ir, err := regenerate(ctx, m, ids[:promptLen], gen, nil, opt.Interventions, text)
		if err != nil {
			return nil, err
		}
		res.Intervention = ir
		res.TimingsMS["intervention"] = ms(start)
	}
	return res, nil
}

// generateIDs continues prompt through package generate's decoding loop
// with options opt (its end-of-sequence rule: opt's EOS ids, kept in the
// output; stop strings need dec), with ivs applied through
// gpt2.InterventionHook. It returns the tokens and generate's finish
// reason.
func generateIDs(ctx context.Context, m *gpt2.Model, prompt []int, opt generate.Options, dec generate.Decoder, ivs []gpt2.Intervention) ([]int, string, error) {
	opt.Hook, opt.OnToken = gpt2.InterventionHook(ivs), nil
	r, err := generate.Generate(ctx, m, prompt, opt, dec)
	if err != nil {
		return nil, "", err // generate's own error, with its prefix
	}
	return r.IDs, r.Finish, nil
}

// regenerate continues prompt with options opt, without and with the
// interventions, and compares the two.
func regenerate(ctx context.Context, m *gpt2.Model, prompt []int, opt generate.Options, dec generate.Decoder, ivs []Intervention, text func(int) string) (*InterventionResult, error) {
	base, _, err := generateIDs(ctx, m, prompt, opt, dec, nil)
	if err != nil {
		return nil, err
	}
	changed, _, err := generateIDs(ctx, m, prompt, opt, dec, ivs)
	if err != nil {
		return nil, err
	}
	ir := &InterventionResult{Interventions: ivs, Baseline: base, Changed: changed}
	for _, id := range base {
		ir.BaselineText = append(ir.BaselineText, text(id))
	}
	for _, id := range changed {
		ir.ChangedText = append(ir.ChangedText, text(id))
	}
	return ir, nil
}

// hookedPass runs the inference model on ids and captures, through its hook
// points, what the hidden-state, attention and NMF views read: each block's
// output (resid_post), the attention probabilities and, with keepAct, the
// MLP activations. Rows are placed by their position, so a forward split
// into several passes fills the buffers the same way.
func hookedPass(m *gpt2.Model, ids []int, keepAct bool) (*hidden, error) {
	cfg := m.Config
	T, C, L, nh := len(ids), cfg.NEmbd, cfg.NLayer, cfg.NHead
	p := &hidden{T: T, resid: make([][]float32, L+1), att: make([][]float32, L), act: make([][]float32, L)}
	for l := 0; l < L; l++ {
		p.resid[l+1] = make([]float32, T*C)
		p.att[l] = make([]float32, nh*T*T)
		if keepAct {
			p.act[l] = make([]float32, T*4*C)
		}
	}
	var bad error
	hook := func(a *gpt2.Activation) {
		if a.Layer < 0 || a.Layer >= L || a.Seq != 0 {
			return
		}
		switch a.Name {
		case "resid_post":
			copy(p.resid[a.Layer+1][a.Pos*C:], a.Data[:a.Shape[0]*C])
		case "mlp_act":
			if keepAct {
				copy(p.act[a.Layer][a.Pos*4*C:], a.Data[:a.Shape[0]*4*C])
			}
		case "attn_probs":
			h, n, ctx := a.Shape[0], a.Shape[1], a.Shape[2]
			if h != nh || a.Pos+n > T || ctx > T {
				bad = fmt.Errorf("explain: attn_probs hook shape %v at position %d for %d tokens", a.Shape, a.Pos, T)
				return
			}
			for hh := 0; hh < h; hh++ {
				for i := 0; i < n; i++ {
					copy(p.att[a.Layer][hh*T*T+(a.Pos+i)*T:hh*T*T+(a.Pos+i)*T+ctx], a.Data[(hh*n+i)*ctx:(hh*n+i+1)*ctx])
				}
			}
		}
	}
	if _, err := m.Forward(ids, hook); err != nil {
		return nil, err
	}
	return p, bad
}

func ms(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func attentionOf(p *hidden, L, nh int) *Attention {
	T := p.T
	a := &Attention{Layers: L, Heads: nh, Probs: make([][][][]Prob4, L)}
	for l := 0; l < L; l++ {
		a.Probs[l] = make([][][]Prob4, nh)
		for h := 0; h < nh; h++ {
			a.Probs[l][h] = make([][]Prob4, T)
			for i := 0; i < T; i++ {
				row := make([]Prob4, i+1)
				for j := 0; j <= i; j++ {
					row[j] = Prob4(p.att[l][h*T*T+i*T+j])
				}
				a.Probs[l][h][i] = row
			}
		}
	}
	return a
}

// nmfOf factorises the MLP activations of layers from..to (after GELU,
// negatives clipped to 0) over all positions of p.
func nmfOf(m *gpt2.Model, p *hidden, from, to, k int, seed int64, iters int) (*NMFResult, error) {
	C4 := 4 * m.Config.NEmbd
	T := p.T
	if iters <= 0 {
		iters = 200
	}
	if k > T {
		k = T
	}
	nl := to - from + 1
	cols := nl * C4
	x := make([]float32, T*cols)
	for t := 0; t < T; t++ {
		for l := from; l <= to; l++ {
			src := p.act[l][t*C4 : (t+1)*C4]
			dst := x[t*cols+(l-from)*C4:]
			for j, v := range src {
				if v > 0 {
					dst[j] = v
				}
			}
		}
	}
	w, h, done, relErr, err := NMF(x, T, cols, k, seed, iters)
	if err != nil {
		return nil, err
	}
	r := &NMFResult{FromLayer: from, ToLayer: to, Components: k, Seed: seed, Iterations: done, RelError: relErr}
	for a := 0; a < k; a++ {
		f := make([]float64, T)
		for t := 0; t < T; t++ {
			f[t] = float64(w[t*k+a])
		}
		r.Factors = append(r.Factors, f)
		idx := make([]int, cols)
		for j := range idx {
			idx[j] = j
		}
		hr := h[a*cols : (a+1)*cols]
		sort.Slice(idx, func(i, j int) bool { return hr[idx[i]] > hr[idx[j]] })
		var top []NeuronLoading
		for _, j := range idx[:min(5, cols)] {
			top = append(top, NeuronLoading{Layer: from + j/C4, Neuron: j % C4, Weight: float64(hr[j])})
		}
		r.TopNeurons = append(r.TopNeurons, top)
	}
	return r, nil
}
