package generate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// GenerationConfigFile is the name transformers gives a model's generation
// defaults.
const GenerationConfigFile = "generation_config.json"

// GenerationConfig holds the fields of a Hugging Face generation_config.json
// that loupe understands (transformers' GenerationConfig). A nil field was
// absent from the file (or null); transformers' default applies then (see
// the Default… constants). Other fields are ignored.
type GenerationConfig struct {
	DoSample           *bool
	Temperature        *float64
	TopK               *int
	TopP               *float64
	MinP               *float64
	TypicalP           *float64
	RepetitionPenalty  *float64
	NoRepeatNGramSize  *int
	MaxNewTokens       *int
	MaxLength          *int // prompt included
	MinNewTokens       *int
	MinLength          *int // prompt included
	NumBeams           *int
	NumReturnSequences *int
	LengthPenalty      *float64
	EarlyStopping      *EarlyStopping
	EOSTokenIDs        []int // eos_token_id, an int or a list; nil when absent
	BOSTokenID         *int
	PadTokenID         *int
	// The encoder-decoder fields: the decoder's first token
	// (decoder_start_token_id), the token forced after it
	// (forced_bos_token_id), the tokens forced at max_length - 1
	// (forced_eos_token_id, an int or a list) and the banned token
	// sequences (bad_words_ids, a list of lists of ids).
	DecoderStartTokenID *int
	ForcedBOSTokenID    *int
	ForcedEOSTokenIDs   []int
	BadWordsIDs         [][]int

	path string // the file read by LoadGenerationConfig, for errors
}

// transformers' GenerationConfig defaults for the fields above (DoSample
// false; MinP, MaxNewTokens, MinNewTokens, the token ids unset; MinLength
// 0).
const (
	DefaultTemperature   = 1.0
	DefaultTopK          = 50
	DefaultTopP          = 1.0
	DefaultTypicalP      = 1.0
	DefaultLengthPenalty = 1.0
	DefaultMaxLength     = 20
)

// LoadGenerationConfig reads dir's generation_config.json. It returns nil
// and no error when the file does not exist. vocab bounds the token ids.
func LoadGenerationConfig(dir string, vocab int) (*GenerationConfig, error) {
	path := filepath.Join(dir, GenerationConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	g, err := ParseGenerationConfig(b, vocab)
	var oe *OptionError
	if errors.As(err, &oe) {
		oe.File = path
		return nil, oe
	}
	if err != nil {
		return nil, fmt.Errorf("generate: %s: %w", path, err)
	}
	g.path = path
	return g, nil
}

// ParseGenerationConfig parses the contents of a generation_config.json,
// checking every field it knows: a wrong type or a value transformers
// would reject is an error naming the field.
func ParseGenerationConfig(data []byte, vocab int) (*GenerationConfig, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	g := &GenerationConfig{}
	p := fieldParser{raw: raw}
	g.DoSample = p.boolean("do_sample")
	g.Temperature = p.float("temperature")
	g.TopK = p.integer("top_k")
	g.TopP = p.float("top_p")
	g.MinP = p.float("min_p")
	g.TypicalP = p.float("typical_p")
	g.RepetitionPenalty = p.float("repetition_penalty")
	g.NoRepeatNGramSize = p.integer("no_repeat_ngram_size")
	g.MaxNewTokens = p.integer("max_new_tokens")
	g.MaxLength = p.integer("max_length")
	g.MinNewTokens = p.integer("min_new_tokens")
	g.MinLength = p.integer("min_length")
	g.NumBeams = p.integer("num_beams")
	g.NumReturnSequences = p.integer("num_return_sequences")
	g.LengthPenalty = p.float("length_penalty")
	g.EarlyStopping = p.earlyStopping("early_stopping")
	inVocab := func(v int) bool { return v >= 0 && v < vocab }
	want := "a token id in [0, " + strconv.Itoa(vocab) + ")"
	g.EOSTokenIDs = p.tokenIDs("eos_token_id", want, inVocab)
	g.BOSTokenID = p.tokenID("bos_token_id", want, inVocab)
	g.PadTokenID = p.tokenID("pad_token_id", want, inVocab)
	g.DecoderStartTokenID = p.tokenID("decoder_start_token_id", want, inVocab)
	g.ForcedBOSTokenID = p.tokenID("forced_bos_token_id", want, inVocab)
	g.ForcedEOSTokenIDs = p.tokenIDs("forced_eos_token_id", want, inVocab)
	g.BadWordsIDs = p.tokenSeqs("bad_words_ids", "a list of non-empty lists of token ids in [0, "+strconv.Itoa(vocab)+")", inVocab)
	if p.err != nil {
		return nil, p.err
	}
	if g.NumBeams != nil && g.NumReturnSequences != nil && *g.NumReturnSequences > *g.NumBeams && *g.NumBeams > 1 {
		return nil, &OptionError{Field: "num_return_sequences", Value: strconv.Itoa(*g.NumReturnSequences),
			Allowed: fmt.Sprintf("at most num_beams (%d)", *g.NumBeams)}
	}
	return g, nil
}

// fieldParser decodes fields of a JSON object, keeping the first error.
type fieldParser struct {
	raw map[string]json.RawMessage
	err error
}

// get returns the field's raw value, or nil when absent or null.
func (p *fieldParser) get(name string) json.RawMessage {
	v, ok := p.raw[name]
	if !ok || p.err != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
		return nil
	}
	return v
}

