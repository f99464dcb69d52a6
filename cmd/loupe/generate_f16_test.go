package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGenerateQuantizeF16 runs loupe generate with --quantize f16 on the
// default model: greedy against float32 (the same tokens;
// log-probabilities moved, by less than bf16 moves them), sampling with a
// seed, beam search and --input.
func TestGenerateQuantizeF16(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	gen := func(args ...string) []genSeq { t.Helper(); return generateJSON(t, args...) }
	const prompt = "And the LORD spake unto Moses, saying"
	f32 := gen("--greedy", prompt)
	h := gen("--greedy", "--quantize", "f16", prompt)
	bf := gen("--greedy", "--quantize", "bf16", prompt)
	if len(h[0].IDs) != 12 {
		t.Fatalf("--quantize f16: %d tokens, want 12", len(h[0].IDs))
	}
	dh, dbf := maxAbsDiff(f32[0].Logprobs, h[0].Logprobs), maxAbsDiff(f32[0].Logprobs, bf[0].Logprobs)
	t.Logf("greedy: float32 %q, f16 %q; |Δ logprob| f16 %.2e, bf16 %.2e", f32[0].Text, h[0].Text, dh, dbf)
	if !slices.Equal(h[0].IDs, f32[0].IDs) {
		t.Errorf("f16 greedy ids %v, float32 %v", h[0].IDs, f32[0].IDs)
	}
	if dh == 0 || dh >= dbf {
		t.Errorf("f16 logprobs within %g of float32's, bf16 %g: want (0, bf16's)", dh, dbf)
	}
	s1 := gen("--quantize", "f16", "--seed", "3", "--num-return-sequences", "2", prompt)
	s2 := gen("--quantize", "f16", "--seed", "3", "--num-return-sequences", "2", prompt)
	if len(s1) != 2 || !slices.Equal(s1[1].IDs, s2[1].IDs) {
		t.Errorf("f16 sampling with --seed: %v then %v", s1, s2)
	}
	if b := gen("--quantize", "f16", "--greedy", "--num-beams", "3", "--num-return-sequences", "2", prompt); len(b) != 2 {
		t.Errorf("f16 beam search: %d sequences, want 2", len(b))
	}
	in := filepath.Join(t.TempDir(), "prompts.jsonl")
	os.WriteFile(in, []byte("\""+prompt+"\"\n\"In the beginning\"\n"), 0o644)
	batch := gen("--quantize", "f16", "--greedy", "--input", in)
	if len(batch) != 2 || !slices.Equal(batch[0].IDs, h[0].IDs) {
		t.Errorf("f16 --input: %v, want the first prompt's ids %v", batch, h[0].IDs)
	}
}

// TestEvalPerplexityF16: f16 perplexity on a piece of the held-out KJV
// text is within the bf16 bound (1.002×) of float32's, and not
// equal to it.
func TestEvalPerplexityF16(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	b, err := os.ReadFile(filepath.Join("..", "..", "defaults", "kjv", "heldout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "heldout.txt")
	os.WriteFile(file, b[:8000], 0o644)
	ppl := func(q string) float64 {
		t.Helper()
		out, err := runLoupe(t, "eval", "perplexity", "--format", "json", "--quantize", q, file)
		if err != nil {
			t.Fatalf("--quantize %s: %v", q, err)
		}
		var r struct{ Perplexity float64 }
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r.Perplexity
	}
	f, h := ppl("none"), ppl("f16")
	t.Logf("perplexity float32 %.5f, f16 %.5f (× %.6f)", f, h, h/f)
	if h == f || h > 1.002*f || h < f/1.002 {
		t.Errorf("f16 perplexity %.5f vs float32 %.5f", h, f)
	}
}
