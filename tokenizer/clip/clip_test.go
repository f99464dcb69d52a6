package clip

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type refCase struct {
	Text      string   `json:"text"`
	Tokens    []string `json:"tokens"`
	IDs       []int    `json:"ids"`
	Padded    []int    `json:"padded"`
	TokensSD2 []string `json:"tokens_sd2"`
	PaddedSD2 []int    `json:"padded_sd2"`
}

func loadCases(t *testing.T) []refCase {
	t.Helper()
	b, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		NumMerges int       `json:"num_merges"`
		Cases     []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 20 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	return f.Cases
}

// TestMatchesReference compares with the Python reimplementation of
// CLIPTokenizer, for SD 1.x padding (<|endoftext|>) and SD 2.x ("!").
func TestMatchesReference(t *testing.T) {
	tok, err := Load("testdata/vocab")
	if err != nil {
		t.Fatal(err)
	}
	sd2, err := LoadFiles("testdata/vocab/vocab.json", "testdata/vocab/merges.txt", Options{Pad: "!"})
	if err != nil {
		t.Fatal(err)
	}
	if tok.MaxLength() != 77 || tok.Pad() != tok.EOS() || sd2.Pad() != 0 {
		t.Fatalf("MaxLength %d, pad %d (eos %d), sd2 pad %d", tok.MaxLength(), tok.Pad(), tok.EOS(), sd2.Pad())
	}
	truncated := 0
	for _, c := range loadCases(t) {
		name := c.Text
		if len(name) > 40 {
			name = name[:40]
		}
		if got := tok.Tokenize(c.Text); !slices.Equal(got, c.Tokens) && !(len(got) == 0 && len(c.Tokens) == 0) {
			t.Errorf("%q: tokens\n got %q\nwant %q", name, got, c.Tokens)
		}
		if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) && !(len(got) == 0 && len(c.IDs) == 0) {
			t.Errorf("%q: ids\n got %v\nwant %v", name, got, c.IDs)
		}
		enc := tok.EncodePadded(c.Text)
		if !slices.Equal(enc.IDs, c.Padded) {
			t.Errorf("%q: padded\n got %v\nwant %v", name, enc.IDs, c.Padded)
		}
		if enc.Dropped != max(0, len(c.IDs)-75) || enc.Length != min(len(c.IDs), 75)+2 {
			t.Errorf("%q: Length %d Dropped %d for %d tokens", name, enc.Length, enc.Dropped, len(c.IDs))
		}
		if enc.Dropped > 0 {
			truncated++
		}
		if got := sd2.Tokenize(c.Text); !slices.Equal(got, c.TokensSD2) && !(len(got) == 0 && len(c.TokensSD2) == 0) {
			t.Errorf("%q: sd2 tokens\n got %q\nwant %q", name, got, c.TokensSD2)
		}
		if got := sd2.EncodePadded(c.Text).IDs; !slices.Equal(got, c.PaddedSD2) {
			t.Errorf("%q: sd2 padded\n got %v\nwant %v", name, got, c.PaddedSD2)
		}
	}
	if truncated == 0 {
		t.Error("no case exercises truncation")
	}
}

func TestDecode(t *testing.T) {
	tok, err := Load("testdata/vocab")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"a photograph of an astronaut riding a horse", "café, 3.14 and 日本"} {
		got := tok.Decode(tok.EncodePadded(in).IDs)
		want := strings.Join(basicWords(in), " ")
		// CLIP's decode puts a space after every word-final token.
		if strings.ReplaceAll(got, " ", "") != strings.ReplaceAll(want, " ", "") {
			t.Errorf("Decode(Encode(%q)) = %q", in, got)
		}
	}
}

