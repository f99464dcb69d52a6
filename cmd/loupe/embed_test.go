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

func TestReadTexts(t *testing.T) {
	recs, err := readTexts(strings.NewReader("first line\n\n  second line  \r\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Text != "first line" || recs[1].Text != "  second line  " || recs[1].ID != 1 {
		t.Errorf("text lines: %+v", recs)
	}
	recs, err = readTexts(strings.NewReader("\n{\"text\": \"a\", \"id\": \"doc-7\", \"lang\": \"en\"}\n{\"text\": \"b\", \"n\": 3}\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != "doc-7" || recs[0].Meta["lang"] != "en" || recs[1].ID != 1 || recs[1].Meta["n"] != json.Number("3") {
		t.Errorf("JSON lines: %+v", recs)
	}
	for _, bad := range []struct{ in, want string }{
		{"", "no texts"},
		{"{\"text\": \"a\"}\n{\"txt\": \"b\"}\n", "line 2: no string \"text\""},
		{"{\"text\": \"a\"}\n{oops\n", "line 2"},
	} {
		if _, err := readTexts(strings.NewReader(bad.in), "f.jsonl"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

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

func FuzzReadTexts(f *testing.F) {
	f.Add([]byte("first line\nsecond line\n"))
	f.Add([]byte("{\"text\": \"a\", \"id\": 7, \"lang\": \"en\"}\n{\"text\": \"b\"}\n"))
	f.Add([]byte("\n\n{\"text\": 3}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := readTexts(bytes.NewReader(b), "fuzz")
		if err == nil && len(recs) == 0 {
			t.Fatal("no error and no texts")
		}
	})
}
