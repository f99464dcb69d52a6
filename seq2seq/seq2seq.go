package seq2seq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/tokenizer"
)

// LoadOptions control Load. The zero value fetches hub ids with
// hub.NewClient().
type LoadOptions struct {
	// Hub fetches hub ids into the Hugging Face cache; nil means
	// hub.NewClient().
	Hub *hub.Client
}

// Pipeline is a loaded encoder-decoder with what generating with it
// needs. It is safe for concurrent use (each generation has its own
// state).
type Pipeline struct {
	Name  string      // the reference it was loaded from
	Dir   string      // the model directory
	Model *bart.Model //
	// Tokenizer encodes source texts and decodes generated ids (BART's
	// byte-level BPE; Marian's SentencePiece models through vocab.json,
	// target.spm decoding); nil when the directory has none (ids only).
	Tokenizer tokenizer.Tokenizer
	// Config holds the generation defaults: generation_config.json, or
	// config.json's generation fields when there is none.
	Config *generate.GenerationConfig
}

// Load resolves ref, a model directory or a hub id, and loads the model
// (config.json's model_type bart, mbart or marian), its tokenizer when
// loupe reads it (BART's byte-level BPE: tokenizer.json, or vocab.json and
// merges.txt) and its generation settings. For a hub id, config.json is
// fetched and checked before the weights.
func Load(ctx context.Context, ref string, opt LoadOptions) (*Pipeline, error) {
	if ref == "" {
		return nil, errors.New("seq2seq: no model given (a directory or a hub id such as Helsinki-NLP/opus-mt-en-de)")
	}
	c := opt.Hub
	if c == nil {
		c = hub.NewClient()
	}
	optional := []string{"tokenizer.json", "vocab.json", "merges.txt", "source.spm", "target.spm", generate.GenerationConfigFile}
	dir, err := c.ModelDir(ctx, ref, []string{"config.json"}, optional)
	if err != nil {
		return nil, err
	}
	if _, err := bart.LoadConfig(filepath.Join(dir, "config.json")); err != nil {
		return nil, err
	}
	if dir, err = c.ModelDir(ctx, ref, []string{"config.json", "model.safetensors"}, optional); err != nil {
		return nil, err
	}
	m, err := bart.Load(dir)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{Name: ref, Dir: dir, Model: m}
	if err := p.loadRest(); err != nil {
		m.Close()
		return nil, err
	}
	return p, nil
}

// loadRest reads the tokenizer and the generation settings of p.Dir.
func (p *Pipeline) loadRest() error {
	c := p.Model.Config
	tok, err := tokenizer.Load(p.Dir)
	switch {
	case errors.Is(err, tokenizer.ErrNoTokenizer): // ids only
	case err != nil:
		return err
	default:
		_, bpe := tok.(*tokenizer.BPE)
		_, spm := tok.(*tokenizer.SentencePiece)
		switch {
		case !bpe && !spm:
			return fmt.Errorf("seq2seq: %s: the tokenizer is neither byte-level BPE (BART) nor SentencePiece (Marian)", p.Dir)
		case tok.VocabSize() > c.VocabSize:
			return fmt.Errorf("seq2seq: %s: the tokenizer has %d tokens but the model only %d", p.Dir, tok.VocabSize(), c.VocabSize)
		}
		p.Tokenizer = tok
	}
	gc, err := generate.LoadGenerationConfig(p.Dir, c.DecoderVocab)
	if err != nil {
		return err
	}
	if gc == nil { // transformers' GenerationConfig.from_model_config
		path := filepath.Join(p.Dir, "config.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("seq2seq: %w", err)
		}
		if gc, err = generate.ParseGenerationConfig(b, c.DecoderVocab); err != nil {
			var oe *generate.OptionError
			if errors.As(err, &oe) {
				oe.File = path
				return oe
			}
			return fmt.Errorf("seq2seq: %s: %w", path, err)
		}
	}
	p.Config = gc
	return nil
}

