package seq2seq

import (
	"context"
	"encoding/json"
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
	"github.com/loupe-ml/loupe/model/t5"
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
	Name string // the reference it was loaded from
	Dir  string // the model directory
	// Model is the BART, mBART or Marian model, T5 the T5 model: one of
	// them is nil.
	Model *bart.Model
	T5    *t5.Model
	// Tokenizer encodes source texts and decodes generated ids (BART's
	// byte-level BPE; Marian's SentencePiece models through vocab.json,
	// target.spm decoding; T5's spiece.model); nil when the directory has
	// none (ids only).
	Tokenizer tokenizer.Tokenizer
	// Config holds the generation defaults: generation_config.json, or
	// config.json's generation fields when there is none (SetTask and
	// SetLanguages change them).
	Config *generate.GenerationConfig
	// Prefix goes before every source text EncodeText encodes (a task's
	// prefix, such as T5's "translate English to German: ": SetTask).
	Prefix string
	// MaxSourceTokens, when > 0, makes EncodeText truncate a longer source
	// to that many tokens, its special tokens kept (transformers'
	// truncation=True with max_length); 0 leaves a source longer than
	// SourceLimit an error. For T5, whose positions are relative, a value
	// above n_positions raises the limit to it.
	MaxSourceTokens int

	spec   spec
	tasks  []task                   // config.json's task_specific_params
	target *tokenizer.SentencePiece // mBART: the target language's tokenizer (SetLanguages)
}

// spec is what the pipeline needs to know of its model, whichever it is.
type spec struct {
	modelType       string
	srcVocab, vocab int    // source and target (decoder) vocabulary sizes
	maxSource       int    // the most source tokens the model takes
	limitName       string // the config field maxSource comes from
	maxLen          int    // the most target tokens a row holds
	pad, bos, eos   int    // -1 when absent
	start           int    // decoder_start_token_id
	layers, width   int    // decoder layers and the width of a cached key
}

// Load resolves ref, a model directory or a hub id, and loads the model
// (config.json's model_type bart, mbart or marian: package model/bart; t5:
// package model/t5), its tokenizer when the directory has one (BART's
// byte-level BPE: tokenizer.json, or vocab.json and merges.txt; Marian's
// source.spm, target.spm and vocab.json; T5's spiece.model) and its
// generation settings. For a hub id, config.json is
// fetched and checked before the weights.
func Load(ctx context.Context, ref string, opt LoadOptions) (*Pipeline, error) {
	if ref == "" {
		return nil, errors.New("seq2seq: no model given (a directory or a hub id such as Helsinki-NLP/opus-mt-en-de)")
	}
	c := opt.Hub
	if c == nil {
		c = hub.NewClient()
	}
	optional := []string{"tokenizer.json", "vocab.json", "merges.txt", "source.spm", "target.spm", "spiece.model", tokenizer.MBartModel, "tokenizer_config.json", generate.GenerationConfigFile}
	dir, err := c.ModelDir(ctx, ref, []string{"config.json"}, optional)
	if err != nil {
		return nil, err
	}
	isT5 := modelType(filepath.Join(dir, "config.json")) == "t5"
	if isT5 {
		var tc t5.Config
		if tc, err = t5.LoadConfig(filepath.Join(dir, "config.json")); err == nil && tc.EncoderOnly {
			return nil, fmt.Errorf("seq2seq: %s: %w", ref, t5.ErrEncoderOnly)
		}
	} else {
		_, err = bart.LoadConfig(filepath.Join(dir, "config.json"))
	}
	if err != nil {
		return nil, err
	}
	if dir, err = c.ModelDir(ctx, ref, []string{"config.json", "model.safetensors"}, optional); err != nil {
		return nil, err
	}
	p := &Pipeline{Name: ref, Dir: dir}
	if isT5 {
		if p.T5, err = t5.Load(dir); err != nil {
			return nil, err
		}
		c := p.T5.Config
		p.spec = spec{modelType: "t5", srcVocab: c.VocabSize, vocab: c.VocabSize, maxLen: t5.DefaultMaxLen,
			maxSource: nPositions(filepath.Join(dir, "config.json")), limitName: "n_positions",
			pad: c.PadTokenID, bos: -1, eos: c.EOSTokenID, start: c.DecoderStartTokenID, layers: c.DecoderLayers, width: c.Inner()}
	} else {
		if p.Model, err = bart.Load(dir); err != nil {
			return nil, err
		}
		c := p.Model.Config
		p.spec = spec{modelType: c.ModelType, srcVocab: c.VocabSize, vocab: c.DecoderVocab, maxSource: c.MaxPositions, limitName: "max_position_embeddings", maxLen: c.MaxPositions,
			pad: c.PadTokenID, bos: c.BOSTokenID, eos: c.EOSTokenID, start: c.DecoderStartTokenID, layers: c.DecoderLayers, width: c.DModel}
	}
	if err := p.loadRest(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// fileExists reports whether path is a file.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// nPositions returns T5's config.json n_positions, or t5.DefaultMaxLen
// (512, transformers' default) when it has none.
func nPositions(path string) int {
	var c struct {
		NPositions int `json:"n_positions"`
	}
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &c)
	}
	if c.NPositions <= 0 {
		return t5.DefaultMaxLen
	}
	return c.NPositions
}

