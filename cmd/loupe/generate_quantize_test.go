package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGenerateQuantizeFlag runs loupe generate with --quantize int8 on the
// default model: greedy, sampling with a seed, beam search and --input,
// each against --quantize none (the default).
func TestGenerateQuantizeFlag(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	gen := func(args ...string) []genSeq { t.Helper(); return generateJSON(t, args...) }
	const prompt = "And the LORD spake unto Moses, saying"
	f32 := gen("--greedy", prompt)
	def := gen("--greedy", "--quantize", "none", prompt)
	q := gen("--greedy", "--quantize", "int8", prompt)
	// float32 runs may differ in the last bits (the kernels' threads sum
	// in varying order); int8 moves the log-probabilities by about 1e-3.
	if !slices.Equal(f32[0].IDs, def[0].IDs) || maxAbsDiff(f32[0].Logprobs, def[0].Logprobs) > 1e-4 {
		t.Errorf("--quantize none differs from the default: %v vs %v", def[0].Logprobs, f32[0].Logprobs)
	}
	if d := maxAbsDiff(f32[0].Logprobs, q[0].Logprobs); d < 1e-4 {
		t.Errorf("--quantize int8's logprobs within %g of float32's: the int8 path did not run", d)
	}
	if len(q[0].IDs) != 12 {
		t.Errorf("--quantize int8: %d tokens, want 12", len(q[0].IDs))
	}
	t.Logf("greedy: float32 %q, int8 %q", f32[0].Text, q[0].Text)

	s1 := gen("--quantize", "int8", "--seed", "3", "--num-return-sequences", "2", prompt)
	s2 := gen("--quantize", "int8", "--seed", "3", "--num-return-sequences", "2", prompt)
	if len(s1) != 2 || !slices.Equal(s1[1].IDs, s2[1].IDs) {
		t.Errorf("int8 sampling with --seed: %v then %v", s1, s2)
	}
	if b := gen("--quantize", "int8", "--greedy", "--num-beams", "3", "--num-return-sequences", "2", prompt); len(b) != 2 {
		t.Errorf("int8 beam search: %d sequences, want 2", len(b))
	}

	in := filepath.Join(t.TempDir(), "prompts.jsonl")
	os.WriteFile(in, []byte("\""+prompt+"\"\n\"In the beginning\"\n"), 0o644)
	batch := gen("--quantize", "int8", "--greedy", "--input", in)
	if len(batch) != 2 || !slices.Equal(batch[0].IDs, q[0].IDs) {
		t.Errorf("int8 --input: %v, want the first prompt's ids %v", batch, q[0].IDs)
	}
}

// genSeq is one sequence of loupe generate --format json.
type genSeq struct {
	IDs      []int     `json:"ids"`
	Text     string    `json:"text"`
	Logprobs []float32 `json:"logprobs"`
}

// generateJSON runs loupe generate --format json with 12 new tokens and
// returns every sequence it printed (several for beams or --input).
func generateJSON(t *testing.T, args ...string) []genSeq {
	t.Helper()
	out, err := runLoupe(t, append([]string{"generate", "--format", "json", "--max-new-tokens", "12", "--ignore-eos"}, args...)...)
	if err != nil {
		t.Fatalf("generate %v: %v", args, err)
	}
	var seqs []genSeq
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var o struct {
			genSeq
			Sequences []genSeq `json:"sequences"`
		}
		if err := json.Unmarshal([]byte(line), &o); err != nil {
			t.Fatalf("generate %v: %q: %v", args, line, err)
		}
		if len(o.Sequences) > 0 {
			seqs = append(seqs, o.Sequences...)
		} else {
			seqs = append(seqs, o.genSeq)
		}
	}
	return seqs
}

// maxAbsDiff is the largest |a[i] - b[i]| over their common length.
func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range min(len(a), len(b)) {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestEvalPerplexityQuantize: int8 perplexity on held-out KJV text is
// within 1 % of float32's (the target).
func TestEvalPerplexityQuantize(t *testing.T) {
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
	f, q := ppl("none"), ppl("int8")
	t.Logf("perplexity float32 %.4f, int8 %.4f (× %.5f)", f, q, q/f)
	if q == f || q > 1.01*f {
		t.Errorf("int8 perplexity %.4f vs float32 %.4f", q, f)
	}
}

// TestQuantizeFlagErrors: an unknown --quantize names the flag and the
// values allowed, before any model is loaded.
func TestQuantizeFlagErrors(t *testing.T) {
	const want = `--quantize "int4": want none, float32, int8, bf16 or f16`
	for _, args := range [][]string{
		{"generate", "--model", "./no/such/model", "--quantize", "int4", "x"},
		{"eval", "perplexity", "--model", "./no/such/model", "--quantize", "int4", "no-such-file.txt"},
		{"serve", "--model", "./no/such/model", "--quantize", "int4"},
	} {
		_, err := runLoupe(t, args...)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), args[0]) {
			t.Errorf("%v: error %v, want %q", args, err, want)
		}
	}
}
