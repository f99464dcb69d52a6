package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/retrieval"
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

// retrievalFixtures builds, from a small text, a chunk store cut with the
// tiny test model's tokenizer (embedded with the built-in embedding model).
func retrievalFixtures(t *testing.T, model string) (ragDir string) {
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
	ragDir = filepath.Join(dir, "tiny.rag")
	if _, err := retrieval.Build(ctx, ragDir, []string{corpus}, retrieval.BuildOptions{LM: model, Tokenizer: p.Tokenizer, EmbedModel: defaults.Embed, ChunkTokens: 4}); err != nil {
		t.Fatal(err)
	}
	return ragDir
}

// TestExplainRetrieval: loupe explain --retrieve puts the retrieved
// passage before the prompt and explains it; the retrieval flags are
// checked.
func TestExplainRetrieval(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	ragDir := retrievalFixtures(t, model)
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
	res, err := run("--retrieve", ragDir, "--retrieve-k", "1", "--retrieval-query-tokens", "4")
	if err != nil {
		t.Fatal(err)
	}
	ralm := res["retrieval"].(map[string]any)["ralm"].(map[string]any)
	n := int(ralm["passage_tokens"].(float64))
	P := int(res["prompt_length"].(float64))
	outputs := len(jsonInts(res["ids"])) - P
	if n < 1 || P <= n || len(ralm["passages"].([]any)) != 1 || len(ralm["tokens"].([]any)) != outputs || ralm["query_tokens"] != 4.0 {
		t.Errorf("retrieval.ralm %v (prompt length %d)", ralm, P)
	}
	out, _, err := runCmd(t, append(append([]string{}, base...), "--retrieve", ragDir, "--format", "text")...)
	if err != nil || !strings.Contains(out, "in-context RALM: retrieved once for the prompt") {
		t.Errorf("text view: %v\n%s", err, out)
	}
	html := filepath.Join(t.TempDir(), "r.html")
	if _, _, err := runCmd(t, append(append([]string{}, base...), "--retrieve", ragDir, "--html", html)...); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), `"ralm":`) {
		t.Errorf("HTML lacks the retrieval sections: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--retrieve-k", "2"}, "--retrieve-k needs --retrieve"},
		{[]string{"--retrieve", ragDir, "--retrieval-query-tokens", "0"}, "--retrieval-query-tokens 0"},
		{[]string{"--retrieve", filepath.Join(t.TempDir(), "none")}, "none"},
	} {
		_, err := run(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "explain: ") {
			t.Errorf("%v: %v, want an explain: error mentioning %q", c.args, err, c.want)
		}
	}
}

func jsonInts(v any) []int {
	var out []int
	for _, x := range v.([]any) {
		out = append(out, int(x.(float64)))
	}
	return out
}
