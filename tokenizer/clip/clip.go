package clip

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// maxMerges is the most merges CLIPTokenizer reads from merges.txt, as
// transformers computes it: 49152 − 256 − 2.
const maxMerges = 49152 - 256 - 2

// DefaultMaxLength is CLIP's context length, model_max_length in
// tokenizer_config.json when it is missing.
const DefaultMaxLength = 77

// EndOfWord marks the last symbol of every pre-token.
const EndOfWord = "</w>"

// Options names the special tokens and the padded length. The zero value
// means CLIP's defaults: "<|startoftext|>", "<|endoftext|>" for eos, unk and
// pad, and 77.
type Options struct {
	BOS, EOS, Unk, Pad string
	MaxLength          int
}

func (o Options) withDefaults() Options {
	if o.BOS == "" {
		o.BOS = "<|startoftext|>"
	}
	if o.EOS == "" {
		o.EOS = "<|endoftext|>"
	}
	if o.Unk == "" {
		o.Unk = "<|endoftext|>"
	}
	if o.Pad == "" {
		o.Pad = "<|endoftext|>"
	}
	if o.MaxLength == 0 {
		o.MaxLength = DefaultMaxLength
	}
	return o
}

// Tokenizer is a CLIP BPE tokenizer. It is safe for concurrent use.
type Tokenizer struct {
	vocab   map[string]int
	tokens  []string       // id → token ("" for unused ids)
	ranks   map[string]int // "a b" → merge rank
	special []string       // split-out tokens, longest first
	opt     Options
	bos     int
	eos     int
	unk     int
	pad     int

	mu    sync.Mutex
	cache map[string][]string // pre-token → BPE symbols
}

// New builds a tokenizer from a vocabulary (token → id) and merges in rank
// order. Every special token of opt must be in the vocabulary.
func New(vocab map[string]int, merges [][2]string, opt Options) (*Tokenizer, error) {
	opt = opt.withDefaults()
	if opt.MaxLength < 2 {
		return nil, fmt.Errorf("clip: model_max_length %d: need at least 2 for bos and eos", opt.MaxLength)
	}
	t := &Tokenizer{vocab: vocab, ranks: make(map[string]int, len(merges)), opt: opt, cache: map[string][]string{}}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id >= 1<<24 {
			return nil, fmt.Errorf("clip: vocabulary: token %q has id %d, want 0..%d", tok, id, 1<<24-1)
		}
		maxID = max(maxID, id)
	}
	t.tokens = make([]string, maxID+1)
	for tok, id := range vocab {
		t.tokens[id] = tok
	}
	for i, m := range merges {
		t.ranks[m[0]+" "+m[1]] = i // a repeated merge keeps its last rank, as dict(zip(...)) does
	}
	for _, s := range []struct {
		name string
		tok  string
		id   *int
	}{{"bos_token", opt.BOS, &t.bos}, {"eos_token", opt.EOS, &t.eos}, {"unk_token", opt.Unk, &t.unk}, {"pad_token", opt.Pad, &t.pad}} {
		id, ok := vocab[s.tok]
		if !ok {
			return nil, fmt.Errorf("clip: %s %q is not in the vocabulary", s.name, s.tok)
		}
		*s.id = id
		if !slices.Contains(t.special, s.tok) {
			t.special = append(t.special, s.tok)
		}
	}
	slices.SortFunc(t.special, func(a, b string) int { return len(b) - len(a) })
	return t, nil
}

// Load reads a tokenizer directory as diffusers lays it out (the
// tokenizer/ folder of a pipeline): vocab.json and merges.txt, or
// tokenizer.json; tokenizer_config.json and special_tokens_map.json when
// present.
func Load(dir string) (*Tokenizer, error) {
	opt, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	vocabPath := filepath.Join(dir, "vocab.json")
	if _, err := os.Stat(vocabPath); err == nil {
		return LoadFiles(vocabPath, filepath.Join(dir, "merges.txt"), opt)
	}
	tjPath := filepath.Join(dir, "tokenizer.json")
	data, err := os.ReadFile(tjPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("clip: %s has neither vocab.json nor tokenizer.json", dir)
		}
		return nil, fmt.Errorf("clip: %w", err)
	}
	vocab, merges, err := ParseTokenizerJSON(data)
	if err != nil {
		return nil, fmt.Errorf("clip: %s: %w", tjPath, err)
	}
	return New(vocab, merges, opt)
}

// LoadFiles reads vocab.json and merges.txt.
func LoadFiles(vocabPath, mergesPath string, opt Options) (*Tokenizer, error) {
	vb, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(vb, &vocab); err != nil {
		return nil, fmt.Errorf("clip: %s: %w", vocabPath, err)
	}
	mb, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	merges, err := ParseMerges(mb)
	if err != nil {
		return nil, fmt.Errorf("clip: %s: %w", mergesPath, err)
	}
	t, err := New(vocab, merges, opt)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, vocabPath)
	}
	return t, nil
}

