package clip

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Encoding is a prompt encoded for the text encoder.
type Encoding struct {
	// IDs holds MaxLength ids: bos, the prompt's tokens, eos, padding.
	IDs []int
	// Length counts the ids before padding (bos and eos included).
	Length int
	// Dropped counts the prompt's tokens cut off by truncation (diffusers
	// warns about them); 0 when the prompt fits.
	Dropped int
}

// EncodePadded encodes text as Stable Diffusion pipelines do:
// tokenizer(text, padding="max_length", max_length=MaxLength(),
// truncation=True).input_ids.
func (t *Tokenizer) EncodePadded(text string) Encoding {
	ids := t.Encode(text)
	n := t.opt.MaxLength
	keep := min(len(ids), n-2)
	out := make([]int, 0, n)
	out = append(out, t.bos)
	out = append(out, ids[:keep]...)
	out = append(out, t.eos)
	length := len(out)
	for len(out) < n {
		out = append(out, t.pad)
	}
	return Encoding{IDs: out, Length: length, Dropped: len(ids) - keep}
}

// Encode returns the ids of text's tokens, without bos, eos or padding.
func (t *Tokenizer) Encode(text string) []int {
	var ids []int
	for _, tok := range t.Tokenize(text) {
		id, ok := t.vocab[tok]
		if !ok {
			id = t.unk
		}
		ids = append(ids, id)
	}
	return ids
}

// Tokenize returns text's tokens as vocabulary strings (byte-level symbols,
// "</w>" on the last of each word), as CLIPTokenizer.tokenize does.
func (t *Tokenizer) Tokenize(text string) []string {
	var out []string
	for len(text) > 0 {
		i, sp := t.findSpecial(text)
		if i < 0 {
			out = t.tokenizeSegment(text, out)
			break
		}
		if i > 0 {
			out = t.tokenizeSegment(text[:i], out)
		}
		out = append(out, sp)
		text = text[i+len(sp):]
	}
	return out
}

// findSpecial returns the position of the leftmost special token (the
// longest at that position), or -1.
func (t *Tokenizer) findSpecial(s string) (int, string) {
	best, bestTok := -1, ""
	for _, sp := range t.special {
		if i := strings.Index(s, sp); i >= 0 && (best < 0 || i < best) {
			best, bestTok = i, sp
		}
	}
	return best, bestTok
}

func (t *Tokenizer) tokenizeSegment(s string, out []string) []string {
	text := basicClean(s)
	for _, piece := range preTokenize(text) {
		out = append(out, t.bpe(piece)...)
	}
	return out
}

// bpe encodes one pre-token: bytes to GPT-2's byte alphabet, "</w>" on the
// last symbol, then CLIP's merge loop.
func (t *Tokenizer) bpe(piece string) []string {
	if piece == "<|startoftext|>" || piece == "<|endoftext|>" {
		return []string{piece} // CLIPTokenizer's initial cache entries
	}
	t.mu.Lock()
	cached, ok := t.cache[piece]
	t.mu.Unlock()
	if ok {
		return cached
	}
	word := make([]string, 0, len(piece))
	for i := 0; i < len(piece); i++ {
		word = append(word, byteToSymbol[piece[i]])
	}
	word[len(word)-1] += EndOfWord
	for len(word) > 1 {
		bestRank, best := -1, -1
		for i := 0; i+1 < len(word); i++ {
			if r, ok := t.ranks[word[i]+" "+word[i+1]]; ok && (bestRank < 0 || r < bestRank) {
				bestRank, best = r, i
			}
		}
		if best < 0 {
			break
		}
		first, second := word[best], word[best+1]
		merged := word[:0:0]
		for i := 0; i < len(word); i++ {
			if i+1 < len(word) && word[i] == first && word[i+1] == second {
				merged = append(merged, first+second)
				i++
			} else {
				merged = append(merged, word[i])
			}
		}
		word = merged
	}
	t.mu.Lock()
	if len(t.cache) >= 1<<16 {
		clear(t.cache)
	}
	t.cache[piece] = word
	t.mu.Unlock()
	return word
}

// Decode turns ids back into text the way CLIPTokenizer.decode does with
// skip_special_tokens: special tokens dropped, "</w>" read as a space.
func (t *Tokenizer) Decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		if id == t.bos || id == t.eos || id == t.pad || id == t.unk {
			continue
		}
		tok := t.Token(id)
		for len(tok) > 0 {
			if strings.HasPrefix(tok, EndOfWord) {
				b = append(b, ' ')
				tok = tok[len(EndOfWord):]
				continue
			}
			r, size := utf8.DecodeRuneInString(tok)
			if v, ok := symbolToByte[r]; ok {
				b = append(b, v)
			}
			tok = tok[size:]
		}
	}
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
}

