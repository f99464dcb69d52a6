package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/classify"
	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
)

func TestSearchCommand(t *testing.T) {
	model, _ := filepath.Abs(filepath.Join("..", "..", "embed", "testdata", "st"))
	docs := []string{"the cat sat on the mat", "a quick brown fox", "run a bert model fast on a cpu", "hello world", "the lazy dog"}
	m, err := embed.Load(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	vecs, err := m.Embed(docs)
	if err != nil {
		t.Fatal(err)
	}
	opt := index.DefaultOptions()
	opt.Dim, opt.Kind, opt.Model = m.Dim(), index.Flat, model
	x, err := index.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	var flat []float32
	var meta []json.RawMessage
	for i, d := range docs {
		flat = append(flat, vecs[i]...)
		b, _ := json.Marshal(map[string]any{"text": d, "lang": []string{"en", "fr"}[i%2]})
		meta = append(meta, b)
	}
	if err := x.Add(index.Batch{Vectors: flat, Meta: meta}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "idx")
	if err := x.Save(dir); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		rootCmd.SetOut(&out)
		resetFlags()
		rootCmd.SetArgs(args)
		outputFormat = "text"
		searchFlags.filter, searchFlags.where, searchFlags.model, searchFlags.opts = nil, nil, "", search.DefaultSearchOptions()
		err := rootCmd.Execute()
		return out.String(), err
	}
	// A document is its own nearest neighbour.
	out, err := run("search", "--index", dir, "--k", "2", "--format", "json", "run a bert model fast on a cpu")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Results []search.Hit `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Results) != 2 || res.Results[0].ID != 2 || res.Results[0].Score < 0.9999 || res.Results[0].Text != docs[2] {
		t.Errorf("results %+v", res.Results)
	}
	// --filter keeps only matching metadata; k larger than the index is
	// clamped. --where is the deprecated spelling (search used to call it
	// that while index query said --filter) and still works.
	for _, flag := range []string{"--filter", "--where"} {
		out, err = run("search", "--index", dir, flag, "lang=fr", "--k", "50", "a cat")
		if err != nil {
			t.Fatal(err)
		}
		// Cobra's deprecation notice goes to stderr, here the same buffer.
		out = strings.Replace(out, "Flag --where has been deprecated, use --filter\n", "", 1)
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.Contains(out, "quick brown fox") || strings.Contains(out, "cat sat") {
			t.Errorf("filtered output (%s):\n%s", flag, out)
		}
	}
	if out, err = run("search", "--index", dir, "--filter", "lang=de", "a cat"); err != nil || !strings.Contains(out, "no documents match") {
		t.Errorf("a filter no document meets: %q, %v", out, err)
	}
	if _, err := run("search", "--index", dir, "--filter", "nokey", "x"); err == nil || !strings.Contains(err.Error(), `search: --filter "nokey": want key=value`) {
		t.Errorf("bad --filter: %v", err)
	}
	// --k defaults to 10, as index query's does (it used to be 5 here).
	if out, err = run("search", "--index", dir, "a cat"); err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) != len(docs) {
		t.Errorf("default --k over %d documents: %q, %v", len(docs), out, err)
	}
	if _, err := run("search", "--index", dir, "caf\xe9"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("non-UTF-8 query: %v", err)
	}
	// An index whose recorded model is gone says so and suggests --model.
	opt = index.DefaultOptions()
	opt.Dim, opt.Kind, opt.Model = m.Dim(), index.Flat, filepath.Join(t.TempDir(), "moved")
	gone, err := index.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Add(index.Batch{Vectors: flat}); err != nil {
		t.Fatal(err)
	}
	goneDir := filepath.Join(t.TempDir(), "idx2")
	if err := gone.Save(goneDir); err != nil {
		t.Fatal(err)
	}
	if _, err := run("search", "--index", goneDir, "x"); err == nil || !strings.Contains(err.Error(), "records the embedding model") || !strings.Contains(err.Error(), "--model") {
		t.Errorf("moved model: %v", err)
	}
	if _, err := run("search", "--index", dir, "--model", filepath.Join("..", "..", "model", "bert", "testdata", "tiny"), "x"); err == nil {
		t.Errorf("a model of another dimension was accepted")
	}
}

// TestUnreachableHubNamed: embed, classify and search say that the hub
// cannot be reached, in the hub package's words (as generate does).
func TestUnreachableHubNamed(t *testing.T) {
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1")
	dir := t.TempDir()
	const ref = "org/not-cached"
	c, err := classify.Fit(ref, [][]float32{{1, 0}, {0, 1}}, []string{"a", "b"}, classify.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	clf := filepath.Join(dir, "clf.json")
	if err := c.Save(clf); err != nil {
		t.Fatal(err)
	}
	opt := index.DefaultOptions()
	opt.Kind, opt.Dim, opt.Model = index.Flat, 2, ref
	x, err := index.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add(index.Batch{Vectors: []float32{1, 0}}); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(dir, "idx")
	if err := x.Save(idx); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"embed", "--model", ref, "hello"},
		{"classify", "predict", "--classifier", clf, "hello"},
		{"search", "--index", idx, "hello"},
	} {
		_, _, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "hub: cannot reach http://127.0.0.1:1") {
			t.Errorf("loupe %s: %v", args[0], err)
		}
	}
}

// TestOptionErrorsNameFlags: library option errors come back with the
// flag's name, the same in every command that embeds.
func TestOptionErrorsNameFlags(t *testing.T) {
	model, _ := filepath.Abs(filepath.Join("..", "..", "embed", "testdata", "st"))
	dir := t.TempDir()
	docs := filepath.Join(dir, "d.jsonl")
	os.WriteFile(docs, []byte(`{"text": "a cat"}`+"\n"), 0o644)
	for _, args := range [][]string{
		{"embed", "--model", model, "--batch-size", "-1", "x"},
		{"index", "build", "--input", docs, "--model", model, "--batch-size", "-1", "--out", filepath.Join(dir, "i")},
	} {
		_, _, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "--batch-size -1: want a positive number") {
			t.Errorf("loupe %s: %v", strings.Join(args[:2], " "), err)
		}
	}
	if _, _, err := runCmd(t, "embed", "--model", model, "--batch-size", "0", "x"); err != nil {
		t.Errorf("--batch-size 0 (the default): %v", err)
	}
}
