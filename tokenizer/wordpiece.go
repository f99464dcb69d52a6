package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WordPiece is BERT's tokenizer. Encoding runs four stages:
//
//  1. normalise (BertNormalizer: clean text, space out CJK ideographs,
//     lower-case and strip accents for uncased models);
//  2. pre-tokenise (BertPreTokenizer: split on whitespace, and put every
//     punctuation character in a word of its own);
//  3. WordPiece: split each word greedily into the longest vocabulary pieces,
//     continuation pieces prefixed with "##"; a word with no split, or longer
//     than MaxInputCharsPerWord characters, becomes "[UNK]";
//  4. post-process: "[CLS] A [SEP]" or "[CLS] A [SEP] B [SEP]" with token
//     type ids 0 for A and 1 for B, after truncation.
//
// Special tokens written in the text ("[SEP]") are plain text, as in Google
// BERT's tokenizer. A WordPiece is safe for concurrent use.
type WordPiece struct {
	norm     bertNormalizer
	vocab    map[string]int
	cont     map[string]int // continuation pieces, keyed without the prefix
	tokens   []string
	unkID    int
	prefix   string
	maxChars int
	single   template
	pair     template
	maxLen   int
	specials []addedToken // recognised by the AllowSpecial methods, longest first
}

// DefaultMaxInputCharsPerWord is Hugging Face's max_input_chars_per_word.
const DefaultMaxInputCharsPerWord = 100

// Encoding is the model input made from one text or a pair of texts
// (Tokenizer.EncodeText, WordPiece.Encode and EncodePair).
type Encoding struct {
	IDs           []int    // token ids, special tokens included
	TypeIDs       []int    // segment of each token: 0 for the first text, 1 for the second
	AttentionMask []int    // 1 for every token (padding is left to the caller)
	Tokens        []string // the vocabulary string of each id
	Truncated     bool     // tokens were dropped to fit maxLen
}

// WordPieceOptions configures NewWordPiece. The zero value is not useful:
// start from DefaultWordPieceOptions.
type WordPieceOptions struct {
	Lowercase            bool   // lower-case the text (uncased models)
	StripAccents         bool   // NFD and drop nonspacing marks
	CleanText            bool   // drop control characters, whitespace → space
	ChineseChars         bool   // split CJK ideographs into words of their own
	UnkToken             string // "[UNK]"
	ClsToken, SepToken   string // "[CLS]", "[SEP]"
	Prefix               string // continuing_subword_prefix, "##"
	MaxInputCharsPerWord int    // longer words become UnkToken; 0 means 100
	ModelMaxLength       int    // the model's maximum input length, 0 if unknown
}

// DefaultWordPieceOptions returns the options of bert-base-uncased.
func DefaultWordPieceOptions() WordPieceOptions {
	return WordPieceOptions{Lowercase: true, StripAccents: true, CleanText: true, ChineseChars: true,
		UnkToken: "[UNK]", ClsToken: "[CLS]", SepToken: "[SEP]", Prefix: "##",
		MaxInputCharsPerWord: DefaultMaxInputCharsPerWord}
}

// NewWordPiece builds a tokenizer from a vocabulary (token → id), which it
// keeps: the caller must not change the map afterwards.
func NewWordPiece(vocab map[string]int, opt WordPieceOptions) (*WordPiece, error) {
	if len(vocab) == 0 {
		return nil, errors.New("tokenizer: empty WordPiece vocabulary")
	}
	t := &WordPiece{
		norm:     bertNormalizer{cleanText: opt.CleanText, chineseChars: opt.ChineseChars, lowercase: opt.Lowercase, stripAccents: opt.StripAccents},
		vocab:    vocab,
		cont:     make(map[string]int),
		prefix:   opt.Prefix,
		maxChars: opt.MaxInputCharsPerWord,
		maxLen:   opt.ModelMaxLength,
	}
	if t.maxChars <= 0 {
		t.maxChars = DefaultMaxInputCharsPerWord
	}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id >= 1<<24 {
			return nil, fmt.Errorf("tokenizer: WordPiece token %q has id %d, want 0 ≤ id < 2²⁴", truncateForError(tok), id)
		}
		maxID = max(maxID, id)
		if t.prefix != "" && strings.HasPrefix(tok, t.prefix) {
			t.cont[tok[len(t.prefix):]] = id
		}
	}
	t.tokens = make([]string, maxID+1)
	for tok, id := range vocab {
		if t.tokens[id] == "" || tok < t.tokens[id] {
			t.tokens[id] = tok
		}
	}
	var ok bool
	if t.unkID, ok = vocab[opt.UnkToken]; !ok {
		return nil, fmt.Errorf("tokenizer: unknown token %q is not in the vocabulary", opt.UnkToken)
	}
	cls, ok1 := vocab[opt.ClsToken]
	sep, ok2 := vocab[opt.SepToken]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("tokenizer: special tokens %q and %q must be in the vocabulary", opt.ClsToken, opt.SepToken)
	}
	t.single, t.pair = bertTemplates(cls, sep, opt.ClsToken, opt.SepToken)
	for _, sp := range []string{"[PAD]", opt.UnkToken, opt.ClsToken, opt.SepToken, "[MASK]"} {
		t.addSpecial(sp)
	}
	return t, nil
}

