package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestExplainQuantize: loupe explain --quantize int8|bf16|f16 generates what
// loupe generate --quantize does, says the precision in its JSON, still
// gives attributions (from the float32 differentiable pass), and layer
// predictions that differ from float32's (the quantized head).
func TestExplainQuantize(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	const prompt = "And God said"
	type explained struct {
		IDs              []int                  `json:"ids"`
		PromptLength     int                    `json:"prompt_length"`
		Precision        string                 `json:"precision"`
		Attributions     map[string][][]float64 `json:"attributions"`
		LayerPredictions [][][]struct {
			Prob float64 `json:"prob"`
		} `json:"layer_predictions"`
	}
	explainJSON := func(q string) explained {
		t.Helper()
		out, _, err := runCmd(t, "explain", "--quantize", q, "--greedy", "--max-new-tokens", "4", "--nmf-components", "0", "--html", "", "--format", "json", prompt)
		if err != nil {
			t.Fatalf("--quantize %s: %v", q, err)
		}
		var ex explained
		if err := json.Unmarshal([]byte(out), &ex); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		return ex
	}
	f32 := explainJSON("none")
	if f32.Precision != "" {
		t.Errorf("float32 explain: precision %q, want none", f32.Precision)
	}
	for _, q := range []string{"int8", "bf16", "f16"} {
		ex := explainJSON(q)
		if ex.Precision != q {
			t.Errorf("--quantize %s: precision %q", q, ex.Precision)
		}
		out, _, err := runCmd(t, "generate", "--quantize", q, "--greedy", "--max-new-tokens", "4", "--format", "json", prompt)
		if err != nil {
			t.Fatal(err)
		}
		var gen struct{ IDs []int }
		if err := json.Unmarshal([]byte(out), &gen); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if got := ex.IDs[ex.PromptLength:]; !slices.Equal(got, gen.IDs) {
			t.Errorf("--quantize %s: explain generated %v, generate %v", q, got, gen.IDs)
		}
		if len(ex.Attributions) == 0 {
			t.Errorf("--quantize %s: no attributions", q)
		}
		last := len(ex.LayerPredictions) - 1
		if last < 0 || len(ex.LayerPredictions[last]) == 0 || len(f32.LayerPredictions) != len(ex.LayerPredictions) {
			t.Fatalf("--quantize %s: layer predictions %v", q, ex.LayerPredictions)
		}
		if a, b := ex.LayerPredictions[last][0][0].Prob, f32.LayerPredictions[last][0][0].Prob; a == b {
			t.Errorf("--quantize %s: the last layer's top prediction has float32's probability %g exactly", q, a)
		}
	}
	if _, _, err := runCmd(t, "explain", "--quantize", "int4", prompt); err == nil || !strings.Contains(err.Error(), "--quantize") {
		t.Errorf("--quantize int4: %v", err)
	}
}
