package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runW2V runs the CLI in-process and returns stdout, stderr and the error.
// Cobra keeps flag values between runs, so callers pass every flag they
// rely on.
func runW2V(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	rootCmd.SetOut(&out)
	rootCmd.SetErr(&errb)
	defer rootCmd.SetOut(nil)
	defer rootCmd.SetErr(nil)
	resetFlags()
	rootCmd.SetArgs(args)
	outputFormat = "text"
	err := rootCmd.Execute()
	return out.String(), errb.String(), err
}

// TestWord2vecTrainZeroValues: 0 means what it means in gensim, values
// that mean nothing are errors naming the flag, and non-text files of a
// corpus directory are skipped with a warning.
func TestWord2vecTrainZeroValues(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "c.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("the cat sat on the mat\nthe dog ran\n", 20)+"rare once\n"), 0o644)
	out := filepath.Join(dir, "w.txt")
	base := []string{"word2vec", "train", "--corpus", corpus, "--out", out, "--size", "8", "--window", "5", "--epochs", "1",
		"--negative", "5", "--sample", "0.001", "--min-count", "1", "--threads", "1", "--alpha", "0.025", "--min-alpha", "0.0001",
		"--hs=false", "--sg=false", "--cbow=false"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--size", "0"}, "--size 0"},
		{[]string{"--window", "0"}, "--window 0"},
		{[]string{"--epochs", "0"}, "--epochs 0"},
		{[]string{"--threads", "-1"}, "--threads -1"},
		{[]string{"--negative", "0"}, "--negative 0: want > 0 without hierarchical softmax"},
		{[]string{"--negative", "-1"}, "--negative -1"},
		{[]string{"--sample", "-1"}, "--sample -1"},
		{[]string{"--min-count", "-1"}, "--min-count -1"},
		{[]string{"--alpha", "0"}, "--alpha 0: want > 0"},
		{[]string{"--min-alpha", "-1"}, "--min-alpha -1: want >= 0"},
		{[]string{"--size", "70000"}, "--size 70000: want 1..65536"},
	} {
		_, _, err := runW2V(t, append(append([]string{}, base...), c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	for _, c := range []struct {
		args  []string
		vocab int
	}{
		{[]string{"--negative", "0", "--hs"}, 9}, // pure hierarchical softmax
		{[]string{"--sample", "0"}, 9},           // no subsampling
		{[]string{"--min-count", "0"}, 9},        // every word
		{[]string{"--min-count", "2"}, 7},        // drops "rare" and "once"
	} {
		stdout, _, err := runW2V(t, append(append([]string{}, base...), append(c.args, "--format", "json")...)...)
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		var res struct{ Vocab int }
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Vocab != c.vocab {
			t.Errorf("%v: vocab %d (%v), want %d", c.args, res.Vocab, err, c.vocab)
		}
	}
	// A directory corpus: the file with NUL bytes is skipped and named.
	cdir := filepath.Join(dir, "corpus")
	os.Mkdir(cdir, 0o755)
	os.WriteFile(filepath.Join(cdir, "a.txt"), []byte(strings.Repeat("x y z\n", 5)), 0o644)
	os.WriteFile(filepath.Join(cdir, "c.bin"), []byte("junk\x00words here\n"), 0o644)
	args := append(append([]string{}, base...), "--corpus", cdir, "--format", "json")
	stdout, stderr, err := runW2V(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "c.bin") || !strings.Contains(stderr, "not text") {
		t.Errorf("stderr %q: want a warning naming c.bin", stderr)
	}
	var res struct{ Vocab int }
	if json.Unmarshal([]byte(stdout), &res); res.Vocab != 3 {
		t.Errorf("vocab %d, want 3 (x y z only): %s", res.Vocab, stdout)
	}
}

// TestWord2vecQueryInputs: integer-looking text vectors load, NaN is an
// error naming file and word, -n 0 and an empty analogies file are errors.
func TestWord2vecQueryInputs(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small2.vec")
	os.WriteFile(small, []byte("3 2\nx 1 2\ny 2 1\nz 1 1\n"), 0o644)
	nan := filepath.Join(dir, "nan.txt")
	os.WriteFile(nan, []byte("3 2\nx 1.0 2.0\ny nan 1.0\nz 0.5 0.5\n"), 0o644)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	stdout, _, err := runW2V(t, "word2vec", "similar", "--vectors", small, "--vectors-format", "auto", "-n", "2", "--restrict", "0", "--negative", "", "--cosmul=false", "x")
	if err != nil || !strings.Contains(stdout, "z") || !strings.Contains(stdout, "y") {
		t.Errorf("similar on %s: %q, %v", small, stdout, err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"similar", "--vectors", small, "-n", "0", "x"}, []string{"-n/--top 0"}},
		{[]string{"analogy", "--vectors", small, "-n", "0", "x", "y", "z"}, []string{"-n/--top 0"}},
		{[]string{"similar", "--vectors", nan, "-n", "3", "x"}, []string{"nan.txt", `"y"`, "row 2", "NaN"}},
		{[]string{"similarity", "--vectors", nan, "x", "y"}, []string{"nan.txt", `"y"`, "NaN"}},
		{[]string{"eval", "--vectors", small, "--analogies", empty, "--restrict", "100"}, []string{"empty.txt", "no analogy questions"}},
		{[]string{"eval", "--vectors", small, "--analogies", empty, "--restrict", "0"}, []string{"--restrict 0"}},
	} {
		_, _, err := runW2V(t, append([]string{"word2vec"}, c.args...)...)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q, want it to mention %s", c.args, err, w)
			}
		}
	}
}

