package explain

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// Explainer bundles a loaded GPT-2 and its tokenizer. It is safe for
// concurrent use: generation makes a KV-cache State per call and
// explanations only read the weights.
type Explainer struct {
	Name  string
	Model *gpt2.Model
	Tok   *tokenizer.BPE
}

// NewExplainer checks that the tokenizer fits the model.
func NewExplainer(name string, m *gpt2.Model, tok *tokenizer.BPE) (*Explainer, error) {
	if m == nil {
		return nil, fmt.Errorf("explain: nil model")
	}
	if tok == nil {
		return nil, fmt.Errorf("explain: nil tokenizer")
	}
	if tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("explain: tokenizer has %d tokens, model vocabulary %d", tok.VocabSize(), m.Config.VocabSize)
	}
	return &Explainer{Name: name, Model: m, Tok: tok}, nil
}

// New returns an Explainer for a loaded pipeline (generate.Load), which
// needs a tokenizer.
func New(p *generate.Pipeline) (*Explainer, error) {
	if err := p.NeedTokenizer(); err != nil {
		return nil, err
	}
	return NewExplainer(p.Name, p.Model, p.Tokenizer)
}

// Request is one explanation: a prompt, then either the text package
// generate's decoding loop gives it with options Generate (Resolve them
// with generate.Pipeline.Resolve for the model's generation_config.json,
// as loupe generate does, and the text is the one loupe generate prints
// for the same settings and seed) or, with Continuation set, the given
// text (forced decoding).
type Request struct {
	Prompt       string
	Continuation *string
	// Generate decodes the continuation and, with interventions, the
	// baseline and intervened continuations: its length, end-of-sequence
	// ids, minimum length, stop strings, sampling and seed. Its OnToken and
	// Hook are not used.
	Generate generate.Options
	Options  Options

	// KNN, if not nil, decodes with kNN-LM (generate.Options.Adjust, so
	// the output is what loupe generate --knn gives for the same settings
	// and seed) and explains how its neighbours changed each output token:
	// Result.Retrieval.KNN. Attributions, rankings and layer predictions
	// stay the plain model's. A forced continuation is explained from one
	// forward pass over the whole sequence.
	KNN KNN
	// Neighbors is how many neighbours (largest weight first) are shown
	// per output token (0: DefaultNeighbors), NeighborContext how many
	// datastore tokens of each (0: DefaultNeighborContext).
	Neighbors, NeighborContext int
	// RALM, if not nil, retrieves passages for the prompt once, before
	// the first token (the retrieval stride is the whole output), and puts
	// them before the prompt: the model's input, and every view of the
	// result, is [passages, separator, prompt, output]. See
	// RALMExplanation.
	RALM RALM
}

// TokenText renders a token for display with DisplayToken (a leading
// space as ␣, bytes that are not a whole UTF-8 character as \xNN), or
// "#id" outside the vocabulary. It is what Explain puts in Result.Tokens
// and every other token string of a Result.
func (e *Explainer) TokenText(id int) string {
	if id < 0 || id >= e.Tok.VocabSize() {
		return fmt.Sprintf("#%d", id)
	}
	return DisplayToken(e.Tok.DecodeBytes([]int{id}))
}

// Encode tokenizes a prompt, refusing empty results and ids the model lacks.
func (e *Explainer) Encode(text string) ([]int, error) {
	ids := e.Tok.Encode(text)
	for _, id := range ids {
		if id >= e.Model.Config.VocabSize {
			return nil, fmt.Errorf("explain: token id %d outside the model's vocabulary of %d", id, e.Model.Config.VocabSize)
		}
	}
	return ids, nil
}

// Generate continues prompt ids through package generate's decoding loop
// with options opt (the KV-cache forward of model/gpt2 and generate's
// sampler and end-of-sequence rule) and returns the generated ids, an
// end-of-sequence token or the token completing a stop string included.
func (e *Explainer) Generate(ctx context.Context, prompt []int, opt generate.Options) ([]int, error) {
	return e.GenerateWith(ctx, prompt, opt, nil)
}

// GenerateWith is Generate with MLP neuron interventions applied at every
// step, through gpt2.InterventionHook attached to generate's forward passes.
func (e *Explainer) GenerateWith(ctx context.Context, prompt []int, opt generate.Options, ivs []Intervention) ([]int, error) {
	out, _, err := e.generate(ctx, prompt, opt, ivs)
	return out, err
}

