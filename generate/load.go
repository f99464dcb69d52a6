package generate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/model/t5"
	"github.com/loupe-ml/loupe/tokenizer"
)

// LoadOptions control Load. The zero value fetches hub ids with
// hub.NewClient().
type LoadOptions struct {
	// Hub fetches hub ids into the Hugging Face cache; nil means
	// hub.NewClient() (HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE, ...).
	Hub *hub.Client
	// Quantize is the precision of the model's weights in the inference
	// pass that decoding, scoring and serving run: "" for the checkpoint's
	// own (float32, or the precision of a directory loupe quantize wrote,
	// see Quantize), "none" or "float32" (float32), "int8" (gpt2.Int8: the
	// four linear layers of every block and the LM head with
	// per-output-channel int8 weights and per-token int8 activations; the
	// token embedding lookup reads the quantized head's rows; position
	// embeddings, LayerNorms, biases and attention stay float32), "bf16"
	// (gpt2.BF16: the same layers with bfloat16 weights, activations and
	// sums in float32) or "f16" (gpt2.F16: as bf16 with IEEE float16
	// weights). A quantized directory asked for another precision
	// is an error naming both. The differentiable pass that explain's
	// saliency runs stays float32 (on a quantized directory: on weights
	// dequantized from it).
	Quantize string
}

// quantizeAllowed is what LoadOptions.Quantize accepts, for errors.
const quantizeAllowed = "none, float32, int8, bf16 or f16 (precision of the model's weights when decoding; default: as the checkpoint stores them)"

// Check reports a LoadOptions value Load refuses (an *OptionError with
// Field "quantize"), so that a surface can fail before loading anything.
func (o LoadOptions) Check() error {
	if _, err := gpt2.ParsePrecision(o.Quantize); err != nil {
		return &OptionError{Field: "quantize", Value: strconv.Quote(o.Quantize), Allowed: quantizeAllowed}
	}
	return nil
}

// Pipeline is a loaded GPT-2 with what generating with it needs: its
// tokenizer and its generation defaults. It is transformers'
// pipeline("text-generation") in Go; loupe generate, loupe explain and
// loupe serve all load their model through Load and decode with Resolve,
// so they give the same text for the same prompt and seed. A Pipeline is
// safe for concurrent use (each generation has its own state).
type Pipeline struct {
	Name      string         // the reference it was loaded from (hub id or directory)
	Dir       string         // the model directory (a snapshot of the cache for hub ids)
	Model     *gpt2.Model    //
	Tokenizer *tokenizer.BPE // nil when the directory has no tokenizer files
	// Config is the model's generation_config.json, nil when it has none.
	// When the file lacks do_sample, DoSample is config.json's
	// task_specific_params["text-generation"].do_sample, as transformers'
	// text-generation pipeline applies it (GPT-2's says true: the pipeline
	// samples where a bare model.generate() is greedy).
	Config *GenerationConfig
}

// ErrNotUTF8 is returned for a prompt that is not valid UTF-8.
var ErrNotUTF8 = errors.New("generate: the prompt is not valid UTF-8")

// ErrEncoderDecoder is wrapped by Load's error for a BART, mBART, Marian or
// T5 encoder-decoder checkpoint: package seq2seq runs those (loupe generate
// hands them to it, as transformers' text2text-generation pipeline).
var ErrEncoderDecoder = errors.New("encoder-decoder model")

