package tokenizer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

var (
	bertOnce sync.Once
	bertTok  *WordPiece
	bertErr  error
)

// bert loads the real bert-base-uncased vocabulary from testdata.
func bert(t testing.TB) *WordPiece {
	t.Helper()
	bertOnce.Do(func() { bertTok, bertErr = LoadWordPiece("testdata/bert-base-uncased") })
	if bertErr != nil {
		t.Fatal(bertErr)
	}
	return bertTok
}

type goldenWP struct {
	Kind      string   `json:"kind"`
	Text      string   `json:"text"`
	A         string   `json:"a"`
	B         string   `json:"b"`
	MaxLen    int      `json:"max_len"`
	Tokens    []string `json:"tokens"`
	IDs       []int    `json:"ids"`
	TypeIDs   []int    `json:"type_ids"`
	Truncated bool     `json:"truncated"`
}

// checkWordPieceGolden runs the cases written by testdata/wordpiece_ref.py
// (Google BERT's tokenization semantics in Python) against tok.
func checkWordPieceGolden(t *testing.T, tok *WordPiece) {
	cases := readJSONLines[goldenWP](t, "testdata/bert-base-uncased/expected.jsonl")
	counts := map[string]int{}
	for _, c := range cases {
		counts[c.Kind]++
		switch c.Kind {
		case "single":
			if got := tok.Tokenize(c.Text); !reflect.DeepEqual(got, c.Tokens) && !(len(got) == 0 && len(c.Tokens) == 0) {
				t.Errorf("Tokenize(%q)\n got %q\nwant %q", c.Text, got, c.Tokens)
			}
			e := tok.Encode(c.Text, 0)
			if !reflect.DeepEqual(e.IDs, c.IDs) || e.Truncated {
				t.Errorf("Encode(%q).IDs = %v (truncated %v), want %v", c.Text, e.IDs, e.Truncated, c.IDs)
			}
		case "single_trunc":
			e := tok.Encode(c.Text, c.MaxLen)
			if !reflect.DeepEqual(e.IDs, c.IDs) || e.Truncated != c.Truncated {
				t.Errorf("Encode(%q, %d) = %v truncated %v, want %v truncated %v", c.Text, c.MaxLen, e.IDs, e.Truncated, c.IDs, c.Truncated)
			}
		case "pair":
			e := tok.EncodePair(c.A, c.B, c.MaxLen)
			if !reflect.DeepEqual(e.IDs, c.IDs) || !reflect.DeepEqual(e.TypeIDs, c.TypeIDs) || e.Truncated != c.Truncated {
				t.Errorf("EncodePair(%q, %q, %d)\n got %v %v %v\nwant %v %v %v", c.A, c.B, c.MaxLen,
					e.IDs, e.TypeIDs, e.Truncated, c.IDs, c.TypeIDs, c.Truncated)
			}
			if len(e.AttentionMask) != len(e.IDs) || len(e.Tokens) != len(e.IDs) {
				t.Errorf("EncodePair: %d ids, %d mask, %d tokens", len(e.IDs), len(e.AttentionMask), len(e.Tokens))
			}
		default:
			t.Fatalf("unknown golden kind %q", c.Kind)
		}
	}
	if counts["single"] < 150 || counts["pair"] < 100 || counts["single_trunc"] < 500 {
		t.Fatalf("too few golden cases: %v", counts)
	}
}

func TestWordPieceGolden(t *testing.T) { checkWordPieceGolden(t, bert(t)) }

// TestWordPieceGoldenRandom runs the 1000 random stress strings of
// testdata/random_corpus.jsonl through the Python reference's results.
func TestWordPieceGoldenRandom(t *testing.T) {
	tok := bert(t)
	cases := readJSONLines[goldenWP](t, "testdata/bert-base-uncased/expected_random.jsonl")
	if len(cases) != 1000 {
		t.Fatalf("%d cases, want 1000", len(cases))
	}
	for _, c := range cases {
		if e := tok.Encode(c.Text, 0); !reflect.DeepEqual(e.IDs, c.IDs) {
			t.Errorf("Encode(%q)\n got %q\nwant %q", c.Text, e.Tokens, c.Tokens)
		}
	}
}

