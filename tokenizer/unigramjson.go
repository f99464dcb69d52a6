package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/tokenizer/sentencepiece"
)

type jsonUnigramModel struct {
	Type         string            `json:"type"`
	UnkID        *int              `json:"unk_id"`
	Vocab        []json.RawMessage `json:"vocab"`
	ByteFallback bool              `json:"byte_fallback"`
}

type jsonNormalizer struct {
	Type                string            `json:"type"`
	PrecompiledCharsmap *string           `json:"precompiled_charsmap"`
	Normalizers         []json.RawMessage `json:"normalizers"`
	Pattern             *struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Content    *string `json:"content"`
	StripLeft  *bool   `json:"strip_left"`
	StripRight *bool   `json:"strip_right"`
}

type jsonPreTokenizer struct {
	Type           string            `json:"type"`
	Pretokenizers  []json.RawMessage `json:"pretokenizers"`
	Replacement    *string           `json:"replacement"`
	AddPrefixSpace *bool             `json:"add_prefix_space"`
	PrependScheme  *string           `json:"prepend_scheme"`
	Split          *bool             `json:"split"`
}

// ParseUnigramJSON builds a SentencePiece tokenizer from the contents of a
// Hugging Face tokenizer.json whose model is "Unigram", as t5-small's and
// flan-t5's are: model vocab as [piece, score] pairs, unk_id and
// byte_fallback; normalizer "Precompiled" (base64 precompiled_charsmap,
// sentencepiece's), null, or a "Sequence" of those with "Replace" of
// " {2,}" and "Strip" (no-ops before WhitespaceSplit); pre_tokenizer
// "Metaspace" (replacement "▁", add_prefix_space or prepend_scheme, split)
// alone or after "WhitespaceSplit" in a "Sequence";
// post_processor "TemplateProcessing" (T5: "$A </s>") or null. Special
// added tokens are control pieces; the rest of the pipeline is
// each word segmented by sentencepiece's Unigram, with its unknown
// penalty, merged unknown pieces and byte fallback.
// Unsupported stages are an error that names them.
func ParseUnigramJSON(data []byte) (*SentencePiece, error) {
	tj, err := parseTokenizerJSON(data)
	if err != nil {
		return nil, err
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer: tokenizer.json: "+format, args...)
	}
	var m jsonUnigramModel
	if err := json.Unmarshal(tj.Model, &m); err != nil {
		return nil, fail("model: %w", err)
	}
	if m.Type != "Unigram" {
		return nil, fail("model type %q, want \"Unigram\"", m.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, fail("model.vocab is empty")
	}
	model := &sentencepiece.Model{
		Trainer: sentencepiece.TrainerSpec{
			ModelType: sentencepiece.ModelUnigram, ByteFallback: m.ByteFallback,
			UnkID: -1, BosID: -1, EosID: -1, PadID: -1,
			UnkPiece: "<unk>", BosPiece: "<s>", EosPiece: "</s>", PadPiece: "<pad>",
			UnkSurface: " \u2047 ",
		},
		Normalizer: sentencepiece.NormalizerSpec{EscapeWhitespaces: true},
	}
	model.Pieces = make([]sentencepiece.Piece, len(m.Vocab))
	for i, raw := range m.Vocab {
		var pair []json.RawMessage
		var piece string
		var score float64
		if json.Unmarshal(raw, &pair) != nil || len(pair) != 2 || json.Unmarshal(pair[0], &piece) != nil || json.Unmarshal(pair[1], &score) != nil {
			return nil, fail("model.vocab[%d]: want a [piece, score] pair", i)
		}
		typ := sentencepiece.Normal
		if m.ByteFallback && len(piece) == 6 && piece[:3] == "<0x" && piece[5] == '>' {
			typ = sentencepiece.Byte
		}
		model.Pieces[i] = sentencepiece.Piece{Piece: piece, Score: float32(score), Type: typ}
	}
	if m.UnkID == nil {
		return nil, fail("model.unk_id is null; a Unigram model without <unk> is not supported")
	}
	if *m.UnkID < 0 || *m.UnkID >= len(model.Pieces) {
		return nil, fail("model.unk_id = %d, outside the vocabulary of %d", *m.UnkID, len(model.Pieces))
	}
	model.Pieces[*m.UnkID].Type = sentencepiece.Unknown
	model.Trainer.UnkID = int32(*m.UnkID)
	for _, a := range tj.AddedTokens {
		if a.ID < 0 || a.ID >= len(model.Pieces) {
			continue
		}
		if a.Special && a.ID != *m.UnkID {
			model.Pieces[a.ID].Type = sentencepiece.Control
		} else if !a.Special {
			model.Pieces[a.ID].Type = sentencepiece.UserDefined
		}
		switch a.Content {
		case "</s>":
			model.Trainer.EosID = int32(a.ID)
		case "<s>":
			model.Trainer.BosID = int32(a.ID)
		case "<pad>":
			model.Trainer.PadID = int32(a.ID)
		}
	}

	hf := &hfPipeline{}
	if err := hf.normalizer(tj.Normalizer, "normalizer"); err != nil {
		return nil, fail("%w", err)
	}
	if err := hf.preTokenizer(tj.PreTokenizer); err != nil {
		return nil, fail("%w", err)
	}
	// The spec serves Decode only: strip the ▁ that Metaspace prepended.
	model.Normalizer = sentencepiece.NormalizerSpec{AddDummyPrefix: hf.prepend != "never", EscapeWhitespaces: true}
	p, err := sentencepiece.New(model)
	if err != nil {
		return nil, fail("%w", err)
	}
	t := NewSentencePiece(p, false)
	t.hf = hf
	// Added tokens beyond the vocabulary (none for T5's file, whose
	// <extra_id_N> are in it).
	for _, a := range tj.AddedTokens {
		if a.ID < 0 {
			return nil, fail("added token %q has id %d", a.Content, a.ID)
		}
		if a.ID >= len(t.tokens) {
			if a.ID > len(t.tokens)+1<<20 {
				return nil, fail("added token %q has id %d, far past the vocabulary", a.Content, a.ID)
			}
			t.tokens = append(t.tokens, make([]string, a.ID+1-len(t.tokens))...)
			t.tokens[a.ID] = a.Content
		}
		if a.Special {
			t.addSpecial(a.Content, a.ID)
		}
	}
	single, _, err := parsePostProcessor(tj.PostProcessor, len(t.tokens))
	if err != nil {
		return nil, fail("%w", err)
	}
	seen := false
	for _, piece := range single {
		switch piece.seq {
		case 0:
			if seen {
				t.after = append(t.after, piece.ids...)
			} else {
				t.before = append(t.before, piece.ids...)
			}
		case 1:
			seen = true
		}
	}
	if tj.Truncation != nil && tj.Truncation.MaxLength > 0 {
		t.maxLen = tj.Truncation.MaxLength
	}
	return t, nil
}

// hfPipeline is the normalizer and pre-tokenizer of a Unigram
// tokenizer.json, which replace sentencepiece's own normalization: the
// Precompiled charsmap applied per grapheme cluster, Replace and Strip,
// WhitespaceSplit, then Metaspace (spaces to ▁, a ▁ prepended, words split
// before each ▁). Each word is segmented on its own.
type hfPipeline struct {
	charsmap        *sentencepiece.Charsmap // nil: none
	ops             []func(string) string   // Replace, Strip
	whitespaceSplit bool
	prepend         string // "always", "first" or "never"
	split           bool
}

// encode returns the pieces of text.
func (h *hfPipeline) encode(p *sentencepiece.Processor, text string) []sentencepiece.Token {
	s := text
	if h.charsmap != nil {
		s = h.charsmap.NormalizeGraphemes(s)
	} else {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for _, op := range h.ops {
		s = op(s)
	}
	type word struct {
		text  string
		start int // byte offset in s
	}
	words := []word{{s, 0}}
	if h.whitespaceSplit {
		words = words[:0]
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				i += size
				continue
			}
			j := i
			for j < len(s) {
				r, size := utf8.DecodeRuneInString(s[j:])
				if unicode.IsSpace(r) {
					break
				}
				j += size
			}
			words = append(words, word{s[i:j], i})
			i = j
		}
	}
	// Metaspace: each word with spaces as ▁ and ▁ prepended, written into
	// one buffer; parts are the byte ranges segmented one by one.
	var buf strings.Builder
	buf.Grow(len(s) + 3*len(words) + 3)
	var parts [][2]int
	for _, w := range words {
		start := buf.Len()
		if w.text == "" {
			continue
		}
		if !strings.HasPrefix(w.text, " ") && !strings.HasPrefix(w.text, spmSpace) && (h.prepend == "always" || (h.prepend == "first" && w.start == 0)) {
			buf.WriteString(spmSpace)
		}
		for i := 0; i < len(w.text); i++ {
			if w.text[i] == ' ' {
				buf.WriteString(spmSpace)
			} else {
				buf.WriteByte(w.text[i])
			}
		}
		if !h.split {
			parts = append(parts, [2]int{start, buf.Len()})
			continue
		}
		// MergedWithNext: each ▁ starts a new part.
		m := buf.String()
		for i := start + 1; i <= len(m)-len(spmSpace); i++ {
			if m[i] == spmSpace[0] && m[i:i+len(spmSpace)] == spmSpace {
				parts = append(parts, [2]int{start, i})
				start = i
			}
		}
		parts = append(parts, [2]int{start, len(m)})
	}
	m := buf.String()
	out := make([]sentencepiece.Token, 0, len(m)/4+1)
	for _, pt := range parts {
		out = p.AppendNormalized(out, m[pt[0]:pt[1]])
	}
	return out
}