// modelType returns config.json's model_type, or "" when it cannot be read
// (the model package's LoadConfig then says what is wrong).
func modelType(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	json.Unmarshal(b, &c)
	return c.ModelType
}

// loadRest reads the tokenizer and the generation settings of p.Dir.
func (p *Pipeline) loadRest() error {
	c := p.spec
	var tok tokenizer.Tokenizer
	err := tokenizer.ErrNoTokenizer
	switch {
	case c.modelType != "mbart":
		tok, err = tokenizer.Load(p.Dir)
	case fileExists(filepath.Join(p.Dir, tokenizer.MBartModel)):
		_, fifty := tokenizer.MBartLayout(p.Dir)
		tok, err = tokenizer.LoadMBart(p.Dir, fifty)
	}
	switch {
	case errors.Is(err, tokenizer.ErrNoTokenizer): // ids only
	case err != nil:
		return err
	default:
		_, bpe := tok.(*tokenizer.BPE)
		_, spm := tok.(*tokenizer.SentencePiece)
		switch {
		case !bpe && !spm:
			return fmt.Errorf("seq2seq: %s: the tokenizer is neither byte-level BPE (BART) nor SentencePiece (Marian, T5)", p.Dir)
		case tok.VocabSize() > c.srcVocab:
			return fmt.Errorf("seq2seq: %s: the tokenizer has %d tokens but the model only %d", p.Dir, tok.VocabSize(), c.srcVocab)
		}
		p.Tokenizer = tok
	}
	gc, err := generate.LoadGenerationConfig(p.Dir, c.vocab)
	if err != nil {
		return err
	}
	if gc == nil { // transformers' GenerationConfig.from_model_config
		path := filepath.Join(p.Dir, "config.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("seq2seq: %w", err)
		}
		if gc, err = generate.ParseGenerationConfig(b, c.vocab); err != nil {
			var oe *generate.OptionError
			if errors.As(err, &oe) {
				oe.File = path
				return oe
			}
			return fmt.Errorf("seq2seq: %s: %w", path, err)
		}
	}
	p.Config = gc
	p.tasks, err = readTasks(filepath.Join(p.Dir, "config.json"))
	return err
}

// Close releases the model's weights.
func (p *Pipeline) Close() error {
	if p.T5 != nil {
		return p.T5.Close()
	}
	return p.Model.Close()
}

