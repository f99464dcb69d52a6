package sentencepiece

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// spaceSymbol is U+2581 LOWER ONE EIGHTH BLOCK, which stands for a space in
// pieces.
const spaceSymbol = "\u2581"

// charsmap is a decoded precompiled_charsmap: a Darts-clone double-array
// trie whose values are offsets into a blob of NUL-terminated replacement
// strings. Its layout is <trie size: uint32 LE><trie units: uint32 LE each>
// <normalized strings>.
type charsmap struct {
	units      []uint32
	normalized string // NUL-terminated replacements
}

func parseCharsmap(blob []byte) (*charsmap, error) {
	if len(blob) <= 4 {
		return nil, errors.New("precompiled_charsmap: blob of 4 bytes or fewer")
	}
	size := binary.LittleEndian.Uint32(blob)
	if uint64(size) >= uint64(len(blob)) {
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d exceeds the blob (%d bytes)", size, len(blob))
	}
	if size%4 != 0 || size == 0 {
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d is not a positive multiple of 4", size)
	}
	rest := blob[4:]
	if uint64(size) > uint64(len(rest)) {
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d exceeds the blob (%d bytes)", size, len(blob))
	}
	cm := &charsmap{units: make([]uint32, size/4), normalized: string(rest[size:])}
	for i := range cm.units {
		cm.units[i] = binary.LittleEndian.Uint32(rest[4*i:])
	}
	return cm, nil
}

// Darts-clone unit accessors.
func dartsHasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func dartsValue(u uint32) int32   { return int32(u & (1<<31 - 1)) }
func dartsLabel(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func dartsOffset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// longest returns the byte length of the longest rule that is a prefix of s
// and its replacement, or 0 when no rule matches. A rule whose value points
// outside the strings blob (a corrupt file) does not match.
func (cm *charsmap) longest(s string) (n int, repl string) {
	units := cm.units
	pos := uint32(0)
	pos ^= dartsOffset(units[0])
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		pos ^= c
		if int(pos) >= len(units) {
			break
		}
		u := units[pos]
		if dartsLabel(u) != c {
			break
		}
		pos ^= dartsOffset(u)
		if dartsHasLeaf(u) {
			if int(pos) >= len(units) {
				break
			}
			v := dartsValue(units[pos])
			if int(v) < len(cm.normalized) {
				end := int(v)
				for end < len(cm.normalized) && cm.normalized[end] != 0 {
					end++
				}
				n, repl = i+1, string(cm.normalized[v:end])
			}
		}
	}
	return n, repl
}

// normalizer is SentencePiece's normalizer: the longest-matching charsmap
// rule at each position (user-defined symbols are kept as they are), then
// whitespace handling.
type normalizer struct {
	cm                     *charsmap // nil: identity
	user                   *trie     // user-defined symbols; nil for none
	addDummyPrefix         bool
	removeExtraWhitespaces bool
	escapeWhitespaces      bool
	treatWhitespaceAsSuf   bool
	// plain marks the ASCII bytes other than space that no rule and no
	// user-defined symbol starts with: they normalize to themselves.
	plain [128]bool
}

// setPlain fills n.plain; call it after n.cm and n.user are set.
func (n *normalizer) setPlain() {
	for c := 0; c < 128; c++ {
		ok := c != ' '
		if ok && n.user != nil && n.user.child(0, byte(c)) != 0 {
			ok = false
		}
		if ok && n.cm != nil {
			units := n.cm.units
			pos := dartsOffset(units[0]) ^ uint32(c)
			if int(pos) < len(units) && dartsLabel(units[pos]) == uint32(c) {
				ok = false
			}
		}
		n.plain[c] = ok
	}
}

func newNormalizer(spec *NormalizerSpec, suffix bool) (*normalizer, error) {
	n := &normalizer{
		addDummyPrefix:         spec.AddDummyPrefix,
		removeExtraWhitespaces: spec.RemoveExtraWhitespaces,
		escapeWhitespaces:      spec.EscapeWhitespaces,
		treatWhitespaceAsSuf:   suffix,
	}
	if len(spec.PrecompiledCharsmap) > 0 {
		cm, err := parseCharsmap(spec.PrecompiledCharsmap)
		if err != nil {
			return nil, err
		}
		n.cm = cm
	}
	return n, nil
}

// prefix normalizes the first unit of s: a user-defined symbol, the longest
// charsmap rule, or one character (one byte of invalid UTF-8 becomes U+FFFD).
// It returns the replacement and the number of bytes of s consumed.
func (n *normalizer) prefix(s string) (string, int) {
	if n.user != nil {
		if l, v := n.user.longest(s); v >= 0 {
			return s[:l], l
		}
	}
	if n.cm != nil {
		if l, repl := n.cm.longest(s); l > 0 {
			return repl, l
		}
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size <= 1 {
		return "\uFFFD", 1
	}
	return s[:size], size
}

// normalize returns s normalized as SentencePiece's Normalizer::Normalize
// does it: heading spaces dropped, the dummy prefix added, each unit
// normalized, runs of spaces collapsed, spaces escaped as U+2581 and
// trailing spaces dropped (as the spec says).
func (n *normalizer) normalize(s string) string {
	if s == "" {
		return ""
	}
	if n.removeExtraWhitespaces {
		for s != "" {
			p, l := n.prefix(s)
			if p != " " {
				break
			}
			s = s[l:]
		}
	}
	if s == "" {
		return ""
	}
	out := make([]byte, 0, 3*len(s)/2+4)
	addWS := func() {
		if n.escapeWhitespaces {
			out = append(out, spaceSymbol...)
		} else {
			out = append(out, ' ')
		}
	}
	if !n.treatWhitespaceAsSuf && n.addDummyPrefix {
		addWS()
	}
	prevSpace := n.removeExtraWhitespaces
	for s != "" {
		if c := s[0]; c < 128 && n.plain[c] {
			// A run of plain ASCII: copied as it is.
			i := 1
			for i < len(s) && s[i] < 128 && n.plain[s[i]] {
				i++
			}
			out = append(out, s[:i]...)
			s = s[i:]
			prevSpace = false
			continue
		}
		p, l := n.prefix(s)
		for prevSpace && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		if p != "" {
			for i := 0; i < len(p); i++ {
				if n.escapeWhitespaces && p[i] == ' ' {
					out = append(out, spaceSymbol...)
				} else {
					out = append(out, p[i])
				}
			}
			prevSpace = p[len(p)-1] == ' '
		}
		s = s[l:]
		if !n.removeExtraWhitespaces {
			prevSpace = false
		}
	}
	if n.removeExtraWhitespaces {
		space := " "
		if n.escapeWhitespaces {
			space = spaceSymbol
		}
		for len(out) >= len(space) && string(out[len(out)-len(space):]) == space {
			out = out[:len(out)-len(space)]
		}
	}
	if n.treatWhitespaceAsSuf && n.addDummyPrefix {
		addWS()
	}
	return string(out)
}
