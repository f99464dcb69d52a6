package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/search"
)

func TestEmbedQuantizeFlag(t *testing.T) {
	model := filepath.Join("..", "..", "embed", "testdata", "st")
	texts := []string{"hello world", "a cat sat on the mat", "the dog"}
	vectors := func(extra ...string) [][]float64 {
		t.Helper()
		args := append([]string{"embed", "--model", model, "--format", "json"}, extra...)
		out, err := runCmdOut(t, append(args, texts...)...)
		if err != nil {
			t.Fatalf("loupe %s: %v", strings.Join(args, " "), err)
		}
		var vecs [][]float64
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var obj struct{ Embedding []float64 }
			if err := json.Unmarshal([]byte(line), &obj); err != nil || len(obj.Embedding) != 32 {
				t.Fatalf("line %q: %v", line, err)
			}
			vecs = append(vecs, obj.Embedding)
		}
		return vecs
	}
	f32 := vectors()
	for _, q := range []string{"int8", "int7"} {
		qv := vectors("--quantize", q)
		same := true
		for i := range f32 {
			c := 0.0
			for j := range f32[i] {
				c += f32[i][j] * qv[i][j]
				same = same && f32[i][j] == qv[i][j]
			}
			if c < 0.999 || math.IsNaN(c) {
				t.Errorf("--quantize %s: text %d cosine to float32 %.6f < 0.999", q, i, c)
			}
		}
		if same {
			t.Errorf("--quantize %s gave the float32 vectors", q)
		}
	}
	// The explicit default is the default.
	if d := vectors("--quantize", "float32"); d[0][0] != f32[0][0] {
		t.Errorf("--quantize float32 differs from the default")
	}

	// The summary of a file run names the precision.
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("a cat\nthe dog\n"), 0o644)
	out, err := runCmdOut(t, "embed", "--model", model, "--quantize", "int8", "--input", in, "--output", filepath.Join(dir, "v.npy"))
	if err != nil || !strings.Contains(out, "normalized true, int8)") {
		t.Errorf("summary %q, %v: want the precision int8 in it", out, err)
	}
	out, err = runCmdOut(t, "embed", "--model", model, "--quantize", "int8", "--input", in, "--output", filepath.Join(dir, "v.npy"), "--format", "json")
	var sum struct{ Precision string }
	if err != nil || json.Unmarshal([]byte(out), &sum) != nil || sum.Precision != "int8" {
		t.Errorf("JSON summary %q, %v: want precision int8", out, err)
	}
}

func TestEmbedQuantizeBadValue(t *testing.T) {
	model := filepath.Join("..", "..", "embed", "testdata", "st")
	for _, q := range []string{"int4", "fp16", "INT8", "binary"} {
		_, err := runCmdOut(t, "embed", "--model", model, "--quantize", q, "hello")
		want := `embed: --quantize "` + q + `": want float32, int8 or int7`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--quantize %s: error %v, want %q", q, err, want)
		}
	}
}

// TestQuantizeFlagEverywhere: every command that embeds text takes
// --quantize, validates it, and with int8 finds the same nearest document.
func TestQuantizeFlagEverywhere(t *testing.T) {
	model, _ := filepath.Abs(filepath.Join("..", "..", "embed", "testdata", "st"))
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(docs, []byte(`{"text": "the cat sat on the mat"}
{"text": "a quick brown fox"}
{"text": "run a bert model fast on a cpu"}
{"text": "the lazy dog"}
`), 0o644)
	idx := filepath.Join(dir, "idx")
	if _, err := runCmdOut(t, "index", "build", "--input", docs, "--model", model, "--kind", "flat", "--quantize", "int8", "--out", idx); err != nil {
		t.Fatalf("index build --quantize int8: %v", err)
	}
	for _, q := range []string{"float32", "int8", "int7"} {
		out, err := runCmdOut(t, "search", "--index", idx, "--k", "1", "--quantize", q, "--format", "json", "run a bert model fast on a cpu")
		if err != nil {
			t.Fatalf("search --quantize %s: %v", q, err)
		}
		var res struct {
			Results []search.Hit `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 1 || res.Results[0].ID != 2 || res.Results[0].Score < 0.999 {
			t.Errorf("search --quantize %s over an int8-built index: %s (%v)", q, out, err)
		}
	}
	train := filepath.Join(dir, "train.jsonl")
	os.WriteFile(train, []byte(`{"text": "a cat", "label": "pet"}
{"text": "a dog", "label": "pet"}
{"text": "a fast cpu", "label": "tech"}
{"text": "a bert model", "label": "tech"}
`), 0o644)
	clf := filepath.Join(dir, "clf.json")
	if _, err := runCmdOut(t, "classify", "train", "--model", model, "--data", train, "--quantize", "int8", "--out", clf); err != nil {
		t.Fatalf("classify train --quantize int8: %v", err)
	}
	if _, err := runCmdOut(t, "classify", "eval", "--classifier", clf, "--data", train, "--quantize", "int8"); err != nil {
		t.Fatalf("classify eval --quantize int8: %v", err)
	}
	for _, args := range [][]string{
		{"search", "--index", idx, "--quantize", "int4", "a cat"},
		{"index", "build", "--input", docs, "--model", model, "--quantize", "fp8", "--out", filepath.Join(dir, "idx2")},
		{"classify", "predict", "--classifier", clf, "--quantize", "bf16", "a cat"},
	} {
		if _, err := runCmdOut(t, args...); err == nil || !strings.Contains(err.Error(), "--quantize") {
			t.Errorf("loupe %s: error %v, want one naming --quantize", strings.Join(args, " "), err)
		}
	}
}

// runCmdOut is runCmd without the error stream.
func runCmdOut(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCmd(t, args...)
	return out, err
}