// Close releases the model's weights.
func (p *Pipeline) Close() error { return p.Model.Close() }

// Decoder returns the target tokenizer as a Decoder that leaves out the
// special tokens (transformers' skip_special_tokens=True), or nil.
func (p *Pipeline) Decoder() generate.Decoder {
	if p.Tokenizer == nil {
		return nil
	}
	c := p.Model.Config
	var skip []int
	for _, id := range []int{c.PadTokenID, c.BOSTokenID, c.EOSTokenID, c.DecoderStartTokenID} {
		if id >= 0 {
			skip = append(skip, id)
		}
	}
	return skipDecoder{p.Tokenizer, skip}
}

// skipDecoder decodes ids without the special ones.
type skipDecoder struct {
	dec  generate.Decoder
	skip []int
}

func (d skipDecoder) Decode(ids []int) string {
	keep := make([]int, 0, len(ids))
	for _, id := range ids {
		if !slices.Contains(d.skip, id) {
			keep = append(keep, id)
		}
	}
	return d.dec.Decode(keep)
}

// EncodeText tokenizes a source text as transformers' tokenizer does for
// the model (special tokens written in the text recognised): BART's
// "<s> … </s>" (added when the tokenizer does not add them itself; mBART:
// "… </s>"), Marian's SentencePiece pieces mapped through vocab.json and
// "</s>" (a leading ">>lang<<" is one token). It fails when the model has
// no tokenizer loupe reads, and for a source longer than the model's
// positions.
func (p *Pipeline) EncodeText(text string) ([]int, error) {
	if err := generate.CheckText(text); err != nil {
		return nil, err
	}
	if p.Tokenizer == nil {
		return nil, fmt.Errorf("seq2seq: %s has no tokenizer (BART: tokenizer.json or vocab.json + merges.txt; Marian: source.spm, target.spm and vocab.json): give source ids", p.Name)
	}
	c := p.Model.Config
	ids := p.Tokenizer.EncodeText(text, tokenizer.EncodeOptions{AllowSpecial: true}).IDs
	if _, ok := p.Tokenizer.(*tokenizer.BPE); ok {
		if c.ModelType == "bart" && c.BOSTokenID >= 0 && (len(ids) == 0 || ids[0] != c.BOSTokenID) {
			ids = append([]int{c.BOSTokenID}, ids...)
		}
		if c.EOSTokenID >= 0 && (len(ids) == 0 || ids[len(ids)-1] != c.EOSTokenID) {
			ids = append(ids, c.EOSTokenID)
		}
	}
	return ids, p.CheckSource(ids)
}

// CheckSource reports a source Encode would refuse: empty, longer than
// max_position_embeddings (wrapping bart.ErrContext), or holding an id
// outside the source vocabulary.
func (p *Pipeline) CheckSource(src []int) error {
	c := p.Model.Config
	switch {
	case len(src) == 0:
		return errors.New("seq2seq: empty source")
	case len(src) > c.MaxPositions:
		return fmt.Errorf("seq2seq: the source has %d tokens, more than the model's max_position_embeddings %d (loupe does not truncate): %w", len(src), c.MaxPositions, bart.ErrContext)
	}
	for _, id := range src {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("seq2seq: source token id %d out of range [0, %d)", id, c.VocabSize)
		}
	}
	return nil
}

// Resolve merges the caller's settings s with the model's generation
// settings (generate.Resolve, max_length counting the decoder's start
// token; without a length anywhere, transformers' max_length 20) and
// returns the decoder's prompt: decoder_start_token_id.
func (p *Pipeline) Resolve(s generate.Settings) (generate.Options, generate.Beams, []int, error) {
	g := p.Config
	start := p.Model.Config.DecoderStartTokenID
	if s.DecoderStartTokenID != nil {
		start = *s.DecoderStartTokenID
	} else if g != nil && g.DecoderStartTokenID != nil {
		start = *g.DecoderStartTokenID
	}
	if start < 0 || start >= p.Model.Config.DecoderVocab {
		return generate.Options{}, generate.Beams{}, nil, fmt.Errorf("seq2seq: %s: decoder_start_token_id %d: want a token id in [0, %d)", p.Name, start, p.Model.Config.DecoderVocab)
	}
	if s.MaxNewTokens == nil && s.MaxLength == nil && (g == nil || g.MaxNewTokens == nil && g.MaxLength == nil) {
		// transformers' max_length default (20, the start token included),
		// not loupe generate's 50 new tokens.
		s.MaxLength = new(generate.DefaultMaxLength)
	}
	opt, b, err := generate.Resolve(g, s, 1)
	return opt, b, []int{start}, err
}