// ParseMerges parses merges.txt as CLIPTokenizer does: the text is
// trimmed, its first line (the "#version" header) skipped, and at most
// 48894 lines of two space-separated symbols kept.
func ParseMerges(data []byte) ([][2]string, error) {
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 0 {
		lines = lines[1:]
	}
	if len(lines) > maxMerges {
		lines = lines[:maxMerges]
	}
	merges := make([][2]string, 0, len(lines))
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want two symbols, got %q", i+2, truncate(line))
		}
		merges = append(merges, [2]string{f[0], f[1]})
	}
	return merges, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// ParseTokenizerJSON reads the vocabulary and merges of a fast tokenizer's
// tokenizer.json whose model is BPE; added tokens join the vocabulary.
func ParseTokenizerJSON(data []byte) (map[string]int, [][2]string, error) {
	var tj struct {
		AddedTokens []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
		Model struct {
			Type   string            `json:"type"`
			Vocab  map[string]int    `json:"vocab"`
			Merges []json.RawMessage `json:"merges"`
		} `json:"model"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		return nil, nil, err
	}
	if tj.Model.Type != "" && tj.Model.Type != "BPE" {
		return nil, nil, fmt.Errorf("model.type %q, want BPE", tj.Model.Type)
	}
	if len(tj.Model.Vocab) == 0 {
		return nil, nil, errors.New("model.vocab is empty")
	}
	merges := make([][2]string, 0, len(tj.Model.Merges))
	for i, raw := range tj.Model.Merges {
		var s string
		var pair []string
		if json.Unmarshal(raw, &s) == nil {
			pair = strings.Split(s, " ")
		} else if err := json.Unmarshal(raw, &pair); err != nil {
			return nil, nil, fmt.Errorf("model.merges[%d]: want \"a b\" or [\"a\", \"b\"]", i)
		}
		if len(pair) != 2 {
			return nil, nil, fmt.Errorf("model.merges[%d]: want two symbols, got %d", i, len(pair))
		}
		merges = append(merges, [2]string{pair[0], pair[1]})
	}
	vocab := tj.Model.Vocab
	for _, a := range tj.AddedTokens {
		vocab[a.Content] = a.ID
	}
	return vocab, merges, nil
}

// readConfig reads the special tokens and model_max_length from
// tokenizer_config.json, then special_tokens_map.json (whose values win,
// as in transformers).
func readConfig(dir string) (Options, error) {
	var opt Options
	for _, name := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return opt, fmt.Errorf("clip: %w", err)
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return opt, fmt.Errorf("clip: %s: %w", path, err)
		}
		for field, dst := range map[string]*string{"bos_token": &opt.BOS, "eos_token": &opt.EOS, "unk_token": &opt.Unk, "pad_token": &opt.Pad} {
			v, ok := raw[field]
			if !ok || string(v) == "null" {
				continue
			}
			s, err := addedTokenContent(v)
			if err != nil {
				return opt, fmt.Errorf("clip: %s: %s: %w", path, field, err)
			}
			*dst = s
		}
		if v, ok := raw["model_max_length"]; ok && name == "tokenizer_config.json" {
			var n float64
			if err := json.Unmarshal(v, &n); err != nil {
				return opt, fmt.Errorf("clip: %s: model_max_length: %w", path, err)
			}
			if n < 2 || n > 1<<20 {
				return opt, fmt.Errorf("clip: %s: model_max_length %v out of range [2, %d]", path, n, 1<<20)
			}
			opt.MaxLength = int(n)
		}
	}
	return opt, nil
}

// addedTokenContent reads a special token written either as a string or
// as an AddedToken object {"content": ...}.
func addedTokenContent(v json.RawMessage) (string, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(v, &obj); err != nil || obj.Content == nil {
		return "", errors.New(`want a string or {"content": string}`)
	}
	return *obj.Content, nil
}

// MaxLength returns model_max_length, the padded length (77 for CLIP).
func (t *Tokenizer) MaxLength() int { return t.opt.MaxLength }

// BOS, EOS and Pad return the ids of the start, end and padding tokens.
func (t *Tokenizer) BOS() int { return t.bos }

// EOS returns the id of the end-of-text token.
func (t *Tokenizer) EOS() int { return t.eos }

// Pad returns the id of the padding token.
func (t *Tokenizer) Pad() int { return t.pad }

// VocabSize returns one more than the largest id.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Token returns the vocabulary entry of id, or "" when there is none.
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}
