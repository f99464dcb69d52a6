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
	var m jsonBPEModel
	if err := json.Unmarshal(tj.Model, &m); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: model: %w", err)
	}
	if m.Type != "BPE" && !(m.Type == "" && m.Merges != nil) {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: model type %q, want \"BPE\"", m.Type)
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
