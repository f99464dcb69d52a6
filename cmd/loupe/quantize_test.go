package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestQuantizeCommand: loupe quantize writes the default model int8 and
// bf16; generate --format json on the directory prints exactly what
// generate --quantize P prints on the original (ids and logprobs), greedy
// and with beams; explain runs on it; the errors name the problem.
func TestQuantizeCommand(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	const prompt = "And the LORD spake unto Moses, saying"
	tmp := t.TempDir()
	for _, p := range []string{"int8", "bf16"} {
		dir := filepath.Join(tmp, p)
		out, err := runLoupe(t, "quantize", "--out", dir, "--quantize", p, "--format", "json")
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Out, Precision string
			Files          []string
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Out != dir || r.Precision != p || !slices.Contains(r.Files, "model.safetensors") || !slices.Contains(r.Files, "tokenizer.json") {
			t.Fatalf("quantize --format json: %q (%v)", out, err)
		}
		for _, args := range [][]string{{"--greedy"}, {"--greedy", "--num-beams", "3", "--num-return-sequences", "2"}, {"--seed", "5"}} {
			want := generateJSON(t, append(append([]string{"--quantize", p}, args...), prompt)...)
			got := generateJSON(t, append(append([]string{"--model", dir}, args...), prompt)...)
			same := generateJSON(t, append(append([]string{"--model", dir, "--quantize", p}, args...), prompt)...)
			if len(got) != len(want) || len(same) != len(want) {
				t.Fatalf("%s %v: %d and %d sequences, want %d", p, args, len(got), len(same), len(want))
			}
			for i := range want {
				if !slices.Equal(got[i].IDs, want[i].IDs) || !slices.Equal(got[i].Logprobs, want[i].Logprobs) || !slices.Equal(same[i].Logprobs, want[i].Logprobs) {
					t.Errorf("%s %v: from the directory %v %v, --quantize at load %v %v", p, args, got[i].IDs, got[i].Logprobs, want[i].IDs, want[i].Logprobs)
				}
			}
		}
	}
	ex, err := runLoupe(t, "explain", "--model", filepath.Join(tmp, "int8"), "--max-new-tokens", "2", "--format", "json", prompt)
	var e struct {
		Precision    string
		Attributions map[string][][]float64
	}
	if err != nil || json.Unmarshal([]byte(ex), &e) != nil || e.Precision != "int8" || len(e.Attributions["grad_x_input"]) != 2 {
		t.Errorf("explain on the int8 directory: precision %q, attributions %v (%v)", e.Precision, e.Attributions, err)
	}
	bert := filepath.Join(tmp, "bert")
	os.MkdirAll(bert, 0o755)
	os.WriteFile(filepath.Join(bert, "config.json"), []byte(`{"model_type": "bert"}`), 0o644)
	text := filepath.Join(tmp, "text.txt")
	os.WriteFile(text, []byte(prompt+"\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"quantize", "--out", filepath.Join(tmp, "int8"), "--quantize", "int8"}, "exists and is not empty: choose another directory, or replace it (--force)"},
		{[]string{"quantize", "--model", filepath.Join(tmp, "int8"), "--out", filepath.Join(tmp, "again"), "--quantize", "int8"}, "is already quantized (int8 weights written by loupe quantize)"},
		{[]string{"quantize", "--model", bert, "--out", filepath.Join(tmp, "b"), "--quantize", "int8"}, "quantize: " + bert + " is a bert model: quantize writes GPT-2 checkpoints only"},
		{[]string{"quantize", "--out", filepath.Join(tmp, "x"), "--quantize", "int4"}, `quantize: --quantize "int4": want int8, bf16 or f16`},
		{[]string{"quantize", "--quantize", "int8"}, "--out DIR is required"},
		{[]string{"generate", "--model", filepath.Join(tmp, "int8"), "--quantize", "bf16", "x"}, "stores int8 weights (written by loupe quantize): precision bf16 asked for"},
		{[]string{"eval", "perplexity", "--model", filepath.Join(tmp, "bf16"), "--quantize", "none", text}, "stores bf16 weights (written by loupe quantize): precision float32 asked for"},
	} {
		_, err := runLoupe(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := runLoupe(t, "quantize", "--out", filepath.Join(tmp, "int8"), "--quantize", "bf16", "--force"); err != nil {
		t.Errorf("--force: %v", err)
	}
}