const spmSpace = "\u2581"

// normalizer reads a Precompiled normalizer, Replace of " {2,}", Strip,
// or a Sequence of those.
func (h *hfPipeline) normalizer(raw json.RawMessage, field string) error {
	if isNull(raw) {
		return nil
	}
	var n jsonNormalizer
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	switch n.Type {
	case "Precompiled":
		if n.PrecompiledCharsmap == nil {
			return fmt.Errorf("%s: Precompiled without precompiled_charsmap", field)
		}
		if h.charsmap != nil || len(h.ops) > 0 {
			return fmt.Errorf("%s: Precompiled after another normalizer is not supported", field)
		}
		b, err := base64.StdEncoding.DecodeString(*n.PrecompiledCharsmap)
		if err != nil {
			return fmt.Errorf("%s.precompiled_charsmap: %w", field, err)
		}
		if len(b) == 0 {
			return nil
		}
		if h.charsmap, err = sentencepiece.ParseCharsmap(b); err != nil {
			return fmt.Errorf("%s.%w", field, err)
		}
	case "Sequence":
		for i, sub := range n.Normalizers {
			if err := h.normalizer(sub, fmt.Sprintf("%s.normalizers[%d]", field, i)); err != nil {
				return err
			}
		}
	case "Replace":
		if n.Pattern == nil || n.Pattern.Regex == nil || *n.Pattern.Regex != " {2,}" || n.Content == nil {
			return fmt.Errorf("%s: Replace is supported only with the pattern {\"Regex\": \" {2,}\"}", field)
		}
		content := *n.Content
		h.ops = append(h.ops, func(s string) string { return collapseSpaces(s, content) })
	case "Strip":
		left := n.StripLeft == nil || *n.StripLeft
		right := n.StripRight == nil || *n.StripRight
		h.ops = append(h.ops, func(s string) string {
			if left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		})
	default:
		return fmt.Errorf("%s: type %q not supported for a Unigram model (want Precompiled, Replace, Strip or a Sequence of them)", field, n.Type)
	}
	return nil
}

