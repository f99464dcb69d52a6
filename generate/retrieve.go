package generate

import (
	"context"
	"fmt"
	"slices"
)

// Adjuster rewrites the model's next-token scores before the logits
// processors see them: kNN-LM's interpolation (package retrieval/knnlm).
// Adjust is called once per live row and decoding step (Generate,
// GenerateN, GenerateBatch, BeamSearch), in row order, from one goroutine.
// hidden is the final hidden state at the row's last position (the ln_f
// output, Config.NEmbd floats: the vector kNN-LM's keys are made of);
// logits is the row's logits (VocabSize floats), which Adjust may
// overwrite with any scores: they then stand for the model's raw logits
// (Step.Logprob and Result.Logprobs are their log-softmax, so writing
// log-probabilities makes Logprobs exactly those). Neither slice may be kept
// after the call. row is the sequence's row in the batch: the prompt's index
// in GenerateBatch, the sequence's in GenerateN, the beam slot in
// BeamSearch.
type Adjuster interface {
	Adjust(row int, hidden, logits []float32) error
}

// Contexter rebuilds what the model conditions on, as in-context
// retrieval-augmented language models (Ram et al. 2023) do: before the
// first token and then every Stride() generated tokens, Context is given
// the sequence's text so far (prompt and generated ids) and returns the
// tokens the row's cache is rebuilt from (a retrieved passage and the
// text's tail): at least one and at most budget tokens, ending with text's
// last token. The decoding loop empties the row's cache and runs those
// tokens through the model; the generated ids, Logprobs and Text are those
// of the text, never of the passage. budget is the model's n_positions
// minus Stride(), so that Stride() more tokens fit before the next
// rebuild (and at least 1).
type Contexter interface {
	Stride() int
	Context(ctx context.Context, row int, text []int, budget int) ([]int, error)
}

// retrieval is what a decoding loop needs of Options.Adjust and
// Options.Context.
type retrieval struct {
	adjust  Adjuster
	context Contexter
	budget  int // the most tokens a rebuilt context may hold
	stride  int
}

// newRetrieval returns the retrieval of o for a model of nPos positions.
func newRetrieval(o *Options, nPos int) retrieval {
	r := retrieval{adjust: o.Adjust, context: o.Context}
	if o.Context != nil {
		r.stride = o.Context.Stride()
		r.budget = max(1, nPos-r.stride)
	}
	return r
}

// checkContext reports a Contexter whose stride is not positive.
func checkContext(cx Contexter) error {
	if cx != nil && cx.Stride() < 1 {
		return fmt.Errorf("generate: retrieval stride %d: want a positive number of tokens", cx.Stride())
	}
	return nil
}

// maxSeq is the cache length a sequence needs: want, or with retrieval the
// whole context (a rebuilt context may be longer than the text).
func (r *retrieval) maxSeq(nPos, want int) int {
	if r.context != nil {
		return nPos
	}
	return want
}

// due reports whether a row that has generated n tokens rebuilds its
// context before the next forward pass.
func (r *retrieval) due(n int) bool {
	return r.context != nil && n > 0 && n%r.stride == 0
}

// rebuild returns the tokens row's cache is rebuilt from for text.
func (r *retrieval) rebuild(ctx context.Context, row int, text []int) ([]int, error) {
	toks, err := r.context.Context(ctx, row, text, r.budget)
	switch {
	case err != nil:
		return nil, err
	case len(toks) == 0 || len(toks) > r.budget:
		return nil, fmt.Errorf("generate: retrieval gave a context of %d tokens: want 1 to %d", len(toks), r.budget)
	case toks[len(toks)-1] != text[len(text)-1]:
		return nil, fmt.Errorf("generate: retrieval gave a context ending with token %d, not the text's last token %d", toks[len(toks)-1], text[len(text)-1])
	}
	return slices.Clone(toks), nil
}

// prompt returns what the first forward pass of row runs: the prompt, or
// with retrieval its rebuilt context.
func (r *retrieval) prompt(ctx context.Context, row int, prompt []int) ([]int, error) {
	if r.context == nil {
		return prompt, nil
	}
	return r.rebuild(ctx, row, prompt)
}

// apply lets the Adjuster rewrite row's logits in s.
func (r *retrieval) apply(s Cache, row int) error {
	if r.adjust == nil {
		return nil
	}
	return r.adjust.Adjust(row, s.Hidden(row), s.Logits(row))
}
