package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sentenceT5Model copies the sentence-T5 test model (embed/testdata/
// sentence-t5, written by embed/testdata/sentence_t5_ref.py) into a
// temporary directory with its tokenizer, which the repository keeps once,
// in tokenizer/testdata/spm/t5.model.
func sentenceT5Model(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "..", "embed", "testdata", "sentence-t5")
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
	b, err := os.ReadFile(filepath.Join("..", "..", "tokenizer", "testdata", "spm", "t5.model"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, "0_Transformer", "spiece.model"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestEmbedSentenceT5Command runs loupe embed on the sentence-T5 test model
// (T5 encoder → mean → Dense → Normalize) and compares the JSON output and
// the --input JSON lines with the PyTorch golden embeddings.
func TestEmbedSentenceT5Command(t *testing.T) {
	model := sentenceT5Model(t)
	var g struct {
		Texts      []string    `json:"texts"`
		Embeddings [][]float32 `json:"embeddings"`
	}
	b, err := os.ReadFile(filepath.Join(model, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		rootCmd.SetOut(&out)
		resetFlags()
		rootCmd.SetArgs(args)
		outputFormat = "text"
		embedFlags.input, embedFlags.output, embedFlags.similarity = "", "", false
		if err := rootCmd.Execute(); err != nil {
			t.Fatalf("loupe %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	check := func(what string, i int, v []float32) {
		t.Helper()
		if len(v) != len(g.Embeddings[i]) {
			t.Fatalf("%s: text %d: %d values, want %d", what, i, len(v), len(g.Embeddings[i]))
		}
		d := 0.0
		for j := range v {
			d = math.Max(d, math.Abs(float64(v[j]-g.Embeddings[i][j])))
		}
		if d > 1e-5 {
			t.Errorf("%s: text %d: max |Δ| = %g against PyTorch, want ≤ 1e-5", what, i, d)
		}
	}
	args := append([]string{"embed", "--model", model, "--format", "json"}, g.Texts[:3]...)
	lines := strings.Split(strings.TrimSpace(run(args...)), "\n")
	if len(lines) != 3 {
		t.Fatalf("JSON output: %d lines, want 3", len(lines))
	}
	for i, l := range lines {
		var obj struct{ Embedding []float32 }
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatal(err)
		}
		check("--format json", i, obj.Embedding)
	}
	var in bytes.Buffer
	for _, s := range g.Texts {
		j, _ := json.Marshal(map[string]string{"text": s})
		in.Write(append(j, '\n'))
	}
	inPath := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(inPath, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(run("embed", "--model", model, "--input", inPath)), "\n")
	if len(lines) != len(g.Texts) {
		t.Fatalf("--input: %d lines, want %d", len(lines), len(g.Texts))
	}
	for i, l := range lines {
		var rec struct {
			Embedding []float32 `json:"embedding"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("--input line %d: %q %v", i, l, err)
		}
		check("--input", i, rec.Embedding)
	}
}
