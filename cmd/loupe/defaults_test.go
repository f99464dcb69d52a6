package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultModels runs the README's offline commands with no --model:
// generation and explanation with the built-in GPT-2, an index of the
// held-in verses with the built-in embedding model, and a search over it.
func TestDefaultModels(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	out, err := runLoupe(t, "generate", "--seed", "1", "--max-new-tokens", "8", "--format", "json", "And God said")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		IDs  []int  `json:"ids"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(out), &g); err != nil || len(g.IDs) == 0 || strings.TrimSpace(g.Text) == "" {
		t.Errorf("generate: %q (%v)", out, err)
	}
	if _, err := runLoupe(t, "explain", "--max-new-tokens", "2", "--format", "json", "And Moses said unto"); err != nil {
		t.Errorf("explain: %v", err)
	}
	idx := filepath.Join(t.TempDir(), "kjv.idx")
	verses := filepath.Join("..", "..", "defaults", "kjv", "verses.jsonl.gz")
	if _, err := runLoupe(t, "index", "build", "--input", verses, "--kind", "flat", "--out", idx); err != nil {
		t.Fatal(err)
	}
	out, err = runLoupe(t, "search", "--index", idx, "--k", "5", "--format", "json", "love thine enemies")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.ToLower(out), "enemies") {
		t.Errorf("search for love thine enemies: no verse about enemies in the top 5: %s", out)
	}

	// Fine-tuning the built-in GPT-2 keeps its tokenizer and generation
	// defaults.
	ft := filepath.Join(t.TempDir(), "ft")
	corpus := filepath.Join("..", "..", "defaults", "kjv", "heldout.txt")
	if _, err := runLoupe(t, "train", "gpt2", "--init", "loupe/kjv-gpt2", "--corpus", corpus, "--documents", "lines",
		"--steps", "2", "--batch-size", "2", "--seq-len", "32", "--warmup", "1", "--lr", "1e-4", "--eval-batches", "1", "--out", ft); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(ft, "generation_config.json"))
	if err != nil || !strings.Contains(string(b), `"do_sample": true`) {
		t.Errorf("fine-tuned generation_config.json: %s (%v)", b, err)
	}
	if _, err := runLoupe(t, "generate", "--model", ft, "--seed", "1", "--max-new-tokens", "3", "And"); err != nil {
		t.Errorf("generate with the fine-tuned model: %v", err)
	}
}