// addSpecial makes tok (if in the vocabulary) a special token recognised by
// the AllowSpecial methods.
func (t *WordPiece) addSpecial(tok string) {
	id, ok := t.vocab[tok]
	if !ok || tok == "" {
		return
	}
	for _, s := range t.specials {
		if s.content == tok {
			return
		}
	}
	t.specials = append(t.specials, addedToken{content: tok, id: id, special: true})
	sort.SliceStable(t.specials, func(i, j int) bool { return len(t.specials[i].content) > len(t.specials[j].content) })
}

// LoadWordPiece loads a BERT tokenizer from dir: tokenizer.json if it is
// there, otherwise vocab.txt (one token a line, id = line number) with the
// options of tokenizer_config.json when present (do_lower_case, default
// true; strip_accents, default do_lower_case; tokenize_chinese_chars;
// unk_token, cls_token, sep_token; model_max_length).
func LoadWordPiece(dir string) (*WordPiece, error) {
	tj := filepath.Join(dir, "tokenizer.json")
	if data, err := os.ReadFile(tj); err == nil {
		t, err := ParseWordPieceJSON(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tj, err)
		}
		// tokenizer_config.json's model_max_length is the model's limit;
		// tokenizer.json's truncation is only a saved setting.
		if opt, err := readTokenizerConfig(dir); err == nil && opt.ModelMaxLength > 0 {
			t.maxLen = opt.ModelMaxLength
		}
		return t, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	vp := filepath.Join(dir, "vocab.txt")
	data, err := os.ReadFile(vp)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	vocab, err := parseVocabTxt(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vp, err)
	}
	opt, err := readTokenizerConfig(dir)
	if err != nil {
		return nil, err
	}
	t, err := NewWordPiece(vocab, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vp, err)
	}
	return t, nil
}

func parseVocabTxt(data []byte) (map[string]int, error) {
	vocab := make(map[string]int)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	id := 0
	for sc.Scan() {
		tok := strings.TrimRight(sc.Text(), "\r")
		if _, dup := vocab[tok]; !dup {
			vocab[tok] = id // transformers keeps the last; the first is what ids usually mean
		}
		id++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", id+1, err)
	}
	if len(vocab) == 0 {
		return nil, errors.New("no tokens")
	}
	return vocab, nil
}

// specialString accepts a special token written as "[UNK]" or as
// {"content": "[UNK]", ...} in tokenizer_config.json.
type specialString string

func (s *specialString) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = specialString(str)
		return nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	*s = specialString(obj.Content)
	return nil
}

