package generate

import (
	"errors"
	"fmt"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// LM is what the decoding loop needs of a model: GPT-2 (GPT2), or an
// encoder-decoder's decoder bound to its sources (package seq2seq). The
// prompt of an LM is what its rows start from: a GPT-2 prompt, or an
// encoder-decoder's decoder_start_token_id.
type LM interface {
	// VocabSize is the length of a row's logits.
	VocabSize() int
	// MaxLen is the most tokens a row may hold (GPT-2's n_positions,
	// a decoder's max_position_embeddings).
	MaxLen() int
	// EOSTokenID is the default end-of-sequence id (-1: none).
	EOSTokenID() int
	// CacheBytesPerToken is the memory one cached token of one row takes
	// (key/value caches), for the limit of MaxBeamBytes.
	CacheBytesPerToken() int64
	// NewCache allocates rows rows of up to maxLen tokens whose passes
	// compute at most maxRows new tokens together (longer inputs are split).
	NewCache(rows, maxLen, maxRows int) (Cache, error)
}

// Cache is an LM's state for a batch of rows, as gpt2.State is for GPT-2:
// Forward appends tokens to rows (an empty slice leaves a row as it is)
// and computes each fed row's next-token logits; Logits and Hidden read a
// row's latest logits and final hidden state (nil before its first
// Forward); Truncate keeps a row's first n tokens; CopySeq makes row dst a
// copy of row src; Reorder makes row i a copy of row from[i] for every i,
// using row spare (not among the first len(from)) for cycles.
type Cache interface {
	Forward(tokens [][]int) error
	Logits(row int) []float32
	Hidden(row int) []float32
	Truncate(row, n int)
	CopySeq(dst, src int)
	Reorder(from []int, spare int)
}

// ErrContext is wrapped by the error about a prompt longer than an LM's
// MaxLen when the LM is not GPT-2 (whose errors wrap gpt2.ErrContext).
var ErrContext = errors.New("context length exceeded")

// GPT2 returns m as an LM. Options.Hook is attached to its forward passes
// by the decoding functions (it is the only LM that takes one).
func GPT2(m *gpt2.Model) LM { return gpt2LM{m: m} }

// gpt2LM is the LM of a GPT-2 model, hook attached to every Forward.
type gpt2LM struct {
	m    *gpt2.Model
	hook gpt2.Hook
}

func (g gpt2LM) VocabSize() int  { return g.m.Config.VocabSize }
func (g gpt2LM) MaxLen() int     { return g.m.Config.NPositions }
func (g gpt2LM) EOSTokenID() int { return g.m.Config.EOSTokenID }
func (g gpt2LM) CacheBytesPerToken() int64 {
	c := g.m.Config
	return 2 * int64(c.NLayer) * int64(c.NEmbd) * 4
}

func (g gpt2LM) NewCache(rows, maxLen, maxRows int) (Cache, error) {
	s := g.m.NewState(gpt2.StateOptions{Batch: rows, MaxSeq: maxLen, MaxRows: maxRows})
	return &gpt2Cache{State: s, fo: gpt2.ForwardOptions{Hook: g.hook}}, nil
}

// gpt2Cache is a gpt2.State whose Forward passes carry the hook.
type gpt2Cache struct {
	*gpt2.State
	fo gpt2.ForwardOptions
}

func (c *gpt2Cache) Forward(tokens [][]int) error { return c.State.Forward(tokens, c.fo) }

// withHook attaches opt.Hook to lm: an error unless lm is GPT-2 (hooks
// are gpt2's).
func withHook(lm LM, hook gpt2.Hook) (LM, error) {
	if hook == nil {
		return lm, nil
	}
	g, ok := lm.(gpt2LM)
	if !ok {
		return nil, errors.New("generate: Options.Hook is a GPT-2 hook: it cannot be used with this model")
	}
	g.hook = hook
	return g, nil
}

// checkPrompt is CheckPrompt for any LM.
func checkPrompt(lm LM, prompt []int) error {
	if g, ok := lm.(gpt2LM); ok {
		return CheckPrompt(g.m, prompt)
	}
	if len(prompt) == 0 {
		return errors.New("generate: empty prompt: the decoder needs at least one token to start from")
	}
	if n := lm.MaxLen(); len(prompt) > n {
		return fmt.Errorf("generate: the prompt has %d tokens, more than the model's %d positions: %w", len(prompt), n, ErrContext)
	}
	for _, id := range prompt {
		if V := lm.VocabSize(); id < 0 || id >= V {
			return fmt.Errorf("generate: prompt token id %d out of range [0, %d)", id, V)
		}
	}
	return nil
}

// cacheBytes is the memory n rows of maxLen cached tokens and perV
// vocabulary-long float32 buffers each take.
func cacheBytes(lm LM, n, maxLen int, perV int64) int64 {
	return int64(n) * (lm.CacheBytesPerToken()*int64(maxLen) + perV*int64(lm.VocabSize())*4)
}
