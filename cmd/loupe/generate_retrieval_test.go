package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/retrieval/knnlm"
)

// TestGenerateRetrieval: loupe generate --knn decodes as package generate
// with the datastore's kNN-LM (greedy, beams, --input batches), --lambda 0
// is the plain model, --retrieve rebuilds the context every
// --retrieval-stride tokens, and the flags are checked.
func TestGenerateRetrieval(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	knnDir, ragDir := retrievalFixtures(t, model)
	gen := func(args ...string) (map[string]any, string) {
		t.Helper()
		out, _, err := runCmd(t, append(append([]string{"generate", "--model", model, "--max-new-tokens", "6", "--format", "json"}, args...), "the hat")...)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %q: %v", args, out, err)
		}
		return res, out
	}
	plain, _ := gen("--greedy")
	res, _ := gen("--greedy", "--knn", knnDir, "--lambda", "0.5", "--k", "8")
	prompt := jsonInts(res["prompt_ids"])
	want := knnGreedy(t, model, knnDir, prompt, 6, knnlm.Options{Lambda: 0.5, K: 8, Temperature: 1})
	if got := jsonInts(res["ids"]); !slices.Equal(got, want) {
		t.Errorf("generate --knn: %v, package generate with the kNN-LM: %v", got, want)
	}
	if slices.Equal(jsonInts(res["ids"]), jsonInts(plain["ids"])) {
		t.Logf("the kNN-LM did not change the greedy output %v", jsonInts(plain["ids"]))
	}
	zero, _ := gen("--greedy", "--knn", knnDir, "--lambda", "0")
	if !slices.Equal(jsonInts(zero["ids"]), jsonInts(plain["ids"])) {
		t.Errorf("--lambda 0: %v, want the plain model's %v", jsonInts(zero["ids"]), jsonInts(plain["ids"]))
	}
	// λ 1, k 1: the nearest stored context's next token every step, so a
	// prompt from the corpus is continued as the corpus goes on.
	one, _ := gen("--greedy", "--knn", knnDir, "--lambda", "1", "--k", "1")
	if text := one["text"].(string); text == "" || !strings.HasPrefix(" sat on the mat", text) {
		t.Errorf("--lambda 1 --k 1 gave %q, want the start of the corpus's continuation \" sat on the mat\"", text)
	}
	if beam, _ := gen("--num-beams", "2", "--greedy", "--knn", knnDir, "--lambda", "1", "--k", "1"); !strings.HasPrefix(" sat on the mat", beam["text"].(string)) {
		t.Errorf("beam search with --knn --lambda 1 --k 1: %v", beam)
	}

	res, _ = gen("--greedy", "--retrieve", ragDir, "--retrieval-stride", "2", "--retrieval-query-tokens", "4")
	stats := res["stats"].(map[string]any)
	if ct, _ := stats["context_tokens"].(float64); ct <= 0 {
		t.Errorf("--retrieve: stats %v, want context tokens from two rebuilds", stats)
	}
	if pt := stats["prefill_tokens"].(float64); int(pt) <= len(jsonInts(res["prompt_ids"])) {
		t.Errorf("--retrieve: prefill of %v tokens, want the passage and the prompt", pt)
	}
	if got := len(jsonInts(res["ids"])); got != 6 {
		t.Errorf("--retrieve: %d tokens, want 6", got)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--knn-temperature", "2"}, "--knn-temperature needs --knn"},
		{[]string{"--retrieval-stride", "2"}, "--retrieval-stride needs --retrieve"},
		{[]string{"--retrieve", ragDir, "--retrieval-stride", "0"}, "--retrieval-stride 0"},
		{[]string{"--knn", knnDir, "--lambda", "-1"}, "--lambda -1"},
		{[]string{"--knn", ragDir}, ragDir},
	} {
		_, _, err := runCmd(t, append(append([]string{"generate", "--model", model}, c.args...), "the hat")...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "generate: ") {
			t.Errorf("%v: %v, want a generate: error mentioning %q", c.args, err, c.want)
		}
	}
}