// LM returns the decoder bound to enc's sources as a generate.LM: a cache
// of as many rows as enc has sources binds row i to source i; with one
// source, every row (beams, samples) reads it.
func (p *Pipeline) LM(enc *bart.Encoded) generate.LM { return &decoderLM{m: p.Model, enc: enc} }

// decoderLM is the LM of a bart decoder bound to encoded sources.
type decoderLM struct {
	m   *bart.Model
	enc *bart.Encoded
}

func (l *decoderLM) VocabSize() int  { return l.m.Config.DecoderVocab }
func (l *decoderLM) MaxLen() int     { return l.m.Config.MaxPositions }
func (l *decoderLM) EOSTokenID() int { return l.m.Config.EOSTokenID }

// CacheBytesPerToken counts the self-attention keys and values of a
// target token, and the cross-attention keys and values of the longest
// source spread over max_position_embeddings target positions.
func (l *decoderLM) CacheBytesPerToken() int64 {
	c := l.m.Config
	src := 0
	for b := range l.enc.Rows() {
		src = max(src, l.enc.Len(b))
	}
	self := 2 * int64(c.DecoderLayers) * int64(c.DModel) * 4
	return self + (self*int64(src)+int64(c.MaxPositions)-1)/int64(c.MaxPositions)
}

func (l *decoderLM) NewCache(rows, maxLen, maxRows int) (generate.Cache, error) {
	return l.m.NewDecoderFor(l.enc, bart.DecoderOptions{Batch: rows, MaxLen: maxLen, MaxRows: maxRows})
}

// Run translates or summarizes text with settings s (see RunIDs).
func (p *Pipeline) Run(ctx context.Context, text string, s generate.Settings, onToken func(generate.Step) error) (*generate.Output, error) {
	src, err := p.EncodeText(text)
	if err != nil {
		return nil, err
	}
	return p.RunIDs(ctx, src, s, onToken)
}

// RunIDs encodes the source ids src once and decodes with settings s
// through generate.Decode: beam search when num_beams > 1, several samples
// when num_return_sequences > 1, else one sequence streamed to onToken
// (nil: none). Output.PromptIDs is the decoder's start; the Stats' prefill
// counts the encoder's pass (the source's tokens and its time) and the
// decoder's first.
func (p *Pipeline) RunIDs(ctx context.Context, src []int, s generate.Settings, onToken func(generate.Step) error) (*generate.Output, error) {
	if err := p.CheckSource(src); err != nil {
		return nil, err
	}
	opt, b, start, err := p.Resolve(s)
	if err != nil {
		return nil, err
	}
	opt.OnToken = onToken
	t0 := time.Now()
	enc, err := p.Model.Encode([][]int{src})
	if err != nil {
		return nil, err
	}
	encSec := time.Since(t0).Seconds()
	o, err := generate.Decode(ctx, p.LM(enc), start, opt, b, p.Decoder())
	if err != nil {
		return nil, err
	}
	addEncode(&o.Stats, len(src), encSec)
	return o, nil
}

// addEncode counts the encoder's pass in the prefill: its source tokens
// and its time, before the decoder's first pass.
func addEncode(s *generate.Stats, tokens int, sec float64) {
	s.PrefillTokens += tokens
	s.PrefillSeconds += sec
}

