package bpetrain

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/tokenizer"
)

type goldenCase struct {
	Name          string   `json:"name"`
	Corpus        string   `json:"corpus"`
	VocabSize     int      `json:"vocab_size"`
	MinFrequency  int      `json:"min_frequency"`
	SpecialTokens []string `json:"special_tokens"`
}

type golden struct {
	Words      int         `json:"words"`
	TotalWords int64       `json:"total_words"`
	Vocab      []string    `json:"vocab"`
	Merges     [][2]string `json:"merges"`
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestTrainGolden compares Train with testdata/bpe_train_ref.py, the same
// algorithm written plainly, on the corpora of testdata/cases.json: the
// vocabulary in id order and the merges must be identical.
func TestTrainGolden(t *testing.T) {
	var cases []goldenCase
	readJSON(t, "testdata/cases.json", &cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var want golden
			readJSON(t, filepath.Join("testdata", c.Name+".golden.json"), &want)
			f, err := os.Open(filepath.Join("testdata", c.Corpus))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			opt := Options{VocabSize: c.VocabSize, MinFrequency: c.MinFrequency, SpecialTokens: c.SpecialTokens}
			res, err := Train(f, opt)
			if err != nil {
				t.Fatal(err)
			}
			if res.Words != want.Words || res.TotalWords != want.TotalWords {
				t.Errorf("words %d (total %d), want %d (total %d)", res.Words, res.TotalWords, want.Words, want.TotalWords)
			}
			if i := firstDiff(res.Vocab, want.Vocab); i >= 0 {
				t.Errorf("vocab differs at id %d of %d/%d: got %q, want %q", i, len(res.Vocab), len(want.Vocab), at(res.Vocab, i), at(want.Vocab, i))
			}
			if i := firstDiff(res.Merges, want.Merges); i >= 0 {
				t.Errorf("merges differ at %d of %d/%d: got %q, want %q", i, len(res.Merges), len(want.Merges), at(res.Merges, i), at(want.Merges, i))
			}
		})
	}
}

func firstDiff[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

func at[T any](s []T, i int) any {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// TestTrainRoundTrip saves each golden case's vocabulary, loads it back with
// tokenizer.Load (tokenizer.json) and tokenizer.LoadBPEFiles (vocab.json +
// merges.txt), and checks that both encode the corpus alike, that every
// training word encodes to the tokens training left it as, and that
// decoding gives the text back.
func TestTrainRoundTrip(t *testing.T) {
	var cases []goldenCase
	readJSON(t, "testdata/cases.json", &cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.Corpus))
			if err != nil {
				t.Fatal(err)
			}
			text := string(data)
			opt := Options{VocabSize: c.VocabSize, MinFrequency: c.MinFrequency, SpecialTokens: c.SpecialTokens}
			counter := NewCounter()
			counter.AddText(text)
			tr := newTrainer(counter, opt.SpecialTokens)
			res, err := TrainCounts(counter, opt)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := res.Save(dir); err != nil {
				t.Fatal(err)
			}
			for _, name := range Files {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			tj, err := tokenizer.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			files, err := tokenizer.LoadBPEFiles(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
			if err != nil {
				t.Fatal(err)
			}
			bpe := tj.(*tokenizer.BPE)
			if bpe.VocabSize() != len(res.Vocab) || files.VocabSize() != len(res.Vocab) {
				t.Errorf("vocab sizes %d, %d, want %d", bpe.VocabSize(), files.VocabSize(), len(res.Vocab))
			}
			for id, tok := range res.Vocab {
				if bpe.Token(id) != tok || files.Token(id) != tok {
					t.Fatalf("id %d: tokens %q, %q, want %q", id, bpe.Token(id), files.Token(id), tok)
				}
			}
			ids := bpe.Encode(text)
			if got := files.Encode(text); !slices.Equal(got, ids) {
				t.Errorf("vocab.json + merges.txt encode differently from tokenizer.json")
			}
			if got := bpe.DecodeBytes(ids); !bytes.Equal(got, data) {
				t.Errorf("decode(encode(corpus)) differs from the corpus")
			}
			// Replay training on a fresh trainer to see each word's final
			// tokens, and compare with the loaded tokenizer's encoding.
			for _, m := range res.Merges {
				tr.merge(pairOf(tr.vocab[m[0]], tr.vocab[m[1]]))
			}
			keys := make([]string, 0, len(counter.words))
			for w := range counter.words {
				if len(w) > 1 {
					keys = append(keys, w)
				}
			}
			slices.Sort(keys)
			for i, w := range keys {
				want := make([]int, len(tr.words[i]))
				for j, id := range tr.words[i] {
					want[j] = int(id)
				}
				if got := bpe.Encode(w); !slices.Equal(got, want) {
					t.Errorf("Encode(%q) = %v, want %v as trained", w, got, want)
				}
			}
		})
	}
}