func readTokenizerConfig(dir string) (WordPieceOptions, error) {
	opt := DefaultWordPieceOptions()
	p := filepath.Join(dir, "tokenizer_config.json")
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return opt, nil
	} else if err != nil {
		return opt, fmt.Errorf("tokenizer: %w", err)
	}
	var cfg struct {
		DoLowerCase          *bool          `json:"do_lower_case"`
		StripAccents         *bool          `json:"strip_accents"`
		TokenizeChineseChars *bool          `json:"tokenize_chinese_chars"`
		UnkToken             *specialString `json:"unk_token"`
		ClsToken             *specialString `json:"cls_token"`
		SepToken             *specialString `json:"sep_token"`
		ModelMaxLength       *float64       `json:"model_max_length"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return opt, fmt.Errorf("tokenizer: %s: %w", p, err)
	}
	if cfg.DoLowerCase != nil {
		opt.Lowercase = *cfg.DoLowerCase
	}
	opt.StripAccents = opt.Lowercase
	if cfg.StripAccents != nil {
		opt.StripAccents = *cfg.StripAccents
	}
	if cfg.TokenizeChineseChars != nil {
		opt.ChineseChars = *cfg.TokenizeChineseChars
	}
	if cfg.UnkToken != nil {
		opt.UnkToken = string(*cfg.UnkToken)
	}
	if cfg.ClsToken != nil {
		opt.ClsToken = string(*cfg.ClsToken)
	}
	if cfg.SepToken != nil {
		opt.SepToken = string(*cfg.SepToken)
	}
	if cfg.ModelMaxLength != nil && *cfg.ModelMaxLength > 0 && *cfg.ModelMaxLength < 1<<30 {
		opt.ModelMaxLength = int(*cfg.ModelMaxLength)
	}
	return opt, nil
}

// Tokenize returns the word pieces of text, without special tokens.
func (t *WordPiece) Tokenize(text string) []string {
	ids := t.tokenIDs(text, nil)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = t.tokens[id]
	}
	return out
}

// TokenIDs returns the ids of the word pieces of text, without special tokens.
func (t *WordPiece) TokenIDs(text string) []int { return t.tokenIDs(text, nil) }

// TokenIDsAllowSpecial is TokenIDs but special tokens written in the text
// ("[SEP]", "[MASK]") are recognised, as Hugging Face transformers does by
// default: the text between them is tokenised on its own.
func (t *WordPiece) TokenIDsAllowSpecial(text string) []int {
	var ids []int
	for len(text) > 0 {
		best, bestTok := len(text), (*addedToken)(nil)
		for i := range t.specials {
			if p := strings.Index(text, t.specials[i].content); p >= 0 && p < best {
				best, bestTok = p, &t.specials[i]
			}
		}
		ids = t.tokenIDs(text[:best], ids)
		if bestTok == nil {
			break
		}
		ids = append(ids, bestTok.id)
		text = text[best+len(bestTok.content):]
	}
	return ids
}

// EncodeAllowSpecial is Encode with special tokens in text recognised (see
// TokenIDsAllowSpecial).
func (t *WordPiece) EncodeAllowSpecial(text string, maxLen int) Encoding {
	return t.encodeIDs(t.TokenIDsAllowSpecial(text), maxLen)
}

func (t *WordPiece) tokenIDs(text string, ids []int) []int {
	s := t.norm.normalize(text)
	if ids == nil {
		ids = make([]int, 0, len(s)/4+4) // English runs at about 4.5 bytes a token
	}
	bertSplit(s, func(word string) { ids = t.wordPiece(word, ids) })
	return ids
}

// bertSplit calls fn for each word of s: s split on whitespace, with each
// punctuation character (isBertPunct) a word of its own.
func bertSplit(s string, fn func(string)) {
	start := -1
	for i := 0; i < len(s); {
		c := s[i]
		var r rune
		size := 1
		if c < utf8.RuneSelf {
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		var space, punct bool
		if c < utf8.RuneSelf {
			space, punct = bertASCII[c]&1 != 0, bertASCII[c]&2 != 0
		} else {
			space = unicode.IsSpace(r)
			punct = !space && isBertPunct(r)
		}
		if space || punct {
			if start >= 0 {
				fn(s[start:i])
				start = -1
			}
			if punct {
				fn(s[i : i+size])
			}
		} else if start < 0 {
			start = i
		}
		i += size
	}
	if start >= 0 {
		fn(s[start:])
	}
}

// bertASCII classes ASCII bytes for bertSplit: 1 whitespace, 2 punctuation.
var bertASCII = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		if c == ' ' || (c >= '\t' && c <= '\r') {
			t[c] = 1
		} else if isBertPunct(rune(c)) {
			t[c] = 2
		}
	}
	return t
}()

// wordPiece appends the ids of word's greedy longest-match split.
func (t *WordPiece) wordPiece(word string, ids []int) []int {
	if utf8.RuneCountInString(word) > t.maxChars {
		return append(ids, t.unkID)
	}
	if id, ok := t.vocab[word]; ok {
		return append(ids, id)
	}
	n := len(ids)
	for start := 0; start < len(word); {
		found := -1
		end := len(word)
		for end > start {
			var id int
			var ok bool
			if start == 0 {
				id, ok = t.vocab[word[:end]]
			} else {
				id, ok = t.cont[word[start:end]]
			}
			if ok {
				found = id
				break
			}
			// Step back one character.
			_, size := utf8.DecodeLastRuneInString(word[start:end])
			end -= size
		}
		if found < 0 {
			return append(ids[:n], t.unkID)
		}
		ids = append(ids, found)
		start = end
	}
	return ids
}

// Encode returns the model input for text: "[CLS] text [SEP]", truncated to
// maxLen tokens in all (0 = no limit; the special tokens are always kept,
// so maxLen below 2 still gives 2 tokens).
func (t *WordPiece) Encode(text string, maxLen int) Encoding {
	return t.encodeIDs(t.tokenIDs(text, nil), maxLen)
}

func (t *WordPiece) encodeIDs(a []int, maxLen int) Encoding {
	trunc := false
	if maxLen > 0 {
		if room := max(maxLen-t.single.added(), 0); len(a) > room {
			a, trunc = a[:room], true
		}
	}
	e := t.single.apply(a, nil, t)
	e.Truncated = trunc
	return e
}

// EncodePair returns the model input for a pair of texts:
// "[CLS] a [SEP] b [SEP]" with type ids 0 up to the first [SEP] and 1 after.
// If the pair is longer than maxLen (0 = no limit), tokens are dropped from
// the end of the longer text, one at a time (from b when they are equally
// long): Hugging Face's "longest_first".
func (t *WordPiece) EncodePair(a, b string, maxLen int) Encoding {
	ia := t.tokenIDs(a, nil)
	ib := t.tokenIDs(b, nil)
	trunc := false
	if maxLen > 0 {
		room := max(maxLen-t.pair.added(), 0)
		for len(ia)+len(ib) > room {
			if len(ia) > len(ib) {
				ia = ia[:len(ia)-1]
			} else {
				ib = ib[:len(ib)-1]
			}
			trunc = true
		}
	}
	e := t.pair.apply(ia, ib, t)
	e.Truncated = trunc
	return e
}

// Decode returns the text of ids as Hugging Face's WordPiece decoder does:
// tokens joined by spaces, "##" continuations glued to the piece before, and
// the spaces before . ? ! , and English contractions removed. Special tokens
// are kept; ids outside the vocabulary are skipped.
func (t *WordPiece) Decode(ids []int) string {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || id >= len(t.tokens) || t.tokens[id] == "" {
			continue
		}
		tok := t.tokens[id]
		if t.prefix != "" && strings.HasPrefix(tok, t.prefix) && b.Len() > 0 {
			b.WriteString(tok[len(t.prefix):])
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	return cleanupTokenizationSpaces(b.String())
}

// cleanupTokenizationSpaces is transformers' clean_up_tokenization: the
// same replacements, applied one after another.
func cleanupTokenizationSpaces(s string) string {
	for _, r := range [...][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// Token returns the vocabulary string of id, or "" if there is none.
func (t *WordPiece) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// TokenText returns the text that id stands for, for display: its
// vocabulary string without the continuation prefix ("##berries" →
// "berries"), or "" if there is none.
func (t *WordPiece) TokenText(id int) string {
	return strings.TrimPrefix(t.Token(id), t.prefix)
}

// EncodeText returns the model input for text (Tokenizer's method):
// Encode, or EncodeAllowSpecial with opt.AllowSpecial, with no length
// limit.
func (t *WordPiece) EncodeText(text string, opt EncodeOptions) Encoding {
	if opt.AllowSpecial {
		return t.EncodeAllowSpecial(text, 0)
	}
	return t.Encode(text, 0)
}

// ID returns the id of a vocabulary string.
func (t *WordPiece) ID(token string) (int, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// VocabSize returns one more than the largest id.
func (t *WordPiece) VocabSize() int { return len(t.tokens) }

// ModelMaxLength returns the model's maximum input length in tokens as the
// tokenizer files give it (tokenizer_config.json's model_max_length, else
// tokenizer.json's truncation.max_length), or 0 when they do not.
func (t *WordPiece) ModelMaxLength() int { return t.maxLen }
