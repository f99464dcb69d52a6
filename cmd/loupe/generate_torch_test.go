package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
)

// TestGenerateTorchCheckpoint: `loupe generate --model DIR` works on a
// directory holding pytorch_model.bin instead of model.safetensors, and
// generates exactly what the safetensors copy of the same weights does.
func TestGenerateTorchCheckpoint(t *testing.T) {
	type result struct {
		IDs      []int     `json:"ids"`
		LogProbs []float64 `json:"logprobs"`
	}
	run := func(dir string) result {
		t.Helper()
		out, _, err := runCmd(t, "generate", "--model", filepath.Join("..", "..", "model", "gpt2", "testdata", dir),
			"--prompt-ids", "1,2,3", "--greedy", "--ignore-eos", "--max-new-tokens", "12", "--format", "json")
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		var r result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v: %s", dir, err, out)
		}
		return r
	}
	want, got := run("tiny"), run("tiny_bin")
	if len(got.IDs) != 12 || !slices.Equal(got.IDs, want.IDs) || !slices.Equal(got.LogProbs, want.LogProbs) {
		t.Errorf("pytorch_model.bin: %+v\nmodel.safetensors: %+v", got, want)
	}
}
