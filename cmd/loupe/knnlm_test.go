package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/tokenizer"
)

// TestKNNLMCommands: loupe knnlm build writes a datastore the library
// opens; loupe eval perplexity --knn gives the library's kNN-LM
// perplexity; loupe knnlm tune prints a table and a best setting; another
// model is refused, and bad flags are named.
func TestKNNLMCommands(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	held := filepath.Join(dir, "held.txt")
	os.WriteFile(corpus, []byte("the hat and the cat sat on a mat.\na hat is the hat of the cat, then the hat sat.\nthe cat sat on the hat and the mat sat on the cat.\n"), 0o644)
	os.WriteFile(held, []byte("the cat and the hat sat on the mat of a cat."), 0o644)
	ds := filepath.Join(dir, "ds")

	out, err := runLoupe(t, "knnlm", "build", "--model", evalModel, "--corpus", corpus, "--documents", "lines", "--out", ds, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var man struct {
		knnlm.Manifest
		Dir string `json:"dir"`
	}
	if err := json.Unmarshal([]byte(out), &man); err != nil || man.Keys < 20 || man.Keys != man.Tokens-1 || man.Dim != 32 || man.Index != "flat" || man.Dir != ds || man.MaxLength != 16 || man.Stride != 8 {
		t.Fatalf("build printed %q (%v)", out, err)
	}
	if _, err := runLoupe(t, "knnlm", "build", "--model", evalModel, "--corpus", corpus, "--out", ds); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second build: %v", err)
	}
	out, err = runLoupe(t, "knnlm", "build", "--model", evalModel, "--corpus", corpus, "--out", ds, "--overwrite", "--index", "hnsw", "--max-length", "12", "--format", "text")
	if err != nil || !strings.Contains(out, "hnsw index") || !strings.Contains(out, "windows of 12 stride 6") {
		t.Fatalf("hnsw build: %q, %v", out, err)
	}
	if _, err := runLoupe(t, "knnlm", "build", "--model", evalModel, "--corpus", corpus, "--documents", "lines", "--out", ds, "--overwrite"); err != nil {
		t.Fatal(err)
	}

	// The library on the same text.
	m, err := gpt2.Load(evalModel)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tok, err := tokenizer.Load(evalModel)
	if err != nil {
		t.Fatal(err)
	}
	lib, err := knnlm.Open(ds, m, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	ids, err := perplexity.Tokenize(tok, []string{"the cat and the hat sat on the mat of a cat."})
	if err != nil {
		t.Fatal(err)
	}
	mx, _ := lib.NewMixer(knnlm.Options{Lambda: 0.4, K: 8, Temperature: 2})
	opt := perplexity.DefaultOptions(m.Config)
	opt.Mixer = mx
	want, err := perplexity.Evaluate(context.Background(), m, ids, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err = runLoupe(t, "eval", "perplexity", "--model", evalModel, "--knn", ds, "--lambda", "0.4", "--k", "8", "--knn-temperature", "2", "--format", "json", held)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		NLL            float64 `json:"nll"`
		Tokens         int     `json:"tokens"`
		KNN            string  `json:"knn"`
		Lambda         float64 `json:"lambda"`
		K              int     `json:"k"`
		KNNTemperature float64 `json:"knn_temperature"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || math.Abs(got.NLL-want.NLL) > 1e-12 || got.Tokens != want.Tokens ||
		got.KNN != ds || got.Lambda != 0.4 || got.K != 8 || got.KNNTemperature != 2 {
		t.Errorf("eval --knn printed %q (%v), want nll %g", out, err, want.NLL)
	}
	out, err = runLoupe(t, "eval", "perplexity", "--model", evalModel, "--knn", ds, held)
	if err != nil || !strings.Contains(out, "with kNN-LM") || !strings.Contains(out, "lambda 0.25, k 1024, temperature 1") {
		t.Errorf("eval --knn text: %q, %v", out, err)
	}

	out, err = runLoupe(t, "knnlm", "tune", "--model", evalModel, "--datastore", ds, "--lambdas", "0.1,0.4", "--ks", "8,4", "--temperatures", "2", "--format", "json", held)
	if err != nil {
		t.Fatal(err)
	}
	var tr knnlm.TuneResult
	if err := json.Unmarshal([]byte(out), &tr); err != nil || len(tr.Rows) != 4 || tr.Tokens != want.Tokens {
		t.Fatalf("tune printed %q (%v)", out, err)
	}
	for _, r := range tr.Rows {
		if r.Lambda == 0.4 && r.K == 8 && math.Abs(r.NLL-want.NLL) > 1e-9 {
			t.Errorf("tune row %+v, eval --knn nll %g", r, want.NLL)
		}
	}
	out, err = runLoupe(t, "knnlm", "tune", "--model", evalModel, "--datastore", ds, "--lambdas", "0.1,0.4", "--ks", "8", "--temperatures", "1,2", held)
	if err != nil || strings.Count(out, "\n") != 6 || !strings.Contains(out, "best: --lambda") {
		t.Errorf("tune text: %q, %v", out, err)
	}

	// Another model (same shape, other weights, same tokenizer) is refused.
	other := filepath.Join(dir, "other")
	om, _ := gpt2.Random(m.Config, 3, 0.1)
	if err := om.Save(other, "F32"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		b, _ := os.ReadFile(filepath.Join(evalModel, f))
		os.WriteFile(filepath.Join(other, f), b, 0o644)
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"eval", "perplexity", "--model", other, "--knn", ds, held}, "built with another model"},
		{[]string{"knnlm", "tune", "--model", other, "--datastore", ds, held}, "built with another model"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--lambda", "0.3", held}, "--lambda needs --knn"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--knn", ds, "--lambda", "2", held}, "--lambda 2: want 0 to 1"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--knn", ds, "--knn-temperature", "0", held}, "--knn-temperature 0"},
		{[]string{"eval", "perplexity", "--model", evalModel, "--knn", dir, held}, "not a kNN-LM datastore"},
		{[]string{"knnlm", "tune", "--model", evalModel, "--datastore", ds, "--ks", "a", held}, `--ks "a"`},
		{[]string{"knnlm", "build", "--model", evalModel, "--corpus", corpus, "--out", ds + "2", "--index", "forest"}, "--index \"forest\": want flat or hnsw"},
		{[]string{"knnlm", "build", "--model", evalModel, "--corpus", corpus, "--out", ds + "2", "--documents", "pages"}, "documents"},
	} {
		_, err := runLoupe(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: %v, want an error saying %q", tc.args, err, tc.msg)
		}
	}
	if _, err := os.Stat(ds + "2"); err == nil {
		t.Error("a failed build left a datastore")
	}
}
