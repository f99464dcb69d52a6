package generate

import (
	"fmt"
	"math"
	"strconv"
)

// OptionError reports a generation setting outside what transformers
// accepts (or, with Pkg "explain", an explanation setting outside what
// explain accepts). Field is the setting's name in generation_config.json (top_p,
// max_new_tokens, ...); a surface maps it to its own name (loupe
// generate's --top-p, the HTTP API's "top_p") with errors.As instead of
// rewriting the message.
type OptionError struct {
	Field   string // generation_config.json's name of the setting
	Value   string // the value given, as written
	Allowed string // what the setting accepts, e.g. "a number in (0, 1]"
	// File is the generation_config.json the value came from; empty when
	// the caller gave it.
	File string
	// Pkg is the package that checked the value, the message's prefix:
	// empty for generate, "explain" for explain.Options.
	Pkg string
}

func (e *OptionError) Error() string {
	pkg := e.Pkg
	if pkg == "" {
		pkg = "generate"
	}
	if e.File != "" {
		return fmt.Sprintf("%s: %s: %q: want %s, got %s", pkg, e.File, e.Field, e.Allowed, e.Value)
	}
	return fmt.Sprintf("%s: %s %s: want %s", pkg, e.Field, e.Value, e.Allowed)
}

// The settings and what each accepts, shared by the checks of
// generation_config.json (ParseGenerationConfig), of caller overrides
// (Resolve) and of Sampling.Check, so that every surface rejects the same
// values with the same words.
var floatRules = map[string]struct {
	allowed string
	ok      func(float64) bool
}{
	// 0 is accepted: it is an error only while sampling (Resolve), where
	// transformers refuses it too.
	"temperature":        {"a positive number", func(v float64) bool { return v >= 0 }},
	"top_p":              {"a number in (0, 1]", func(v float64) bool { return v > 0 && v <= 1 }},
	"min_p":              {"a number in [0, 1]", func(v float64) bool { return v >= 0 && v <= 1 }},
	"typical_p":          {"a number in (0, 1]", func(v float64) bool { return v > 0 && v <= 1 }},
	"repetition_penalty": {"a positive number", func(v float64) bool { return v > 0 }},
	"length_penalty":     {"a finite number", func(float64) bool { return true }},
}

var intRules = map[string]struct {
	allowed string
	ok      func(int) bool
}{
	"top_k":                {"0 (off) or a positive integer", func(v int) bool { return v >= 0 }},
	"no_repeat_ngram_size": {"0 (off) or a positive integer", func(v int) bool { return v >= 0 }},
	"max_new_tokens":       {"a positive integer", func(v int) bool { return v > 0 }},
	"max_length":           {"a positive integer", func(v int) bool { return v > 0 }},
	"min_new_tokens":       {"0 (off) or a positive integer", func(v int) bool { return v >= 0 }},
	"min_length":           {"0 (off) or a positive integer", func(v int) bool { return v >= 0 }},
	"num_beams":            {"a positive integer", func(v int) bool { return v > 0 }},
	"num_return_sequences": {"a positive integer", func(v int) bool { return v > 0 }},
}

// checkFloat reports a value of the float setting field that its rule
// refuses (NaN and infinities always).
func checkFloat(field string, v float64) *OptionError {
	r := floatRules[field]
	if math.IsNaN(v) || math.IsInf(v, 0) || !r.ok(v) {
		return &OptionError{Field: field, Value: strconv.FormatFloat(v, 'g', -1, 64), Allowed: r.allowed}
	}
	return nil
}

// checkInt reports a value of the integer setting field that its rule
// refuses.
func checkInt(field string, v int) *OptionError {
	if r := intRules[field]; !r.ok(v) {
		return &OptionError{Field: field, Value: strconv.Itoa(v), Allowed: r.allowed}
	}
	return nil
}

// check validates every field of g that is set, in the order of the
// struct, and returns the first error.
func (g *GenerationConfig) check() error {
	for _, f := range []struct {
		name string
		v    *float64
	}{
		{"temperature", g.Temperature}, {"top_p", g.TopP}, {"min_p", g.MinP}, {"typical_p", g.TypicalP},
		{"repetition_penalty", g.RepetitionPenalty}, {"length_penalty", g.LengthPenalty},
	} {
		if f.v != nil {
			if err := checkFloat(f.name, *f.v); err != nil {
				return err
			}
		}
	}
	for _, f := range []struct {
		name string
		v    *int
	}{
		{"top_k", g.TopK}, {"no_repeat_ngram_size", g.NoRepeatNGramSize}, {"max_new_tokens", g.MaxNewTokens},
		{"max_length", g.MaxLength}, {"min_new_tokens", g.MinNewTokens}, {"min_length", g.MinLength},
		{"num_beams", g.NumBeams}, {"num_return_sequences", g.NumReturnSequences},
	} {
		if f.v != nil {
			if err := checkInt(f.name, *f.v); err != nil {
				return err
			}
		}
	}
	return nil
}