func bertVocab(t *testing.T) map[string]int {
	t.Helper()
	data, err := os.ReadFile("testdata/bert-base-uncased/vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseVocabTxt(data)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func bertSpecials() map[string]any {
	sp := map[string]any{}
	for tok, id := range map[string]int{"[CLS]": 101, "[SEP]": 102} {
		sp[tok] = map[string]any{"id": tok, "ids": []int{id}, "tokens": []string{tok}}
	}
	return sp
}

// TestWordPieceTokenizerJSON checks that tokenizer.json files laid out like
// bert-base-uncased's (TemplateProcessing, and the older BertProcessing)
// give exactly the golden results too.
func TestWordPieceTokenizerJSON(t *testing.T) {
	vocab := bertVocab(t)
	template := map[string]any{
		"type": "TemplateProcessing",
		"single": []any{
			map[string]any{"SpecialToken": map[string]any{"id": "[CLS]", "type_id": 0}},
			map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
			map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}},
		},
		"pair": []any{
			map[string]any{"SpecialToken": map[string]any{"id": "[CLS]", "type_id": 0}},
			map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
			map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}},
			map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}},
			map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 1}},
		},
		"special_tokens": bertSpecials(),
	}
	bertProc := map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 102}, "cls": []any{"[CLS]", 101}}
	for name, post := range map[string]any{"template": template, "bert": bertProc} {
		dir := t.TempDir()
		var added []map[string]any
		for _, tok := range []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} {
			added = append(added, map[string]any{"id": vocab[tok], "content": tok, "special": true})
		}
		writeTestJSON(t, dir, "tokenizer.json", map[string]any{
			"version":      "1.0",
			"truncation":   map[string]any{"max_length": 512, "strategy": "LongestFirst", "stride": 0},
			"added_tokens": added,
			"normalizer": map[string]any{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
				"strip_accents": nil, "lowercase": true},
			"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
			"post_processor": post,
			"decoder":        map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true},
			"model": map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
				"max_input_chars_per_word": 100, "vocab": vocab},
		})
		tok, err := LoadWordPiece(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if k, err := Detect(dir); err != nil || k != KindWordPiece {
			t.Errorf("Detect = %q, %v", k, err)
		}
		if tok.ModelMaxLength() != 512 {
			t.Errorf("%s: ModelMaxLength = %d", name, tok.ModelMaxLength())
		}
		t.Run(name, func(t *testing.T) { checkWordPieceGolden(t, tok) })
		if got := tok.EncodeAllowSpecial("a [SEP] b", 0).IDs; !reflect.DeepEqual(got, []int{101, 1037, 102, 1038, 102}) {
			t.Errorf("%s: EncodeAllowSpecial = %v", name, got)
		}
	}
}

func TestWordPieceBasics(t *testing.T) {
	tok := bert(t)
	if tok.VocabSize() != 30522 {
		t.Errorf("VocabSize = %d", tok.VocabSize())
	}
	if id, ok := tok.ID("the"); !ok || id != 1996 || tok.Token(1996) != "the" {
		t.Errorf("ID(the) = %d %v", id, ok)
	}
	e := tok.Encode("Hello, world!", 0)
	if got := tok.Decode(e.IDs); got != "[CLS] hello, world! [SEP]" {
		t.Errorf("Decode = %q", got)
	}
	if got := tok.Decode(tok.TokenIDs("I like strawberries, don't you?")); got != "i like strawberries, don't you?" {
		t.Errorf("Decode = %q", got)
	}
	// Special tokens in the text are plain text unless allowed.
	if got := tok.Tokenize("[SEP]"); !reflect.DeepEqual(got, []string{"[", "sep", "]"}) {
		t.Errorf("Tokenize([SEP]) = %q", got)
	}
	if got := tok.EncodeAllowSpecial("a [MASK] b[SEP]", 0).IDs; !reflect.DeepEqual(got, []int{101, 1037, 103, 1038, 102, 102}) {
		t.Errorf("EncodeAllowSpecial = %v", got)
	}
	// 100 characters is still a word; 101 is [UNK].
	if got := tok.Tokenize(strings.Repeat("a", 101)); !reflect.DeepEqual(got, []string{"[UNK]"}) {
		t.Errorf("long word: %q", got)
	}
	if got := tok.Tokenize(strings.Repeat("a", 100)); len(got) < 2 || got[0] == "[UNK]" {
		t.Errorf("100-char word: %q", got)
	}
	// Invalid UTF-8 bytes are U+FFFD, which clean_text drops.
	if got := tok.Tokenize("ab\xffc"); !reflect.DeepEqual(got, tok.Tokenize("abc")) {
		t.Errorf("invalid UTF-8: %q", got)
	}
	e = tok.EncodePair("first text here", "second", 6)
	if !e.Truncated || len(e.IDs) != 6 || !reflect.DeepEqual(e.TypeIDs, []int{0, 0, 0, 0, 1, 1}) {
		t.Errorf("EncodePair truncated: %+v", e)
	}
	if e := tok.Encode("", 0); !reflect.DeepEqual(e.IDs, []int{101, 102}) || !reflect.DeepEqual(e.AttentionMask, []int{1, 1}) {
		t.Errorf("Encode empty: %+v", e)
	}
}

