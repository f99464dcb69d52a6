package embed

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/safetensors"
)

// testdata/st_wordemb holds two averaged-word-embeddings models exported by
// loupe word2vec convert (cased/: stop words, case kept; lower/:
// do_lower_case and Normalize) and golden.json, their token rows and
// embeddings computed by testdata/st_wordemb_ref.py (PyTorch). The commands
// that regenerate them are at the top of that script.

type goldenWordEmb struct {
	Texts  []string `json:"texts"`
	Models map[string]struct {
		IDs        [][]int     `json:"ids"`
		Normalize  bool        `json:"normalize"`
		Embeddings [][]float64 `json:"embeddings"`
	} `json:"models"`
}

func readGoldenWordEmb(t *testing.T) goldenWordEmb {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "st_wordemb", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenWordEmb
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Models) != 2 || len(g.Texts) < 20 {
		t.Fatalf("golden.json: %d models, %d texts", len(g.Models), len(g.Texts))
	}
	return g
}

func loadQuiet(t *testing.T, dir string, opts Options) *Model {
	t.Helper()
	opts.Warn = func(string) {}
	m, err := LoadWith(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestWordEmbGolden: loupe's tokenizer rows and embeddings equal the
// PyTorch reference's, for every batch size.
func TestWordEmbGolden(t *testing.T) {
	g := readGoldenWordEmb(t)
	for name, want := range g.Models {
		dir := filepath.Join("testdata", "st_wordemb", name)
		for _, bs := range []int{0, 1, 3} {
			m := loadQuiet(t, dir, Options{BatchSize: bs})
			if m.Dim() != 6 || m.Normalized() != want.Normalize || m.Pooling() != (Pooling{Mean: true}) || m.Precision() != "float32" {
				t.Fatalf("%s: %s", name, m.Describe())
			}
			for i, text := range g.Texts {
				if got := m.words.tok.tokenize(nil, text); !slices.Equal(got, want.IDs[i]) && !(len(got) == 0 && len(want.IDs[i]) == 0) {
					t.Errorf("%s: text %d %q: rows %v, want %v", name, i, text, got, want.IDs[i])
				}
			}
			vecs, err := m.Embed(g.Texts)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, v := range vecs {
				for j, x := range v {
					worst = math.Max(worst, math.Abs(float64(x)-want.Embeddings[i][j]))
				}
			}
			if worst > 1e-6 {
				t.Errorf("%s, batch size %d: max abs difference %.3g > 1e-6", name, bs, worst)
			}
			if bs == 0 {
				t.Logf("%s: %d texts, max abs difference from PyTorch %.2g", name, len(vecs), worst)
			}
		}
	}
}

// TestWordEmbPytorchBin: the same module with its matrix in
// pytorch_model.bin (torch.save) embeds identically.
func TestWordEmbPytorchBin(t *testing.T) {
	g := readGoldenWordEmb(t)
	dir := copyDir(t, filepath.Join("testdata", "st_wordemb", "cased"))
	os.Remove(filepath.Join(dir, "0_WordEmbeddings", "model.safetensors"))
	bin, err := os.ReadFile(filepath.Join("testdata", "st_wordemb", "cased_pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "0_WordEmbeddings", "pytorch_model.bin"), bin, 0o644)
	m := loadQuiet(t, dir, Options{})
	vecs, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vecs {
		for j, x := range v {
			if math.Abs(float64(x)-g.Models["cased"].Embeddings[i][j]) > 1e-6 {
				t.Fatalf("text %d: %v, want %v", i, v, g.Models["cased"].Embeddings[i])
			}
		}
	}
}

// TestWordEmbEmptyAndTruncated: a text without known words is a zero
// vector (normalised or not), as in sentence-transformers; MaxSeqLength
// keeps the first words; max_seq_length of the config is not applied.
func TestWordEmbEmptyAndTruncated(t *testing.T) {
	for _, name := range []string{"cased", "lower"} {
		m := loadQuiet(t, filepath.Join("testdata", "st_wordemb", name), Options{})
		if m.MaxSeqLength() != 1000000 {
			t.Errorf("%s: MaxSeqLength %d", name, m.MaxSeqLength())
		}
		vecs, err := m.Embed([]string{"", "zzz qqq", "!!! ?"})
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vecs {
			if len(v) != 6 || slices.ContainsFunc(v, func(x float32) bool { return x != 0 }) {
				t.Errorf("%s: text %d: %v, want 6 zeros", name, i, v)
			}
		}
	}
	var warned []string
	m, err := LoadWith(context.Background(), filepath.Join("testdata", "st_wordemb", "cased"), Options{MaxSeqLength: 2, Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := m.Embed([]string{"cat dog mat Paris", "cat dog"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], got[1]) || len(warned) != 1 || !strings.Contains(warned[0], "1 of 2 texts") {
		t.Errorf("truncation to 2 words: %v vs %v, warnings %q", got[0], got[1], warned)
	}
	if m.MaxSeqLength() != 2 {
		t.Errorf("MaxSeqLength %d, want 2", m.MaxSeqLength())
	}
}

// TestWhitespaceTokenizerRules: the rules the golden cases do not reach
// (an empty word in the vocabulary, repeated words, Python's lower-casing).
func TestWhitespaceTokenizerRules(t *testing.T) {
	tok, err := parseWhitespaceTokenizer([]byte(`{"vocab": ["PADDING_TOKEN", "", "a", "b", "a", "σας", "i̇"], "stop_words": ["stop", "b."], "do_lower_case": false}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		want []int
	}{
		{"!!! ... a", []int{1, 1, 4}},  // all punctuation: "" is looked up lower-cased, and found
		{"a b A B", []int{4, 3, 4, 3}}, // a repeated word maps to its last row
		{"b. stop STOP (stop)", nil},   // a stop word as written, stripped or lower-cased
		{"ΣΑΣ", []int{5}},              // final sigma
		{"İ", []int{6}},                // İ lower-cases to i + U+0307
	} {
		if got := tok.tokenize(nil, c.text); !slices.Equal(got, c.want) {
			t.Errorf("%q: %v, want %v", c.text, got, c.want)
		}
	}
	// Python's str.lower, checked against CPython 3.11.
	for in, want := range map[string]string{
		"ΣΑΣ": "σας", "ΑΣ.": "ας.", "Σ": "σ", "ΑΣ\u0301": "ας\u0301", "ΑΣ\u0301Β": "ασ\u0301β",
		"Α\u00adΣ": "α\u00adς", "ΑΣ:Β": "ασ:β", "ΑΣ’": "ας’", "A Σ A": "a σ a", "İ": "i\u0307",
		"ǅ": "ǆ", "ẞ": "ß", "ꞋΣ": "ꞌς", "ABC": "abc",
	} {
		if got := pyLower(in); got != want {
			t.Errorf("pyLower(%q) = %q, want %q", in, got, want)
		}
	}
}

// copyDir copies the regular files of the tree src into a temporary
// directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestWordEmbBadFiles: broken modules fail to load with errors that name
// the file and what is wrong.
func TestWordEmbBadFiles(t *testing.T) {
	src := filepath.Join("testdata", "st_wordemb", "cased")
	wcfg := filepath.Join("0_WordEmbeddings", "wordembedding_config.json")
	tcfg := filepath.Join("0_WordEmbeddings", "whitespacetokenizer_config.json")
	weights := filepath.Join("0_WordEmbeddings", "model.safetensors")
	write := func(name, s string) func(dir string) {
		return func(dir string) { os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644) }
	}
	tensor := func(name string, shape []int, n int) func(dir string) {
		return func(dir string) {
			if err := safetensors.WriteFile(filepath.Join(dir, weights), []safetensors.Tensor{{Name: name, Shape: shape, Data: make([]float32, n)}}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []struct {
		name  string
		edit  func(dir string)
		opts  Options
		want  string
		field string // OptionError field, if the error is one
	}{
		{"no vocab", write(tcfg, `{"stop_words": [], "do_lower_case": false}`), Options{}, `no "vocab" list`, ""},
		{"no stop words", write(tcfg, `{"vocab": ["PADDING_TOKEN", "cat"]}`), Options{}, `no "stop_words" list`, ""},
		{"vocab not strings", write(tcfg, `{"vocab": [1, 2], "stop_words": []}`), Options{}, "whitespacetokenizer_config.json: json: cannot unmarshal number", ""},
		{"tokenizer config missing", func(dir string) { os.Remove(filepath.Join(dir, tcfg)) }, Options{}, "whitespacetokenizer_config.json", ""},
		{"vocab longer than the matrix", tensor("emb_layer.weight", []int{3, 6}, 18), Options{}, "has 33 words but emb_layer.weight has 3 rows", ""},
		{"wrong tensor name", tensor("weight", []int{33, 6}, 33*6), Options{}, `no tensor "emb_layer.weight"`, ""},
		{"1-D matrix", tensor("emb_layer.weight", []int{33 * 6}, 33*6), Options{}, "has shape [198], want [rows, dim]", ""},
		{"dimension disagrees with pooling", tensor("emb_layer.weight", []int{33, 5}, 33*5), Options{}, "word_embedding_dimension 6 does not match emb_layer.weight's 5 columns", ""},
		{"integer matrix", func(dir string) { writeI64Tensor(t, filepath.Join(dir, weights), "emb_layer.weight", 33, 6) }, Options{}, "dtype I64; want F32, F16 or BF16", ""},
		{"no weights", func(dir string) { os.Remove(filepath.Join(dir, weights)) }, Options{}, "0_WordEmbeddings/model.safetensors", ""},
		{"other tokenizer", write(wcfg, `{"tokenizer_class": "sentence_transformers.models.tokenizer.PhraseTokenizer.PhraseTokenizer"}`), Options{}, `tokenizer_class "sentence_transformers.models.tokenizer.PhraseTokenizer.PhraseTokenizer" is not supported`, ""},
		{"no tokenizer class", write(wcfg, `{"update_embeddings": false}`), Options{}, "no tokenizer_class", ""},
		{"cls pooling", write(filepath.Join("1_Pooling", "config.json"), `{"word_embedding_dimension": 6, "pooling_mode_cls_token": true}`), Options{}, "pooling_mode_cls_token does not work with a WordEmbeddings module", ""},
		{"unknown module", write("modules.json", `[{"idx":0,"name":"0","path":"0_WordEmbeddings","type":"sentence_transformers.models.WordEmbeddings"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Dense","type":"sentence_transformers.models.Dense"}]`), Options{}, "Dense (entry 2) is supported after the Pooling of a Transformer module (not WordEmbeddings)", ""},
		{"word embeddings not first", write("modules.json", `[{"idx":0,"name":"0","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":1,"name":"1","path":"0_WordEmbeddings","type":"sentence_transformers.models.WordEmbeddings"}]`), Options{}, "must follow the Transformer or WordEmbeddings module", ""},
		{"int8", func(string) {}, Options{Quantize: "int8"}, "a WordEmbeddings model", "Quantize"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, src)
			c.edit(dir)
			c.opts.Warn = func(string) {}
			m, err := LoadWith(context.Background(), dir, c.opts)
			if err == nil {
				m.Close()
				t.Fatalf("loaded")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
			var oe *OptionError
			if c.field != "" && (!errors.As(err, &oe) || oe.Field != c.field) {
				t.Fatalf("error %v is not an OptionError for %s", err, c.field)
			}
		})
	}
}

// writeI64Tensor writes a safetensors file with one int64 tensor of zeros.
func writeI64Tensor(t *testing.T, path, name string, rows, cols int) {
	t.Helper()
	n := rows * cols * 8
	h, _ := json.Marshal(map[string]any{name: map[string]any{"dtype": "I64", "shape": []int{rows, cols}, "data_offsets": []int{0, n}}})
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	b = append(b, h...)
	b = append(b, make([]byte, n)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseWhitespaceTokenizer: any config either fails or gives a
// tokenizer whose rows are within the vocabulary, for any text.
func FuzzParseWhitespaceTokenizer(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "st_wordemb", "lower", "0_WordEmbeddings", "whitespacetokenizer_config.json")); err == nil {
		f.Add(b, "The Cat sat, on the MAT!")
	}
	f.Add([]byte(`{"vocab": ["", "a", "a"], "stop_words": ["b"], "do_lower_case": true}`), "!!! a\u00a0B ΑΣ İ")
	f.Add([]byte(`{"vocab": null, "stop_words": []}`), "")
	f.Fuzz(func(t *testing.T, b []byte, text string) {
		tok, err := parseWhitespaceTokenizer(b)
		if err != nil {
			return
		}
		for _, r := range tok.tokenize(nil, text) {
			if r < 0 || r >= tok.vocabLen {
				t.Fatalf("row %d outside a vocabulary of %d", r, tok.vocabLen)
			}
		}
	})
}

// BenchmarkWordEmbEmbed embeds texts of 12 words with a 50,000-word,
// 300-dimension model (the size of GloVe-based averaged word embeddings,
// vocabulary cut).
func BenchmarkWordEmbEmbed(b *testing.B) {
	const words, dim, textLen = 50000, 300, 12
	vocab := make([]string, words)
	for i := range vocab {
		vocab[i] = "w" + strconv.Itoa(i)
	}
	tok, err := parseWhitespaceTokenizer(must(json.Marshal(map[string]any{"vocab": vocab, "stop_words": []string{}, "do_lower_case": false})))
	if err != nil {
		b.Fatal(err)
	}
	emb := make([]float32, words*dim)
	for i := range emb {
		emb[i] = float32(i%97) / 97
	}
	m := &Model{name: "bench", words: &wordEmbeddings{tok: tok, emb: emb, rows: words, dim: dim}, pooling: Pooling{Mean: true}, normalize: true}
	texts := make([]string, 1000)
	for i := range texts {
		var sb strings.Builder
		for j := 0; j < textLen; j++ {
			fmt.Fprintf(&sb, "W%d, ", (i*7919+j*104729)%words)
		}
		texts[i] = sb.String()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := m.Embed(texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestWordEmbFromHub: a WordEmbeddings repository on the hub is fetched
// file by file (the matrix as model.safetensors, or pytorch_model.bin when
// the repository has only that) and embeds as the local copy does.
func TestWordEmbFromHub(t *testing.T) {
	g := readGoldenWordEmb(t)
	binDir := copyDir(t, filepath.Join("testdata", "st_wordemb", "cased"))
	bin, err := os.ReadFile(filepath.Join("testdata", "st_wordemb", "cased_pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(binDir, "0_WordEmbeddings", "pytorch_model.bin"), bin, 0o644)
	for _, c := range []struct{ dir, skip string }{
		{filepath.Join("testdata", "st_wordemb", "cased"), ""},
		{binDir, "0_WordEmbeddings/model.safetensors"},
	} {
		srv := fakeHub(t, c.dir, c.skip)
		client := &hub.Client{CacheDir: t.TempDir(), Endpoint: srv.URL, HTTP: srv.Client()}
		m, err := LoadWith(context.Background(), "org/st-mini", Options{Client: client, Warn: func(s string) { t.Error(s) }})
		if err != nil {
			t.Fatalf("skip %q: %v", c.skip, err)
		}
		got, err := m.Embed(g.Texts)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got {
			for j, x := range v {
				if math.Abs(float64(x)-g.Models["cased"].Embeddings[i][j]) > 1e-6 {
					t.Fatalf("skip %q: text %d: %v, want %v", c.skip, i, v, g.Models["cased"].Embeddings[i])
				}
			}
		}
	}
}