// RunBatch decodes one sequence for each source (greedy or sampled, not
// beam search) as one batch: the sources are encoded together and row i
// of the decoder reads source i (generate.DecodeBatch). Result i is what
// RunIDs gives for srcs[i] alone, but for float rounding of the batched
// computation.
func (p *Pipeline) RunBatch(ctx context.Context, srcs [][]int, s generate.Settings) ([]*generate.Result, error) {
	for i, src := range srcs {
		if err := p.CheckSource(src); err != nil {
			return nil, &generate.PromptError{Index: i, Err: err}
		}
	}
	opt, b, start, err := p.Resolve(s)
	switch {
	case err != nil:
		return nil, err
	case b.NumBeams > 1:
		return nil, &generate.OptionError{Field: "num_beams", Value: fmt.Sprint(b.NumBeams), Allowed: "1 for a batch of sources (run them one at a time)"}
	case b.NumReturnSequences > 1:
		return nil, &generate.OptionError{Field: "num_return_sequences", Value: fmt.Sprint(b.NumReturnSequences), Allowed: "1 for a batch of sources"}
	case len(srcs) == 0:
		return nil, errors.New("seq2seq: no sources")
	}
	t0 := time.Now()
	enc, err := p.Model.Encode(srcs)
	if err != nil {
		return nil, err
	}
	encSec := time.Since(t0).Seconds()
	prompts := make([][]int, len(srcs))
	for i := range prompts {
		prompts[i] = start
	}
	res, err := generate.DecodeBatch(ctx, p.LM(enc), prompts, opt, p.Decoder())
	if err != nil {
		return nil, err
	}
	for i, r := range res {
		addEncode(&r.Stats, len(srcs[i]), encSec)
	}
	return res, nil
}

// RunText runs RunIDs and writes the text to w as loupe translate prints
// it: one sequence streams as it is generated (a newline at the end, even
// after an error); several sequences, or any without a tokenizer (ids), are
// written at the end (generate.Output.WriteText).
func (p *Pipeline) RunText(ctx context.Context, w io.Writer, src []int, s generate.Settings) (*generate.Output, error) {
	_, b, _, err := p.Resolve(s)
	if err != nil {
		return nil, err
	}
	dec := p.Decoder()
	if dec == nil || b.NumBeams > 1 || b.NumReturnSequences > 1 {
		o, err := p.RunIDs(ctx, src, s, nil)
		if err == nil {
			err = o.WriteText(w, dec)
		}
		return o, err
	}
	o, err := p.RunIDs(ctx, src, s, generate.WriteSteps(w))
	fmt.Fprintln(w)
	return o, err
}

// RunTexts decodes one sequence for each source (texts, or ids when texts
// is nil), batchSize sources at a time (RunBatch), and gives onBatch each
// batch's results in order with the index of its first source. Every
// source is encoded and checked first: an error names it
// (*generate.PromptError) and nothing is generated.
func (p *Pipeline) RunTexts(ctx context.Context, texts []string, ids [][]int, s generate.Settings, batchSize int, onBatch func(first int, res []*generate.Result) error) error {
	if batchSize < 1 {
		return &generate.OptionError{Field: "batch_size", Value: fmt.Sprint(batchSize), Allowed: "a positive integer"}
	}
	srcs := ids
	if texts != nil {
		srcs = make([][]int, len(texts))
		for i, t := range texts {
			src, err := p.EncodeText(t)
			if err != nil {
				return &generate.PromptError{Index: i, Err: err}
			}
			srcs[i] = src
		}
	}
	if s.Seed == nil {
		s.Seed = new(rand.Uint64())
	}
	for lo := 0; lo < len(srcs); lo += batchSize {
		hi := min(lo+batchSize, len(srcs))
		res, err := p.RunBatch(ctx, srcs[lo:hi], s)
		var pe *generate.PromptError
		if errors.As(err, &pe) {
			pe.Index += lo
		}
		if err != nil {
			return err
		}
		if err := onBatch(lo, res); err != nil {
			return err
		}
	}
	return nil
}
