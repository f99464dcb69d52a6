package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/loupe-ml/loupe/tokenizer/sentencepiece"
)

// SentencePiece is a SentencePiece tokenizer (Unigram or SentencePiece BPE,
// with the normalizer its model carries): T5 and Flan-T5 (spiece.model, or
// a tokenizer.json with a Unigram model), Marian (source.spm and target.spm
// with vocab.json). EncodeText appends </s> as T5's and Marian's tokenizers
// do. Package sentencepiece holds the algorithms; Processor gives the raw
// sentencepiece processor.
type SentencePiece struct {
	proc *sentencepiece.Processor // encodes text
	dec  *sentencepiece.Processor // decodes ids: Marian's target model, else proc
	// vocab maps pieces to ids when a vocab.json gives them (Marian); nil
	// when the model's own ids are the ids.
	vocab  map[string]int
	unk    int      // id of unknown pieces under vocab
	tokens []string // id → vocabulary string, added tokens included
	// special lists the tokens recognised in the text by AllowSpecial,
	// longest first; isSpecial marks the ids that Decode writes as
	// themselves (control pieces and added tokens).
	special   []addedToken
	isSpecial map[int]bool
	before    []int // ids added before the text (none for T5, Marian)
	after     []int // ids added after it: </s>
	langCode  bool  // Marian: a leading ">>xx<<" is one token
	maxLen    int
	target    *SentencePiece // Marian's target-side tokenizer; nil for others
	mbart     map[string]int // mBART's language codes → ids (LoadMBart); nil for others
	mbart50   bool           // mBART-50's "code X </s>" rather than "X </s> code"
	// hf replaces sentencepiece's normalizer for a tokenizer.json; nil
	// for a .model file.
	hf *hfPipeline
}

// SentencePiece model file names, as Hugging Face repositories ship them.
const (
	SpieceModel = "spiece.model" // T5, ALBERT, XLNet
	SourceSPM   = "source.spm"   // Marian: the source language
	TargetSPM   = "target.spm"   // Marian: the target language
)

// LoadSentencePiece loads the SentencePiece tokenizer of dir: spiece.model
// (T5: </s> appended; tokenizer_config.json's extra_ids add <extra_id_N>
// tokens after the vocabulary), else source.spm + target.spm with
// vocab.json (Marian: ids from vocab.json, </s> appended, a leading
// ">>lang<<" kept as one token; Target gives the target side), else a
// tokenizer.json whose model is Unigram (ParseUnigramJSON).
// tokenizer_config.json's model_max_length is ModelMaxLength.
func LoadSentencePiece(dir string) (*SentencePiece, error) {
	var t *SentencePiece
	var err error
	switch {
	case exists(filepath.Join(dir, SpieceModel)):
		t, err = loadT5(dir)
	case exists(filepath.Join(dir, SourceSPM)):
		t, err = loadMarian(dir)
	default:
		tj := filepath.Join(dir, "tokenizer.json")
		data, rerr := os.ReadFile(tj)
		if rerr != nil {
			if errors.Is(rerr, os.ErrNotExist) {
				return nil, noTokenizer(dir)
			}
			return nil, fmt.Errorf("tokenizer: %w", rerr)
		}
		if t, err = ParseUnigramJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %w", tj, err)
		}
	}
	if err != nil {
		return nil, err
	}
	if opt, err := readTokenizerConfig(dir); err == nil && opt.ModelMaxLength > 0 {
		t.maxLen = opt.ModelMaxLength
		if t.target != nil {
			t.target.maxLen = opt.ModelMaxLength
		}
	}
	return t, nil
}

// NewSentencePiece wraps a sentencepiece processor as a Tokenizer that adds
// no special tokens (addEOS false) or appends the model's </s> (addEOS
// true). Its control pieces are its special tokens.
func NewSentencePiece(p *sentencepiece.Processor, addEOS bool) *SentencePiece {
	t := &SentencePiece{proc: p, dec: p}
	t.tokens = make([]string, p.VocabSize())
	t.isSpecial = map[int]bool{}
	for id := range t.tokens {
		t.tokens[id] = p.IDToPiece(id)
		if p.Type(id) == sentencepiece.Control {
			t.addSpecial(t.tokens[id], id)
		}
	}
	if eos := p.EosID(); addEOS && eos >= 0 {
		t.after = []int{eos}
	}
	return t
}

func (t *SentencePiece) addSpecial(content string, id int) {
	t.isSpecial[id] = true
	if content == "" {
		return // never matched in text
	}
	for _, s := range t.special {
		if s.content == content {
			return
		}
	}
	t.special = append(t.special, addedToken{content: content, id: id, special: true})
	sort.SliceStable(t.special, func(i, j int) bool { return len(t.special[i].content) > len(t.special[j].content) })
}

