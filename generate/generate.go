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
	// BadWordsIDs are token sequences never generated (transformers'
	// bad_words_ids, NoBadWords processor): a sequence of one token bans
	// that token, a longer one bans its last token after its other tokens.
	// A sequence that is just an EOS id in force is left out, as
	// transformers does.
	BadWordsIDs [][]int
	// ForcedBOSTokenID, if not nil, is the only token a row holding one
	// token may take next (transformers' forced_bos_token_id,
	// ForcedBOSToken processor): the first token after an
	// encoder-decoder's decoder_start_token_id.
	ForcedBOSTokenID *int
	// ForcedEOSTokenIDs, if not empty, are the only tokens a row may take
	// when one more token reaches the length limit, prompt plus
	// MaxNewTokens (transformers' forced_eos_token_id at max_length - 1,
	// ForcedEOSToken processor).
	ForcedEOSTokenIDs []int
	Stop              []string // stop before the first occurrence of any of these in the generated text (needs a Decoder)
	// OnToken, if set, is called after each generated token with the text
	// that became final with it (possibly empty). Returning an error stops
	// generation with that error. GenerateN calls it only for one sequence.
	OnToken func(Step) error
	// Hook, if not nil, is attached to every forward pass of the model:
	// the prompt's and each decoding step's, for greedy and sampled
	// decoding, GenerateN, GenerateBatch and BeamSearch alike (see
	// gpt2.Hook; Activation.Seq is the row of the batch: a sequence, or
	// a beam slot in beam search). gpt2.InterventionHook makes one that
	// scales MLP neurons. It must not keep Activation.Data.
	Hook gpt2.Hook
	// Adjust, if not nil, rewrites every row's next-token logits before
	// the processors (kNN-LM; see Adjuster).
	Adjust Adjuster
	// Context, if not nil, rebuilds every row's context before the first
	// token and every Context.Stride() tokens (in-context retrieval; see
	// Contexter).
	Context Contexter
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
	// ContextTokens counts the tokens run through the model to rebuild
	// contexts during decoding (Options.Context: retrieved passages and
	// the text's tail).
	ContextTokens int `json:"context_tokens,omitempty"`
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

// eos returns the end-of-sequence ids in force for GPT-2 config c (none
// with IgnoreEOS).
func (o *Options) eos(c gpt2.Config) []int { return o.eosFor(c.EOSTokenID) }