// Decoder returns the target tokenizer as a Decoder that leaves out the
// special tokens (transformers' skip_special_tokens=True), or nil.
func (p *Pipeline) Decoder() generate.Decoder {
	if p.Tokenizer == nil {
		return nil
	}
	c := p.spec
	var skip []int
	for _, id := range []int{c.pad, c.bos, c.eos, c.start} {
		if id >= 0 {
			skip = append(skip, id)
		}
	}
	if sp, ok := p.Tokenizer.(*tokenizer.SentencePiece); ok && sp.Languages() != nil {
		// mBART's language codes and <mask> (its last id): special tokens.
		for _, code := range sp.Languages() {
			id, _ := sp.LanguageID(code)
			skip = append(skip, id)
		}
		skip = append(skip, sp.VocabSize()-1)
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
// "<s> … </s>" (added when the tokenizer does not add them itself), T5's
// pieces and "</s>", Marian's SentencePiece pieces mapped through vocab.json and
// "</s>" (a leading ">>lang<<" is one token). It fails when the model has
// no tokenizer loupe reads, and for a source longer than the model's
// positions.
func (p *Pipeline) EncodeText(text string) ([]int, error) {
	if err := generate.CheckText(text); err != nil {
		return nil, err
	}
	if p.Tokenizer == nil {
		return nil, fmt.Errorf("seq2seq: %s has no tokenizer (BART: tokenizer.json or vocab.json + merges.txt; Marian: source.spm, target.spm and vocab.json; T5: spiece.model): give source ids", p.Name)
	}
	ids := p.tokenize(p.Tokenizer, p.Prefix+text)
	if n := p.MaxSourceTokens; n > 0 && len(ids) > n {
		var err error
		if ids, err = p.truncate(ids, n); err != nil {
			return nil, err
		}
	}
	return ids, p.CheckSource(ids)
}

// tokenize tokenizes text with tok as EncodeText does.
func (p *Pipeline) tokenize(tok tokenizer.Tokenizer, text string) []int {
	c := p.spec
	ids := tok.EncodeText(text, tokenizer.EncodeOptions{AllowSpecial: true}).IDs
	if _, ok := tok.(*tokenizer.BPE); ok {
		if c.bos >= 0 && (len(ids) == 0 || ids[0] != c.bos) {
			ids = append([]int{c.bos}, ids...)
		}
		if c.eos >= 0 && (len(ids) == 0 || ids[len(ids)-1] != c.eos) {
			ids = append(ids, c.eos)
		}
	}
	return ids
}

// EncodeTarget tokenizes a target text (a reference translation or
// summary, to explain with ExplainOptions.Continuation) as transformers'
// tokenizer(text_target=...) does: with Marian's target-language model
// (target.spm), else as EncodeText ("<s> … </s>" for BART, "… </s>" for
// T5). It fails without a tokenizer, for an empty target and for an id
// outside the decoder's vocabulary.
func (p *Pipeline) EncodeTarget(text string) ([]int, error) {
	if err := generate.CheckText(text); err != nil {
		return nil, err
	}
	if p.Tokenizer == nil {
		return nil, fmt.Errorf("seq2seq: %s has no tokenizer: give target ids", p.Name)
	}
	tok := p.Tokenizer
	if sp, ok := tok.(*tokenizer.SentencePiece); ok {
		tok = sp.Target()
	}
	if p.target != nil {
		tok = p.target
	}
	ids := p.tokenize(tok, text)
	if len(ids) == 0 {
		return nil, errors.New("seq2seq: empty target")
	}
	for _, id := range ids {
		if id < 0 || id >= p.spec.vocab {
			return nil, fmt.Errorf("seq2seq: target token id %d out of range [0, %d)", id, p.spec.vocab)
		}
	}
	return ids, nil
}

// CheckSource reports a source the model would refuse: empty, longer than
// SourceLimit (BART's max_position_embeddings, T5's n_positions; wrapping
// bart.ErrContext), or holding an id outside the source vocabulary.
func (p *Pipeline) CheckSource(src []int) error {
	c := p.spec
	switch {
	case len(src) == 0:
		return errors.New("seq2seq: empty source")
	case len(src) > c.maxSource && (p.T5 == nil || len(src) > p.MaxSourceTokens):
		return fmt.Errorf("seq2seq: the source has %d tokens, more than the model's %s %d (truncate it with MaxSourceTokens, loupe's --max-source-tokens): %w", len(src), c.limitName, c.maxSource, bart.ErrContext)
	}
	for _, id := range src {
		if id < 0 || id >= c.srcVocab {
			return fmt.Errorf("seq2seq: source token id %d out of range [0, %d)", id, c.srcVocab)
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
	start := p.spec.start
	if s.DecoderStartTokenID != nil {
		start = *s.DecoderStartTokenID
	} else if g != nil && g.DecoderStartTokenID != nil {
		start = *g.DecoderStartTokenID
	}
	if start < 0 || start >= p.spec.vocab {
		return generate.Options{}, generate.Beams{}, nil, fmt.Errorf("seq2seq: %s: decoder_start_token_id %d: want a token id in [0, %d)", p.Name, start, p.spec.vocab)
	}
	if s.MaxNewTokens == nil && s.MaxLength == nil && (g == nil || g.MaxNewTokens == nil && g.MaxLength == nil) {
		// transformers' max_length default (20, the start token included),
		// not loupe generate's 50 new tokens.
		s.MaxLength = new(generate.DefaultMaxLength)
	}
	opt, b, err := generate.Resolve(g, s, 1)
	return opt, b, []int{start}, err
}

// LM returns the BART-family decoder bound to enc's sources as a
// generate.LM: a cache of as many rows as enc has sources binds row i to
// source i; with one source, every row (beams, samples) reads it.
func (p *Pipeline) LM(enc *bart.Encoded) generate.LM {
	return &decoderLM{spec: &p.spec, enc: encLens(enc.Rows(), enc.Len), newCache: func(rows, maxLen, maxRows int) (generate.Cache, error) {
		return p.Model.NewDecoderFor(enc, bart.DecoderOptions{Batch: rows, MaxLen: maxLen, MaxRows: maxRows})
	}}
}

// T5LM is LM for a T5 model's encoded sources.
func (p *Pipeline) T5LM(enc *t5.Encoded) generate.LM {
	return &decoderLM{spec: &p.spec, enc: encLens(enc.Rows(), enc.Len), newCache: func(rows, maxLen, maxRows int) (generate.Cache, error) {
		return p.T5.NewDecoderFor(enc, t5.DecoderOptions{Batch: rows, MaxLen: maxLen, MaxRows: maxRows})
	}}
}

// encode runs the encoder over srcs and returns the decoder bound to them.
func (p *Pipeline) encode(srcs [][]int) (generate.LM, error) {
	if p.T5 != nil {
		enc, err := p.T5.Encode(srcs)
		if err != nil {
			return nil, err
		}
		return p.T5LM(enc), nil
	}
	enc, err := p.Model.Encode(srcs)
	if err != nil {
		return nil, err
	}
	return p.LM(enc), nil
}

// encLens returns the longest of n source lengths.
func encLens(n int, length func(int) int) int {
	m := 0
	for b := range n {
		m = max(m, length(b))
	}
	return m
}

// decoderLM is the LM of an encoder-decoder's decoder bound to encoded
// sources (the longest enc tokens long).
type decoderLM struct {
	spec     *spec
	enc      int
	newCache func(rows, maxLen, maxRows int) (generate.Cache, error)
}

func (l *decoderLM) VocabSize() int  { return l.spec.vocab }
func (l *decoderLM) MaxLen() int     { return l.spec.maxLen }
func (l *decoderLM) EOSTokenID() int { return l.spec.eos }

// CacheBytesPerToken counts the self-attention keys and values of a
// target token, and the cross-attention keys and values of the longest
// source spread over the row's most target positions.
func (l *decoderLM) CacheBytesPerToken() int64 {
	self := 2 * int64(l.spec.layers) * int64(l.spec.width) * 4
	n := int64(l.spec.maxLen)
	return self + (self*int64(l.enc)+n-1)/n
}

func (l *decoderLM) NewCache(rows, maxLen, maxRows int) (generate.Cache, error) {
	return l.newCache(rows, maxLen, maxRows)
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
	lm, err := p.encode([][]int{src})
	if err != nil {
		return nil, err
	}
	encSec := time.Since(t0).Seconds()
	o, err := generate.Decode(ctx, lm, start, opt, b, p.Decoder())
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
	lm, err := p.encode(srcs)
	if err != nil {
		return nil, err
	}
	encSec := time.Since(t0).Seconds()
	prompts := make([][]int, len(srcs))
	for i := range prompts {
		prompts[i] = start
	}
	res, err := generate.DecodeBatch(ctx, lm, prompts, opt, p.Decoder())
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
