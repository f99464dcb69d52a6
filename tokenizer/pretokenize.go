package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Character classes of the GPT-2 pre-tokenisation pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Every rune is in exactly one class, so the pattern's matches tile the text.
const (
	clsOther  uint8 = iota // [^\s\p{L}\p{N}], and every byte of invalid UTF-8
	clsLetter              // \p{L}: unicode.IsLetter
	clsNumber              // \p{N}: unicode.IsNumber (Nd, Nl, No)
	clsSpace               // \s: unicode.IsSpace (the Unicode White_Space property)
)

// asciiClass holds the class of each ASCII byte.
var asciiClass [128]uint8

func init() {
	for c := 0; c < 128; c++ {
		asciiClass[c] = runeClass(rune(c))
	}
}

func runeClass(r rune) uint8 {
	switch {
	case unicode.IsSpace(r):
		return clsSpace
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	}
	return clsOther
}

// classAt returns the class of the rune starting at s[i] and its width in
// bytes. A byte that does not start valid UTF-8 is one clsOther unit of
// width 1, which is how U+FFFD (the character Python would see after
// decoding with errors="replace") is classed.
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size == 1 {
		return clsOther, 1
	}
	return runeClass(r), size
}

// gpt2Next returns the end of the pre-token that starts at s[i] (i < len(s)),
// following the GPT-2 pattern above with its alternation order and the
// look-ahead of \s+(?!\S): a run of whitespace followed by a non-space keeps
// its last character for the next pre-token (so " the" stays one piece).
func gpt2Next(s string, i int) int {
	n := len(s)
	c := s[i]
	if c == '\'' && i+1 < n {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < n && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < n && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	j := i
	if c == ' ' && i+1 < n {
		if cls, _ := classAt(s, i+1); cls != clsSpace {
			j = i + 1 // " ?" of \p{L}+, \p{N}+ or [^\s\p{L}\p{N}]+
		}
	}
	cls, size := classAt(s, j)
	if cls != clsSpace {
		j += size
		for j < n {
			if s[j] < utf8.RuneSelf {
				if asciiClass[s[j]] != cls {
					break
				}
				j++
				continue
			}
			c2, sz := classAt(s, j)
			if c2 != cls {
				break
			}
			j += sz
		}
		return j
	}
	// A run of whitespace starting at i.
	last := i
	j = i + size
	for j < n {
		c2, sz := classAt(s, j)
		if c2 != clsSpace {
			break
		}
		last = j
		j += sz
	}
	if j < n && last > i {
		return last // \s+(?!\S): leave the last space for the next piece
	}
	return j // \s+(?!\S) at the end of the text, or \s+ of one character
}

// PreTokenizeGPT2 splits text into GPT-2 pre-tokens, the matches of the
// pattern above. The pieces concatenate to text. Invalid UTF-8 bytes are
// kept, each classed like U+FFFD (a symbol).
func PreTokenizeGPT2(text string) []string {
	var out []string
	for i := 0; i < len(text); {
		j := gpt2Next(text, i)
		out = append(out, text[i:j])
		i = j
	}
	return out
}
