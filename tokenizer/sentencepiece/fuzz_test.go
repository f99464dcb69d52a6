package sentencepiece

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseModel feeds mutated model files to ParseModel and New: they
// must return an error or a processor that encodes and decodes without
// panicking, with every id in range.
func FuzzParseModel(f *testing.F) {
	// unigram-custom carries a small charsmap (8 rules), so mutations reach
	// the double-array trie too.
	for _, name := range []string{"unigram-identity", "unigram-custom", "bpe-bytes-identity"} {
		data, err := os.ReadFile(filepath.Join(spmTestdata, name+".model"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		f.Add(data[:len(data)/3])
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x01, 'u', 0x18, 0x02})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseModel(data)
		if err != nil {
			return
		}
		p, err := New(m)
		if err != nil {
			return
		}
		for _, s := range []string{"", "Hello  world", "café 東京 😀", "\x00\xff\t"} {
			toks := p.Encode(s)
			ids := make([]int, len(toks))
			for i, tk := range toks {
				if tk.ID < 0 || tk.ID >= p.VocabSize() {
					t.Fatalf("Encode(%q): id %d out of range", s, tk.ID)
				}
				ids[i] = tk.ID
			}
			p.Decode(ids)
		}
	})
}

// FuzzEncode checks, on a byte-fallback model with identity
// normalization, that decoding the encoding gives the text back with runs
// of spaces collapsed and trimmed (and invalid UTF-8 as U+FFFD), and that
// ids are in range (a literal ▁ in the text, which decodes as a space, is
// left out of the round trip).
func FuzzEncode(f *testing.F) {
	p, err := Load(filepath.Join(spmTestdata, "bpe-bytes-identity.model"))
	if err != nil {
		f.Fatal(err)
	}
	u, err := Load(filepath.Join(spmTestdata, "unigram-bytes.model"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", " ", "Hello world", "  a  b  ", "東京😀", "\xff\xfe", "a\tb\nc", "<0x41>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := p.Encode(s)
		ids := make([]int, len(toks))
		for i, tk := range toks {
			if tk.ID < 0 || tk.ID >= p.VocabSize() {
				t.Fatalf("Encode(%q): id %d out of range", s, tk.ID)
			}
			ids[i] = tk.ID
		}
		valid := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// Each invalid byte is one U+FFFD.
			var b strings.Builder
			for i := 0; i < len(s); {
				r, size := utf8.DecodeRuneInString(s[i:])
				if r == utf8.RuneError && size == 1 {
					b.WriteString("\uFFFD")
				} else {
					b.WriteString(s[i : i+size])
				}
				i += size
			}
			valid = b.String()
		}
		if strings.Contains(valid, "\u2581") {
			return // a literal ▁ decodes as a space
		}
		want := strings.Join(strings.FieldsFunc(valid, func(r rune) bool { return r == ' ' }), " ")
		if got := p.Decode(ids); got != want {
			t.Fatalf("Decode(Encode(%q)) = %q, want %q", s, got, want)
		}
		// The unigram model (nmt_nfkc) must not panic and must stay in range.
		for _, tk := range u.Encode(s) {
			if tk.ID < 0 || tk.ID >= u.VocabSize() {
				t.Fatalf("unigram: id %d out of range", tk.ID)
			}
		}
	})
}
