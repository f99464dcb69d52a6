package tokenizer

import "unicode/utf8"

// GPT-2's byte-level alphabet. Every byte is shown as one printable rune so
// that a token's vocabulary string never holds whitespace or control
// characters: the 188 printable bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
// the rune with the same value, and the other 68 bytes map, in byte order, to
// U+0100, U+0101, … (so ' ' becomes 'Ġ' U+0120 and '\n' becomes 'Ċ' U+010A).
var (
	byteToRune [256]rune
	// runeToByte[r] is 1 + the byte that rune r stands for (0: none); every
	// byte-level rune is below 0x144.
	runeToByte [0x144]uint16
	// byteRuneUTF8[b] is the UTF-8 encoding of byteToRune[b].
	byteRuneUTF8 [256]string
)

func init() {
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	n := 0
	for b := 0; b < 256; b++ {
		if printable(b) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = uint16(b) + 1
		byteRuneUTF8[b] = string(byteToRune[b])
	}
}

// bytesToToken returns the byte-level vocabulary string for raw bytes b.
func bytesToToken(b []byte) string {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, byteRuneUTF8[c]...)
	}
	return string(out)
}

// tokenToBytes maps a byte-level vocabulary string back to raw bytes. ok is
// false if the string holds a rune outside the byte-level alphabet (as added
// tokens such as "<|endoftext|>" may not; callers use the string's own UTF-8
// bytes then).
func tokenToBytes(tok string) (b []byte, ok bool) {
	b = make([]byte, 0, len(tok))
	for i := 0; i < len(tok); {
		if c := tok[i]; c < utf8.RuneSelf {
			if runeToByte[c] == 0 {
				return []byte(tok), false
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(tok[i:])
		if r >= rune(len(runeToByte)) || runeToByte[r] == 0 {
			return []byte(tok), false
		}
		b = append(b, byte(runeToByte[r]-1))
		i += size
	}
	return b, true
}
