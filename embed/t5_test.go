package embed

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

// testdata/sentence-t5 and testdata/sentence-t5-dense-tanh are written by
// testdata/sentence_t5_ref.py (plain PyTorch: transformers' T5 encoder,
// sentence-transformers' Pooling, Dense and Normalize). Regenerate from the
// repository root with:
//
//	/usr/bin/python3 embed/testdata/sentence_t5_ref.py

type goldenT5 struct {
	Texts      []string    `json:"texts"`
	IDs        [][]int     `json:"ids"`
	Embeddings [][]float32 `json:"embeddings"`
}

func readGoldenT5(t *testing.T, dir string) goldenT5 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenT5
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// sentenceT5Dir copies testdata/sentence-t5 into a temporary directory with
// the T5 test tokenizer as 0_Transformer/spiece.model (not kept twice in
// the repository), then lets edit change it.
func sentenceT5Dir(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := copyDir(t, filepath.Join("testdata", "sentence-t5"))
	b, err := os.ReadFile(filepath.Join("..", "tokenizer", "testdata", "spm", "t5.model"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "0_Transformer", "spiece.model"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(dir)
	}
	return dir
}

// useTanhDense replaces 2_Dense by testdata/sentence-t5-dense-tanh (bias,
// Tanh, BF16 safetensors).
func useTanhDense(t *testing.T, dir string) {
	t.Helper()
	d := filepath.Join(dir, "2_Dense")
	if err := os.RemoveAll(d); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(copyDir(t, filepath.Join("testdata", "sentence-t5-dense-tanh")), d); err != nil {
		t.Fatal(err)
	}
}

// TestSentenceT5Golden: T5 encoder → mean pooling → Dense (identity, no
// bias, pytorch_model.bin) → Normalize matches PyTorch, for every batch
// size (rows of a batch have their own lengths), with T5's tokens.
func TestSentenceT5Golden(t *testing.T) {
	g := readGoldenT5(t, "sentence-t5")
	dir := sentenceT5Dir(t, nil)
	for _, bs := range []int{0, 1, 3} {
		m, warnings := load(t, dir, Options{BatchSize: bs})
		if m.Dim() != 64 || !m.Normalized() || m.MaxSeqLength() != 24 || m.Pooling().String() != "mean" {
			t.Fatalf("Dim %d, Normalized %v, MaxSeqLength %d, Pooling %s; want 64, true, 24, mean", m.Dim(), m.Normalized(), m.MaxSeqLength(), m.Pooling())
		}
		for i, s := range g.Texts {
			ids, _, _ := m.tok.encode(s, m.maxLen)
			if !slices.Equal(ids, g.IDs[i]) {
				t.Fatalf("text %q: ids %v, want %v", s, ids, g.IDs[i])
			}
		}
		vecs, err := m.Embed(g.Texts)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbs(t, vecs, g.Embeddings); d > 1e-5 {
			t.Errorf("batch size %d: max |Δ| = %g against PyTorch, want ≤ 1e-5", bs, d)
		} else if bs == 0 {
			t.Logf("max |Δ| = %.3g against PyTorch", d)
		}
		if len(*warnings) != 1 || !strings.Contains((*warnings)[0], "truncated") {
			t.Errorf("warnings %q, want one about the truncated text", *warnings)
		}
	}
}

// TestSentenceT5TokenizerJSON: the same model with its tokenizer as a
// Unigram tokenizer.json (tokenizer/testdata/spm/t5.tokenizer.json) instead
// of spiece.model gives the same ids and embeddings.
func TestSentenceT5TokenizerJSON(t *testing.T) {
	g := readGoldenT5(t, "sentence-t5")
	dir := sentenceT5Dir(t, func(dir string) {
		b, err := os.ReadFile(filepath.Join("..", "tokenizer", "testdata", "spm", "t5.tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "0_Transformer", "spiece.model"))
		if err := os.WriteFile(filepath.Join(dir, "0_Transformer", "tokenizer.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	m, _ := load(t, dir, Options{})
	for i, s := range g.Texts {
		if ids, _, _ := m.tok.encode(s, m.maxLen); !slices.Equal(ids, g.IDs[i]) {
			t.Fatalf("text %q: ids %v, want %v", s, ids, g.IDs[i])
		}
	}
	vecs, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(t, vecs, g.Embeddings); d > 1e-5 {
		t.Errorf("max |Δ| = %g against PyTorch, want ≤ 1e-5", d)
	}
}

// TestSentenceT5DenseTanh: a Dense module with a bias and the Tanh
// activation (sentence-transformers' default), weights in BF16
// safetensors.
func TestSentenceT5DenseTanh(t *testing.T) {
	g := readGoldenT5(t, "sentence-t5-dense-tanh")
	m, _ := load(t, sentenceT5Dir(t, func(dir string) { useTanhDense(t, dir) }), Options{})
	vecs, err := m.Embed(g.Texts)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbs(t, vecs, g.Embeddings); d > 1e-5 {
		t.Errorf("max |Δ| = %g against PyTorch, want ≤ 1e-5", d)
	}
}

// TestDenseDTypes: the identity Dense weights stored as F32, F16 and BF16
// safetensors give the golden embeddings (the reference weights are
// BF16-exact; F16 rounds only the smallest).
func TestDenseDTypes(t *testing.T) {
	g := readGoldenT5(t, "sentence-t5")
	for _, dt := range []string{"F32", "F16", "BF16"} {
		dir := sentenceT5Dir(t, nil)
		ref, _ := load(t, dir, Options{})
		w := ref.dense[0].w
		d := filepath.Join(dir, "2_Dense")
		os.Remove(filepath.Join(d, "pytorch_model.bin"))
		if err := safetensors.WriteFile(filepath.Join(d, "model.safetensors"), []safetensors.Tensor{{Name: "linear.weight", Shape: []int{64, 64}, Data: w, DType: dt}}, nil); err != nil {
			t.Fatal(err)
		}
		m, _ := load(t, dir, Options{})
		vecs, err := m.Embed(g.Texts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := maxAbs(t, vecs, g.Embeddings); diff > 1e-5 {
			t.Errorf("%s: max |Δ| = %g, want ≤ 1e-5", dt, diff)
		}
	}
}

// TestSentenceT5LoadErrors: broken Dense modules and options fail with
// errors naming the file, field or tensor.
func TestSentenceT5LoadErrors(t *testing.T) {
	writeDense := func(cfg string) func(dir string) {
		return func(dir string) {
			os.WriteFile(filepath.Join(dir, "2_Dense", "config.json"), []byte(cfg), 0o644)
		}
	}
	for _, tc := range []struct {
		name string
		edit func(dir string)
		opts Options
		want string
	}{
		{"activation", writeDense(`{"in_features":64,"out_features":64,"bias":false,"activation_function":"torch.nn.modules.activation.ReLU"}`), Options{}, "activation_function"},
		{"no in_features", writeDense(`{"out_features":64,"bias":false}`), Options{}, "in_features is missing"},
		{"in_features", writeDense(`{"in_features":32,"out_features":64,"bias":false,"activation_function":"torch.nn.modules.linear.Identity"}`), Options{}, "linear.weight"},
		{"bias missing", writeDense(`{"in_features":64,"out_features":64,"bias":true}`), Options{}, "linear.bias"},
		{"shape", writeDense(`{"in_features":64,"out_features":32,"bias":false}`), Options{}, "shape"},
		{"bad json", writeDense(`{"in_features":"x"}`), Options{}, "2_Dense"},
		{"no weights", func(dir string) { os.Remove(filepath.Join(dir, "2_Dense", "pytorch_model.bin")) }, Options{}, "pytorch_model.bin"},
		{"unexpected tensor", func(dir string) {
			useTanhDense(t, dir)
			writeDense(`{"in_features":64,"out_features":64,"bias":false}`)(dir)
		}, Options{}, "linear.bias"},
		{"Dense after Normalize", func(dir string) {
			os.WriteFile(filepath.Join(dir, "modules.json"), []byte(`[
			{"idx":0,"name":"0","path":"0_Transformer","type":"sentence_transformers.models.Transformer"},
			{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
			{"idx":2,"name":"2","path":"3_Normalize","type":"sentence_transformers.models.Normalize"},
			{"idx":3,"name":"3","path":"2_Dense","type":"sentence_transformers.models.Dense"}]`), 0o644)
		}, Options{}, "Dense"},
		{"quantize", nil, Options{Quantize: "int8"}, "T5"},
		{"no tokenizer", func(dir string) { os.Remove(filepath.Join(dir, "0_Transformer", "spiece.model")) }, Options{}, "tokenizer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := sentenceT5Dir(t, tc.edit)
			opts := tc.opts
			opts.Client = offline()
			opts.Warn = func(string) {}
			m, err := LoadWith(t.Context(), dir, opts)
			if err == nil {
				m.Close()
				t.Fatalf("loaded; want an error naming %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want one naming %q", err, tc.want)
			}
		})
	}
}

// TestT5Truncation: a text longer than max_seq_length keeps </s> last.
func TestT5Truncation(t *testing.T) {
	m, _ := load(t, sentenceT5Dir(t, nil), Options{MaxSeqLength: 4})
	ids, _, tr := m.tok.encode("In the beginning God created the heaven and the earth.", m.maxLen)
	if !tr || len(ids) != 4 || ids[3] != 1 {
		t.Errorf("ids %v, truncated %v; want 4 ids ending in </s> (1), truncated", ids, tr)
	}
}

func TestParseDenseConfig(t *testing.T) {
	for _, tc := range []struct {
		json      string
		in, out   int
		bias, tnh bool
	}{
		{`{"in_features":768,"out_features":768,"bias":false,"activation_function":"torch.nn.modules.linear.Identity"}`, 768, 768, false, false},
		{`{"in_features":384,"out_features":128}`, 384, 128, true, true}, // Dense's defaults: bias, Tanh
		{`{"in_features":8,"out_features":4,"bias":true,"activation_function":"torch.nn.Tanh"}`, 8, 4, true, true},
	} {
		d, err := parseDenseConfig([]byte(tc.json))
		if err != nil {
			t.Errorf("%s: %v", tc.json, err)
			continue
		}
		if d.in != tc.in || d.out != tc.out || (d.b != nil) != tc.bias || d.tanh != tc.tnh {
			t.Errorf("%s: in %d out %d bias %v tanh %v", tc.json, d.in, d.out, d.b != nil, d.tanh)
		}
	}
	for _, tc := range []struct{ json, field string }{
		{`{"in_features":0,"out_features":4}`, "in_features"},
		{`{"in_features":4,"out_features":1e9}`, "out_features"},
		{`{"in_features":4,"out_features":4,"activation_function":"gelu"}`, "activation_function"},
		{`[]`, "dense config"},
	} {
		if _, err := parseDenseConfig([]byte(tc.json)); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %s", tc.json, err, tc.field)
		}
	}
}

func FuzzParseDenseConfig(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "sentence-t5", "2_Dense", "config.json")); err == nil {
		f.Add(b)
	}
	if b, err := os.ReadFile(filepath.Join("testdata", "sentence-t5-dense-tanh", "config.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"in_features":1,"out_features":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseDenseConfig(b)
		if err != nil {
			return
		}
		if d.in <= 0 || d.out <= 0 || d.in > maxDenseFeatures || d.out > maxDenseFeatures {
			t.Fatalf("accepted in %d, out %d", d.in, d.out)
		}
	})
}