// collapseSpaces replaces each run of two or more spaces with repl.
func collapseSpaces(s, repl string) string {
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != ' ' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if j-i >= 2 {
			b.WriteString(repl)
		} else {
			b.WriteByte(' ')
		}
		i = j
	}
	return b.String()
}

// preTokenizer reads Metaspace, or a Sequence of WhitespaceSplit and
// Metaspace.
func (h *hfPipeline) preTokenizer(raw json.RawMessage) error {
	if isNull(raw) {
		return errors.New("pre_tokenizer is null, want Metaspace")
	}
	var p jsonPreTokenizer
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("pre_tokenizer: %w", err)
	}
	stages := []jsonPreTokenizer{p}
	if p.Type == "Sequence" {
		stages = stages[:0]
		for i, sub := range p.Pretokenizers {
			var s jsonPreTokenizer
			if err := json.Unmarshal(sub, &s); err != nil {
				return fmt.Errorf("pre_tokenizer.pretokenizers[%d]: %w", i, err)
			}
			stages = append(stages, s)
		}
	}
	var names []string
	for _, s := range stages {
		names = append(names, s.Type)
	}
	switch {
	case len(stages) == 2 && stages[0].Type == "WhitespaceSplit" && stages[1].Type == "Metaspace":
		h.whitespaceSplit = true
	case len(stages) == 1 && stages[0].Type == "Metaspace":
	default:
		return fmt.Errorf("pre_tokenizer %v not supported (want Metaspace, or WhitespaceSplit then Metaspace)", names)
	}
	ms := stages[len(stages)-1]
	if ms.Replacement != nil && *ms.Replacement != spmSpace {
		return fmt.Errorf("pre_tokenizer Metaspace replacement %q not supported (want %q)", *ms.Replacement, spmSpace)
	}
	h.prepend = "always"
	if ms.AddPrefixSpace != nil && !*ms.AddPrefixSpace {
		h.prepend = "never"
	}
	if ms.PrependScheme != nil {
		switch *ms.PrependScheme {
		case "always", "first", "never":
			h.prepend = *ms.PrependScheme
		default:
			return fmt.Errorf("pre_tokenizer Metaspace prepend_scheme %q not supported", *ms.PrependScheme)
		}
	}
	h.split = ms.Split == nil || *ms.Split
	return nil
}