// eosFor returns the end-of-sequence ids in force for a model whose
// default EOS id is def (-1: none).
func (o *Options) eosFor(def int) []int {
	switch {
	case o.IgnoreEOS:
		return nil
	case o.EOSTokenIDs != nil:
		return o.EOSTokenIDs
	case def >= 0:
		return []int{def}
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

// extra returns the stages the options add to Sampling's, after the
// no-repeat n-gram ban, in transformers' order: bad words, the minimum
// length (minLength), the forced BOS and EOS tokens. The forced EOS comes
// at the length limit: the prompt plus MaxNewTokens, or the model's nPos
// positions when they end first.
func (o *Options) extra(eos []int, promptLen, nPos int) []Processor {
	var ps []Processor
	if len(o.BadWordsIDs) > 0 {
		ps = append(ps, NewNoBadWords(o.BadWordsIDs, eos))
	}
	ps = append(ps, o.minLength(eos, promptLen)...)
	if o.ForcedBOSTokenID != nil {
		ps = append(ps, &ForcedBOS{ID: *o.ForcedBOSTokenID})
	}
	if len(o.ForcedEOSTokenIDs) > 0 {
		ps = append(ps, &ForcedEOS{MaxLength: min(promptLen+o.MaxNewTokens, nPos), IDs: o.ForcedEOSTokenIDs})
	}
	return ps
}

// checkForced reports bad words, forced BOS or EOS ids outside a
// vocabulary of V tokens (V 0: not checked).
func (o *Options) checkForced(V int) error {
	bad := func(id int) bool { return id < 0 || (V > 0 && id >= V) }
	for i, w := range o.BadWordsIDs {
		if len(w) == 0 {
			return fmt.Errorf("generate: bad words sequence %d is empty", i)
		}
		for _, id := range w {
			if bad(id) {
				return fmt.Errorf("generate: bad words sequence %d holds token id %d, outside the vocabulary of %d", i, id, V)
			}
		}
	}
	if o.ForcedBOSTokenID != nil && bad(*o.ForcedBOSTokenID) {
		return fmt.Errorf("generate: forced BOS token id %d outside the vocabulary of %d", *o.ForcedBOSTokenID, V)
	}
	for _, id := range o.ForcedEOSTokenIDs {
		if bad(id) {
			return fmt.Errorf("generate: forced EOS token id %d outside the vocabulary of %d", id, V)
		}
	}
	return nil
}

// check validates the options Generate, GenerateN and GenerateBatch share
// and fills in the default MaxNewTokens.
func (o *Options) check(dec Decoder) error {
	if o.MaxNewTokens < 0 {
		return fmt.Errorf("generate: max new tokens %d: want a positive number", o.MaxNewTokens)
	}
	if o.MaxNewTokens == 0 {
		o.MaxNewTokens = DefaultMaxNewTokens
	}
	for _, s := range o.Stop {
		if s == "" {
			return errors.New("generate: empty stop string")
		}
	}
	if len(o.Stop) > 0 && dec == nil {
		return errors.New("generate: stop strings need a tokenizer to decode the text")
	}
	if err := o.Sampling.Check(); err != nil {
		return err
	}
	if err := checkContext(o.Context); err != nil {
		return err
	}
	return o.checkMinLength()
}

// Generate continues prompt with model m. dec may be nil when no text is
// wanted (Result.Text is then empty and Stop must be empty).
func Generate(ctx context.Context, m *gpt2.Model, prompt []int, opt Options, dec Decoder) (*Result, error) {
	r, err := generate(ctx, GPT2(m), prompt, opt, 1, dec)
	if err != nil {
		return nil, err
	}
	sq := r.Sequences[0]
	return &Result{PromptIDs: r.PromptIDs, IDs: sq.IDs, Text: sq.Text, Logprobs: sq.Logprobs, Stats: r.Stats, Finish: sq.Finish}, nil
}

// MultiResult is a finished GenerateN.
type MultiResult struct {
	PromptIDs []int
	Sequences []Sequence // in the order of their random streams (Score is 0)
	Stats     Stats      // DecodeTokens counts every sequence's token
}

// GenerateN draws n independent continuations of prompt, as transformers'
// generate(do_sample=True, num_return_sequences=n) does by repeating the
// prompt n times in the batch. The prompt's forward pass runs once; the n
// sequences then decode as one batch of a gpt2.State, so each step reads
// the weights once for all of them. Each sequence stops on its own (EOS,
// Stop, MaxNewTokens, the context) and leaves the batch. Sequence i draws
// from its own PCG stream derived from Options.Seed and i (seedStream):
// sequence 0 is the one Generate draws with the same seed (the same ids;
// the batched matrix products may round the logits, and so Logprobs, a
// little differently), and a seed reproduces all n. Greedy decoding with n
// > 1 is an error (every sequence would be the same; transformers refuses
// it too), and OnToken is only called when n is 1.
func GenerateN(ctx context.Context, m *gpt2.Model, prompt []int, opt Options, n int, dec Decoder) (*MultiResult, error) {
	return generate(ctx, GPT2(m), prompt, opt, n, dec)
}

// seqRun is one sequence of a generation in progress.
type seqRun struct {
	sampler *Sampler
	all     []int // prompt and generated ids
	st      streamer
	done    bool
	fed     int // generated tokens fed back through the model (Stats.DecodeTokens)
	rebuilt int // tokens of rebuilt contexts run through the model (Stats.ContextTokens)
}

// push appends the sampled token tok (log-probability lp) to the
// sequence, decides whether it ends it (an id of eos, a stop string,
// maxNew tokens, the context of nPos positions: sq.Finish, r.done) and
// returns the text it releases.
func (r *seqRun) push(sq *Sequence, tok int, lp float32, eos []int, maxNew, nPos int) string {
	r.all = append(r.all, tok)
	sq.IDs = append(sq.IDs, tok)
	sq.Logprobs = append(sq.Logprobs, lp)
	var text string
	stop := false
	if slices.Contains(eos, tok) {
		sq.Finish, stop = "eos", true
		text = r.st.flush()
	} else {
		text, stop = r.st.add(tok)
		if stop {
			sq.Finish = "stop"
		} else if len(sq.IDs) == maxNew || len(r.all) >= nPos {
			text += r.st.flush()
		}
	}
	switch {
	case stop || len(sq.IDs) == maxNew:
		r.done = true
	case len(r.all) >= nPos:
		sq.Finish, r.done = "context", true
	}
	return text
}

// decodeRuns decodes the live sequences of runs (their next logits in s,
// sequence i in row i) one step after the other: it samples a token for
// every sequence still running, records it in seqs[i] (push), calls onToken
// (nil: none) and feeds the tokens of the sequences that go on back through
// the model in one pass (with fo), until none is left. rt's Adjuster sees
// each row's logits before they are sampled, and a row whose context is
// due to be rebuilt (rt's Contexter) runs its rebuilt context instead of
// its one new token. On an error it returns the index of the sequence it
// concerns (-1 when none).
func decodeRuns(ctx context.Context, s Cache, rt *retrieval, runs []seqRun, seqs []Sequence, live int, eos []int, maxNew, nPos int, onToken func(int, Step) error) (int, error) {
	next := make([]int, len(runs))
	step := make([][]int, len(runs))
	for live > 0 {
		if err := ctx.Err(); err != nil {
			return -1, err
		}
		for i := range runs {
			r := &runs[i]
			if r.done {
				step[i] = next[i:i]
				continue
			}
			if err := rt.apply(s, i); err != nil {
				return i, err
			}
			tok, lp, err := r.sampler.Next(r.all, s.Logits(i))
			if err != nil {
				return i, err
			}
			text := r.push(&seqs[i], tok, lp, eos, maxNew, nPos)
			if onToken != nil {
				if err := onToken(i, Step{ID: tok, Logprob: lp, Text: text}); err != nil {
					return i, err
				}
			}
			if r.done {
				live--
				step[i] = next[i:i]
				continue
			}
			next[i] = tok
			step[i] = next[i : i+1]
			if rt.due(len(seqs[i].IDs)) {
				toks, err := rt.rebuild(ctx, i, r.all)
				if err != nil {
					return i, err
				}
				s.Truncate(i, 0)
				step[i] = toks
				r.rebuilt += len(toks)
				continue
			}
			r.fed++
		}
		if live == 0 {
			break
		}
		if err := s.Forward(step); err != nil {
			return -1, err
		}
	}
	return -1, nil
}

// generate runs Generate (n = 1) and GenerateN, and Decode's sampled and
// greedy paths, for any LM.
func generate(ctx context.Context, lm LM, prompt []int, opt Options, n int, dec Decoder) (*MultiResult, error) {
	if err := checkPrompt(lm, prompt); err != nil {
		return nil, err
	}
	if err := opt.check(dec); err != nil {
		return nil, err
	}
	switch {
	case n < 1:
		return nil, fmt.Errorf("generate: num return sequences %d: want a positive number", n)
	case n > 1 && opt.Greedy:
		return nil, fmt.Errorf("generate: num return sequences %d with greedy decoding: every sequence would be the same; sample instead, or use beam search", n)
	case n > 1 && opt.OnToken != nil:
		return nil, errors.New("generate: OnToken streams one sequence: it cannot be used with several")
	}
	lm, err := withHook(lm, opt.Hook)
	if err != nil {
		return nil, err
	}
	nPos := lm.MaxLen()
	P := len(prompt)
	rt := newRetrieval(&opt, nPos)
	maxSeq := rt.maxSeq(nPos, min(P+opt.MaxNewTokens, nPos))
	// The sequences' key/value caches, logits and sampler buffers.
	if need := cacheBytes(lm, n, maxSeq, 4); n > 1 && need > MaxBeamBytes {
		return nil, fmt.Errorf("generate: %d sequences of %d positions need %.1f GiB for their caches and logits, more than the %d GiB limit: use fewer sequences or tokens",
			n, maxSeq, float64(need)/(1<<30), MaxBeamBytes>>30)
	}
	if err := opt.checkForced(lm.VocabSize()); err != nil {
		return nil, err
	}
	eos := opt.eosFor(lm.EOSTokenID())
	extra := opt.extra(eos, P, nPos)

	res := &MultiResult{PromptIDs: append([]int(nil), prompt...), Sequences: make([]Sequence, n)}
	runs := make([]seqRun, n)
	for i := range runs {
		runs[i] = seqRun{sampler: newSampler(opt.Sampling, extra, i), all: make([]int, P, maxSeq), st: streamer{stop: opt.Stop, dec: dec}}
		copy(runs[i].all, prompt)
		res.Sequences[i] = Sequence{IDs: []int{}, Logprobs: []float32{}, Finish: "length"}
	}
	// MaxRows: the prompt in one pass, and one decoding step of every
	// sequence in one pass too.
	first, err := rt.prompt(ctx, 0, prompt)
	if err != nil {
		return nil, err
	}
	s, err := lm.NewCache(n, maxSeq, min(max(len(first), n), 512))
	if err != nil {
		return nil, err
	}

	t0 := time.Now()
	if err := s.Forward([][]int{first}); err != nil {
		return nil, err
	}
	for i := 1; i < n; i++ {
		s.CopySeq(i, 0)
	}
	res.Stats.PrefillTokens = len(first)
	res.Stats.PrefillSeconds = time.Since(t0).Seconds()
	t1 := time.Now()
	live := n
	if P >= nPos { // the prompt fills the context
		for i := range res.Sequences {
			res.Sequences[i].Finish = "context"
		}
		live = 0
	}
	var onToken func(int, Step) error
	if opt.OnToken != nil {
		onToken = func(_ int, st Step) error { return opt.OnToken(st) }
	}
	if _, err := decodeRuns(ctx, s, &rt, runs, res.Sequences, live, eos, opt.MaxNewTokens, nPos, onToken); err != nil {
		return nil, err
	}
	for i := range runs {
		res.Stats.DecodeTokens += runs[i].fed
		res.Stats.ContextTokens += runs[i].rebuilt
	}
	res.Stats.DecodeSeconds = time.Since(t1).Seconds()
	for i := range runs {
		res.Sequences[i].Text = runs[i].st.text()
	}
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
