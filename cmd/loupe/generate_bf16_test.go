package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestGenerateQuantizeBF16 runs loupe generate with --quantize bf16 on the
// default model: greedy against float32 (the same tokens; log-probabilities
// moved, by less than int8 moves them), beam search and --input.
func TestGenerateQuantizeBF16(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	gen := func(args ...string) []genSeq { t.Helper(); return generateJSON(t, args...) }
	const prompt = "And the LORD spake unto Moses, saying"
	f32 := gen("--greedy", prompt)
	bf := gen("--greedy", "--quantize", "bf16", prompt)
	q8 := gen("--greedy", "--quantize", "int8", prompt)
	if len(bf[0].IDs) != 12 {
		t.Fatalf("--quantize bf16: %d tokens, want 12", len(bf[0].IDs))
	}
	dbf, d8 := maxAbsDiff(f32[0].Logprobs, bf[0].Logprobs), maxAbsDiff(f32[0].Logprobs, q8[0].Logprobs)
	t.Logf("greedy: float32 %q, bf16 %q; |Δ logprob| bf16 %.2e, int8 %.2e", f32[0].Text, bf[0].Text, dbf, d8)
	if !slices.Equal(bf[0].IDs, f32[0].IDs) {
		t.Errorf("bf16 greedy ids %v, float32 %v", bf[0].IDs, f32[0].IDs)
	}
	if dbf == 0 || dbf > 0.02 {
		t.Errorf("bf16 logprobs within %g of float32's: want (0, 0.02]", dbf)
	}
	if b := gen("--quantize", "bf16", "--greedy", "--num-beams", "3", "--num-return-sequences", "2", prompt); len(b) != 2 {
		t.Errorf("bf16 beam search: %d sequences, want 2", len(b))
	}
	in := filepath.Join(t.TempDir(), "prompts.jsonl")
	os.WriteFile(in, []byte("\""+prompt+"\"\n\"In the beginning\"\n"), 0o644)
	batch := gen("--quantize", "bf16", "--greedy", "--input", in)
	if len(batch) != 2 || !slices.Equal(batch[0].IDs, bf[0].IDs) {
		t.Errorf("bf16 --input: %v, want the first prompt's ids %v", batch, bf[0].IDs)
	}
}
