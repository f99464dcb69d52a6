package seq2seq

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/bart"
)

func greedy(maxLength int) generate.Settings {
	s := generate.Settings{Seed: new(uint64)}
	s.DoSample = new(false)
	s.MaxLength = &maxLength
	return s
}

// TestConfigFallback: without generation_config.json, config.json's
// generation fields are the defaults (transformers' from_model_config).
func TestConfigFallback(t *testing.T) {
	p := loadTiny(t, "tiny-bart")
	if p.Config == nil || !slices.Equal(p.Config.ForcedEOSTokenIDs, []int{2}) || *p.Config.ForcedBOSTokenID != 0 || *p.Config.DecoderStartTokenID != 2 {
		t.Fatalf("config %+v", p.Config)
	}
	_, _, start, err := p.Resolve(generate.Settings{})
	if err != nil || !slices.Equal(start, []int{2}) {
		t.Errorf("start %v, %v", start, err)
	}
	opt, _, _, _ := p.Resolve(generate.Settings{})
	if !opt.Greedy {
		t.Errorf("default decoding samples; want greedy (config.json has no do_sample)")
	}
	if opt.MaxNewTokens != 19 {
		t.Errorf("default max new tokens %d, want 19 (transformers' max_length 20 with the start token)", opt.MaxNewTokens)
	}
}

// TestRunBatch: every source of a batch gets what it gets alone.
func TestRunBatch(t *testing.T) {
	for _, name := range []string{"tiny-bart", "tiny-marian"} {
		p := loadTiny(t, name)
		srcs := [][]int{{5, 6, 7, 8, 2}, {9, 10, 2}, {11, 12, 13, 14, 15, 16, 17, 2}}
		s := greedy(10)
		s.RepetitionPenalty = new(2.0)
		res, err := p.RunBatch(context.Background(), srcs, s)
		if err != nil {
			t.Fatal(err)
		}
		for i, src := range srcs {
			one, err := p.RunIDs(context.Background(), src, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res[i].IDs, one.Sequences[0].IDs) {
				t.Errorf("%s source %d: batch %v, alone %v", name, i, res[i].IDs, one.Sequences[0].IDs)
			}
		}
		b := s
		b.NumBeams = new(2)
		if _, err := p.RunBatch(context.Background(), srcs, b); err == nil {
			t.Errorf("%s: beam search over a batch: no error", name)
		}
	}
}

// TestSamples: several samples share the source; the first is the single
// sample of the same seed, and streaming sees every token.
func TestSamples(t *testing.T) {
	p := loadTiny(t, "tiny-marian")
	s := generate.Settings{Seed: new(uint64(7))}
	s.DoSample = new(true)
	s.MaxLength = new(9)
	var streamed []int
	one, err := p.RunIDs(context.Background(), []int{3, 4, 5, 0}, s, func(st generate.Step) error {
		streamed = append(streamed, st.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(streamed, one.Sequences[0].IDs) {
		t.Errorf("streamed %v, result %v", streamed, one.Sequences[0].IDs)
	}
	s.NumReturnSequences = new(3)
	many, err := p.RunIDs(context.Background(), []int{3, 4, 5, 0}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(many.Sequences) != 3 || !slices.Equal(many.Sequences[0].IDs, one.Sequences[0].IDs) {
		t.Errorf("samples %v, single %v", many.Sequences, one.Sequences[0].IDs)
	}
	if n := len(one.Sequences[0].IDs); n > 8 {
		t.Errorf("%d tokens: max_length 9 counts the start token", n)
	}
}

// TestSourceErrors: a source too long, empty or out of the vocabulary is an
// error, and a hook is refused.
func TestSourceErrors(t *testing.T) {
	p := loadTiny(t, "tiny-bart")
	long := make([]int, 41)
	if _, err := p.RunIDs(context.Background(), long, greedy(5), nil); !errors.Is(err, bart.ErrContext) {
		t.Errorf("41 tokens in 40 positions: %v", err)
	}
	if _, err := p.RunIDs(context.Background(), nil, greedy(5), nil); err == nil {
		t.Error("empty source: no error")
	}
	if _, err := p.RunIDs(context.Background(), []int{120}, greedy(5), nil); err == nil {
		t.Error("id 120 of 120: no error")
	}
	if _, err := p.RunBatch(context.Background(), [][]int{{5}, long}, greedy(5)); err == nil {
		t.Error("batch with a long source: no error")
	}
	if _, err := p.Run(context.Background(), "hello", greedy(5), nil); err == nil {
		t.Error("text without a tokenizer: no error")
	}
	bad := generate.Settings{}
	bad.DecoderStartTokenID = new(999)
	if _, err := p.RunIDs(context.Background(), []int{5, 2}, bad, nil); err == nil {
		t.Error("decoder_start_token_id 999: no error")
	}
}

// TestDecodeStepAllocs: the decoding loop's allocations do not grow with
// the number of steps beyond the result's own slices.
func TestDecodeStepAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	p := loadTiny(t, "tiny-marian")
	allocs := func(n int) float64 {
		s := greedy(n)
		s.ForcedEOSTokenIDs = []int{}
		p.Config.ForcedEOSTokenIDs = nil
		s.IgnoreEOS = true
		return testing.AllocsPerRun(5, func() {
			if _, err := p.RunIDs(context.Background(), []int{3, 4, 5, 0}, s, nil); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs(8), allocs(40)
	perStep := (b - a) / 32
	t.Logf("allocations: %.0f for 7 tokens, %.0f for 39: %.2f per step", a, b, perStep)
	if perStep > 1 {
		t.Errorf("%.2f allocations per decoding step, want at most 1 (the growing result slices)", perStep)
	}
}
