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
		out = strings.ReplaceAll(out, "Flag --where has been deprecated, use --filter\n", "")
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

// TestSearchModes: loupe search --mode bm25 and hybrid on an index built
// with the default embedding model, questions from --input, JSON output,
// option errors naming the flags, and bm25 working where the embedding
// model cannot be loaded.
func TestSearchModes(t *testing.T) {
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs.jsonl")
	lines := []string{
		`{"text": "In the beginning God created the heaven and the earth.", "id": "Gen 1:1", "lang": "en"}`,
		`{"text": "And God said, Let there be light: and there was light.", "id": "Gen 1:3", "lang": "en"}`,
		`{"text": "The LORD is my shepherd; I shall not want.", "id": "Ps 23:1", "lang": "en"}`,
		`{"text": "Jesus wept.", "id": "John 11:35", "lang": "en"}`,
		`{"text": "Au commencement, Dieu créa les cieux et la terre.", "id": "Gn 1:1", "lang": "fr"}`,
		`{"text": "Dieu dit: Que la lumière soit! Et la lumière fut.", "id": "Gn 1:3", "lang": "fr"}`,
	}
	os.WriteFile(docs, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	idx := filepath.Join(dir, "idx")
	if _, _, err := runCmd(t, "index", "build", "--input", docs, "--out", idx, "--kind", "flat"); err != nil {
		t.Fatal(err)
	}
	type line struct {
		Query   string       `json:"query"`
		Mode    string       `json:"mode"`
		Fusion  string       `json:"fusion"`
		Results []search.Hit `json:"results"`
	}
	parse := func(out string) []line {
		t.Helper()
		var ls []line
		for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
			var l line
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			ls = append(ls, l)
		}
		return ls
	}
	out, _, err := runCmd(t, "search", "--index", idx, "--mode", "bm25", "--k", "3", "--format", "json", "let there be light")
	if err != nil {
		t.Fatal(err)
	}
	ls := parse(out)
	if len(ls) != 1 || ls[0].Mode != "bm25" || len(ls[0].Results) == 0 || !strings.Contains(ls[0].Results[0].Text, "Let there be light") || ls[0].Results[0].Score <= 0 || ls[0].Results[0].BM25 != nil {
		t.Errorf("bm25: %+v", ls)
	}
	// The same with other k1 and b: another score, the same first hit.
	out, _, err = runCmd(t, "search", "--index", idx, "--mode", "bm25", "--k1", "0.5", "--b", "0", "--k", "3", "--format", "json", "let there be light")
	if err != nil {
		t.Fatal(err)
	}
	if l2 := parse(out); l2[0].Results[0].ID != ls[0].Results[0].ID || l2[0].Results[0].Score == ls[0].Results[0].Score {
		t.Errorf("k1 0.5 b 0: %+v vs %+v", l2[0].Results[0], ls[0].Results[0])
	}
	// Hybrid over questions read from --input (JSON lines and plain
	// lines), one JSON line each, with the parts of each hit.
	for _, input := range []string{`{"text": "let there be light"}` + "\n" + `{"text": "the lord is my shepherd"}` + "\n", "let there be light\nthe lord is my shepherd\n"} {
		qfile := filepath.Join(dir, "q.txt")
		os.WriteFile(qfile, []byte(input), 0o644)
		for _, fusion := range []string{"rrf", "weighted"} {
			out, _, err = runCmd(t, "search", "--index", idx, "--mode", "hybrid", "--fusion", fusion, "--k", "2", "--filter", "lang=en", "--input", qfile, "--format", "json")
			if err != nil {
				t.Fatal(err)
			}
			ls = parse(out)
			if len(ls) != 2 || ls[1].Query != "the lord is my shepherd" || ls[0].Fusion != fusion {
				t.Fatalf("hybrid %s, --input: %s", fusion, out)
			}
			for i, l := range ls {
				top := l.Results[0]
				want := []string{"Let there be light", "my shepherd"}[i]
				if len(l.Results) != 2 || !strings.Contains(top.Text, want) || top.Dense == nil || top.BM25 == nil || top.BM25.Rank != 1 {
					t.Errorf("hybrid %s, %q: %+v", fusion, l.Query, l.Results)
				}
				for _, h := range l.Results {
					if !strings.Contains(string(h.Metadata), `"lang":"en"`) {
						t.Errorf("hybrid %s: --filter lang=en let through %s", fusion, h.Metadata)
					}
				}
			}
		}
	}
	out, _, err = runCmd(t, "search", "--index", idx, "--mode", "hybrid", "--k", "2", "shepherd")
	if err != nil || !strings.Contains(out, " 1  rrf ") || !strings.Contains(out, "bm25 #1") {
		t.Errorf("hybrid text: %q, %v", out, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "sparse", "light"}, `--mode "sparse": want dense, bm25 or hybrid`},
		{[]string{"--mode", "bm25", "--b", "1.5", "light"}, "--b 1.5: want a number from 0 to 1"},
		{[]string{"--k1", "2", "light"}, "--k1 2: want no value in dense mode"},
		{[]string{"--mode", "hybrid", "--alpha", "0.2", "light"}, "--alpha 0.2: want no value in hybrid mode"},
		{[]string{"--mode", "hybrid", "--fusion", "weighted", "--rrf-k", "3", "light"}, "--rrf-k 3: want no value"},
		{[]string{"--mode", "hybrid", "--candidates", "-1", "light"}, "--candidates -1: want 0 or more"},
		{[]string{"--input", docs, "light"}, "not both"},
		{nil, "give a QUESTION or --input FILE"},
		{[]string{"--input", filepath.Join(dir, "missing")}, "--input"},
	} {
		if _, _, err := runCmd(t, append([]string{"search", "--index", idx}, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	// bm25 does not load the embedding model: it works on an index whose
	// recorded model is gone, where dense search fails.
	gone := filepath.Join(dir, "gone")
	if _, _, err := runCmd(t, "index", "build", "--input", docs, "--out", gone, "--kind", "flat", "--model", filepath.Join("..", "..", "embed", "testdata", "st")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "search", "--index", gone, "--model", filepath.Join(dir, "nowhere"), "light"); err == nil {
		t.Fatal("dense search with a missing model worked")
	}
	if out, _, err := runCmd(t, "search", "--index", gone, "--model", filepath.Join(dir, "nowhere"), "--mode", "bm25", "light"); err != nil || !strings.Contains(out, "bm25") {
		t.Errorf("bm25 with a missing model: %q, %v", out, err)
	}
}
