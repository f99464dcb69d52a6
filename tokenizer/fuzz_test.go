package tokenizer

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func addCorpusSeeds(f *testing.F) {
	for _, c := range readJSONLines[goldenBPE](f, "testdata/gpt2/expected.jsonl") {
		if len(c.Text) < 200 {
			f.Add(c.Text)
		}
	}
	for _, s := range []string{"a\xffb", "\xe2\x82", "\xed\xa0\x80", " \xf0\x9f\x98", "<|endoftext|>\xff", "[SEP]\x00[CLS]"} {
		f.Add(s)
	}
}

// FuzzBPERoundTrip: decode(encode(s)) == s for valid UTF-8, the raw bytes
// come back for any s, ids are in range, and nothing panics.
func FuzzBPERoundTrip(f *testing.F) {
	addCorpusSeeds(f)
	tok := gpt2(f)
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode(%q): id %d out of range", s, id)
			}
		}
		if got := string(tok.DecodeBytes(ids)); got != s {
			t.Fatalf("DecodeBytes(Encode(%q)) = %q", s, got)
		}
		dec := tok.Decode(ids)
		if utf8.ValidString(s) && dec != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, dec)
		}
		if !utf8.ValidString(dec) {
			t.Fatalf("Decode gave invalid UTF-8 %q", dec)
		}
		if got := string(tok.DecodeBytes(tok.EncodeAllowSpecial(s))); got != s {
			t.Fatalf("DecodeBytes(EncodeAllowSpecial(%q)) = %q", s, got)
		}
		if e := tok.EncodeText(s, EncodeOptions{}); !slices.Equal(e.IDs, ids) {
			t.Fatalf("EncodeText(%q) = %v, Encode %v", s, e.IDs, ids)
		} else {
			checkEncoding(t, tok, s, e)
		}
		if strings.Join(PreTokenizeGPT2(s), "") != s {
			t.Fatalf("pre-tokens of %q do not tile it", s)
		}
		if len(s) > 1 && len(s) < 4096 { // s as one word: both merge loops agree with encoder.py's
			want := tok.mergeNaive(tok.byteSyms(s))
			if got := tok.mergeLong(tok.byteSyms(s)); !slices.Equal(got, want) {
				t.Fatalf("mergeLong(%q) = %v, naive %v", s, got, want)
			}
			if got := tok.mergeFast(s); !slices.Equal(got, want) {
				t.Fatalf("mergeSymbols(%q) = %v, naive %v", s, got, want)
			}
		}
	})
}

// FuzzWordPiece: any input encodes without panicking, within maxLen, with
// consistent lengths and ids in the vocabulary.
func FuzzWordPiece(f *testing.F) {
	addCorpusSeeds(f)
	tok := bert(f)
	f.Fuzz(func(t *testing.T, s string) {
		for _, maxLen := range []int{0, 1, 5, 512} {
			e := tok.Encode(s, maxLen)
			p := tok.EncodePair(s, s[:len(s)/2], maxLen)
			for _, enc := range []Encoding{e, p, tok.EncodeAllowSpecial(s, maxLen)} {
				n := len(enc.IDs)
				if len(enc.TypeIDs) != n || len(enc.AttentionMask) != n || len(enc.Tokens) != n {
					t.Fatalf("%q: inconsistent lengths %d %d %d %d", s, n, len(enc.TypeIDs), len(enc.AttentionMask), len(enc.Tokens))
				}
				if maxLen >= 3 && n > maxLen {
					t.Fatalf("%q: %d tokens > maxLen %d", s, n, maxLen)
				}
				for i, id := range enc.IDs {
					if id < 0 || id >= tok.VocabSize() || tok.Token(id) != enc.Tokens[i] {
						t.Fatalf("%q: bad id %d / token %q", s, id, enc.Tokens[i])
					}
				}
			}
		}
		_ = tok.Decode(tok.TokenIDs(s))
		for _, allow := range []bool{false, true} {
			checkEncoding(t, tok, s, tok.EncodeText(s, EncodeOptions{AllowSpecial: allow}))
		}
	})
}

// checkEncoding checks what every Tokenizer's EncodeText promises: one
// vocabulary string, type id and mask value per id, ids in range.
func checkEncoding(t *testing.T, tok Tokenizer, s string, e Encoding) {
	t.Helper()
	n := len(e.IDs)
	if len(e.TypeIDs) != n || len(e.AttentionMask) != n || len(e.Tokens) != n || e.Truncated {
		t.Fatalf("EncodeText(%q): lengths %d %d %d %d, truncated %v", s, n, len(e.TypeIDs), len(e.AttentionMask), len(e.Tokens), e.Truncated)
	}
	for i, id := range e.IDs {
		if id < 0 || id >= tok.VocabSize() || tok.Token(id) != e.Tokens[i] || e.AttentionMask[i] != 1 {
			t.Fatalf("EncodeText(%q): id %d token %q mask %d", s, id, e.Tokens[i], e.AttentionMask[i])
		}
	}
}

