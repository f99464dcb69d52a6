package bpetrain

import (
	"fmt"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/tokenizer"
)

// Options control Train. The zero value is not usable (VocabSize 0 is an
// error): start from DefaultOptions.
type Options struct {
	// VocabSize is the size of the vocabulary to learn, special tokens and
	// the 256-character byte-level alphabet included: training stops when
	// the vocabulary has this many tokens. It must be at least the number
	// of special tokens + 256 (less any special token that is itself a
	// byte-level character).
	VocabSize int
	// MinFrequency stops training when the most frequent pair is seen fewer
	// times than this (0 and 1 both merge every pair seen at least once).
	MinFrequency int
	// SpecialTokens take ids 0, 1, … in this order, before the alphabet.
	// They are not learned from the corpus (where they are plain text, as
	// in Hugging Face's trainer) and are written as special added tokens.
	SpecialTokens []string
	// Progress, when set, is called after each merge with the number of
	// merges done and the most that VocabSize allows.
	Progress func(done, total int)
}

// DefaultOptions returns the defaults of Hugging Face's
// ByteLevelBPETokenizer.train (vocab_size 30000, min_frequency 2) with
// GPT-2's end-of-text token as the one special token.
func DefaultOptions() Options {
	return Options{VocabSize: 30000, MinFrequency: 2, SpecialTokens: []string{tokenizer.EndOfText}}
}

// OptionError reports an option outside its allowed values; Field names
// the Options field (the CLI maps it to its flag).
type OptionError struct {
	Field   string // "VocabSize", "MinFrequency" or "SpecialTokens"
	Value   any
	Allowed string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("bpetrain: %s %v: want %s", e.Field, e.Value, e.Allowed)
}

// baseVocab returns the vocabulary before any merge: the special tokens,
// then the byte-level alphabet sorted by code point (a character that is
// already a special token keeps the special token's id).
func baseVocab(specials []string) []string {
	seen := make(map[string]bool, len(specials)+256)
	var v []string
	for _, s := range specials {
		if !seen[s] {
			seen[s] = true
			v = append(v, s)
		}
	}
	for _, r := range alphabet() {
		if s := string(r); !seen[s] {
			seen[s] = true
			v = append(v, s)
		}
	}
	return v
}

func (o *Options) check() error {
	seen := make(map[string]bool, len(o.SpecialTokens))
	for i, s := range o.SpecialTokens {
		switch {
		case s == "":
			return &OptionError{"SpecialTokens", fmt.Sprintf("[%d] %q", i, s), "a non-empty string"}
		case !utf8.ValidString(s):
			return &OptionError{"SpecialTokens", fmt.Sprintf("[%d] %q", i, s), "valid UTF-8"}
		case seen[s]:
			return &OptionError{"SpecialTokens", fmt.Sprintf("%q", s), "each special token once"}
		}
		seen[s] = true
	}
	if base := len(baseVocab(o.SpecialTokens)); o.VocabSize < base {
		return &OptionError{"VocabSize", o.VocabSize, fmt.Sprintf("at least %d (%d special tokens + the 256-character byte-level alphabet)", base, len(o.SpecialTokens))}
	}
	if o.MinFrequency < 0 {
		return &OptionError{"MinFrequency", o.MinFrequency, "≥ 0"}
	}
	return nil
}
