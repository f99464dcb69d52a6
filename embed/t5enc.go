package embed

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/model/t5"
	"github.com/loupe-ml/loupe/tokenizer"
)

// configModelType returns the model_type of the config.json in dir, or ""
// when it cannot be read (the model package's loader then says what is
// wrong).
func configModelType(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return ""
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.ModelType
}

// loadT5Encoder loads a T5 encoder Transformer module (sentence-T5: a
// T5EncoderModel checkpoint, or the encoder of a full T5 checkpoint), its
// SentencePiece tokenizer (spiece.model or tokenizer.json; </s> appended)
// and the sequence limit: max_seq_length of sentence_bert_config.json,
// else the tokenizer's model_max_length, else t5.DefaultMaxLen.
func (m *Model) loadT5Encoder(tdir string, opts Options) error {
	if opts.Quantize != "" && opts.Quantize != "float32" {
		return fmt.Errorf("embed: %s: Quantize %q: int8/int7 quantization is implemented for BERT encoders only, not T5", tdir, opts.Quantize)
	}
	tm, err := t5.Load(tdir)
	if err != nil {
		return fmt.Errorf("embed: %w", err)
	}
	tok, err := tokenizer.Load(tdir)
	if err != nil {
		tm.Close()
		return fmt.Errorf("embed: %w", err)
	}
	m.t5, m.tok = tm, t5Tokens{tok: tok, eos: tm.Config.EOSTokenID}
	m.maxLen = t5.DefaultMaxLen
	if n := tok.ModelMaxLength(); n >= 2 {
		m.maxLen = n
	}
	if b, err := os.ReadFile(filepath.Join(tdir, "sentence_bert_config.json")); err == nil {
		var sc stConfig
		if err := json.Unmarshal(b, &sc); err != nil {
			tm.Close()
			return fmt.Errorf("embed: %s: %w", filepath.Join(tdir, "sentence_bert_config.json"), err)
		}
		if sc.MaxSeqLength > 0 {
			m.maxLen = sc.MaxSeqLength
		}
		m.lower = sc.DoLowerCase
	}
	if opts.MaxSeqLength > 0 {
		m.maxLen = opts.MaxSeqLength
	}
	if m.maxLen < 2 {
		tm.Close()
		return fmt.Errorf("embed: max_seq_length %d leaves no room for a token and </s>", m.maxLen)
	}
	return nil
}

// t5Tokens adapts T5's tokenizer: the text's pieces then </s>; truncation
// keeps </s> last, as transformers' tokenizers truncate before adding it.
type t5Tokens struct {
	tok tokenizer.Tokenizer
	eos int
}

func (t t5Tokens) encode(text string, maxLen int) ([]int, []int, bool) {
	ids := t.tok.EncodeText(text, tokenizer.EncodeOptions{}).IDs
	if len(ids) <= maxLen {
		return ids, nil, false
	}
	if last := ids[len(ids)-1]; last == t.eos && t.eos >= 0 {
		return append(ids[:maxLen-1:maxLen-1], last), nil, true
	}
	return ids[:maxLen], nil, true
}

// encodeT5 runs the T5 encoder over a batch and returns its states padded
// to [B, T, H] with the mask [B, T] that Pool reads.
func (m *Model) encodeT5(ids [][]int) (hidden, mask []float32, T, H int, err error) {
	enc, err := m.t5.Encode(ids)
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("embed: %w", err)
	}
	H = enc.C
	for b := range ids {
		T = max(T, enc.Len(b))
	}
	hidden = make([]float32, len(ids)*T*H)
	mask = make([]float32, len(ids)*T)
	for b := range ids {
		copy(hidden[b*T*H:], enc.States(b))
		for t := range enc.Len(b) {
			mask[b*T+t] = 1
		}
	}
	return hidden, mask, T, H, nil
}
