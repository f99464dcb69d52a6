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

// TestGenerateQuantize runs loupe generate with each --quantize precision
// on the default model: greedy against float32, sampling with a seed, beam
// search and --input. --quantize none is the default. int8 moves the
// log-probabilities by about 1e-3 (and may change the tokens); bf16 keeps
// the greedy tokens and moves them by at most 0.02; f16 keeps the tokens
// and moves them by less than bf16 does.
func TestGenerateQuantize(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	gen := func(args ...string) []genSeq { t.Helper(); return generateJSON(t, args...) }
	const prompt = "And the LORD spake unto Moses, saying"
	f32 := gen("--greedy", prompt)
	// float32 runs may differ in the last bits (the kernels' threads sum
	// in varying order).
	if def := gen("--greedy", "--quantize", "none", prompt); !slices.Equal(f32[0].IDs, def[0].IDs) || maxAbsDiff(f32[0].Logprobs, def[0].Logprobs) > 1e-4 {
		t.Errorf("--quantize none differs from the default: %v vs %v", def[0].Logprobs, f32[0].Logprobs)
	}
	greedy := map[string][]genSeq{}
	for _, c := range []struct {
		precision string
		sameIDs   bool    // greedy picks float32's tokens
		minDelta  float64 // |Δ logprob| from float32's must be at least this (and never 0)
		maxDelta  float64 // and at most this (0: no bound)
		closerTo  string  // a coarser precision whose logprobs must be further from float32's
	}{
		{precision: "int8", minDelta: 1e-4},
		{precision: "bf16", sameIDs: true, maxDelta: 0.02},
		{precision: "f16", sameIDs: true, closerTo: "bf16"},
	} {
		t.Run(c.precision, func(t *testing.T) {
			q := gen("--greedy", "--quantize", c.precision, prompt)
			greedy[c.precision] = q
			if len(q[0].IDs) != 12 {
				t.Fatalf("--quantize %s: %d tokens, want 12", c.precision, len(q[0].IDs))
			}
			d := maxAbsDiff(f32[0].Logprobs, q[0].Logprobs)
			t.Logf("greedy: float32 %q, %s %q; |Δ logprob| %.2e", f32[0].Text, c.precision, q[0].Text, d)
			if c.sameIDs && !slices.Equal(q[0].IDs, f32[0].IDs) {
				t.Errorf("%s greedy ids %v, float32 %v", c.precision, q[0].IDs, f32[0].IDs)
			}
			if d == 0 || d < c.minDelta || (c.maxDelta > 0 && d > c.maxDelta) {
				t.Errorf("--quantize %s's logprobs within %g of float32's: want in [%g, %g] and not 0 (0: no bound)", c.precision, d, c.minDelta, c.maxDelta)
			}
			if c.closerTo != "" {
				coarse, ok := greedy[c.closerTo]
				if !ok {
					t.Fatalf("no %s run to compare with", c.closerTo)
				}
				if dc := maxAbsDiff(f32[0].Logprobs, coarse[0].Logprobs); d >= dc {
					t.Errorf("%s logprobs within %g of float32's, %s %g: want %s closer", c.precision, d, c.closerTo, dc, c.precision)
				}
			}
			s1 := gen("--quantize", c.precision, "--seed", "3", "--num-return-sequences", "2", prompt)
			s2 := gen("--quantize", c.precision, "--seed", "3", "--num-return-sequences", "2", prompt)
			if len(s1) != 2 || !slices.Equal(s1[1].IDs, s2[1].IDs) {
				t.Errorf("%s sampling with --seed: %v then %v", c.precision, s1, s2)
			}
			if b := gen("--quantize", c.precision, "--greedy", "--num-beams", "3", "--num-return-sequences", "2", prompt); len(b) != 2 {
				t.Errorf("%s beam search: %d sequences, want 2", c.precision, len(b))
			}
			in := filepath.Join(t.TempDir(), "prompts.jsonl")
			os.WriteFile(in, []byte("\""+prompt+"\"\n\"In the beginning\"\n"), 0o644)
			batch := gen("--quantize", c.precision, "--greedy", "--input", in)
			if len(batch) != 2 || !slices.Equal(batch[0].IDs, q[0].IDs) {
				t.Errorf("%s --input: %v, want the first prompt's ids %v", c.precision, batch, q[0].IDs)
			}
		})
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

// TestEvalPerplexityQuantize: quantized perplexity on a piece of the
// held-out KJV text is not float32's, and int8's is at most 1 % above it
// (the target), f16's within the bf16 bound (1.002×) of
// it either way.
func TestEvalPerplexityQuantize(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	b, err := os.ReadFile(filepath.Join("..", "..", "defaults", "kjv", "heldout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "heldout.txt")
	os.WriteFile(file, b[:8000], 0o644)
	ppl := func(t *testing.T, q string) float64 {
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
	f := ppl(t, "none")
	for _, c := range []struct {
		precision string
		above     float64 // perplexity at most above × float32's
		below     float64 // and, where not 0, at least float32's / below
	}{
		{precision: "int8", above: 1.01},
		{precision: "f16", above: 1.002, below: 1.002},
	} {
		t.Run(c.precision, func(t *testing.T) {
			q := ppl(t, c.precision)
			t.Logf("perplexity float32 %.5f, %s %.5f (× %.6f)", f, c.precision, q, q/f)
			if q == f || q > c.above*f || (c.below > 0 && q < f/c.below) {
				t.Errorf("%s perplexity %.5f vs float32 %.5f", c.precision, q, f)
			}
		})
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
