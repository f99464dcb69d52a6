package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// DefaultMaxNewTokens is used when Options.MaxNewTokens is 0.
const DefaultMaxNewTokens = 50

// Decoder turns token ids into text (tokenizer.BPE is one).
type Decoder interface {
	Decode(ids []int) string
}

// Options control a generation. The zero value samples up to
// DefaultMaxNewTokens tokens with seed 0, stopping at the model's EOS.
type Options struct {
	Sampling
	MaxNewTokens int  // tokens to generate at most (0: DefaultMaxNewTokens)
	IgnoreEOS    bool // do not stop at an end-of-sequence token
	// EOSTokenIDs are the end-of-sequence tokens (generation_config.json
	// may list several); nil means the model's eos_token_id.
	EOSTokenIDs []int
	// MinNewTokens keeps the EOS ids in force out of the first
	// MinNewTokens generated tokens (transformers' min_new_tokens,
	// MinNewTokens processor; 0: off). When it is set, MinLength is
	// ignored, as transformers replaces min_length with the prompt's
	// length plus min_new_tokens.
	MinNewTokens int
	// MinLength keeps the EOS ids in force out while prompt and output
	// together hold fewer than MinLength tokens (transformers' min_length,
	// MinLength processor; 0: off).
	MinLength int
	Stop      []string // stop before the first occurrence of any of these in the generated text (needs a Decoder)
	// OnToken, if set, is called after each generated token with the text
	// that became final with it (possibly empty). Returning an error stops
	// generation with that error.
	OnToken func(Step) error
}

// Step is one generated token, as OnToken sees it.
type Step struct {
	ID      int     // the token id
	Logprob float32 // log-softmax of the raw logits at ID
	Text    string  // text released by this token (may be empty; see the package doc on stop strings)
}

// Stats are the timings of a generation.
type Stats struct {
	PrefillTokens  int     `json:"prefill_tokens"`  // prompt tokens run through the model at once
	PrefillSeconds float64 `json:"prefill_seconds"` // wall time of the prompt's forward pass
	DecodeTokens   int     `json:"decode_tokens"`   // generated tokens fed back through the model one at a time
	DecodeSeconds  float64 `json:"decode_seconds"`  // wall time of the decode loop (forward passes and sampling)
}

// Result is a finished generation.
type Result struct {
	PromptIDs []int     `json:"prompt_ids"`
	IDs       []int     `json:"ids"`      // generated ids, including an EOS or the token that completed a stop string
	Text      string    `json:"text"`     // generated text, without EOS and without the stop string
	Logprobs  []float32 `json:"logprobs"` // log-softmax of the raw logits at each id of IDs
	Stats     Stats     `json:"stats"`
	// Finish says why generation ended: "length" (MaxNewTokens), "eos",
	// "stop" (a stop string) or "context" (the model's context is full).
	Finish string `json:"-"`
}

// ErrEmptyPrompt is returned for a prompt with no tokens.
var ErrEmptyPrompt = errors.New("generate: empty prompt: GPT-2 needs at least one token to condition on")

// CheckPrompt reports a prompt Generate would reject: empty (ErrEmptyPrompt),
// longer than the model's context (wrapping gpt2.ErrContext), or holding an
// id outside the vocabulary.
func CheckPrompt(m *gpt2.Model, prompt []int) error {
	c := m.Config
	if len(prompt) == 0 {
		return ErrEmptyPrompt
	}
	if len(prompt) > c.NPositions {
		return fmt.Errorf("generate: the prompt has %d tokens, more than the model's context of %d: %w", len(prompt), c.NPositions, gpt2.ErrContext)
	}
	for _, id := range prompt {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("generate: prompt token id %d out of range [0, %d)", id, c.VocabSize)
		}
	}
	return nil
}

// eos returns the end-of-sequence ids in force (none with IgnoreEOS).
func (o *Options) eos(c gpt2.Config) []int {
	switch {
	case o.IgnoreEOS:
		return nil
	case o.EOSTokenIDs != nil:
		return o.EOSTokenIDs
	case c.EOSTokenID >= 0:
		return []int{c.EOSTokenID}
	}
	return nil
}

// checkMinLength reports a negative MinNewTokens or MinLength.
func (o *Options) checkMinLength() error {
	switch {
	case o.MinNewTokens < 0:
		return fmt.Errorf("generate: min new tokens %d: want 0 (off) or a positive number", o.MinNewTokens)
	case o.MinLength < 0:
		return fmt.Errorf("generate: min length %d: want 0 (off) or a positive number", o.MinLength)
	}
	return nil
}

// minLength returns the stages that keep eos out of short sequences
// (MinNewTokens or MinLength; none without EOS ids, as transformers adds
// them only with an eos_token_id).
func (o *Options) minLength(eos []int, promptLen int) []Processor {
	switch {
	case len(eos) == 0:
		return nil
	case o.MinNewTokens > 0:
		return []Processor{&MinNewTokens{PromptLen: promptLen, N: o.MinNewTokens, EOS: eos}}
	case o.MinLength > promptLen:
		return []Processor{&MinLength{Length: o.MinLength, EOS: eos}}
	}
	return nil
}