// tinyBPEJSON is a small valid byte-level BPE tokenizer.json.
func tinyBPEJSON() []byte {
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[byteRuneUTF8[b]] = b
	}
	vocab["Ġt"], vocab["he"], vocab["Ġthe"], vocab["<|endoftext|>"] = 256, 257, 258, 259
	data, _ := json.Marshal(map[string]any{
		"added_tokens":  []any{map[string]any{"id": 259, "content": "<|endoftext|>", "special": true}},
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false},
		"model":         map[string]any{"type": "BPE", "vocab": vocab, "merges": []any{"Ġ t", []string{"h", "e"}, "Ġt he"}},
	})
	return data
}

func tinyWordPieceJSON() []byte {
	vocab := map[string]int{"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "##lo": 5, "hel": 6, ",": 7}
	data, _ := json.Marshal(map[string]any{
		"normalizer":     map[string]any{"type": "BertNormalizer", "lowercase": true},
		"pre_tokenizer":  map[string]any{"type": "BertPreTokenizer"},
		"post_processor": map[string]any{"type": "BertProcessing", "sep": []any{"[SEP]", 3}, "cls": []any{"[CLS]", 2}},
		"model":          map[string]any{"type": "WordPiece", "unk_token": "[UNK]", "vocab": vocab},
	})
	return data
}

// FuzzParseBPEJSON: the tokenizer.json loader never panics, and a
// tokenizer it accepts encodes and round-trips.
func FuzzParseBPEJSON(f *testing.F) {
	good := tinyBPEJSON()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[["a","a"]]},"pre_tokenizer":{"type":"ByteLevel"}}`))
	f.Add([]byte(`{"model":null}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":-1},"merges":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseBPEJSON(data)
		if err != nil {
			return
		}
		for _, s := range []string{"the hello <|endoftext|>", "\xff x", ""} {
			if got := string(tok.DecodeBytes(tok.Encode(s))); got != s {
				t.Fatalf("round trip of %q = %q", s, got)
			}
			tok.EncodeAllowSpecial(s)
		}
	})
}

// FuzzParseWordPieceJSON: the loader never panics, and a tokenizer it
// accepts encodes.
func FuzzParseWordPieceJSON(f *testing.F) {
	good := tinyWordPieceJSON()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"model":{"type":"WordPiece","vocab":{"[UNK]":0}},"pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"A","type_id":0}}],"pair":[{"Sequence":{"id":"B","type_id":1}}],"special_tokens":{}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := ParseWordPieceJSON(data)
		if err != nil {
			return
		}
		e := tok.EncodePair("Hello, héllo 日本 [SEP]", "x", 8)
		if len(e.IDs) != len(e.Tokens) {
			t.Fatal("inconsistent encoding")
		}
		tok.Decode(e.IDs)
	})
}

// FuzzVocabFiles: the merges.txt and vocab.txt parsers never panic.
func FuzzVocabFiles(f *testing.F) {
	f.Add([]byte("#version: 0.2\nĠ t\nh e\n"))
	f.Add([]byte("[PAD]\n[UNK]\r\nhello\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parseMergesTxt(data)
		parseVocabTxt(data)
	})
}

func TestTinyTokenizers(t *testing.T) {
	b, err := ParseBPEJSON(tinyBPEJSON())
	if err != nil {
		t.Fatal(err)
	}
	if got := b.EncodeAllowSpecial(" the<|endoftext|>"); len(got) != 2 || got[0] != 258 || got[1] != 259 {
		t.Errorf("tiny BPE: %v", got)
	}
	w, err := ParseWordPieceJSON(tinyWordPieceJSON())
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Encode("HELLO, Hello x", 0).IDs; !equalInts(got, []int{2, 4, 7, 4, 1, 3}) {
		t.Errorf("tiny WordPiece: %v", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzParseVocabJSON: the vocab.json scanner agrees with encoding/json.
func FuzzParseVocabJSON(f *testing.F) {
	f.Add([]byte(`{"a": 1, "\u0120b": 2}`))
	f.Add([]byte(`{"a":1,}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want map[string]int
		werr := json.Unmarshal(data, &want)
		got, gerr := parseVocabJSON(data)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: scanner err %v, encoding/json err %v", data, gerr, werr)
		}
		if werr == nil && !maps.Equal(got, want) {
			t.Fatalf("%q: scanner %v, encoding/json %v", data, got, want)
		}
	})
}
