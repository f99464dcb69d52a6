package generate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Output is what Pipeline.Run generated: one sequence, several independent
// samples, or beam search's best sequences.
type Output struct {
	PromptIDs []int
	Sequences []Sequence // best first after a beam search; in the order of their random streams for samples
	Beams     bool       // from beam search: each Sequence.Score is set
	Stats     Stats
}

// MarshalJSON writes o as loupe generate --format json does: the fields of
// Result for one sequence ("prompt_ids", "ids", "text", "logprobs",
// "stats"); for several, their list in "sequences", and after a beam
// search "sequences_scores" (transformers' name).
func (o *Output) MarshalJSON() ([]byte, error) {
	j := struct {
		PromptIDs       []int      `json:"prompt_ids"`
		IDs             *[]int     `json:"ids,omitempty"`
		Text            *string    `json:"text,omitempty"`
		Logprobs        *[]float32 `json:"logprobs,omitempty"`
		Sequences       []Sequence `json:"sequences,omitempty"`
		SequencesScores []float32  `json:"sequences_scores,omitempty"`
		Stats           Stats      `json:"stats"`
	}{PromptIDs: o.PromptIDs, Stats: o.Stats}
	if len(o.Sequences) == 1 {
		sq := o.Sequences[0]
		j.IDs, j.Text, j.Logprobs = &sq.IDs, &sq.Text, &sq.Logprobs
	} else {
		j.Sequences = o.Sequences
	}
	for _, sq := range o.Sequences {
		if o.Beams {
			j.SequencesScores = append(j.SequencesScores, sq.Score)
		}
	}
	// Not HTML-escaped: json.Marshal escapes the result, an Encoder with
	// SetEscapeHTML(false) leaves "<|endoftext|>" as it is.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	err := enc.Encode(j)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), err
}

// Run generates for prompt with options resolved by Resolve: beam search
// when b.NumBeams > 1 (BeamSearch), b.NumReturnSequences independent
// samples when it is above 1 (GenerateN), else one sequence (Generate,
// streamed to opt.OnToken). It is Decode with GPT2(p.Model).
func (p *Pipeline) Run(ctx context.Context, prompt []int, opt Options, b Beams) (*Output, error) {
	return Decode(ctx, GPT2(p.Model), prompt, opt, b, p.Decoder())
}

// Decode generates for prompt with any LM, through the one decoding loop
// that Generate, GenerateN and BeamSearch run for GPT-2: beam search when
// b.NumBeams > 1, b.NumReturnSequences independent samples when it is
// above 1, else one sequence (streamed to opt.OnToken). For an
// encoder-decoder LM the prompt is the decoder's start
// (decoder_start_token_id). opt.Hook is an error unless lm is GPT2's.
func Decode(ctx context.Context, lm LM, prompt []int, opt Options, b Beams, dec Decoder) (*Output, error) {
	switch {
	case b.NumBeams > 1:
		r, err := beamSearchLM(ctx, lm, prompt, opt, b, dec, nil)
		if err != nil {
			return nil, err
		}
		return &Output{PromptIDs: r.PromptIDs, Sequences: r.Sequences, Beams: true, Stats: r.Stats}, nil
	case b.NumReturnSequences > 1:
		r, err := generate(ctx, lm, prompt, opt, b.NumReturnSequences, dec)
		if err != nil {
			return nil, err
		}
		return &Output{PromptIDs: r.PromptIDs, Sequences: r.Sequences, Stats: r.Stats}, nil
	}
	r, err := generate(ctx, lm, prompt, opt, 1, dec)
	if err != nil {
		return nil, err
	}
	sq := r.Sequences[0]
	return (&Result{PromptIDs: r.PromptIDs, IDs: sq.IDs, Text: sq.Text, Logprobs: sq.Logprobs, Stats: r.Stats, Finish: sq.Finish}).Output(), nil
}

// DecodeBatch continues several prompts with any LM as GenerateBatch does
// for GPT-2: one sequence each (greedy or sampled), decoded as one batch
// of lm's Cache. Row i of the cache is prompt i's (an encoder-decoder LM
// binds row i to source i).
func DecodeBatch(ctx context.Context, lm LM, prompts [][]int, opt Options, dec Decoder) ([]*Result, error) {
	return generateBatch(ctx, lm, prompts, opt, dec)
}

// Output returns r as an Output of one sequence.
func (r *Result) Output() *Output {
	sq := Sequence{IDs: r.IDs, Text: r.Text, Logprobs: r.Logprobs, Finish: r.Finish}
	return &Output{PromptIDs: r.PromptIDs, Sequences: []Sequence{sq}, Stats: r.Stats}
}

// PromptError is an error about one prompt of a list (GenerateTexts).
type PromptError struct {
	Index int // the prompt's index in the list, from 0
	Err   error
}

func (e *PromptError) Error() string { return fmt.Sprintf("generate: prompt %d: %v", e.Index+1, e.Err) }
func (e *PromptError) Unwrap() error { return e.Err }

// DefaultBatchSize is a batch size for GenerateTexts (loupe generate
// --batch-size): 8 prompts of gpt2-xl at its full context hold about 5 GiB
// of key/value caches.
const DefaultBatchSize = 8

// GenerateTexts generates one sequence for each text, as transformers'
// pipeline("text-generation")([...]) does: each text gets what Generate
// gives it alone with settings s (all with one seed, s.Seed or a random
// one), but for rare float rounding of the batched computation. Every text
// is encoded and its settings resolved first; an error names the text
// (*PromptError) and nothing is generated. Then batches of at most
// batchSize consecutive texts that share their options (max_length makes
// the length limit depend on the prompt) decode together (GenerateBatch),
// and onBatch gets each batch's results in order with the index of its
// first text. Beam search and several sequences per text are errors.
func (p *Pipeline) GenerateTexts(ctx context.Context, texts []string, s Settings, batchSize int, onBatch func(first int, res []*Result) error) error {
	if batchSize < 1 {
		return &OptionError{Field: "batch_size", Value: strconv.Itoa(batchSize), Allowed: "a positive integer"}
	}
	_, b, err := p.Resolve(s, 0)
	switch {
	case err != nil:
		return err
	case b.NumBeams > 1:
		return &OptionError{Field: "num_beams", Value: strconv.Itoa(b.NumBeams), Allowed: "1 for a list of prompts (run them one at a time)"}
	case b.NumReturnSequences > 1:
		return &OptionError{Field: "num_return_sequences", Value: strconv.Itoa(b.NumReturnSequences), Allowed: "1 for a list of prompts (run them one at a time)"}
	}
	if s.Seed == nil {
		s.Seed = new(rand.Uint64())
	}
	prompts := make([][]int, len(texts))
	opts := make([]Options, len(texts))
	for i, t := range texts {
		ids, err := p.Encode(t)
		if err == nil {
			opts[i], _, err = p.Resolve(s, len(ids))
		}
		if err != nil {
			return &PromptError{Index: i, Err: err}
		}
		prompts[i] = ids
	}
	for lo := 0; lo < len(prompts); {
		hi := lo + 1
		for hi < len(prompts) && hi-lo < batchSize && opts[hi].MaxNewTokens == opts[lo].MaxNewTokens {
			hi++
		}
		res, err := GenerateBatch(ctx, p.Model, prompts[lo:hi], opts[lo], p.Decoder())
		if err != nil {
			return err
		}
		if err := onBatch(lo, res); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}