// Generate continues prompt with model m. dec may be nil when no text is
// wanted (Result.Text is then empty and Stop must be empty).
func Generate(ctx context.Context, m *gpt2.Model, prompt []int, opt Options, dec Decoder) (*Result, error) {
	c := m.Config
	if err := CheckPrompt(m, prompt); err != nil {
		return nil, err
	}
	if opt.MaxNewTokens < 0 {
		return nil, fmt.Errorf("generate: max new tokens %d: want a positive number", opt.MaxNewTokens)
	}
	if opt.MaxNewTokens == 0 {
		opt.MaxNewTokens = DefaultMaxNewTokens
	}
	for _, s := range opt.Stop {
		if s == "" {
			return nil, errors.New("generate: empty stop string")
		}
	}
	if len(opt.Stop) > 0 && dec == nil {
		return nil, errors.New("generate: stop strings need a tokenizer to decode the text")
	}
	if err := opt.Sampling.Check(); err != nil {
		return nil, err
	}
	if err := opt.checkMinLength(); err != nil {
		return nil, err
	}
	eos := opt.eos(c)
	sampler := newSampler(opt.Sampling, opt.minLength(eos, len(prompt)))

	res := &Result{PromptIDs: append([]int(nil), prompt...), IDs: []int{}, Logprobs: []float32{}, Finish: "length"}
	s := m.NewState(gpt2.StateOptions{MaxSeq: min(len(prompt)+opt.MaxNewTokens, c.NPositions), MaxRows: min(len(prompt), 512)})
	all := make([]int, len(prompt), len(prompt)+opt.MaxNewTokens)
	copy(all, prompt)
	st := streamer{stop: opt.Stop, dec: dec}

	t0 := time.Now()
	if err := s.Forward([][]int{prompt}, gpt2.ForwardOptions{}); err != nil {
		return nil, err
	}
	res.Stats.PrefillTokens = len(prompt)
	res.Stats.PrefillSeconds = time.Since(t0).Seconds()
	t1 := time.Now()
	step := [][]int{{0}}
	for {
		if len(all) >= c.NPositions {
			res.Finish = "context"
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tok, lp, err := sampler.Next(all, s.Logits(0))
		if err != nil {
			return nil, err
		}
		all = append(all, tok)
		res.IDs = append(res.IDs, tok)
		res.Logprobs = append(res.Logprobs, lp)
		var text string
		stop := false
		if slices.Contains(eos, tok) {
			res.Finish, stop = "eos", true
			text = st.flush()
		} else {
			text, stop = st.add(tok)
			if stop {
				res.Finish = "stop"
			} else if len(res.IDs) == opt.MaxNewTokens || len(all) >= c.NPositions {
				text += st.flush()
			}
		}
		if opt.OnToken != nil {
			if err := opt.OnToken(Step{ID: tok, Logprob: lp, Text: text}); err != nil {
				return nil, err
			}
		}
		if stop || len(res.IDs) == opt.MaxNewTokens {
			break
		}
		if len(all) >= c.NPositions {
			res.Finish = "context"
			break
		}
		step[0][0] = tok
		if err := s.Forward(step, gpt2.ForwardOptions{}); err != nil {
			return nil, err
		}
		res.Stats.DecodeTokens++
	}
	res.Stats.DecodeSeconds = time.Since(t1).Seconds()
	res.Text = st.text()
	return res, nil
}

// streamer turns generated ids into released text, holding back what might
// still become a stop string or an incomplete UTF-8 character.
type streamer struct {
	stop     []string
	dec      Decoder
	ids      []int
	full     string // decoded text of ids
	released int    // bytes of full given out
	end      int    // when a stop string was found: where the text ends
	stopped  bool
}

// add appends id and returns the newly final text, and whether a stop
// string was completed.
func (s *streamer) add(id int) (string, bool) {
	if s.dec == nil {
		return "", false
	}
	s.ids = append(s.ids, id)
	s.full = s.dec.Decode(s.ids)
	if s.released > len(s.full) {
		s.released = len(s.full) // the decoder revised earlier text; never re-emit
	}
	// A stop string can only start at or after the released text.
	best := -1
	for _, st := range s.stop {
		if i := strings.Index(s.full[s.released:], st); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best >= 0 {
		s.stopped = true
		s.end = s.released + best
		out := s.full[s.released:s.end]
		s.released = s.end
		return out, true
	}
	safe := len(s.full)
	// Hold back a suffix that is a prefix of a stop string.
	for _, st := range s.stop {
		for k := min(len(st)-1, len(s.full)-s.released); k > 0; k-- {
			if strings.HasSuffix(s.full, st[:k]) {
				safe = min(safe, len(s.full)-k)
				break
			}
		}
	}
	// Hold back trailing U+FFFD: an incomplete multi-byte character.
	for n := 0; n < 3 && safe > s.released; n++ {
		r, size := utf8.DecodeLastRuneInString(s.full[:safe])
		if r != utf8.RuneError || size != 3 {
			break
		}
		safe -= size
	}
	out := s.full[s.released:safe]
	s.released = safe
	return out, false
}

// flush releases everything held back (generation is over).
func (s *streamer) flush() string {
	if s.stopped {
		return ""
	}
	out := s.full[s.released:]
	s.released = len(s.full)
	return out
}

// text is the final generated text.
func (s *streamer) text() string {
	if s.stopped {
		return s.full[:s.end]
	}
	return s.full
}