// TestWord2vecSentenceTransformers: word2vec vectors become a
// sentence-transformers model (convert --to sentence-transformers, or
// train --sentence-transformers) that embed, index build and search load
// like any other.
func TestWord2vecSentenceTransformers(t *testing.T) {
	dir := t.TempDir()
	vecs := filepath.Join("..", "..", "embed", "testdata", "st_wordemb", "vectors.vec")
	model := filepath.Join(dir, "st")
	stdout, _, err := runW2V(t, "word2vec", "convert", "--vectors", vecs, "--to", "sentence-transformers", "--out", model, "--normalize", "--lowercase=false", "--stop-words", "", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Words, Dim int
		To         string
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Words != 32 || res.Dim != 6 || res.To != "sentence-transformers" {
		t.Fatalf("convert: %s (%v)", stdout, err)
	}
	// One text embeds as the unit mean of its words: "cat" alone is cat's
	// unit vector, and "The cat." finds "cat" once ("The" lower-cased).
	out, err := runCmdOut(t, "embed", "--model", model, "--format", "json", "cat", "The cat.", "zzz")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("embed: %q", out)
	}
	var e [3]struct{ Embedding []float64 }
	for i, l := range lines {
		json.Unmarshal([]byte(l), &e[i])
	}
	norm := 0.0
	for _, x := range e[0].Embedding {
		norm += x * x
	}
	if len(e[0].Embedding) != 6 || norm < 0.9999 || norm > 1.0001 {
		t.Errorf("embed cat: %v (squared norm %g)", e[0].Embedding, norm)
	}
	for _, x := range e[2].Embedding {
		if x != 0 {
			t.Errorf("embed zzz (no known word): %v, want zeros", e[2].Embedding)
			break
		}
	}

	docs := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(docs, []byte(`{"text": "the cat sat on the mat"}
{"text": "Paris and London"}
{"text": "hello world"}
`), 0o644)
	idx := filepath.Join(dir, "idx")
	if _, err := runCmdOut(t, "index", "build", "--input", docs, "--model", model, "--kind", "flat", "--out", idx); err != nil {
		t.Fatalf("index build: %v", err)
	}
	out, err = runCmdOut(t, "search", "--index", idx, "--k", "1", "--format", "json", "London, Paris!")
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if !strings.Contains(out, `"id":1`) || !strings.Contains(out, "Paris and London") {
		t.Errorf("search London, Paris!: %s", out)
	}
	if _, err := runCmdOut(t, "embed", "--model", model, "--quantize", "int8", "cat"); err == nil || !strings.Contains(err.Error(), "--quantize") {
		t.Errorf("embed --quantize int8 of a WordEmbeddings model: %v, want an error naming --quantize", err)
	}

	// train --sentence-transformers writes the same kind of model.
	corpus := filepath.Join(dir, "c.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("the cat sat on the mat\nthe dog ran\n", 20)), 0o644)
	st2 := filepath.Join(dir, "st2")
	if _, _, err := runW2V(t, "word2vec", "train", "--corpus", corpus, "--out", filepath.Join(dir, "w.bin"), "--size", "8", "--window", "5", "--epochs", "1",
		"--negative", "5", "--sample", "0.001", "--min-count", "1", "--threads", "1", "--alpha", "0.025", "--min-alpha", "0.0001",
		"--hs=false", "--sg=false", "--cbow=false", "--sentence-transformers", st2); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmdOut(t, "embed", "--model", st2, "--format", "json", "the dog"); err != nil || !strings.Contains(out, "embedding") {
		t.Errorf("embed with the trained model: %q, %v", out, err)
	}
}