func loadT5(dir string) (*SentencePiece, error) {
	p, err := sentencepiece.Load(filepath.Join(dir, SpieceModel))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t := NewSentencePiece(p, true)
	// T5Tokenizer adds extra_ids sentinel tokens after the vocabulary,
	// <extra_id_0> last.
	var cfg struct {
		ExtraIDs *int `json:"extra_ids"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json")); err == nil && json.Unmarshal(data, &cfg) == nil && cfg.ExtraIDs != nil {
		n := *cfg.ExtraIDs
		if n < 0 || n > 1<<20 {
			return nil, fmt.Errorf("tokenizer: %s: extra_ids = %d out of range", filepath.Join(dir, "tokenizer_config.json"), n)
		}
		base := len(t.tokens)
		t.tokens = append(t.tokens, make([]string, n)...)
		for i := 0; i < n; i++ {
			id := base + n - 1 - i
			t.tokens[id] = fmt.Sprintf("<extra_id_%d>", i)
			t.addSpecial(t.tokens[id], id)
		}
	}
	return t, nil
}

func loadMarian(dir string) (*SentencePiece, error) {
	src, err := sentencepiece.Load(filepath.Join(dir, SourceSPM))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	tgtPath := filepath.Join(dir, TargetSPM)
	tgt := src
	if exists(tgtPath) {
		if tgt, err = sentencepiece.Load(tgtPath); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	vp := filepath.Join(dir, "vocab.json")
	data, err := os.ReadFile(vp)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: Marian directory %s: %w", dir, err)
	}
	vocab, err := parseVocabJSON(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: want a JSON object of piece → id: %w", vp, err)
	}
	mk := func(enc, dec *sentencepiece.Processor) (*SentencePiece, error) {
		t := &SentencePiece{proc: enc, dec: dec, vocab: vocab, langCode: true, isSpecial: map[int]bool{}}
		size := 0
		for _, id := range vocab {
			size = max(size, id+1)
		}
		t.tokens = make([]string, size)
		for tok, id := range vocab {
			if id < 0 {
				return nil, fmt.Errorf("tokenizer: %s: %q has id %d", vp, tok, id)
			}
			t.tokens[id] = tok
		}
		unk, ok := vocab["<unk>"]
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s: no <unk>", vp)
		}
		eos, ok := vocab["</s>"]
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s: no </s>", vp)
		}
		t.unk = unk
		t.after = []int{eos}
		for _, s := range []string{"</s>", "<unk>", "<pad>"} {
			if id, ok := vocab[s]; ok {
				t.addSpecial(s, id)
			}
		}
		return t, nil
	}
	t, err := mk(src, tgt)
	if err != nil {
		return nil, err
	}
	if t.target, err = mk(tgt, tgt); err != nil {
		return nil, err
	}
	return t, nil
}

// Processor returns the sentencepiece processor that encodes text (Marian's
// source model).
func (t *SentencePiece) Processor() *sentencepiece.Processor { return t.proc }

// Target returns the tokenizer of a Marian model's target language
// (target.spm; ids from the same vocab.json), for encoding reference
// translations; it returns t itself for other models.
func (t *SentencePiece) Target() *SentencePiece {
	if t.target != nil {
		return t.target
	}
	return t
}

// Specials returns the ids EncodeText puts before the text (none for T5
// and Marian) and after it (</s>).
func (t *SentencePiece) Specials() (before, after []int) {
	return slices.Clone(t.before), slices.Clone(t.after)
}

// EOS returns the id of </s>, or -1.
func (t *SentencePiece) EOS() int {
	if t.vocab != nil {
		return t.after[0]
	}
	return t.proc.EosID()
}

// PadID returns the id of <pad>, or -1 when there is none.
func (t *SentencePiece) PadID() int {
	if t.vocab != nil {
		if id, ok := t.vocab["<pad>"]; ok {
			return id
		}
		return -1
	}
	return t.proc.PadID()
}

// TokenIDs returns the ids of text without the special tokens the model
// adds around it (</s>), special tokens in the text read as plain text.
func (t *SentencePiece) TokenIDs(text string) []int {
	ids, _ := t.encodeText(text, nil, nil)
	return ids
}

var marianLangCode = regexp.MustCompile(`>>.+<<`)

// encodeText appends the ids and tokens of text (no special tokens
// recognised) to ids and toks.
func (t *SentencePiece) encodeText(text string, ids []int, toks []string) ([]int, []string) {
	if t.langCode {
		// MarianTokenizer: a language code at the start is a token; every
		// ">>…<<" span is cut from the text.
		if loc := marianLangCode.FindStringIndex(text); loc != nil && loc[0] == 0 {
			code := text[:loc[1]]
			ids = append(ids, t.pieceID(code))
			toks = append(toks, code)
		}
		text = marianLangCode.ReplaceAllString(text, "")
	}
	var pieces []sentencepiece.Token
	if t.hf != nil {
		pieces = t.hf.encode(t.proc, text)
	} else {
		pieces = t.proc.Encode(text)
	}
	for _, tk := range pieces {
		if t.vocab != nil {
			ids = append(ids, t.pieceID(tk.Piece))
		} else {
			ids = append(ids, tk.ID)
		}
		toks = append(toks, tk.Piece)
	}
	return ids, toks
}

func (t *SentencePiece) pieceID(piece string) int {
	if id, ok := t.vocab[piece]; ok {
		return id
	}
	return t.unk
}

// EncodeText returns the model input for text: its pieces, then </s> (for
// T5 and Marian; a tokenizer.json's post-processor template otherwise).
// With opt.AllowSpecial, special tokens written in the text (</s>, <pad>,
// <extra_id_0>) are recognised and the text between them is encoded piece
// by piece, each part as a text of its own.
func (t *SentencePiece) EncodeText(text string, opt EncodeOptions) Encoding {
	ids := make([]int, 0, len(text)/3+len(t.before)+len(t.after))
	toks := make([]string, 0, cap(ids))
	for _, id := range t.before {
		ids, toks = append(ids, id), append(toks, t.Token(id))
	}
	if opt.AllowSpecial && len(t.special) > 0 {
		for text != "" {
			at, sp := t.nextSpecial(text)
			if at < 0 {
				break
			}
			ids, toks = t.encodeText(text[:at], ids, toks)
			ids, toks = append(ids, sp.id), append(toks, sp.content)
			text = text[at+len(sp.content):]
		}
	}
	ids, toks = t.encodeText(text, ids, toks)
	for _, id := range t.after {
		ids, toks = append(ids, id), append(toks, t.Token(id))
	}
	e := Encoding{IDs: ids, Tokens: toks, TypeIDs: make([]int, len(ids)), AttentionMask: make([]int, len(ids))}
	for i := range e.AttentionMask {
		e.AttentionMask[i] = 1
	}
	return e
}

// nextSpecial finds the first special token in text (the longest at the
// first position where one starts).
func (t *SentencePiece) nextSpecial(text string) (int, addedToken) {
	best, bestAt := addedToken{}, -1
	for _, s := range t.special {
		if i := strings.Index(text, s.content); i >= 0 && (bestAt < 0 || i < bestAt) {
			best, bestAt = s, i
		}
	}
	return bestAt, best
}

// Decode returns the text of ids: runs of ordinary ids decoded as
// sentencepiece does (Marian: with the target model), special tokens
// (</s>, <pad>, <extra_id_0>) written as themselves followed by a space, and
// the result trimmed, as transformers' convert_tokens_to_string does (for
// Marian, ▁ left by pieces the target model lacks becomes a space). Ids
// with no token are skipped. Without special tokens the result of a T5
// model is exactly sentencepiece's decode.
func (t *SentencePiece) Decode(ids []int) string {
	var out strings.Builder
	run := make([]string, 0, len(ids))
	hasSpecial := false
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) || t.tokens[id] == "" {
			continue
		}
		if t.isSpecial[id] {
			hasSpecial = true
			out.WriteString(t.dec.DecodePieces(run))
			out.WriteString(t.tokens[id])
			out.WriteString(" ")
			run = run[:0]
			continue
		}
		run = append(run, t.tokens[id])
	}
	out.WriteString(t.dec.DecodePieces(run))
	if !hasSpecial && t.vocab == nil {
		return out.String()
	}
	// MarianTokenizer always replaces ▁ (left by pieces the target model
	// does not know) and trims.
	return strings.TrimSpace(strings.ReplaceAll(out.String(), "\u2581", " "))
}

// Token returns the vocabulary string of id ("▁the", "<0xE2>", "</s>"), or
// "" if there is none.
func (t *SentencePiece) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenText returns the text id stands for, for display: ▁ as a space, an
// ASCII byte piece as its character; other byte pieces and special tokens
// as their vocabulary string.
func (t *SentencePiece) TokenText(id int) string {
	s := t.Token(id)
	if t.isSpecial[id] {
		return s
	}
	if len(s) == 6 && strings.HasPrefix(s, "<0x") && t.vocab == nil && t.proc.Type(id) == sentencepiece.Byte {
		if b := t.proc.DecodePieces([]string{s}); len(b) == 1 {
			return b
		}
		return s
	}
	return strings.ReplaceAll(s, "\u2581", " ")
}

// VocabSize returns one more than the largest id, added tokens included.
func (t *SentencePiece) VocabSize() int { return len(t.tokens) }

// ModelMaxLength returns tokenizer_config.json's model_max_length, or 0.
func (t *SentencePiece) ModelMaxLength() int { return t.maxLen }
