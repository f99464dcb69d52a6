package generate

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestLoadQuantizeInt8 loads the default model with int8 weights and runs
// every kind of decoding with it: greedy, sampling, several samples, beam
// search and a batch of prompts (whose results must be what each prompt
// gives alone). Greedy int8 text is compared with float32's: the trained
// model's distributions are peaked, so the two agree on most tokens.
func TestLoadQuantizeInt8(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	ctx := context.Background()
	f32, err := Load(ctx, defaults.GPT2, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f32.Close()
	p, err := Load(ctx, defaults.GPT2, LoadOptions{Quantize: "int8"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Model.Precision() != gpt2.Int8 || f32.Model.Precision() != gpt2.Float32 {
		t.Fatalf("precisions %q and %q", p.Model.Precision(), f32.Model.Precision())
	}
	prompt, err := p.Encode("And God said, Let there be")
	if err != nil {
		t.Fatal(err)
	}
	seed := uint64(7)
	greedy := Settings{Seed: &seed, IgnoreEOS: true}
	greedy.DoSample, greedy.MaxNewTokens = new(false), new(24)
	run := func(p *Pipeline, s Settings) *Output {
		t.Helper()
		opt, b, err := p.Resolve(s, len(prompt))
		if err != nil {
			t.Fatal(err)
		}
		o, err := p.Run(ctx, prompt, opt, b)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	q, f := run(p, greedy), run(f32, greedy)
	same := 0
	for same < len(q.Sequences[0].IDs) && q.Sequences[0].IDs[same] == f.Sequences[0].IDs[same] {
		same++
	}
	t.Logf("greedy: int8 %q, float32 %q: the first %d of %d tokens agree", q.Sequences[0].Text, f.Sequences[0].Text, same, len(q.Sequences[0].IDs))
	if same < 8 {
		t.Errorf("greedy int8 and float32 part after %d tokens: %q vs %q", same, q.Sequences[0].Text, f.Sequences[0].Text)
	}
	if slices.Equal(q.Sequences[0].Logprobs, f.Sequences[0].Logprobs) {
		t.Error("int8 logprobs identical to float32's: the quantized path did not run")
	}

	sample := Settings{Seed: &seed, IgnoreEOS: true}
	sample.DoSample, sample.MaxNewTokens, sample.NumReturnSequences = new(true), new(16), new(3)
	o := run(p, sample)
	if len(o.Sequences) != 3 || len(o.Sequences[0].IDs) != 16 {
		t.Errorf("3 samples: %+v", o.Sequences)
	}
	if again := run(p, sample); !slices.Equal(again.Sequences[2].IDs, o.Sequences[2].IDs) {
		t.Error("sampling with a seed is not reproducible with int8 weights")
	}

	beams := greedy
	beams.NumBeams, beams.NumReturnSequences = new(4), new(2)
	if o := run(p, beams); !o.Beams || len(o.Sequences) != 2 || o.Sequences[0].Score < o.Sequences[1].Score {
		t.Errorf("beam search: %+v", o)
	}

	texts := []string{"In the beginning", "And Moses said unto the LORD", "Blessed are"}
	var batch []*Result
	if err := p.GenerateTexts(ctx, texts, greedy, 8, func(_ int, res []*Result) error {
		batch = append(batch, res...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		ids, _ := p.Encode(text)
		opt, _, _ := p.Resolve(greedy, len(ids))
		alone, err := Generate(ctx, p.Model, ids, opt, p.Decoder())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(alone.IDs, batch[i].IDs) {
			t.Errorf("prompt %d: batched %q, alone %q", i, batch[i].Text, alone.Text)
		}
	}
}

func TestLoadQuantizeBad(t *testing.T) {
	for _, q := range []string{"int4", "BF16", "Int8"} {
		_, err := Load(context.Background(), "no/such-model", LoadOptions{Quantize: q})
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != "quantize" || oe.Value != `"`+q+`"` || oe.Allowed != quantizeAllowed {
			t.Errorf("Quantize %q: error %v, want an OptionError for quantize before any loading", q, err)
		}
	}
	for _, q := range []string{"", "none", "float32", "int8", "bf16"} {
		if err := (LoadOptions{Quantize: q}).Check(); err != nil {
			t.Errorf("Quantize %q: %v", q, err)
		}
	}
}

// TestQuantizeInt8Heldout compares the default model's int8 and float32
// next-token distributions over 1,000 teacher-forced positions of the
// held-out KJV text (windows of n_positions tokens): the smallest cosine
// of the log-softmax rows and the top-1 agreement, against the issue's
// targets (0.999 and 98 %).
func TestQuantizeInt8Heldout(t *testing.T) {
	t.Setenv("LOUPE_CACHE", t.TempDir())
	ctx := context.Background()
	text, err := os.ReadFile(filepath.Join("..", "defaults", "kjv", "heldout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	logits := map[string][]float32{}
	var n, V int
	for _, q := range []string{"none", "int8"} {
		p, err := Load(ctx, defaults.GPT2, LoadOptions{Quantize: q})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		ids := p.Tokenizer.Encode(string(text[:20000]))
		P := p.Model.Config.NPositions
		V = p.Model.Config.VocabSize
		for n = 0; n < 1000; n += P {
			lg, err := p.Model.Forward(ids[n:n+P], nil)
			if err != nil {
				t.Fatal(err)
			}
			logits[q] = append(logits[q], lg...)
		}
	}
	minCos, agree := 1.0, 0
	for r := range n {
		a, b := logits["none"][r*V:(r+1)*V], logits["int8"][r*V:(r+1)*V]
		la, lb := logSoftmax64(a), logSoftmax64(b)
		var ab, aa, bb float64
		for i := range la {
			ab, aa, bb = ab+la[i]*lb[i], aa+la[i]*la[i], bb+lb[i]*lb[i]
		}
		minCos = math.Min(minCos, ab/math.Sqrt(aa*bb))
		if argmax(a) == argmax(b) {
			agree++
		}
	}
	top1 := float64(agree) / float64(n)
	t.Logf("default model, %d held-out positions: log-softmax cosine ≥ %.6f, top-1 agreement %.4f", n, minCos, top1)
	if minCos < 0.999 || top1 < 0.98 {
		t.Errorf("int8 below the targets (cosine ≥ 0.999, top-1 ≥ 98 %%): %.6f, %.4f", minCos, top1)
	}
}

func logSoftmax64(row []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	out := make([]float64, len(row))
	for i, v := range row {
		out[i] = float64(v) - mx - math.Log(s)
	}
	return out
}