func (p *fieldParser) fail(name, want string, v json.RawMessage) {
	if p.err == nil {
		p.err = &OptionError{Field: name, Value: string(bytes.TrimSpace(v)), Allowed: want}
	}
}

func (p *fieldParser) boolean(name string) *bool {
	v := p.get(name)
	if v == nil {
		return nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		p.fail(name, "true or false", v)
		return nil
	}
	return &b
}

// float reads a number, checked by floatRules[name].
func (p *fieldParser) float(name string) *float64 {
	v := p.get(name)
	if v == nil {
		return nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || checkFloat(name, f) != nil {
		p.fail(name, floatRules[name].allowed, v)
		return nil
	}
	return &f
}

// integer reads an integer, checked by intRules[name].
func (p *fieldParser) integer(name string) *int {
	v := p.get(name)
	if v == nil {
		return nil
	}
	var i int
	if err := json.Unmarshal(v, &i); err != nil || checkInt(name, i) != nil {
		p.fail(name, intRules[name].allowed, v)
		return nil
	}
	return &i
}

// tokenID reads one token id.
func (p *fieldParser) tokenID(name, want string, ok func(int) bool) *int {
	v := p.get(name)
	if v == nil {
		return nil
	}
	var i int
	if err := json.Unmarshal(v, &i); err != nil || !ok(i) {
		p.fail(name, want, v)
		return nil
	}
	return &i
}

// tokenIDs reads an id or a non-empty list of ids.
func (p *fieldParser) tokenIDs(name, want string, ok func(int) bool) []int {
	v := p.get(name)
	if v == nil {
		return nil
	}
	var ids []int
	var one int
	if err := json.Unmarshal(v, &one); err == nil {
		ids = []int{one}
	} else if err := json.Unmarshal(v, &ids); err != nil || len(ids) == 0 {
		p.fail(name, want+" or a list of them", v)
		return nil
	}
	for _, id := range ids {
		if !ok(id) {
			p.fail(name, want+" or a list of them", v)
			return nil
		}
	}
	return ids
}

// tokenSeqs reads a list of non-empty lists of ids.
func (p *fieldParser) tokenSeqs(name, want string, ok func(int) bool) [][]int {
	v := p.get(name)
	if v == nil {
		return nil
	}
	var seqs [][]int
	if err := json.Unmarshal(v, &seqs); err != nil || len(seqs) == 0 {
		p.fail(name, want, v)
		return nil
	}
	for _, sq := range seqs {
		if len(sq) == 0 {
			p.fail(name, want, v)
			return nil
		}
		for _, id := range sq {
			if !ok(id) {
				p.fail(name, want, v)
				return nil
			}
		}
	}
	return seqs
}

// earlyStopping reads true, false or "never".
func (p *fieldParser) earlyStopping(name string) *EarlyStopping {
	v := p.get(name)
	if v == nil {
		return nil
	}
	var b bool
	var s string
	var e EarlyStopping
	switch {
	case json.Unmarshal(v, &b) == nil:
		if b {
			e = EarlyStopOn
		}
	case json.Unmarshal(v, &s) == nil && s == "never":
		e = EarlyStopNever
	default:
		p.fail(name, `true, false or "never"`, v)
		return nil
	}
	return &e
}
