package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/npy"
)

// TestEmbedCommand runs loupe embed on the small sentence-transformers
// test model (embed/testdata/st) through each output form.
func TestEmbedCommand(t *testing.T) {
	model := filepath.Join("..", "..", "embed", "testdata", "st")
	dir := t.TempDir()
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
	text := run("embed", "--model", model, "hello world")
	if n := len(strings.Fields(text)); n != 32 {
		t.Errorf("text output has %d numbers, want 32: %q", n, text)
	}
	var obj struct{ Embedding []float32 }
	if err := json.Unmarshal([]byte(run("embed", "--model", model, "--format", "json", "hello world")), &obj); err != nil || len(obj.Embedding) != 32 {
		t.Errorf("json output: %v %v", obj, err)
	}
	var sim struct{ Similarity [][]float64 }
	if err := json.Unmarshal([]byte(run("embed", "--model", model, "--format", "json", "--similarity", "a cat", "a dog", "a cat")), &sim); err != nil || len(sim.Similarity) != 3 {
		t.Fatalf("similarity: %v %v", sim, err)
	}
	if s := sim.Similarity; s[0][0] < 0.99999 || s[0][2] < 0.99999 || s[0][1] > 0.9999 || s[1][0] != s[0][1] {
		t.Errorf("similarity matrix %v", s)
	}
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte("{\"text\": \"a cat\", \"id\": 9, \"tag\": \"x\"}\n{\"text\": \"the dog\"}\n{\"text\": \"hello\"}\n"), 0o644)
	out := filepath.Join(dir, "v.npy")
	run("embed", "--model", model, "--input", in, "--output", out)
	data, rows, cols, err := npy.ReadFloat32(out)
	if err != nil || rows != 3 || cols != 32 {
		t.Fatalf("npy output: %d x %d, %v", rows, cols, err)
	}
	lines := strings.Split(strings.TrimSpace(run("embed", "--model", model, "--input", in)), "\n")
	if len(lines) != 3 {
		t.Fatalf("JSON lines output: %d lines", len(lines))
	}
	var rec struct {
		ID        any       `json:"id"`
		Tag       string    `json:"tag"`
		Embedding []float32 `json:"embedding"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec.Tag != "x" || rec.ID != float64(9) {
		t.Fatalf("JSON line %q: %+v %v", lines[0], rec, err)
	}
	for j := range rec.Embedding {
		if d := rec.Embedding[j] - data[j]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("npy row 0 and JSON line 0 differ at %d", j)
		}
	}
}
