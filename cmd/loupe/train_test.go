package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

type trainJSON struct {
	Steps      int       `json:"steps"`
	Losses     []float64 `json:"losses"`
	EvalLosses []struct {
		Step int
		Loss float64
	} `json:"eval_losses"`
	TokensPerSecond float64 `json:"tokens_per_second"`
	Out             string  `json:"out"`
}

// TestTrainPipeline runs the whole path a user takes: train a tokenizer,
// train a GPT-2 from scratch on text with it, then generate with the
// result and measure its perplexity; and checks that a run stopped
// halfway and resumed gives the uninterrupted run's losses.
func TestTrainPipeline(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	var lines []string
	for i := 0; i < 60; i++ {
		lines = append(lines, "and the cat sat on the mat, and the hat was on the cat.", "in the beginning the dog ran to the hat and sat.")
	}
	if err := os.WriteFile(corpus, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tok := filepath.Join(dir, "tok")
	if _, err := runLoupe(t, "tokenizer", "train", "--corpus", corpus, "--vocab-size", "300", "--out", tok); err != nil {
		t.Fatal(err)
	}
	base := []string{"train", "gpt2", "--config", "n_layer=1,n_embd=32,n_head=2,n_ctx=16", "--tokenizer", tok,
		"--corpus", corpus, "--documents", "lines", "--batch-size", "4", "--seq-len", "16", "--warmup", "2",
		"--lr", "1e-2", "--eval-every", "3", "--eval-batches", "2", "--dropout", "0.1", "--format", "json"}
	train := func(out string, extra ...string) trainJSON {
		t.Helper()
		s, err := runLoupe(t, append(append(slices.Clone(base), "--out", out), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		var r trainJSON
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatalf("%v: %q", err, s)
		}
		return r
	}
	full := filepath.Join(dir, "full")
	r := train(full, "--steps", "8")
	if r.Steps != 8 || len(r.Losses) != 8 || len(r.EvalLosses) != 3 || !(r.TokensPerSecond > 0) || !(r.Losses[7] < r.Losses[0]) {
		t.Errorf("result %+v: want 8 falling losses, evaluations at steps 3, 6 and 8, a throughput", r)
	}
	// A Hugging Face GPT-2 directory that loupe loads.
	m, err := gpt2.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if _, err := tokenizer.Load(full); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"generation_config.json", "training_report.html", "checkpoint/trainer_state.json"} {
		if _, err := os.Stat(filepath.Join(full, f)); err != nil {
			t.Error(err)
		}
	}
	if _, err := runLoupe(t, "generate", "--model", full, "--max-new-tokens", "4", "the cat"); err != nil {
		t.Errorf("generate with the trained model: %v", err)
	}
	if _, err := runLoupe(t, "eval", "perplexity", "--model", full, corpus); err != nil {
		t.Errorf("perplexity of the trained model: %v", err)
	}

	// Stopped after 4 steps of 8, then resumed: the same losses as the
	// uninterrupted run (a constant schedule, which does not depend on
	// the number of steps).
	constant := []string{"--schedule", "constant"}
	whole := train(filepath.Join(dir, "whole"), append(constant, "--steps", "8")...)
	part := filepath.Join(dir, "part")
	train(part, append(constant, "--steps", "4")...)
	resumed := train(part, "--steps", "8", "--resume")
	if !slices.Equal(resumed.Losses, whole.Losses) {
		t.Errorf("resumed run losses %v, uninterrupted %v", resumed.Losses, whole.Losses)
	}
	if _, err := runLoupe(t, "train", "gpt2", "--tokenizer", tok, "--corpus", corpus, "--out", filepath.Join(dir, "none"), "--resume"); err == nil || !strings.Contains(err.Error(), "no checkpoint") {
		t.Errorf("--resume with no checkpoint: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "gpt2", "--config", "n_layer=1,n_embd=32,n_head=2,n_ctx=16", "--tokenizer", tok, "--corpus", corpus}, "--out is required"},
		{[]string{"train", "gpt2", "--config", "n_layer=1", "--init", full, "--corpus", corpus, "--out", dir}, "not both"},
		{append(slices.Clone(base), "--out", filepath.Join(dir, "x"), "--lr", "-1"), "--lr -1"},
		{append(slices.Clone(base), "--out", filepath.Join(dir, "y"), "--seq-len", "17"), "--seq-len 17"},
		{append(slices.Clone(base), "--out", full), "--resume"},
		{append(slices.Clone(base), "--out", full, "--resume", "--lr", "0.5"), "--lr 0.5 cannot change"},
		{[]string{"train", "gpt2", "--config", "n_layer=1,n_embd=32,n_head=2,n_ctx=16", "--corpus", corpus, "--out", filepath.Join(dir, "z")}, "needs a tokenizer"},
	} {
		_, err := runLoupe(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args[2:], err, c.want)
		}
	}
}