func TestWordPieceConfig(t *testing.T) {
	vocabTxt, err := os.ReadFile("testdata/bert-base-uncased/vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		config string
		text   string
		want   []string
	}{
		{`{"do_lower_case": true, "model_max_length": 512}`, "Café", []string{"cafe"}},
		{`{"do_lower_case": false}`, "Café", []string{"[UNK]"}},                        // the uncased vocabulary has no "C"
		{`{"do_lower_case": true, "strip_accents": false}`, "Café", []string{"[UNK]"}}, // no "##é" in the vocabulary
		{`{"do_lower_case": true, "tokenize_chinese_chars": false}`, "日本", []string{"日", "##本"}},
		{`{"unk_token": {"content": "[UNK]", "lstrip": false}}`, "日本", []string{"日", "本"}},
	}
	for i, c := range cases {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "vocab.txt"), vocabTxt, 0o644)
		os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(c.config), 0o644)
		tok, err := LoadWordPiece(dir)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got := tok.Tokenize(c.text)
		if i == 0 && tok.ModelMaxLength() != 512 {
			t.Errorf("model_max_length = %d", tok.ModelMaxLength())
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d (%s): Tokenize(%q) = %q, want %q", i, c.config, c.text, got, c.want)
		}
	}
}

func TestWordPieceLoadErrors(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"no files", nil, "vocab.txt"},
		{"no unk", map[string]string{"vocab.txt": "[CLS]\n[SEP]\nhello\n"}, "[UNK]"},
		{"no cls", map[string]string{"vocab.txt": "[UNK]\nhello\n"}, "[CLS]"},
		{"bad config", map[string]string{"vocab.txt": "[UNK]\n[CLS]\n[SEP]\n", "tokenizer_config.json": "{"}, "tokenizer_config.json"},
		{"json model", map[string]string{"tokenizer.json": `{"model":{"type":"BPE","vocab":{},"merges":[]}}`}, `want "WordPiece"`},
		{"json normalizer", map[string]string{"tokenizer.json": `{"normalizer":{"type":"NFKC"},"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"WordPiece","vocab":{"[UNK]":0}}}`}, "NFKC"},
		{"json pre", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"Whitespace"},"model":{"type":"WordPiece","vocab":{"[UNK]":0}}}`}, "Whitespace"},
		{"json post", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[X]","type_id":0}}],"pair":[],"special_tokens":{}},"model":{"type":"WordPiece","vocab":{"[UNK]":0}}}`}, "[X]"},
		{"json post id", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":{"type":"BertProcessing","sep":["[SEP]",7],"cls":["[CLS]",0]},"model":{"type":"WordPiece","vocab":{"[UNK]":0}}}`}, "id 7"},
		{"json max chars", map[string]string{"tokenizer.json": `{"pre_tokenizer":{"type":"BertPreTokenizer"},"model":{"type":"WordPiece","max_input_chars_per_word":0,"vocab":{"[UNK]":0}}}`}, "max_input_chars_per_word"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		for name, body := range c.files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := LoadWordPiece(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

// TestWordPieceConcurrent encodes from several goroutines at once (run with -race).
func TestWordPieceConcurrent(t *testing.T) {
	tok := bert(t)
	cases := readJSONLines[goldenWP](t, "testdata/bert-base-uncased/expected_random.jsonl")
	errs := make(chan string, 4)
	for g := range 4 {
		go func() {
			bad := ""
			for i := range cases {
				c := cases[(i+g*101)%len(cases)]
				if e := tok.Encode(c.Text, 0); !reflect.DeepEqual(e.IDs, c.IDs) {
					bad = c.Text
				}
			}
			errs <- bad
		}()
	}
	for range 4 {
		if bad := <-errs; bad != "" {
			t.Errorf("concurrent Encode(%q) gave a wrong result", bad)
		}
	}
}

// TestWordPieceRobertaProcessing: an MPNet-style tokenizer.json (WordPiece
// with RobertaProcessing) frames pairs as <s> A </s></s> B </s>, type ids 0.
func TestWordPieceRobertaProcessing(t *testing.T) {
	vocab := map[string]int{"<s>": 0, "<pad>": 1, "</s>": 2, "[UNK]": 3, "hello": 4, "world": 5}
	data := mustJSON(map[string]any{
		"normalizer":     map[string]any{"type": "BertNormalizer", "lowercase": true},
		"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 0}},
		"model":          map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
	})
	tok, err := ParseWordPieceJSON([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	e := tok.EncodePair("Hello", "World", 0)
	if !reflect.DeepEqual(e.IDs, []int{0, 4, 2, 2, 5, 2}) || !reflect.DeepEqual(e.TypeIDs, []int{0, 0, 0, 0, 0, 0}) {
		t.Errorf("EncodePair = %v %v", e.IDs, e.TypeIDs)
	}
	if e := tok.Encode("hello", 0); !reflect.DeepEqual(e.Tokens, []string{"<s>", "hello", "</s>"}) {
		t.Errorf("Encode = %q", e.Tokens)
	}
}