// TestTrainVocabOrder checks the vocabulary layout on a tiny corpus: special
// tokens at 0.., the byte-level alphabet by code point, then merges; and
// the tie-break (equal counts: smaller ids first).
func TestTrainVocabOrder(t *testing.T) {
	opt := Options{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>", "<pad>"}}
	res, err := Train(strings.NewReader("ba ab"), opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Vocab[0] != "<|endoftext|>" || res.Vocab[1] != "<pad>" || res.Vocab[2] != "!" || res.Vocab[2+255] != "Ń" {
		t.Errorf("vocab starts %q, ends the alphabet with %q", res.Vocab[:3], res.Vocab[257])
	}
	for i := 3; i < 258; i++ {
		if res.Vocab[i] <= res.Vocab[i-1] && i > 2 {
			t.Fatalf("alphabet not sorted at %d: %q after %q", i, res.Vocab[i], res.Vocab[i-1])
		}
	}
	// Words "ba", "Ġab": pairs (b,a), (Ġ,a), (a,b) once each; 'a' < 'b' < 'Ġ'.
	want := [][2]string{{"a", "b"}, {"b", "a"}, {"Ġ", "ab"}}
	if !slices.Equal(res.Merges, want) {
		t.Errorf("merges %q, want %q", res.Merges, want)
	}
	if got := res.Vocab[258:]; !slices.Equal(got, []string{"ab", "ba", "Ġab"}) {
		t.Errorf("merged tokens %q", got)
	}
}

func TestTrainOptionErrors(t *testing.T) {
	for _, c := range []struct {
		opt   Options
		field string
		want  string
	}{
		{Options{}, "VocabSize", "VocabSize 0: want at least 256"},
		{Options{VocabSize: 256, SpecialTokens: []string{"<x>"}}, "VocabSize", "at least 257"},
		{Options{VocabSize: 256, SpecialTokens: []string{"a"}}, "", ""}, // "a" is in the alphabet
		{Options{VocabSize: 300, MinFrequency: -1}, "MinFrequency", "MinFrequency -1"},
		{Options{VocabSize: 300, SpecialTokens: []string{""}}, "SpecialTokens", "non-empty"},
		{Options{VocabSize: 300, SpecialTokens: []string{"\xff"}}, "SpecialTokens", "valid UTF-8"},
		{Options{VocabSize: 300, SpecialTokens: []string{"<s>", "<s>"}}, "SpecialTokens", "once"},
	} {
		_, err := Train(strings.NewReader("hello"), c.opt)
		var oe *OptionError
		if c.field == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.opt, err)
			}
			continue
		}
		if !errors.As(err, &oe) || oe.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %s: …%s", c.opt, err, c.field, c.want)
		}
	}
	if _, err := Train(strings.NewReader("x"), DefaultOptions()); err != nil {
		t.Errorf("DefaultOptions: %v", err)
	}
}

func TestTrainSaveErrors(t *testing.T) {
	res, err := Train(strings.NewReader("hello hello"), Options{VocabSize: 260})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if err := res.Save(file); err == nil {
		t.Error("Save into a file: no error")
	}
}

func TestTrainEmptyCorpus(t *testing.T) {
	res, err := Train(strings.NewReader(""), Options{VocabSize: 1000, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Vocab) != 257 || len(res.Merges) != 0 {
		t.Errorf("vocab %d, merges %d, want 257, 0", len(res.Vocab), len(res.Merges))
	}
	dir := t.TempDir()
	if err := res.Save(dir); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Decode(tok.EncodeText("héllo", tokenizer.EncodeOptions{}).IDs); got != "héllo" {
		t.Errorf("round trip %q", got)
	}
}

func TestTrainAddPath(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("beta"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte("alpha"), 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), []byte("hidden"), 0o644)
	os.WriteFile(filepath.Join(dir, "bin"), []byte("x\x00y"), 0o644)
	c := NewCounter()
	files, skipped, err := c.AddPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(files, []string{filepath.Join(dir, "b.txt"), filepath.Join(dir, "sub", "a.txt")}) || len(skipped) != 1 {
		t.Errorf("files %q, skipped %q", files, skipped)
	}
	if c.Words() != 2 || c.words["alpha"] != 1 || c.words["hidden"] != 0 {
		t.Errorf("words %v", c.words)
	}
	if _, _, err := c.AddPath(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing path: no error")
	}
}

// TestTrainWholeText pins the one way Counter differs from HF's line-by-line
// train(files): a text is pre-tokenised as a whole.
func TestTrainWholeText(t *testing.T) {
	c := NewCounter()
	c.AddText("a \nb")
	if c.words[" "] != 1 || c.words["\n"] != 1 || c.Total() != 4 {
		t.Errorf("words %v", c.words)
	}
}
