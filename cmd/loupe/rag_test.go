package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/retrieval"
)

func TestRagCommands(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	os.MkdirAll(filepath.Join(corpus, "nt"), 0o755)
	os.WriteFile(filepath.Join(corpus, "gen.txt"), []byte("In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters."), 0o644)
	os.WriteFile(filepath.Join(corpus, "nt", "john.txt"), []byte("In the beginning was the Word, and the Word was with God, and the Word was God. The same was in the beginning with God."), 0o644)
	store := filepath.Join(dir, "kjv.rag")
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		rootCmd.SetOut(&out)
		resetFlags()
		rootCmd.SetArgs(args)
		outputFormat = "text"
		err := rootCmd.Execute()
		return out.String(), err
	}
	out, err := run("rag", "build", "--corpus", corpus, "--out", store, "--chunk-tokens", "8", "--kind", "flat", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var built struct {
		Store    string             `json:"store"`
		Manifest retrieval.Manifest `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(out), &built); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := built.Manifest
	if built.Store != store || m.ChunkTokens != 8 || len(m.Sources) != 2 || m.Chunks < 8 || m.LM.Model != "loupe/kjv-gpt2" || m.EmbedModel != "loupe/kjv-word2vec" {
		t.Fatalf("built %+v", built)
	}
	// The store is refused as a destination again, unless --overwrite.
	if _, err := run("rag", "build", "--corpus", corpus, "--out", store); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("second build: %v", err)
	}
	out, err = run("rag", "build", "--corpus", corpus, "--out", store, "--chunk-tokens", "8", "--kind", "flat", "--overwrite")
	if err != nil || !strings.Contains(out, "chunks of up to 8 tokens") {
		t.Fatalf("overwrite: %v: %s", err, out)
	}

	// A stored chunk's own text: itself first, with its continuation.
	text := "In the beginning was the Word, and the Word was with God, and the Word was God."
	out, err = run("rag", "query", "--store", store, "--k", "2", "--format", "json", text)
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		Text   string                 `json:"text"`
		Chunks []retrieval.InputChunk `json:"chunks"`
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if q.Text != text || len(q.Chunks) < 2 {
		t.Fatalf("query %+v", q)
	}
	for _, c := range q.Chunks {
		if len(c.Neighbours) != 2 {
			t.Fatalf("chunk %+v", c)
		}
	}
	first := q.Chunks[0].Neighbours[0]
	if first.Text != q.Chunks[0].Text || !strings.HasSuffix(first.Source, "john.txt") || first.Chunk != 0 || first.Continuation != q.Chunks[1].Text {
		t.Errorf("first chunk's nearest %+v, input chunks %+v", first, q.Chunks[:2])
	}
	out, err = run("rag", "query", "--store", store, "--k", "1", "darkness upon the deep", "the Word")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"query: darkness upon the deep", "query: the Word", "chunk 0 (tokens 0-", "1. score", "continuation: ", "gen.txt"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}

	// --mode bm25 and hybrid pass through to the search.
	for _, mode := range []string{"bm25", "hybrid"} {
		out, err = run("rag", "query", "--store", store, "--k", "1", "--mode", mode, "--format", "json", text)
		if err != nil {
			t.Fatalf("--mode %s: %v", mode, err)
		}
		q.Chunks = nil
		if err := json.Unmarshal([]byte(out), &q); err != nil || len(q.Chunks) < 2 {
			t.Fatalf("--mode %s: %v: %s", mode, err, out)
		}
		if n := q.Chunks[0].Neighbours; len(n) != 1 || n[0].Text != q.Chunks[0].Text {
			t.Errorf("--mode %s: first chunk's nearest %+v", mode, n)
		}
	}
	if _, err = run("rag", "query", "--store", store, "--mode", "sparse", text); err == nil || !strings.Contains(err.Error(), "--mode") {
		t.Errorf("--mode sparse: %v", err)
	}

	// rag delete and rag add.
	john := filepath.Join(corpus, "nt", "john.txt")
	out, err = run("rag", "delete", "--store", store, "--format", "json", john)
	if err != nil {
		t.Fatal(err)
	}
	var upd struct {
		Manifest retrieval.Manifest `json:"manifest"`
	}
	if err := json.Unmarshal([]byte(out), &upd); err != nil || len(upd.Manifest.Sources) != 1 || upd.Manifest.Chunks >= m.Chunks {
		t.Fatalf("after delete: %s %v", out, err)
	}
	out, err = run("rag", "add", "--store", store, "--corpus", john)
	if err != nil || !strings.Contains(out, "from 2 files") {
		t.Fatalf("add: %v: %s", err, out)
	}
	if _, err = run("rag", "add", "--store", store, "--corpus", john); err == nil || !strings.Contains(err.Error(), "--replace") {
		t.Errorf("adding a held file: %v", err)
	}
	if _, err = run("rag", "add", "--store", store, "--corpus", john, "--replace"); err != nil {
		t.Errorf("--replace: %v", err)
	}
	if _, err = run("rag", "delete", "--store", store, "nope.txt"); err == nil || !strings.Contains(err.Error(), "nope.txt") {
		t.Errorf("deleting an unknown source: %v", err)
	}

	// Another LM's tokenizer is refused, naming both.
	other, _ := filepath.Abs(filepath.Join("..", "..", "tokenizer", "testdata", "gpt2"))
	_, err = run("rag", "query", "--store", store, "--lm", other, "x")
	if err == nil || !strings.Contains(err.Error(), "loupe/kjv-gpt2") || !strings.Contains(err.Error(), other) {
		t.Errorf("other tokenizer: %v", err)
	}
	for _, args := range [][]string{
		{"rag", "build", "--out", filepath.Join(dir, "x")},
		{"rag", "build", "--corpus", corpus, "--out", filepath.Join(dir, "x"), "--chunk-tokens", "-1"},
		{"rag", "build", "--corpus", corpus, "--out", filepath.Join(dir, "x"), "--kind", "tree"},
		{"rag", "query", "x"},
		{"rag", "query", "--store", store, "--k", "0", "x"},
		{"rag", "query", "--store", dir, "x"},
	} {
		if _, err := run(args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a failed build left a store")
	}
}