// byteToSymbol is GPT-2's bytes_to_unicode: printable bytes stand for
// themselves, the other 68 map to U+0100 onwards in byte order.
var byteToSymbol [256]string

var symbolToByte = map[rune]byte{}

func init() {
	n := 0
	for b := range 256 {
		r := rune(b)
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if !printable {
			r = rune(256 + n)
			n++
		}
		byteToSymbol[b] = string(r)
		symbolToByte[r] = byte(b)
	}
}

// basicClean is BasicTokenizer(strip_accents=False, do_split_on_punc=False)
// followed by " ".join: clean, space out CJK, NFC, split on whitespace,
// lower-case.
func basicClean(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == 0 || r == 0xFFFD || isControl(r):
		case isBertWhitespace(r):
			b.WriteByte(' ')
		case isCJK(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	words := strings.FieldsFunc(norm.NFC.String(b.String()), isPySpace)
	for i, w := range words {
		words[i] = pyLower(w)
	}
	return strings.Join(words, " ")
}

// isControl is transformers' _is_control: categories C*, except tab,
// newline and carriage return.
func isControl(r rune) bool {
	if r < 0x80 {
		return (r < 0x20 || r == 0x7f) && r != '\t' && r != '\n' && r != '\r'
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z) // unassigned: Cn
}

// isBertWhitespace is transformers' _is_whitespace: space, tab, newline,
// carriage return and category Zs.
func isBertWhitespace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

// isPySpace is Python's str.isspace, which str.split() uses: bidirectional
// classes WS, B, S or category Zs.
func isPySpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, ' ', 0x85, 0x2028, 0x2029:
		return true
	}
	return unicode.Is(unicode.Zs, r)
}

func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// pyLower is Python's str.lower for one whitespace-free word: Unicode
// simple lower-casing plus the two full mappings that differ in practice,
// İ → i̇ and a final capital sigma → ς.
func pyLower(w string) string {
	var b strings.Builder
	runes := []rune(w)
	for i, r := range runes {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(runes, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma applies Unicode's Final_Sigma condition: a cased letter
// before (skipping case-ignorable ones) and none after.
func finalSigma(runes []rune, i int) bool {
	before := false
	for j := i - 1; j >= 0; j-- {
		if caseIgnorable(runes[j]) {
			continue
		}
		before = isCased(runes[j])
		break
	}
	if !before {
		return false
	}
	for j := i + 1; j < len(runes); j++ {
		if caseIgnorable(runes[j]) {
			continue
		}
		return !isCased(runes[j])
	}
	return true
}

func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r)
}

func caseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk) || r == '\'' || r == '.' || r == ':' || r == 0x2019
}

// preTokenize scans text with CLIP's pattern; at each position the
// alternatives are tried in order, and whitespace between matches is
// skipped.
func preTokenize(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		if n := matchAt(text[i:]); n > 0 {
			out = append(out, text[i:i+n])
			i += n
			continue
		}
		_, size := utf8.DecodeRuneInString(text[i:])
		i += size
	}
	return out
}

var contractions = []string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

// matchAt returns the length of the match at the start of s, 0 for none.
func matchAt(s string) int {
	for _, sp := range []string{"<|startoftext|>", "<|endoftext|>"} {
		if n := prefixFold(s, sp); n > 0 {
			return n
		}
	}
	for _, c := range contractions {
		if n := prefixFold(s, c); n > 0 {
			return n
		}
	}
	r, size := utf8.DecodeRuneInString(s)
	switch {
	case unicode.IsLetter(r):
		n := size
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			if !unicode.IsLetter(r) {
				break
			}
			n += size
		}
		return n
	case unicode.IsNumber(r):
		return size
	case isPySpace(r):
		return 0
	}
	n := size
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if unicode.IsLetter(r) || unicode.IsNumber(r) || isPySpace(r) {
			break
		}
		n += size
	}
	return n
}

// prefixFold returns the length in bytes of the prefix of s that equals
// prefix under simple case folding (the pattern is compiled with
// IGNORECASE, so "'ſ" matches 's), or 0.
func prefixFold(s, prefix string) int {
	n := 0
	for _, p := range prefix {
		r, size := utf8.DecodeRuneInString(s[n:])
		if size == 0 || !foldEqual(r, p) {
			return 0
		}
		n += size
	}
	return n
}

// foldEqual reports whether a and b are in the same simple case-folding
// orbit.
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(b); f != b; f = unicode.SimpleFold(f) {
		if f == a {
			return true
		}
	}
	return false
}
