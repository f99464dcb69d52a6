package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestToValidUTF8(t *testing.T) {
	// Expected values are Python's bytes.decode("utf-8", errors="replace").
	const R = "\uFFFD"
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"\xe2\x82", R},
		{"\xe2\x82a", R + "a"},
		{"\xff\xfe", R + R},
		{"\xf0\x9f\x98", R},
		{"\xed\xa0\x80", R + R + R},
		{"\xf4\x90\x80\x80", R + R + R + R},
		{"\xc0\xaf", R + R},
		{"\xe0\x80\xaf", R + R + R},
		{"a\xf0\x9f\x98\x80b\xf0\x9f", "a😀b" + R},
	}
	for _, c := range cases {
		if got := toValidUTF8([]byte(c.in)); got != c.want {
			t.Errorf("toValidUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPreTokenizeGPT2(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello world", []string{"Hello", " world"}},
		{"a  b", []string{"a", " ", " b"}},
		{"a \tb", []string{"a", " ", "\t", "b"}},
		{"a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"end  ", []string{"end", "  "}},
		{"I'm HE'S", []string{"I", "'m", " HE", "'", "S"}},
		{"x's's", []string{"x", "'s", "'s"}},
		{"!'s", []string{"!'", "s"}},
		{"abc123def", []string{"abc", "123", "def"}},
		{" 42!", []string{" 42", "!"}},
		{"é\u0301", []string{"é", "\u0301"}}, // a combining mark is not \p{L}
		// Invalid UTF-8: each bad byte is a symbol, like U+FFFD.
		{"a\xff\xfeb", []string{"a", "\xff\xfe", "b"}},
		{" \xffx", []string{" \xff", "x"}},
		{"\xe2\x82 x", []string{"\xe2\x82", " x"}},
	}
	for _, c := range cases {
		if got := PreTokenizeGPT2(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("PreTokenizeGPT2(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestBPEBasics(t *testing.T) {
	tok := gpt2(t)
	if got := tok.VocabSize(); got != 50257 {
		t.Errorf("VocabSize = %d, want 50257", got)
	}
	if got := tok.EOS(); got != 50256 {
		t.Errorf("EOS = %d, want 50256", got)
	}
	if got := tok.Token(262); got != "Ġthe" {
		t.Errorf("Token(262) = %q", got)
	}
	if got := tok.TokenText(262); got != " the" {
		t.Errorf("TokenText(262) = %q", got)
	}
	if id, ok := tok.ID("Ġthe"); !ok || id != 262 {
		t.Errorf("ID(Ġthe) = %d, %v", id, ok)
	}
	if tok.Token(-1) != "" || tok.Token(1<<20) != "" || tok.TokenText(99999999) != "" {
		t.Error("out-of-range ids should give empty strings")
	}
	// A byte that is only part of a character shows as U+FFFD.
	ids := tok.Encode("🤗")
	if len(ids) < 2 || tok.TokenText(ids[0]) != "\uFFFD" {
		t.Errorf("Encode(🤗) = %v, TokenText(first) = %q", ids, tok.TokenText(ids[0]))
	}
	if got := tok.Decode(ids[:1]); got != "\uFFFD" {
		t.Errorf("Decode(first byte of 🤗) = %q", got)
	}
	if got := tok.Decode([]int{-5, 15496, 1 << 30}); got != "Hello" {
		t.Errorf("Decode skipping bad ids = %q", got)
	}
}

func TestBPESpecialTokens(t *testing.T) {
	tok := gpt2(t)
	plain := tok.Encode("Hello<|endoftext|>World")
	if want := []int{15496, 27, 91, 437, 1659, 5239, 91, 29, 10603}; !reflect.DeepEqual(plain, want) {
		t.Errorf("Encode = %v, want %v", plain, want)
	}
	special := tok.EncodeAllowSpecial("Hello<|endoftext|>World")
	if want := []int{15496, 50256, 10603}; !reflect.DeepEqual(special, want) {
		t.Errorf("EncodeAllowSpecial = %v, want %v", special, want)
	}
	// Text either side is pre-tokenised on its own: the space before the
	// special token ends its segment.
	got := tok.EncodeAllowSpecial("a <|endoftext|><|endoftext|> b")
	if want := []int{64, 220, 50256, 50256, 275}; !reflect.DeepEqual(got, want) {
		t.Errorf("EncodeAllowSpecial with spaces = %v, want %v", got, want)
	}
	if got := tok.Decode(special); got != "Hello<|endoftext|>World" {
		t.Errorf("Decode = %q", got)
	}
}

// TestBPEInvalidUTF8 checks the documented handling of invalid UTF-8: raw
// bytes are encoded, DecodeBytes gives them back, and Decode replaces them.
func TestBPEInvalidUTF8(t *testing.T) {
	tok := gpt2(t)
	for _, s := range []string{"a\xffb", "\xe2\x82", "abc\xc3", "\xed\xa0\x80 x", "\xf0\x9f\x98 smile", "x \xc3\x28 y", "\x80\x80\x80\x80"} {
		ids := tok.Encode(s)
		if got := string(tok.DecodeBytes(ids)); got != s {
			t.Errorf("DecodeBytes(Encode(%q)) = %q", s, got)
		}
		if got, want := tok.Decode(ids), toValidUTF8([]byte(s)); got != want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", s, got, want)
		}
		for _, id := range ids {
			if id < 0 || id >= 50257 {
				t.Errorf("Encode(%q) gave id %d", s, id)
			}
		}
	}
}

// writeJSON writes v as JSON to dir/name.
func writeTestJSON(t *testing.T, dir, name string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGPT2Files(t *testing.T) (map[string]int, [][2]string) {
	t.Helper()
	data, err := os.ReadFile("testdata/gpt2/vocab.json")
	if err != nil {
		t.Fatal(err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		t.Fatal(err)
	}
	mdata, err := os.ReadFile("testdata/gpt2/merges.txt")
	if err != nil {
		t.Fatal(err)
	}
	merges, err := parseMergesTxt(mdata)
	if err != nil {
		t.Fatal(err)
	}
	return vocab, merges
}

// TestBPETokenizerJSON checks that a tokenizer.json laid out like
// openai-community/gpt2's, with merges as "a b" strings and as ["a", "b"]
// pairs, gives the same ids as vocab.json + merges.txt.
func TestBPETokenizerJSON(t *testing.T) {
	ref := gpt2(t)
	vocab, merges := readGPT2Files(t)
	var asStrings []string
	var asPairs [][]string
	for _, m := range merges {
		asStrings = append(asStrings, m[0]+" "+m[1])
		asPairs = append(asPairs, []string{m[0], m[1]})
	}
	cases := readJSONLines[goldenBPE](t, "testdata/gpt2/expected.jsonl")
	for name, mergesJSON := range map[string]any{"strings": asStrings, "pairs": asPairs} {
		dir := t.TempDir()
		writeTestJSON(t, dir, "tokenizer.json", map[string]any{
			"version":    "1.0",
			"truncation": nil, "padding": nil,
			"added_tokens": []map[string]any{{"id": 50256, "content": "<|endoftext|>", "single_word": false,
				"lstrip": false, "rstrip": false, "normalized": true, "special": true}},
			"normalizer":     nil,
			"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
			"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
			"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
			"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
				"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
				"vocab": vocab, "merges": mergesJSON},
		})
		tok, err := LoadBPE(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if k, err := Detect(dir); err != nil || k != KindBPE {
			t.Errorf("Detect = %q, %v", k, err)
		}
		for _, c := range cases {
			if got := tok.Encode(c.Text); !reflect.DeepEqual(got, ref.Encode(c.Text)) {
				t.Errorf("%s: Encode(%q) = %v, vocab.json gives %v", name, c.Text, got, ref.Encode(c.Text))
			}
			if got := tok.EncodeAllowSpecial(c.Text); !reflect.DeepEqual(got, ref.EncodeAllowSpecial(c.Text)) {
				t.Errorf("%s: EncodeAllowSpecial(%q) differs", name, c.Text)
			}
		}
		if tok.EOS() != 50256 || tok.VocabSize() != 50257 {
			t.Errorf("%s: EOS %d VocabSize %d", name, tok.EOS(), tok.VocabSize())
		}
	}
}

func TestBPEAddPrefixSpace(t *testing.T) {
	vocab, merges := readGPT2Files(t)
	dir := t.TempDir()
	var ms []string
	for _, m := range merges {
		ms = append(ms, m[0]+" "+m[1])
	}
	writeTestJSON(t, dir, "tokenizer.json", map[string]any{
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": true},
		"model":         map[string]any{"type": "BPE", "vocab": vocab, "merges": ms},
	})
	tok, err := LoadBPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Encode("Hello world"), gpt2(t).Encode(" Hello world"); !reflect.DeepEqual(got, want) {
		t.Errorf("add_prefix_space: %v, want %v", got, want)
	}
}

func TestBPELoadErrors(t *testing.T) {
	vocab, _ := readGPT2Files(t)
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no files", nil, "vocab.json"},
		{"bad vocab", map[string]string{"vocab.json": "[1,2]", "merges.txt": ""}, "want a JSON object"},
		{"bad merge line", map[string]string{"vocab.json": mustJSON(vocab), "merges.txt": "#version: 0.2\nĠ t\nonlyone\n"}, "line 3"},
		{"merge not in vocab", map[string]string{"vocab.json": mustJSON(vocab), "merges.txt": "Ġ t\nzzzz qqqq\n"}, "merge 2"},
		{"not byte level", map[string]string{"vocab.json": `{"a":0,"b":1}`, "merges.txt": ""}, "byte-level token"},
		{"json model type", map[string]string{"tokenizer.json": `{"model":{"type":"Unigram","vocab":[]}}`}, `want "BPE"`},
		{"json normalizer", map[string]string{"tokenizer.json": `{"normalizer":{"type":"NFC"},"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{},"merges":[]}}`}, "normalizer"},
		{"json pre_tokenizer", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"Metaspace"},"model":{"type":"BPE","vocab":{},"merges":[]}}`}, "Metaspace"},
		{"json merge", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{},"merges":["a b c"]}}`}, "merges[0]"},
		{"json merge type", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{},"merges":[7]}}`}, "merges[0]"},
		{"json syntax", map[string]string{"tokenizer.json": `{"model":`}, "tokenizer.json"},
		{"json dropout", map[string]string{"tokenizer.json": `{"model":{"type":"BPE","dropout":0.1,"vocab":{},"merges":[]}}`}, "dropout"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		for name, body := range c.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadBPE(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestBPEConcurrent encodes from several goroutines at once (run with -race).
func TestBPEConcurrent(t *testing.T) {
	tok := gpt2(t)
	cases := readJSONLines[goldenBPE](t, "testdata/gpt2/expected.jsonl")
	done := make(chan bool)
	for g := range 4 {
		go func() {
			ok := true
			for i := range cases {
				c := cases[(i+g*37)%len(cases)]
				if _, diff := knownJSDifferences[c.Text]; !diff && !reflect.DeepEqual(tok.Encode(c.Text), c.IDs) {
					ok = false
				}
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("concurrent Encode gave a wrong result")
		}
	}
}

func TestBPELongWord(t *testing.T) {
	tok := gpt2(t)
	s := strings.Repeat("abcdefghij", 2000) // one 20 kB pre-token, not cached
	ids := tok.Encode(s)
	if tok.Decode(ids) != s {
		t.Error("long word does not round-trip")
	}
	if !utf8.ValidString(tok.Decode(tok.Encode(strings.Repeat("é", 5000)))) {
		t.Error("invalid output")
	}
}

// TestParseVocabJSON checks the direct vocab.json scanner against
// encoding/json on the real file and on odd inputs.
func TestParseVocabJSON(t *testing.T) {
	data, err := os.ReadFile("testdata/gpt2/vocab.json")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{data, []byte(`{}`), []byte(` { "a" : 1 , "b\u0120" :2}`), []byte(`{"a":1,}`), []byte(`{"a":01}`),
		[]byte(`{"a":1.5}`), []byte(`{"a":1} x`), []byte(`{"a\"b":-3}`), []byte("{\"\xff\":1}"), []byte(`{"a":1,"a":2}`), []byte(`[]`)}
	for _, in := range inputs {
		var want map[string]int
		werr := json.Unmarshal(in, &want)
		got, gerr := parseVocabJSON(in)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(got, want) && werr == nil {
			t.Errorf("parseVocabJSON(%.40q) = %d entries, %v; encoding/json %d, %v", in, len(got), gerr, len(want), werr)
		}
	}
	if _, ok := scanVocabJSON(string(data)); !ok {
		t.Error("the GPT-2 vocab.json did not take the fast path")
	}
}

// TestBPEIgnoreMerges: with ignore_merges a pre-token that is in the
// vocabulary is one token even when the merges would not build it.
func TestBPEIgnoreMerges(t *testing.T) {
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[byteRuneUTF8[b]] = b
	}
	vocab["ab"], vocab["abc"] = 256, 257
	for _, ignore := range []bool{false, true} {
		data := mustJSON(map[string]any{
			"pre_tokenizer": map[string]any{"type": "ByteLevel"},
			"model":         map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{"a b"}, "ignore_merges": ignore},
		})
		tok, err := ParseBPEJSON([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		want := []int{256, 'c'}
		if ignore {
			want = []int{257}
		}
		if got := tok.Encode("abc"); !reflect.DeepEqual(got, want) {
			t.Errorf("ignore_merges=%v: Encode(abc) = %v, want %v", ignore, got, want)
		}
	}
}
