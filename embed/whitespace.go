package embed

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// whitespaceTokenizer is sentence-transformers' WhitespaceTokenizer, the
// tokenizer of a WordEmbeddings module, as read from
// whitespacetokenizer_config.json. It maps a text to vocabulary rows:
//
//  1. with do_lower_case the whole text is lower-cased (Python's
//     str.lower: full mapping, so İ becomes "i̇", and a final capital sigma
//     becomes ς);
//  2. the text is split at runs of white space (Python's str.split(): the
//     Unicode White_Space characters plus U+001C–U+001F);
//  3. each piece is looked up three times, stopping at the first hit: as
//     it is; with leading and trailing ASCII punctuation
//     (!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~) stripped; and then lower-cased.
//     At each step a stop word drops the piece, a vocabulary word emits its
//     row (at the second step only a non-empty one), and anything else goes
//     on to the next step. A piece unknown at all three steps is dropped.
//
// A text can thus give no rows at all; mean pooling then gives a zero
// vector (the masked sum 0 divided by max(0, 1e-9)).
type whitespaceTokenizer struct {
	word2idx map[string]int      // a word listed twice maps to its last row
	stop     map[string]struct{} // stop words
	lower    bool                // do_lower_case
	vocabLen int                 // len(vocab), duplicates included
}

// whitespaceConfig is whitespacetokenizer_config.json.
type whitespaceConfig struct {
	Vocab       *[]string `json:"vocab"`
	StopWords   *[]string `json:"stop_words"`
	DoLowerCase bool      `json:"do_lower_case"`
}

// maxWhitespaceConfig bounds whitespacetokenizer_config.json: 2 GiB holds a
// vocabulary of tens of millions of words.
const maxWhitespaceConfig = 2 << 30

// parseWhitespaceTokenizer decodes whitespacetokenizer_config.json. The
// vocabulary and the stop words must be present (sentence-transformers would
// fill a missing stop_words with its built-in English list, which loupe does
// not carry, so a file without one is refused rather than read differently).
func parseWhitespaceTokenizer(b []byte) (*whitespaceTokenizer, error) {
	var c whitespaceConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("whitespacetokenizer_config.json: %w", err)
	}
	if c.Vocab == nil {
		return nil, fmt.Errorf("whitespacetokenizer_config.json: no \"vocab\" list")
	}
	if c.StopWords == nil {
		return nil, fmt.Errorf("whitespacetokenizer_config.json: no \"stop_words\" list (sentence-transformers would use its built-in English stop words; write the list, or [] for none)")
	}
	t := &whitespaceTokenizer{
		word2idx: make(map[string]int, len(*c.Vocab)),
		stop:     make(map[string]struct{}, len(*c.StopWords)),
		lower:    c.DoLowerCase,
		vocabLen: len(*c.Vocab),
	}
	for i, w := range *c.Vocab {
		t.word2idx[w] = i
	}
	for _, w := range *c.StopWords {
		t.stop[w] = struct{}{}
	}
	return t, nil
}

// tokenize appends the vocabulary rows of text's words to dst.
func (t *whitespaceTokenizer) tokenize(dst []int, text string) []int {
	if t.lower {
		text = pyLower(text)
	}
	for len(text) > 0 {
		// Skip white space, then take the piece up to the next.
		i := 0
		for i < len(text) {
			r, n := utf8.DecodeRuneInString(text[i:])
			if !pySpace(r) {
				break
			}
			i += n
		}
		text = text[i:]
		j := 0
		for j < len(text) {
			r, n := utf8.DecodeRuneInString(text[j:])
			if pySpace(r) {
				break
			}
			j += n
		}
		if j == 0 {
			break
		}
		if row, ok := t.lookup(text[:j]); ok {
			dst = append(dst, row)
		}
		text = text[j:]
	}
	return dst
}

// lookup is step 3 of the rules for one piece.
func (t *whitespaceTokenizer) lookup(tok string) (int, bool) {
	if _, stop := t.stop[tok]; stop {
		return 0, false
	}
	if row, ok := t.word2idx[tok]; ok {
		return row, true
	}
	tok = strings.Trim(tok, asciiPunctuation)
	if _, stop := t.stop[tok]; stop {
		return 0, false
	}
	if row, ok := t.word2idx[tok]; ok && tok != "" {
		return row, true
	}
	tok = pyLower(tok)
	if _, stop := t.stop[tok]; stop {
		return 0, false
	}
	row, ok := t.word2idx[tok] // the empty string too, if the vocabulary lists it
	return row, ok
}

// asciiPunctuation is Python's string.punctuation.
const asciiPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// pySpace reports whether Python's str.isspace holds for r: Unicode
// White_Space plus the information separators U+001C–U+001F.
func pySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyLower is Python's str.lower: each character's lowercase mapping, with
// the one unconditional multi-character mapping (U+0130 İ → "i̇") and the
// Final_Sigma rule (Σ → ς after a cased letter and not before one, looking
// past case-ignorable characters).
func pyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i, r := range s {
		switch r {
		case 0x130:
			sb.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(s, i) {
				sb.WriteRune(0x3c2)
			} else {
				sb.WriteRune(0x3c3)
			}
		default:
			sb.WriteRune(unicode.ToLower(r))
		}
	}
	return sb.String()
}

// finalSigma reports whether the capital sigma at byte i of s ends a word:
// preceded by a cased letter and not followed by one, case-ignorable
// characters skipped on both sides (Python's handle_capital_sigma).
func finalSigma(s string, i int) bool {
	j := i
	before := false
	for j > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:j])
		j -= n
		if caseIgnorable(r) {
			continue
		}
		before = cased(r)
		break
	}
	if !before {
		return false
	}
	j = i + utf8.RuneLen(0x3a3)
	for j < len(s) {
		r, n := utf8.DecodeRuneInString(s[j:])
		j += n
		if caseIgnorable(r) {
			continue
		}
		return !cased(r)
	}
	return true
}

// cased is Unicode's derived property Cased.
func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// caseIgnorable is Unicode's derived property Case_Ignorable: categories
// Mn, Me, Cf, Lm, Sk, and the Word_Break classes MidLetter, MidNumLet and
// Single_Quote.
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