// Load resolves ref, a model directory or a Hugging Face hub id (gpt2,
// ORG/NAME, ORG/NAME@REVISION), and loads the GPT-2, its tokenizer when
// the files are there (tokenizer.json, or vocab.json and merges.txt), and
// its generation_config.json. For a hub id, config.json is fetched and
// checked first, so that a model of another architecture fails before its
// weights are downloaded.
func Load(ctx context.Context, ref string, opt LoadOptions) (*Pipeline, error) {
	if ref == "" {
		return nil, errors.New("generate: no model given (a directory or a hub id such as gpt2)")
	}
	if err := opt.Check(); err != nil {
		return nil, err
	}
	c := opt.Hub
	if c == nil {
		c = hub.NewClient()
	}
	optional := []string{"tokenizer.json", "vocab.json", "merges.txt", GenerationConfigFile}
	dir, err := c.ModelDir(ctx, ref, []string{"config.json"}, optional)
	if err != nil {
		return nil, err
	}
	if _, err := gpt2.LoadConfig(filepath.Join(dir, "config.json")); err != nil {
		if bc, berr := bart.LoadConfig(filepath.Join(dir, "config.json")); berr == nil {
			return nil, fmt.Errorf("generate: %s is an %w (model_type %q), not a GPT-2: use package seq2seq (loupe translate, summarize or generate)", ref, ErrEncoderDecoder, bc.ModelType)
		}
		if tc, terr := t5.LoadConfig(filepath.Join(dir, "config.json")); terr == nil {
			if tc.EncoderOnly {
				return nil, fmt.Errorf("generate: %s is an encoder-only T5 (T5EncoderModel), not a GPT-2: it makes sentence embeddings (loupe embed on its sentence-transformers directory)", ref)
			}
			return nil, fmt.Errorf("generate: %s is an %w (model_type \"t5\"), not a GPT-2: use package seq2seq (loupe translate, summarize or generate)", ref, ErrEncoderDecoder)
		}
		return nil, err
	}
	if dir, err = c.ModelDir(ctx, ref, []string{"config.json", "model.safetensors"}, optional); err != nil {
		return nil, err
	}
	m, err := gpt2.LoadWith(dir, gpt2.LoadOptions{Quantize: opt.Quantize})
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

// loadRest reads the tokenizer and the generation config of p.Dir.
func (p *Pipeline) loadRest() error {
	tok, err := tokenizer.Load(p.Dir)
	switch {
	case errors.Is(err, tokenizer.ErrNoTokenizer): // a model without a tokenizer: ids only
	case err != nil:
		return err
	default:
		bpe, ok := tok.(*tokenizer.BPE)
		if !ok {
			return fmt.Errorf("generate: %s: the tokenizer is not GPT-2's byte-level BPE", p.Dir)
		}
		if bpe.VocabSize() > p.Model.Config.VocabSize {
			return fmt.Errorf("generate: %s: the tokenizer has %d tokens but the model only %d", p.Dir, bpe.VocabSize(), p.Model.Config.VocabSize)
		}
		p.Tokenizer = bpe
	}
	gc, err := LoadGenerationConfig(p.Dir, p.Model.Config.VocabSize)
	if err != nil {
		return err
	}
	if gc != nil && gc.DoSample == nil {
		gc.DoSample = pipelineDoSample(p.Dir)
	}
	p.Config = gc
	return nil
}

// Close releases the model's weights.
func (p *Pipeline) Close() error { return p.Model.Close() }

// pipelineDoSample returns config.json's
// task_specific_params["text-generation"].do_sample, or nil.
func pipelineDoSample(dir string) *bool {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil
	}
	var c struct {
		TaskSpecific map[string]struct {
			DoSample *bool `json:"do_sample"`
		} `json:"task_specific_params"`
	}
	if json.Unmarshal(b, &c) != nil {
		return nil
	}
	return c.TaskSpecific["text-generation"].DoSample
}

// Encode tokenizes a text prompt and checks it as Generate would: valid
// UTF-8 (ErrNotUTF8), not empty (ErrEmptyPrompt), within the model's
// context. It fails when the model has no tokenizer.
func (p *Pipeline) Encode(text string) ([]int, error) {
	if err := CheckText(text); err != nil {
		return nil, err
	}
	if err := p.NeedTokenizer(); err != nil {
		return nil, err
	}
	ids := p.Tokenizer.Encode(text)
	if err := CheckPrompt(p.Model, ids); err != nil {
		return nil, err
	}
	return ids, nil
}

// CheckText reports a text prompt that no model accepts: empty
// (ErrEmptyPrompt) or not valid UTF-8 (ErrNotUTF8). A surface can call it
// before loading the model; Encode calls it too.
func CheckText(text string) error {
	switch {
	case text == "":
		return ErrEmptyPrompt
	case !utf8.ValidString(text):
		return ErrNotUTF8
	}
	return nil
}

// NeedTokenizer returns an error naming the model when it has no
// tokenizer.
func (p *Pipeline) NeedTokenizer() error {
	if p.Tokenizer == nil {
		return fmt.Errorf("generate: %s has no tokenizer (tokenizer.json, or vocab.json + merges.txt)", p.Name)
	}
	return nil
}

// Decoder returns the tokenizer as a Decoder, or nil (not a nil
// *tokenizer.BPE in an interface) when there is none.
func (p *Pipeline) Decoder() Decoder {
	if p.Tokenizer == nil {
		return nil
	}
	return p.Tokenizer
}

// Resolve merges the caller's settings s with the model's
// generation_config.json (see the function Resolve).
func (p *Pipeline) Resolve(s Settings, promptLen int) (Options, Beams, error) {
	return Resolve(p.Config, s, promptLen)
}

