package sentencepiece

import (
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Charsmap is a precompiled_charsmap on its own, for pipelines that apply
// it outside a Processor (Hugging Face's Precompiled normalizer).
type Charsmap struct {
	cm *charsmap
	// plain marks the ASCII bytes with no rule of their own, other than
	// CR (which starts the cluster CR LF).
	plain [128]bool
}

// ParseCharsmap decodes a precompiled_charsmap blob: a uint32 trie size,
// the Darts-clone double-array trie, and the NUL-terminated replacement
// strings.
func ParseCharsmap(blob []byte) (*Charsmap, error) {
	cm, err := parseCharsmap(blob)
	if err != nil {
		return nil, err
	}
	c := &Charsmap{cm: cm}
	for b := 0; b < 128; b++ {
		_, rule := c.first(string(rune(b)))
		c.plain[b] = !rule && b != '\r'
	}
	return c, nil
}

// plainRun returns the length of the run of plain ASCII characters that
// starts s and ends a grapheme cluster.
func (c *Charsmap) plainRun(s string) int {
	i := 0
	for i < len(s) && s[i] < 128 && c.plain[s[i]] {
		i++
	}
	if i < len(s) && s[i] >= 128 {
		i--
	}
	return max(i, 0)
}

// first returns the replacement of the shortest rule that is a prefix of
// s (Darts' first common-prefix result), and whether there is one.
func (c *Charsmap) first(s string) (string, bool) {
	cm := c.cm
	units := cm.units
	pos := dartsOffset(units[0])
	for i := 0; i < len(s); i++ {
		ch := uint32(s[i])
		pos ^= ch
		if int(pos) >= len(units) || dartsLabel(units[pos]) != ch {
			return "", false
		}
		u := units[pos]
		pos ^= dartsOffset(u)
		if dartsHasLeaf(u) {
			if int(pos) >= len(units) {
				return "", false
			}
			v := int(dartsValue(units[pos]))
			if v >= len(cm.normalized) {
				return "", false
			}
			end := v
			for end < len(cm.normalized) && cm.normalized[end] != 0 {
				end++
			}
			return cm.normalized[v:end], true
		}
	}
	return "", false
}

// NormalizeGraphemes applies the rules as Hugging Face's Precompiled
// normalizer (the spm_precompiled crate) does, which is not quite how
// sentencepiece does: for each extended grapheme cluster shorter than 6
// bytes, the shortest rule that is a prefix of the cluster replaces the
// whole cluster; otherwise each character is replaced by its own rule, if
// any. Sentencepiece instead takes the longest rule at each position.
// Invalid UTF-8 bytes become U+FFFD first.
func (c *Charsmap) NormalizeGraphemes(s string) string {
	if !utf8.ValidString(s) {
		var b strings.Builder
		for i := 0; i < len(s); {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size <= 1 {
				b.WriteString("\uFFFD")
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
		}
		s = b.String()
	}
	var out strings.Builder
	out.Grow(len(s))
	state := -1
	for s != "" {
		// A run of plain ASCII is copied, but for its last character when
		// a non-ASCII one follows (a combining mark would join its cluster).
		if i := c.plainRun(s); i > 0 {
			out.WriteString(s[:i])
			s = s[i:]
			state = -1
			continue
		}
		var g string
		g, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
		if len(g) < 6 {
			if repl, ok := c.first(g); ok {
				out.WriteString(repl)
				continue
			}
		}
		for i := 0; i < len(g); {
			_, size := utf8.DecodeRuneInString(g[i:])
			part := g[i : i+size]
			if repl, ok := c.first(part); ok {
				out.WriteString(repl)
			} else {
				out.WriteString(part)
			}
			i += size
		}
	}
	return out.String()
}