func basicWords(s string) []string { return strings.Fields(basicClean(s)) }

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "neither vocab.json nor tokenizer.json") {
		t.Errorf("empty dir: %v", err)
	}
	write("vocab.json", `{"a</w>": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}`)
	write("merges.txt", "#version: 0.2\na b c\n")
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "merges.txt: line 2") {
		t.Errorf("bad merge: %v", err)
	}
	write("merges.txt", "#version: 0.2\n")
	write("tokenizer_config.json", `{"pad_token": "!"}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `pad_token "!"`) {
		t.Errorf("pad not in vocab: %v", err)
	}
	write("tokenizer_config.json", `{"pad_token": {"content": "a</w>"}, "model_max_length": 1}`)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "model_max_length") {
		t.Errorf("max length: %v", err)
	}
	write("tokenizer_config.json", `{"pad_token": {"content": "a</w>"}, "model_max_length": 5}`)
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.EncodePadded("a a a a").IDs; !slices.Equal(got, []int{1, 0, 0, 0, 2}) {
		t.Errorf("padded %v", got)
	}
}

func TestTokenizerJSON(t *testing.T) {
	vb, _ := os.ReadFile("testdata/vocab/vocab.json")
	mb, _ := os.ReadFile("testdata/vocab/merges.txt")
	var vocab map[string]int
	if err := json.Unmarshal(vb, &vocab); err != nil {
		t.Fatal(err)
	}
	merges, err := ParseMerges(mb)
	if err != nil {
		t.Fatal(err)
	}
	pairs := make([][2]string, len(merges))
	copy(pairs, merges)
	tj, _ := json.Marshal(map[string]any{"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": pairs}})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), tj, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load("testdata/vocab")
	if err != nil {
		t.Fatal(err)
	}
	text := "a lighthouse at dusk, oil painting"
	if !slices.Equal(a.Encode(text), b.Encode(text)) {
		t.Errorf("tokenizer.json and vocab.json+merges.txt disagree")
	}
}

func FuzzEncode(f *testing.F) {
	tok, err := Load("testdata/vocab")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"a photograph", "don't", "日本語", "\x00\xff", "<|endoftext|>x", "'ſ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := tok.EncodePadded(s)
		if len(enc.IDs) != 77 || enc.IDs[0] != tok.BOS() || enc.IDs[enc.Length-1] != tok.EOS() {
			t.Fatalf("bad encoding %v", enc)
		}
		for _, id := range enc.IDs {
			if tok.Token(id) == "" {
				t.Fatalf("id %d has no token", id)
			}
		}
	})
}

func FuzzParseMerges(f *testing.F) {
	f.Add([]byte("#version: 0.2\na b\nab c\n"))
	f.Add([]byte("x\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMerges(data)
		if err == nil && len(m) > maxMerges {
			t.Fatalf("%d merges", len(m))
		}
	})
}

// TestRandomTexts compares 400 random strings (ASCII, contractions,
// punctuation, whitespace and controls, accents, Greek, CJK, emoji,
// fullwidth, combining marks, special tokens) with the reference.
func TestRandomTexts(t *testing.T) {
	b, err := os.ReadFile("testdata/random.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Text   string `json:"text"`
		IDs    []int  `json:"ids"`
		IDsSD2 []int  `json:"ids_sd2"`
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 400 {
		t.Fatalf("%d cases", len(cases))
	}
	sd1, err := Load("testdata/vocab")
	if err != nil {
		t.Fatal(err)
	}
	sd2, err := LoadFiles("testdata/vocab/vocab.json", "testdata/vocab/merges.txt", Options{Pad: "!"})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, c := range cases {
		got, got2 := sd1.Encode(c.Text), sd2.Encode(c.Text)
		if !slices.Equal(got, c.IDs) && (len(got)+len(c.IDs) > 0) || !slices.Equal(got2, c.IDsSD2) && (len(got2)+len(c.IDsSD2) > 0) {
			bad++
			if bad <= 5 {
				t.Errorf("%q:\n got %v / %v\nwant %v / %v", c.Text, got, got2, c.IDs, c.IDsSD2)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d random texts differ", bad, len(cases))
	}
}

func FuzzParseTokenizerJSON(f *testing.F) {
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a</w>": 0, "b": 1}, "merges": ["a b", ["b", "a</w>"]]}, "added_tokens": [{"id": 2, "content": "<|endoftext|>"}]}`))
	f.Add([]byte(`{"model": {"type": "WordPiece", "vocab": {}}}`))
	f.Add([]byte(`{"model": {"merges": [1]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		vocab, merges, err := ParseTokenizerJSON(data)
		if err != nil {
			return
		}
		if len(vocab) == 0 {
			t.Fatal("accepted an empty vocabulary")
		}
		tok, err := New(vocab, merges, Options{BOS: "a</w>", EOS: "a</w>", Unk: "a</w>", Pad: "a</w>", MaxLength: 5})
		if err != nil {
			return
		}
		if ids := tok.EncodePadded("a b ab").IDs; len(ids) != 5 {
			t.Fatalf("%d ids", len(ids))
		}
	})
}

func TestNewRejectsHugeIDs(t *testing.T) {
	_, err := New(map[string]int{"<|startoftext|>": 0, "<|endoftext|>": 1 << 40}, nil, Options{})
	if err == nil || !strings.Contains(err.Error(), "has id") {
		t.Fatalf("want an id range error, got %v", err)
	}
}
