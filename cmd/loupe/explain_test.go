package main

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/retrieval"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
)

// runLoupe runs the CLI in-process with args and returns its standard output.
func runLoupe(t *testing.T, args ...string) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	resetFlags()
	rootCmd.SetOut(nil) // os.Stdout, the pipe
	rootCmd.SetArgs(args)
	err = rootCmd.Execute()
	w.Close()
	os.Stdout = old
	return <-done, err
}

func TestExplainCommand(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	html := filepath.Join(t.TempDir(), "out.html")
	base := []string{"explain", "--model", model, "the hat", "--max-new-tokens", "3", "--nmf-components", "2",
		"--methods", "grad_x_input,ig", "--ig-steps", "4", "--target", "prob", "--watch", " a", "--watch", " the", "--greedy", "--from-layer", "0", "--to-layer", "-1", "--html", ""}
	out, err := runLoupe(t, append(append([]string{}, base...), "--html", html, "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--format json printed %q: %v", out, err)
	}
	for _, k := range []string{"tokens", "ids", "prompt_length", "attributions", "rankings", "layer_predictions", "nmf", "attention", "rankings_watch"} {
		if res[k] == nil {
			t.Errorf("JSON lacks %q", k)
		}
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "loupe-data") {
		t.Fatalf("HTML file: %v", err)
	}
	out, err = runLoupe(t, append(append([]string{}, base...), "--format", "text")...)
	if err != nil || !strings.Contains(out, "grad_x_input attributions") || !strings.Contains(out, "rankings") {
		t.Fatalf("text output %q, %v", out, err)
	}
	for _, bad := range [][]string{
		{"--methods", "lime"},
		{"--watch", " hat"},
		{"--html", filepath.Join(t.TempDir(), "missing", "x.html")},
		{"--from-layer", "9"},
		{"--to-layer", "7"},
		{"--target", "loss"},
		{"--intervene", "1:2"},
		{"--ig-steps", "-1"},
		{"--nmf-components", "33"},
		{"--top-p", "2"},
	} {
		args := append(append([]string{}, base...), "--format", "text")
		args = append(args, bad...)
		if _, err := runLoupe(t, args...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// TestExplainDecodesAsGenerate: the same prompt, seed and settings give
// the same continuation through loupe generate and loupe explain (both
// resolve generation_config.json with the flags and decode with generate's
// loop), sampling included.
func TestExplainDecodesAsGenerate(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	for _, dec := range [][]string{
		{"--seed", "7", "--max-new-tokens", "6"},
		{"--seed", "3", "--max-new-tokens", "5", "--temperature", "1.5", "--top-k", "0", "--min-new-tokens", "2", "--ignore-eos"},
	} {
		out, _, err := runCmd(t, append([]string{"generate", "--model", model, "--format", "json", "the hat"}, dec...)...)
		if err != nil {
			t.Fatal(err)
		}
		var gen struct{ IDs []int }
		if err := json.Unmarshal([]byte(out), &gen); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		out, _, err = runCmd(t, append([]string{"explain", "--model", model, "--format", "json", "--nmf-components", "0", "--html", "", "the hat"}, dec...)...)
		if err != nil {
			t.Fatal(err)
		}
		var ex struct {
			IDs          []int `json:"ids"`
			PromptLength int   `json:"prompt_length"`
		}
		if err := json.Unmarshal([]byte(out), &ex); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if got := ex.IDs[ex.PromptLength:]; !slices.Equal(got, gen.IDs) {
			t.Errorf("%v: explain generated %v, generate %v", dec, got, gen.IDs)
		}
	}
}

// retrievalFixtures builds, from a small text, a kNN-LM datastore for the
// tiny test model and a chunk store cut with its tokenizer (embedded with
// the built-in embedding model).
func retrievalFixtures(t *testing.T, model string) (knnDir, ragDir string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	text := "the hat sat on the mat. the cat sat at the hat. a hat on a cat. the mat at the hat. the cat on the mat."
	corpus := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(corpus, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := generate.Load(ctx, model, generate.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	knnDir, ragDir = filepath.Join(dir, "tiny.knn"), filepath.Join(dir, "tiny.rag")
	if _, err := knnlm.Build(ctx, p.Model, p.Tokenizer, p.Tokenizer.Encode(text), knnDir, knnlm.BuildOptions{Model: model}); err != nil {
		t.Fatal(err)
	}
	if _, err := retrieval.Build(ctx, ragDir, []string{corpus}, retrieval.BuildOptions{LM: model, Tokenizer: p.Tokenizer, EmbedModel: defaults.Embed, ChunkTokens: 4}); err != nil {
		t.Fatal(err)
	}
	return knnDir, ragDir
}

// TestExplainRetrieval: loupe explain --knn decodes as generation with the
// datastore's kNN-LM does and explains each token's neighbours; --retrieve
// puts the retrieved passage before the prompt and explains it; the
// retrieval flags are checked.
func TestExplainRetrieval(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	knnDir, ragDir := retrievalFixtures(t, model)
	base := []string{"explain", "--model", model, "the hat", "--greedy", "--max-new-tokens", "3", "--nmf-components", "0", "--html", "", "--no-attention"}
	run := func(args ...string) (map[string]any, error) {
		out, _, err := runCmd(t, append(append(append([]string{}, base...), args...), "--format", "json")...)
		if err != nil {
			return nil, err
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return res, nil
	}
	res, err := run("--knn", knnDir, "--lambda", "0.5", "--k", "8", "--neighbours", "3", "--neighbour-context", "5")
	if err != nil {
		t.Fatal(err)
	}
	ids := jsonInts(res["ids"])
	P := int(res["prompt_length"].(float64))
	// The same decoding through package generate with the datastore's Adjuster.
	want := knnGreedy(t, model, knnDir, ids[:P], 3, knnlm.Options{Lambda: 0.5, K: 8, Temperature: 1})
	if !slices.Equal(ids[P:], want) {
		t.Errorf("explain --knn generated %v, generate with the kNN-LM %v", ids[P:], want)
	}
	knn := res["retrieval"].(map[string]any)["knn"].(map[string]any)
	toks := knn["tokens"].([]any)
	if knn["lambda"] != 0.5 || knn["k"] != 8.0 || knn["datastore"] != knnDir || len(toks) != len(ids)-P {
		t.Fatalf("retrieval.knn: %v", knn)
	}
	for i, x := range toks {
		tk := x.(map[string]any)
		ns := tk["neighbors"].([]any)
		mix := 0.5*tk["p_knn"].(float64) + 0.5*tk["p_lm"].(float64)
		if len(ns) != 3 || math.Abs(mix-tk["p_mix"].(float64)) > 1e-5 || int(tk["id"].(float64)) != ids[P+i] {
			t.Errorf("token %d: %d neighbours, p_mix %v vs %v", i, len(ns), tk["p_mix"], mix)
		}
		if c := ns[0].(map[string]any)["context"].([]any); len(c) == 0 || len(c) > 5 {
			t.Errorf("token %d: neighbour context of %d tokens, want 1 to 5", i, len(c))
		}
	}
	out, _, err := runCmd(t, append(append([]string{}, base...), "--knn", knnDir, "--format", "text")...)
	if err != nil || !strings.Contains(out, "kNN-LM (λ 0.25, k 1024, T 1") || !strings.Contains(out, "p_mix") {
		t.Errorf("text view: %v\n%s", err, out)
	}

	res, err = run("--retrieve", ragDir, "--retrieve-k", "1", "--retrieval-query-tokens", "4")
	if err != nil {
		t.Fatal(err)
	}
	ralm := res["retrieval"].(map[string]any)["ralm"].(map[string]any)
	n := int(ralm["passage_tokens"].(float64))
	P = int(res["prompt_length"].(float64))
	outputs := len(jsonInts(res["ids"])) - P
	if n < 1 || P <= n || len(ralm["passages"].([]any)) != 1 || len(ralm["tokens"].([]any)) != outputs || ralm["query_tokens"] != 4.0 {
		t.Errorf("retrieval.ralm %v (prompt length %d)", ralm, P)
	}
	out, _, err = runCmd(t, append(append([]string{}, base...), "--retrieve", ragDir, "--format", "text")...)
	if err != nil || !strings.Contains(out, "in-context RALM: retrieved once for the prompt") {
		t.Errorf("text view: %v\n%s", err, out)
	}
	html := filepath.Join(t.TempDir(), "r.html")
	if _, _, err := runCmd(t, append(append([]string{}, base...), "--retrieve", ragDir, "--knn", knnDir, "--html", html)...); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), `"ralm":`) || !strings.Contains(string(b), `"knn":`) {
		t.Errorf("HTML lacks the retrieval sections: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--lambda", "0.5"}, "--lambda needs --knn"},
		{[]string{"--k", "5"}, "--k needs --knn"},
		{[]string{"--neighbours", "4"}, "--neighbours needs --knn"},
		{[]string{"--retrieve-k", "2"}, "--retrieve-k needs --retrieve"},
		{[]string{"--knn", knnDir, "--lambda", "2"}, "--lambda 2"},
		{[]string{"--knn", knnDir, "--k", "0"}, "--k 0"},
		{[]string{"--knn", knnDir, "--knn-temperature", "0"}, "--knn-temperature 0"},
		{[]string{"--knn", knnDir, "--neighbours", "0"}, "--neighbours 0"},
		{[]string{"--knn", filepath.Join(t.TempDir(), "none")}, "none"},
		{[]string{"--retrieve", ragDir, "--retrieval-query-tokens", "0"}, "--retrieval-query-tokens 0"},
		{[]string{"--retrieve", filepath.Join(t.TempDir(), "none")}, "none"},
		{[]string{"--retrieve", knnDir}, knnDir},
	} {
		_, err := run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "explain: ") {
			t.Errorf("%v: %v, want an explain: error mentioning %q", c.args, err, c.want)
		}
	}
}

// knnGreedy decodes n tokens greedily after prompt with the kNN-LM of
// datastore dir, through package generate.
func knnGreedy(t *testing.T, model, dir string, prompt []int, n int, opt knnlm.Options) []int {
	t.Helper()
	ctx := context.Background()
	p, err := generate.Load(ctx, model, generate.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ds, err := knnlm.Open(dir, p.Model, p.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	a, err := ds.NewAdjuster(opt)
	if err != nil {
		t.Fatal(err)
	}
	r, err := generate.Generate(ctx, p.Model, prompt, generate.Options{MaxNewTokens: n, Sampling: generate.Sampling{Greedy: true}, Adjust: a}, p.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	return r.IDs
}

func jsonInts(v any) []int {
	var out []int
	for _, x := range v.([]any) {
		out = append(out, int(x.(float64)))
	}
	return out
}
