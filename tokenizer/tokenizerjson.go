package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// tokenizerJSON is the part of Hugging Face's tokenizer.json that loupe reads.
// Each stage is kept raw and decoded by the loader of the model kind, which
// knows the stage types it supports.
type tokenizerJSON struct {
	AddedTokens   []jsonAddedToken `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         json.RawMessage  `json:"model"`
	Truncation    *struct {
		MaxLength int `json:"max_length"`
	} `json:"truncation"`
}

type jsonAddedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

// stageType is the "type" tag of a stage; "" for JSON null or a missing stage.
type stageType struct {
	Type string `json:"type"`
}

func isNull(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

func typeOf(raw json.RawMessage, field string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var st stageType
	if err := json.Unmarshal(raw, &st); err != nil {
		return "", fmt.Errorf("%s: want an object with a \"type\": %w", field, err)
	}
	return st.Type, nil
}

func parseTokenizerJSON(data []byte) (*tokenizerJSON, error) {
	var tj tokenizerJSON
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	if isNull(tj.Model) {
		return nil, errors.New("tokenizer: tokenizer.json: no \"model\"")
	}
	return &tj, nil
}

type jsonBPEModel struct {
	Type                    string            `json:"type"`
	Vocab                   map[string]int    `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	Dropout                 *float64          `json:"dropout"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
}

type jsonByteLevel struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

// ParseBPEJSON builds a byte-level BPE tokenizer from the contents of a
// Hugging Face tokenizer.json whose model is "BPE" and whose pre-tokenizer is
// "ByteLevel" (GPT-2, RoBERTa, GPT-J, …). Merges may be "left right" strings
// or ["left", "right"] pairs. Stages it cannot reproduce exactly (a
// normalizer, dropout, subword prefixes and suffixes, byte fallback) are an
// error rather than silently ignored.
func ParseBPEJSON(data []byte) (*BPE, error) {
	tj, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, err
	}
	if mt, err := typeOf(tj.Model, "model"); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	} else if mt != "BPE" && mt != "" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: model type %q, want \"BPE\"", mt)
	}
	var m jsonBPEModel
	if err := json.Unmarshal(tj.Model, &m); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: model: %w", err)
	}
	if m.Type == "" && m.Merges == nil {
		return nil, errors.New("tokenizer: tokenizer.json: model has no type and no merges, want a BPE model")
	}
	switch {
	case m.Dropout != nil && *m.Dropout != 0:
		return nil, fmt.Errorf("tokenizer: tokenizer.json: model.dropout %v not supported", *m.Dropout)
	case m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "":
		return nil, errors.New("tokenizer: tokenizer.json: model.continuing_subword_prefix not supported for BPE")
	case m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "":
		return nil, errors.New("tokenizer: tokenizer.json: model.end_of_word_suffix not supported for BPE")
	case m.ByteFallback:
		return nil, errors.New("tokenizer: tokenizer.json: model.byte_fallback not supported (not a byte-level BPE)")
	}
	if nt, err := typeOf(tj.Normalizer, "normalizer"); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	} else if nt != "" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: normalizer %q not supported for byte-level BPE", nt)
	}
	var bl jsonByteLevel
	if isNull(tj.PreTokenizer) {
		return nil, errors.New("tokenizer: tokenizer.json: pre_tokenizer is null, want ByteLevel")
	}
	if err := json.Unmarshal(tj.PreTokenizer, &bl); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: pre_tokenizer: %w", err)
	}
	if bl.Type != "ByteLevel" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: pre_tokenizer type %q not supported, want ByteLevel", bl.Type)
	}
	merges := make([][2]string, 0, len(m.Merges))
	for i, raw := range m.Merges {
		var s string
		var pair []string
		if err := json.Unmarshal(raw, &s); err == nil {
			l, r, ok := strings.Cut(s, " ")
			if !ok || strings.Contains(r, " ") || l == "" || r == "" {
				return nil, fmt.Errorf("tokenizer: tokenizer.json: model.merges[%d] = %q, want \"left right\"", i, truncateForError(s))
			}
			merges = append(merges, [2]string{l, r})
		} else if err := json.Unmarshal(raw, &pair); err == nil && len(pair) == 2 {
			merges = append(merges, [2]string{pair[0], pair[1]})
		} else {
			return nil, fmt.Errorf("tokenizer: tokenizer.json: model.merges[%d]: want a \"left right\" string or a [left, right] pair", i)
		}
	}
	added := make([]addedToken, 0, len(tj.AddedTokens))
	for _, a := range tj.AddedTokens {
		added = append(added, addedToken{content: a.Content, id: a.ID, special: a.Special})
	}
	t, err := newBPE(m.Vocab, merges, added)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	t.addPrefixSpace = bl.AddPrefixSpace
	t.useRegex = bl.UseRegex == nil || *bl.UseRegex
	t.ignoreMerges = m.IgnoreMerges
	return t, nil
}

type jsonWordPieceModel struct {
	Type                    string         `json:"type"`
	Vocab                   map[string]int `json:"vocab"`
	UnkToken                *string        `json:"unk_token"`
	ContinuingSubwordPrefix *string        `json:"continuing_subword_prefix"`
	MaxInputCharsPerWord    *int           `json:"max_input_chars_per_word"`
}

type jsonBertNormalizer struct {
	Type               string `json:"type"`
	CleanText          *bool  `json:"clean_text"`
	HandleChineseChars *bool  `json:"handle_chinese_chars"`
	StripAccents       *bool  `json:"strip_accents"`
	Lowercase          *bool  `json:"lowercase"`
}

// ParseWordPieceJSON builds a BERT tokenizer from the contents of a Hugging
// Face tokenizer.json: model "WordPiece" (vocab, unk_token,
// continuing_subword_prefix, max_input_chars_per_word), normalizer
// "BertNormalizer" (clean_text, handle_chinese_chars, strip_accents,
// lowercase) or null, pre_tokenizer "BertPreTokenizer", post_processor
// "TemplateProcessing", "BertProcessing" or null, and truncation.max_length
// as ModelMaxLength. Special added tokens are matched in the text only by
// the AllowSpecial methods.
func ParseWordPieceJSON(data []byte) (*WordPiece, error) {
	tj, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, err
	}
	if mt, err := typeOf(tj.Model, "model"); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	} else if mt != "WordPiece" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: model type %q, want \"WordPiece\"", mt)
	}
	var m jsonWordPieceModel
	if err := json.Unmarshal(tj.Model, &m); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: model: %w", err)
	}
	opt := DefaultWordPieceOptions()
	if m.UnkToken != nil {
		opt.UnkToken = *m.UnkToken
	}
	if m.ContinuingSubwordPrefix != nil {
		opt.Prefix = *m.ContinuingSubwordPrefix
	}
	if m.MaxInputCharsPerWord != nil {
		if *m.MaxInputCharsPerWord <= 0 {
			return nil, fmt.Errorf("tokenizer: tokenizer.json: model.max_input_chars_per_word = %d, want > 0", *m.MaxInputCharsPerWord)
		}
		opt.MaxInputCharsPerWord = *m.MaxInputCharsPerWord
	}
	nt, err := typeOf(tj.Normalizer, "normalizer")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	switch nt {
	case "":
		opt.Lowercase, opt.StripAccents, opt.CleanText, opt.ChineseChars = false, false, false, false
	case "BertNormalizer":
		var n jsonBertNormalizer
		if err := json.Unmarshal(tj.Normalizer, &n); err != nil {
			return nil, fmt.Errorf("tokenizer: tokenizer.json: normalizer: %w", err)
		}
		opt.CleanText = n.CleanText == nil || *n.CleanText
		opt.ChineseChars = n.HandleChineseChars == nil || *n.HandleChineseChars
		opt.Lowercase = n.Lowercase == nil || *n.Lowercase
		opt.StripAccents = opt.Lowercase
		if n.StripAccents != nil {
			opt.StripAccents = *n.StripAccents
		}
	default:
		return nil, fmt.Errorf("tokenizer: tokenizer.json: normalizer %q not supported (want BertNormalizer)", nt)
	}
	pt, err := typeOf(tj.PreTokenizer, "pre_tokenizer")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	if pt != "BertPreTokenizer" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: pre_tokenizer %q not supported (want BertPreTokenizer)", pt)
	}
	// NewWordPiece needs [CLS]/[SEP] for its default template; a tokenizer.json
	// brings its own, so check the vocabulary only through the template.
	opt.ClsToken, opt.SepToken = opt.UnkToken, opt.UnkToken
	t, err := NewWordPiece(m.Vocab, opt)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	if t.single, t.pair, err = parsePostProcessor(tj.PostProcessor, len(t.tokens)); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	t.specials = nil
	for _, a := range tj.AddedTokens {
		if a.Special {
			t.addSpecial(a.Content)
		}
	}
	if tj.Truncation != nil && tj.Truncation.MaxLength > 0 {
		t.maxLen = tj.Truncation.MaxLength
	}
	return t, nil
}