// Settings are a caller's generation settings. Each field of the embedded
// GenerationConfig that is set (not nil) overrides generation_config.json;
// the others take the file's value, then the default.
type Settings struct {
	GenerationConfig
	Seed      *uint64  // nil: a random seed (Options.Seed tells which)
	IgnoreEOS bool     // do not stop at the end-of-text token
	Stop      []string // stop strings (transformers' stop_strings; not with beam search)
	// Adjust and Context are the retrieval hooks (kNN-LM, in-context
	// RALM) that Resolve passes on to Options as they are.
	Adjust  Adjuster
	Context Contexter
}

// Resolve merges the settings s a caller gives with file, a model's
// generation_config.json (nil when it has none), into the options of
// Generate, GenerateN, GenerateBatch and BeamSearch. promptLen is the
// prompt's length in tokens (max_length and min_length count it).
//
// A setting of s wins, then the file's, then transformers' default
// (temperature 1, top_k 50, top_p 1, typical_p 1, repetition_penalty 1,
// num_beams 1, length_penalty 1, do_sample false), with two exceptions
// that make loupe's defaults those of transformers' text-generation
// pipeline rather than of a bare generate(): without a file, do_sample is
// true unless s asks for beam search (num_beams > 1); and without
// max_new_tokens or max_length the length is DefaultMaxNewTokens (not
// max_length 20). min_new_tokens, once set anywhere (even 0), replaces
// min_length, as in transformers.
//
// Every value s sets is checked (an *OptionError names the setting as
// generation_config.json does), and so are the combinations: temperature
// 0 while sampling, max_length with no room after the prompt, more
// sequences than beams, several sequences with greedy decoding, stop
// strings with beam search. An error about a value that came from the
// file has OptionError.File set.
func Resolve(file *GenerationConfig, s Settings, promptLen int) (Options, Beams, error) {
	if err := s.Check(); err != nil {
		return Options{}, Beams{}, err
	}
	over := &s.GenerationConfig
	var g GenerationConfig
	path := ""
	if file != nil {
		g = *file
		path = file.path
	} else if over.DoSample == nil && (over.NumBeams == nil || *over.NumBeams <= 1) {
		t := true
		g.DoSample = &t
	}
	// src names where the value of a setting the caller did not set came
	// from, for errors.
	src := func(callerSet bool) string {
		if callerSet {
			return ""
		}
		return path
	}
	g.merge(over)
	sp := Sampling{
		Greedy:            g.DoSample == nil || !*g.DoSample,
		Temperature:       orFloat(g.Temperature, DefaultTemperature),
		TopK:              orInt(g.TopK, DefaultTopK),
		TopP:              orFloat(g.TopP, DefaultTopP),
		MinP:              orFloat(g.MinP, 0),
		Typical:           orFloat(g.TypicalP, DefaultTypicalP),
		RepetitionPenalty: orFloat(g.RepetitionPenalty, 1),
		NoRepeatNGramSize: orInt(g.NoRepeatNGramSize, 0),
	}
	if s.Seed != nil {
		sp.Seed = *s.Seed
	} else {
		sp.Seed = rand.Uint64()
	}
	if !sp.Greedy && sp.Temperature == 0 {
		return Options{}, Beams{}, &OptionError{Field: "temperature", Value: "0", Allowed: "a positive number while sampling (do_sample)",
			File: src(over.Temperature != nil)}
	}
	opt := Options{Sampling: sp, IgnoreEOS: s.IgnoreEOS, Stop: s.Stop, EOSTokenIDs: g.EOSTokenIDs, Adjust: s.Adjust, Context: s.Context,
		BadWordsIDs: g.BadWordsIDs, ForcedBOSTokenID: g.ForcedBOSTokenID, ForcedEOSTokenIDs: g.ForcedEOSTokenIDs}
	switch {
	case g.MaxNewTokens != nil:
		opt.MaxNewTokens = *g.MaxNewTokens
	case g.MaxLength != nil:
		opt.MaxNewTokens = *g.MaxLength - promptLen
		if opt.MaxNewTokens <= 0 {
			return Options{}, Beams{}, &OptionError{Field: "max_length", Value: strconv.Itoa(*g.MaxLength),
				Allowed: fmt.Sprintf("more than the prompt's %d tokens (or set max_new_tokens)", promptLen), File: src(over.MaxLength != nil)}
		}
	default:
		opt.MaxNewTokens = DefaultMaxNewTokens
	}
	switch {
	case g.MinNewTokens != nil:
		opt.MinNewTokens = *g.MinNewTokens
	case g.MinLength != nil:
		opt.MinLength = *g.MinLength
	}
	b := Beams{
		NumBeams:           orInt(g.NumBeams, 1),
		LengthPenalty:      orFloat(g.LengthPenalty, DefaultLengthPenalty),
		NumReturnSequences: orInt(g.NumReturnSequences, 1),
	}
	if g.EarlyStopping != nil {
		b.EarlyStopping = *g.EarlyStopping
	}
	b.Sample = b.NumBeams > 1 && !sp.Greedy // transformers' beam sample
	n := strconv.Itoa(b.NumReturnSequences)
	switch {
	case b.NumBeams > 1 && len(s.Stop) > 0:
		return opt, b, &OptionError{Field: "stop_strings", Value: strconv.Quote(s.Stop[0]), Allowed: "none with beam search (num_beams > 1)"}
	case b.NumBeams > 1 && b.NumReturnSequences > b.NumBeams:
		return opt, b, &OptionError{Field: "num_return_sequences", Value: n,
			Allowed: fmt.Sprintf("at most num_beams (%d)", b.NumBeams), File: src(over.NumReturnSequences != nil)}
	case b.NumBeams <= 1 && b.NumReturnSequences > 1 && sp.Greedy:
		return opt, b, &OptionError{Field: "num_return_sequences", Value: n,
			Allowed: "1 with greedy decoding, which gives one sequence (sample with do_sample, or use num_beams " + n + " or more)",
			File:    src(over.NumReturnSequences != nil)}
	}
	return opt, b, opt.Sampling.Check()
}

