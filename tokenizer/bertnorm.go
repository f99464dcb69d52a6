package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// bertNormalizer is BERT's text normalisation (Hugging Face's BertNormalizer,
// Google BERT's BasicTokenizer before splitting), in BERT's order:
//
//  1. cleanText: drop NUL, U+FFFD (and so every invalid UTF-8 byte) and
//     control characters (category C* except \t \n \r); map whitespace
//     (\t \n \r and category Zs) to ' '.
//  2. chineseChars: put spaces around CJK ideographs (isCJK).
//  3. lowercase: Python's str.lower (full case mapping: 'İ' → "i̇", and a
//     word-final 'Σ' → 'ς').
//  4. stripAccents: NFD, then drop nonspacing marks (Mn).
type bertNormalizer struct {
	cleanText, chineseChars, lowercase, stripAccents bool
}

func (n bertNormalizer) normalize(s string) string {
	if isPlainASCII(s) {
		// Nothing but clean-up and lower-casing can apply.
		if !n.cleanText && !n.lowercase {
			return s
		}
		b := make([]byte, 0, len(s))
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case n.cleanText && (c == '\t' || c == '\n' || c == '\r'):
				c = ' '
			case n.cleanText && (c < 0x20 || c == 0x7f):
				continue
			case n.lowercase && c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			}
			b = append(b, c)
		}
		return string(b)
	}
	if n.cleanText || n.chineseChars {
		var b strings.Builder
		b.Grow(len(s))
		for _, r := range s {
			if n.cleanText {
				if r == 0 || r == utf8.RuneError || isBertControl(r) {
					continue
				}
				if isBertWhitespace(r) {
					r = ' '
				}
			}
			if n.chineseChars && isCJK(r) {
				b.WriteByte(' ')
				b.WriteRune(r)
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	if n.lowercase {
		s = pythonLower(s)
	}
	if n.stripAccents {
		s = stripAccents(s)
	}
	return s
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isBertWhitespace is BERT's _is_whitespace: \t, \n, \r, or category Zs.
func isBertWhitespace(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || unicode.Is(unicode.Zs, r)
}

// isBertControl is BERT's _is_control: category C* (Cc, Cf, Co, Cs and
// unassigned Cn) except \t, \n and \r.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if unicode.Is(unicode.C, r) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isBertPunct is BERT's _is_punctuation: the ASCII symbols 33-47, 58-64,
// 91-96 and 123-126 (so '$', '+', '^' and '`' count) and category P*.
func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}

// isCJK reports whether r is in BERT's CJK Unified Ideographs blocks.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// stripAccents decomposes s (NFD) and drops the nonspacing marks.
func stripAccents(s string) string {
	if isPlainASCII(s) {
		return s
	}
	d := norm.NFD.String(s)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pythonLower lower-cases s as Python's str.lower does: the simple mapping
// of unicode.ToLower plus the special cases of SpecialCasing.txt that apply
// without a language: U+0130 'İ' → "i\u0307", and capital sigma → final
// sigma 'ς' when it ends a word (Final_Sigma: a cased letter before it and
// none after it, case-ignorable characters skipped).
func pythonLower(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i, r := range s {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3A3:
			if finalSigma(s, i) {
				b.WriteRune(0x3C2)
			} else {
				b.WriteRune(0x3C3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the capital sigma at s[i] is in the Final_Sigma
// context: \p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}*\p{cased}).
func finalSigma(s string, i int) bool {
	before := false
	for j := i; j > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:j])
		j -= size
		if isCaseIgnorable(r) {
			continue
		}
		before = isCased(r)
		break
	}
	if !before {
		return false
	}
	for j := i + 2; j < len(s); { // Σ is two bytes
		r, size := utf8.DecodeRuneInString(s[j:])
		j += size
		if isCaseIgnorable(r) {
			continue
		}
		return !isCased(r)
	}
	return true
}

func isCased(r rune) bool {
	return unicode.IsLower(r) || unicode.IsUpper(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable approximates the Case_Ignorable property: categories Mn,
// Me, Cf, Lm and Sk plus the Word_Break MidLetter, MidNumLet and
// Single_Quote characters.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}
