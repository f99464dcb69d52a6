package word2vec_test

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/safetensors"
	"github.com/loupe-ml/loupe/word2vec"
)

// testVectors are random vectors for a small cased vocabulary.
func testVectors(t *testing.T) *word2vec.Vectors {
	t.Helper()
	words := []string{"the", "cat", "sat", "on", "mat", "Dog", "dog", "ran", "fast", "home", "naïve", "東京"}
	dim := 7
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, len(words)*dim)
	for i := range data {
		data[i] = float32(r.NormFloat64())
	}
	v, err := word2vec.NewVectors(words, dim, data)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mean is the float64 mean of the vectors of words, as float32.
func mean(v *word2vec.Vectors, words ...string) []float32 {
	sum := make([]float64, v.Dim)
	for _, w := range words {
		for j, x := range v.Vector(w) {
			sum[j] += float64(x)
		}
	}
	out := make([]float32, v.Dim)
	for j := range sum {
		out[j] = float32(sum[j] / float64(len(words)))
	}
	return out
}

// TestSentenceTransformersRoundTrip: vectors → WriteSentenceTransformers →
// embed.Load gives, for every text, the mean of its words' vectors (zeros
// for none), normalised when asked; the files are what
// sentence-transformers writes.
func TestSentenceTransformersRoundTrip(t *testing.T) {
	v := testVectors(t)
	for _, opt := range []word2vec.SentenceTransformersOptions{{}, {Normalize: true, LowerCase: true, StopWords: []string{"on"}}} {
		dir := filepath.Join(t.TempDir(), "model")
		if err := v.WriteSentenceTransformers(dir, opt); err != nil {
			t.Fatal(err)
		}
		m, err := embed.LoadWith(context.Background(), dir, embed.Options{Warn: func(msg string) { t.Error(msg) }})
		if err != nil {
			t.Fatal(err)
		}
		if m.Dim() != v.Dim || m.Normalized() != opt.Normalize {
			t.Fatalf("%+v: loaded %s", opt, m.Describe())
		}
		cases := []struct {
			text  string
			words []string
		}{
			{"the cat sat", []string{"the", "cat", "sat"}},
			{"The cat, on the mat!", []string{"the", "cat", "on", "the", "mat"}}, // "The" is found lower-cased
			{"Dog dog DOG", []string{"Dog", "dog", "dog"}},
			{"naïve 東京", []string{"naïve", "東京"}},
			{"cat unknown-word", []string{"cat"}},
			{"", nil},
			{"zzz", nil},
		}
		texts := make([]string, len(cases))
		for i, c := range cases {
			texts[i] = c.text
		}
		got, err := m.Embed(texts)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			words := c.words
			if opt.LowerCase || len(opt.StopWords) > 0 {
				// do_lower_case turns "Dog" into "dog" before lookup, and
				// the stop word "on" is dropped.
				words = nil
				for _, w := range c.words {
					w = strings.ToLower(w)
					if w != "on" {
						words = append(words, w)
					}
				}
			}
			want := make([]float32, v.Dim)
			if len(words) > 0 {
				want = mean(v, words...)
			}
			if opt.Normalize {
				embed.Normalize(want)
			}
			for j := range want {
				if math.Abs(float64(got[i][j]-want[j])) > 1e-6 {
					t.Fatalf("%+v: %q: %v, want %v", opt, c.text, got[i], want)
				}
			}
		}

		// The files, as sentence-transformers lays them out.
		var mods []map[string]any
		readJSON(t, filepath.Join(dir, "modules.json"), &mods)
		wantTypes := []string{"sentence_transformers.models.WordEmbeddings", "sentence_transformers.models.Pooling"}
		if opt.Normalize {
			wantTypes = append(wantTypes, "sentence_transformers.models.Normalize")
			if st, err := os.Stat(filepath.Join(dir, "2_Normalize")); err != nil || !st.IsDir() {
				t.Errorf("no 2_Normalize directory: %v", err)
			}
		}
		if len(mods) != len(wantTypes) {
			t.Fatalf("modules.json: %v", mods)
		}
		for i, m := range mods {
			if m["type"] != wantTypes[i] || m["idx"] != float64(i) || !strings.HasPrefix(m["path"].(string), m["name"].(string)+"_") {
				t.Errorf("modules.json entry %d: %v", i, m)
			}
		}
		var tc struct {
			Vocab       []string `json:"vocab"`
			StopWords   []string `json:"stop_words"`
			DoLowerCase bool     `json:"do_lower_case"`
		}
		readJSON(t, filepath.Join(dir, "0_WordEmbeddings", "whitespacetokenizer_config.json"), &tc)
		if len(tc.Vocab) != v.Len()+1 || tc.Vocab[0] != "PADDING_TOKEN" || tc.Vocab[1] != v.Words[0] || tc.DoLowerCase != opt.LowerCase || tc.StopWords == nil {
			t.Errorf("whitespacetokenizer_config.json: %+v", tc)
		}
		f, err := safetensors.Open(filepath.Join(dir, "0_WordEmbeddings", "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := f.Float32("emb_layer.weight")
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info("emb_layer.weight")
		if info.DType != "F32" || len(info.Shape) != 2 || info.Shape[0] != v.Len()+1 || info.Shape[1] != v.Dim {
			t.Errorf("emb_layer.weight: %+v", info)
		}
		for j := 0; j < v.Dim; j++ {
			if w[j] != 0 || w[v.Dim+j] != v.Data[j] {
				t.Fatalf("row 0 is not zeros or row 1 is not word 0: %v", w[:2*v.Dim])
			}
		}
		f.Close()
		for _, name := range []string{"config_sentence_transformers.json", "README.md", "1_Pooling/config.json", "0_WordEmbeddings/wordembedding_config.json"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Error(err)
			}
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestSentenceTransformersErrors: bad options and destinations are errors.
func TestSentenceTransformersErrors(t *testing.T) {
	v := testVectors(t)
	if err := v.WriteSentenceTransformers(t.TempDir(), word2vec.SentenceTransformersOptions{MaxSeqLength: -1}); err == nil || !strings.Contains(err.Error(), "MaxSeqLength") {
		t.Errorf("MaxSeqLength -1: %v", err)
	}
	bad, err := word2vec.NewVectors([]string{"ok", "b\xffd"}, 1, []float32{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.WriteSentenceTransformers(t.TempDir(), word2vec.SentenceTransformersOptions{}); err == nil || !strings.Contains(err.Error(), "word 1") {
		t.Errorf("invalid UTF-8 word: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := v.WriteSentenceTransformers(file, word2vec.SentenceTransformersOptions{}); err == nil {
		t.Error("wrote into a path that is a file")
	}
}