// Merge sets each field of g that over sets (transformers'
// GenerationConfig.update with the fields given); a length (max_length or
// max_new_tokens, min_length or min_new_tokens) replaces both of g's.
func (g *GenerationConfig) Merge(over *GenerationConfig) { g.merge(over) }

// merge sets each field of g that over sets.
func (g *GenerationConfig) merge(over *GenerationConfig) {
	setB := func(dst **bool, v *bool) {
		if v != nil {
			*dst = v
		}
	}
	setF := func(dst **float64, v *float64) {
		if v != nil {
			*dst = v
		}
	}
	setI := func(dst **int, v *int) {
		if v != nil {
			*dst = v
		}
	}
	setB(&g.DoSample, over.DoSample)
	setF(&g.Temperature, over.Temperature)
	setI(&g.TopK, over.TopK)
	setF(&g.TopP, over.TopP)
	setF(&g.MinP, over.MinP)
	setF(&g.TypicalP, over.TypicalP)
	setF(&g.RepetitionPenalty, over.RepetitionPenalty)
	setI(&g.NoRepeatNGramSize, over.NoRepeatNGramSize)
	if over.MaxNewTokens != nil || over.MaxLength != nil { // the caller's length wins over either of the file's
		g.MaxNewTokens, g.MaxLength = over.MaxNewTokens, over.MaxLength
	}
	if over.MinNewTokens != nil || over.MinLength != nil {
		g.MinNewTokens, g.MinLength = over.MinNewTokens, over.MinLength
	}
	setI(&g.NumBeams, over.NumBeams)
	setI(&g.NumReturnSequences, over.NumReturnSequences)
	setF(&g.LengthPenalty, over.LengthPenalty)
	if over.EarlyStopping != nil {
		g.EarlyStopping = over.EarlyStopping
	}
	if over.EOSTokenIDs != nil {
		g.EOSTokenIDs = over.EOSTokenIDs
	}
	setI(&g.BOSTokenID, over.BOSTokenID)
	setI(&g.PadTokenID, over.PadTokenID)
	setI(&g.DecoderStartTokenID, over.DecoderStartTokenID)
	setI(&g.ForcedBOSTokenID, over.ForcedBOSTokenID)
	if over.ForcedEOSTokenIDs != nil {
		g.ForcedEOSTokenIDs = over.ForcedEOSTokenIDs
	}
	if over.BadWordsIDs != nil {
		g.BadWordsIDs = over.BadWordsIDs
	}
}

func orFloat(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

func orInt(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

// Check reports a setting of s that Resolve refuses whatever the model's
// generation_config.json says, so that a surface can fail before loading
// a model.
func (s *Settings) Check() error {
	if err := s.GenerationConfig.check(); err != nil {
		return err
	}
	for _, st := range s.Stop {
		if st == "" {
			return &OptionError{Field: "stop_strings", Value: `""`, Allowed: "non-empty strings"}
		}
	}
	return nil
}
