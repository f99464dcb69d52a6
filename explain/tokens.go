package explain

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SpaceMarker is how a space shows in token strings: U+2423 OPEN BOX. GPT-2
// marks a word's start with a leading space (Ġ in its vocabulary file), so
// " the" shows as "␣the" and the word boundary stays visible in the text
// view, the HTML view and JSON.
const SpaceMarker = "␣"

// DisplayToken renders the bytes of one token for display, so that
// whitespace and byte-level tokens are visible:
//
//   - a space is SpaceMarker (␣), a newline ↵ (U+21B5), a tab → (U+2192);
//   - a byte that is not part of a whole UTF-8 character (byte-level BPE
//     splits rare characters and emoji over several tokens) is \xNN, as is
//     any other control character;
//   - everything else is the token's text.
//
// A token's literal backslash is left as it is, so the text "\x41" and the
// byte 0x41 can only be told apart by the raw text (Result.RawTokens).
func DisplayToken(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&s, "\\x%02x", b[0])
			n = 1
		case r == ' ':
			s.WriteString(SpaceMarker)
		case r == '\n':
			s.WriteRune('↵')
		case r == '\t':
			s.WriteRune('→')
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&s, "\\x%02x", r)
		default:
			s.Write(b[:n])
		}
		b = b[n:]
	}
	return s.String()
}