// generate is GenerateWith that also returns generate's finish reason.
func (e *Explainer) generate(ctx context.Context, prompt []int, opt generate.Options, ivs []Intervention) ([]int, string, error) {
	if err := e.checkInterventions(ivs); err != nil {
		return nil, "", err
	}
	return generateIDs(ctx, e.Model, prompt, opt, e.Tok, ivs)
}

func (e *Explainer) checkInterventions(ivs []Intervention) error {
	if err := e.Model.Config.CheckInterventions(ivs); err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	return nil
}

// Explain checks req (Options.Check, then the prompt as generate checks
// it), generates with req.Generate (or takes the forced continuation) and
// explains the result. An option out of range is an *OptionError.
func (e *Explainer) Explain(ctx context.Context, req Request) (*Result, error) {
	if err := req.Options.Check(e.Model.Config); err != nil {
		return nil, err
	}
	if err := req.checkRetrieval(); err != nil {
		return nil, err
	}
	// Text is checked as generate checks it: not empty, valid UTF-8.
	if err := generate.CheckText(req.Prompt); err != nil {
		return nil, err
	}
	if req.Continuation != nil && !utf8.ValidString(*req.Continuation) {
		return nil, errors.New("explain: the continuation is not valid UTF-8")
	}
	prompt, err := e.Encode(req.Prompt)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var out []int
	finish := ""
	if req.Continuation != nil {
		// Tokenize prompt+continuation together so the split matches what the
		// model would see, falling back to separate encoding if the prompt's
		// tokens are not a prefix.
		all, err := e.Encode(req.Prompt + *req.Continuation)
		if err != nil {
			return nil, err
		}
		if len(all) >= len(prompt) && equalInts(all[:len(prompt)], prompt) {
			out = all[len(prompt):]
		} else if out, err = e.Encode(*req.Continuation); err != nil {
			return nil, err
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("explain: the continuation has no tokens")
		}
	}
	// With RALM, the model's input is the retrieved passages and the
	// prompt (its tail, if they do not fit with the output).
	input := prompt
	var ralm *RALMRetrieval
	promptStart := 0
	if req.RALM != nil {
		room := len(out) // a forced continuation
		if req.Continuation == nil {
			room = req.Generate.MaxNewTokens
			if room <= 0 {
				room = generate.DefaultMaxNewTokens
			}
		}
		budget := max(1, e.Model.Config.NPositions-room)
		if input, err = req.RALM.Context(ctx, 0, prompt, budget); err != nil {
			return nil, err
		}
		switch {
		case len(input) == 0 || len(input) > budget:
			return nil, fmt.Errorf("explain: retrieval gave a context of %d tokens: want 1 to %d", len(input), budget)
		case input[len(input)-1] != prompt[len(prompt)-1]:
			return nil, fmt.Errorf("explain: retrieval gave a context that does not end with the prompt's last token")
		}
		got := req.RALM.Retrieved(0)
		if got.PassageTokens < 0 || got.PassageTokens >= len(input) {
			return nil, fmt.Errorf("explain: retrieval says %d of the context's %d tokens are passages", got.PassageTokens, len(input))
		}
		ralm = &got
		promptStart = promptStartIn(input, prompt, got.PassageTokens)
	}
	var rec *recorder
	if req.Continuation == nil {
		if P := e.Model.Config.NPositions; len(input) >= P {
			return nil, fmt.Errorf("explain: the prompt has %d tokens and fills the model's context of %d: no room to generate a token to explain (shorten the prompt, or give the continuation to explain)", len(input), P)
		}
		gen := req.Generate
		if req.KNN != nil {
			rec = &recorder{knn: req.KNN}
			gen.Adjust = rec
		}
		if out, finish, err = e.generate(ctx, input, gen, nil); err != nil {
			return nil, err
		}
	}
	stopped := ""
	if finish == "context" {
		stopped = "context_limit"
	}
	genMS := ms(start)
	ids := append(append([]int(nil), input...), out...)
	if len(ids) > e.Model.Config.NPositions {
		return nil, fmt.Errorf("explain: %d tokens exceed the model's %d positions", len(ids), e.Model.Config.NPositions)
	}
	opt := req.Options
	if opt.TokenText == nil {
		opt.TokenText = e.TokenText
	}
	if opt.Context == nil {
		opt.Context = ctx
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Interventions regenerate here with the request's own decoding
	// settings, instead of greedily in Explain.
	ivs := opt.Interventions
	opt.Interventions = nil
	res, err := Explain(e.Model, ids, len(input), opt)
	if err != nil {
		return nil, err
	}
	res.Model = e.Name
	res.Precision = e.Model.Precision()
	res.Stopped, res.Finish = stopped, finish
	for _, id := range ids {
		res.RawTokens = append(res.RawTokens, e.Tok.TokenText(id))
	}
	res.Text = e.Tok.Decode(ids)
	res.TimingsMS["generate"] = genMS
	if req.KNN != nil {
		start := time.Now()
		hs, ls, source := [][]float32(nil), [][]float32(nil), "decoding"
		if rec != nil && len(rec.hidden) == len(out) {
			hs, ls = rec.hidden, rec.logits
		} else if hs, ls, err = finalStates(e.Model, ids, len(input)-1); err != nil {
			return nil, err
		} else {
			source = "forward"
		}
		shown, width := req.Neighbors, req.NeighborContext
		if shown == 0 {
			shown = DefaultNeighbors
		}
		if width == 0 {
			width = DefaultNeighborContext
		}
		kx, err := knnExplanation(req.KNN, ids, len(input), hs, ls, shown, width, opt.TokenText, e.Tok.Decode)
		if err != nil {
			return nil, err
		}
		kx.Source = source
		res.Retrieval = &Retrieval{KNN: kx}
		res.TimingsMS["knn"] = ms(start)
	}
	if ralm != nil {
		if res.Retrieval == nil {
			res.Retrieval = &Retrieval{}
		}
		res.Retrieval.RALM = ralmExplanation(res, *ralm, promptStart)
		res.Retrieval.RALM.PassageText = e.Tok.Decode(ids[:ralm.PassageTokens])
	}
	if len(ivs) > 0 {
		start := time.Now()
		n := opt.RegenerateTokens
		if n <= 0 {
			n = max(len(out), 1)
		}
		n = min(n, e.Model.Config.NPositions-len(input))
		// Positions pass through the MLP while regenerating: the prompt's and
		// every generated token fed back (all but the last).
		seq := len(input) + n - 1
		for _, iv := range ivs {
			for _, p := range iv.Positions {
				if p >= seq {
					return nil, fmt.Errorf("explain: intervention on layer %d neuron %d at position %d: the regenerated sequence runs through positions 0..%d (prompt of %d tokens + %d regenerated, the last not fed back)", iv.Layer, iv.Neuron, p, seq-1, len(input), n)
				}
			}
		}
		gen := req.Generate
		gen.MaxNewTokens = n
		if req.KNN != nil {
			gen.Adjust = req.KNN
		}
		ir, err := regenerate(ctx, e.Model, input, gen, e.Tok, ivs, opt.TokenText)
		if err != nil {
			return nil, err
		}
		ir.BaselineString, ir.ChangedString = e.Tok.Decode(ir.Baseline), e.Tok.Decode(ir.Changed)
		res.Intervention = ir
		res.TimingsMS["intervention"] = ms(start)
	}
	if where := nonFinite(reflect.ValueOf(res), "result"); where != "" {
		return nil, fmt.Errorf("explain: %s is not finite (NaN or ±Inf): the model's weights or logits are not finite numbers; check the checkpoint", where)
	}
	return res, nil
}

// nonFinite returns the path of the first NaN or ±Inf float inside v (for
// example "result.attributions[grad_x_input][0][2]"), or "" when none.
func nonFinite(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprintf("%s = %g", path, f)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return nonFinite(v.Elem(), path)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if w := nonFinite(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); w != "" {
				return w
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if w := nonFinite(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key())); w != "" {
				return w
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Name
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				name = tag
			}
			if w := nonFinite(v.Field(i), path+"."+name); w != "" {
				return w
			}
		}
	}
	return ""
}

// WatchIDs maps watched strings to single token ids: each must encode to
// exactly one token.
func (e *Explainer) WatchIDs(words []string) ([]int, error) {
	var ids []int
	for _, w := range words {
		t := e.Tok.Encode(w)
		if len(t) != 1 {
			return nil, fmt.Errorf("explain: watched text %q is %d tokens, not one (GPT-2 tokens usually start with a space, like \" is\")", w, len(t))
		}
		ids = append(ids, t[0])
	}
	return ids, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
