package generate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// batchPrompts are prompts of different lengths for the tiny model (32
// positions).
var batchPrompts = [][]int{{5}, {3, 17, 42}, {9, 8, 7, 6, 5, 4, 3}, {60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71}}

// checkBatch runs GenerateBatch and Generate on each prompt alone and
// compares the results; it returns the batch's results.
func checkBatch(t *testing.T, m *gpt2.Model, prompts [][]int, opt Options, dec Decoder) []*Result {
	t.Helper()
	got, err := GenerateBatch(context.Background(), m, prompts, opt, dec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(prompts) {
		t.Fatalf("%d results for %d prompts", len(got), len(prompts))
	}
	for i, p := range prompts {
		want, err := Generate(context.Background(), m, p, opt, dec)
		if err != nil {
			t.Fatal(err)
		}
		g := got[i]
		if !slices.Equal(g.PromptIDs, p) || !slices.Equal(g.IDs, want.IDs) || g.Text != want.Text || g.Finish != want.Finish {
			t.Errorf("prompt %d %v: batch ids %v text %q finish %q; alone %v %q %q", i, p, g.IDs, g.Text, g.Finish, want.IDs, want.Text, want.Finish)
			continue
		}
		if g.Stats.PrefillTokens != want.Stats.PrefillTokens || g.Stats.DecodeTokens != want.Stats.DecodeTokens {
			t.Errorf("prompt %d: stats %+v, alone %+v", i, g.Stats, want.Stats)
		}
		for j := range g.Logprobs {
			if d := math.Abs(float64(g.Logprobs[j] - want.Logprobs[j])); d > 1e-4 {
				t.Errorf("prompt %d logprob %d: %v, alone %v", i, j, g.Logprobs[j], want.Logprobs[j])
			}
		}
		if g.Stats.PrefillSeconds != got[0].Stats.PrefillSeconds || g.Stats.DecodeSeconds != got[0].Stats.DecodeSeconds {
			t.Errorf("prompt %d: wall times %+v differ from the batch's %+v", i, g.Stats, got[0].Stats)
		}
	}
	return got
}

func TestGenerateBatchGreedy(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	res := checkBatch(t, m, batchPrompts, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 10}, letters{})
	for i, r := range res {
		if len(r.IDs) != 10 || r.Finish != "length" || r.Stats.DecodeTokens != 9 {
			t.Errorf("prompt %d: %d ids, finish %q, stats %+v", i, len(r.IDs), r.Finish, r.Stats)
		}
	}
	// One prompt is a batch of one.
	checkBatch(t, m, batchPrompts[1:2], Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 10}, nil)
}

func TestGenerateBatchSampled(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	for _, seed := range []uint64{1, 42} {
		opt := Options{Sampling: Sampling{Seed: seed, Temperature: 1.5, TopK: 50, TopP: 0.95, RepetitionPenalty: 1.2}, MaxNewTokens: 15}
		res := checkBatch(t, m, batchPrompts, opt, letters{})
		// The same prompt twice gives the same ids (each prompt is its own
		// generation, on stream 0 of the seed).
		twice := checkBatch(t, m, [][]int{{3, 17, 42}, {3, 17, 42}}, opt, nil)
		if !slices.Equal(twice[0].IDs, twice[1].IDs) || !slices.Equal(twice[0].IDs, res[1].IDs) {
			t.Errorf("seed %d: the same prompt gave %v and %v (in the larger batch %v)", seed, twice[0].IDs, twice[1].IDs, res[1].IDs)
		}
	}
	// MinNewTokens and MinLength act per prompt.
	m.Config.EOSTokenID = 7
	checkBatch(t, m, batchPrompts, Options{Sampling: Sampling{Seed: 5, Temperature: 2}, MaxNewTokens: 12, MinNewTokens: 4}, nil)
	checkBatch(t, m, batchPrompts, Options{Sampling: Sampling{Seed: 5, Temperature: 2}, MaxNewTokens: 12, MinLength: 8}, nil)
}

// TestGenerateBatchEndings ends the sequences of one batch at different
// steps: EOS, a stop string, MaxNewTokens, the context, and a prompt that
// fills the context.
func TestGenerateBatchEndings(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	opt := Options{Sampling: Sampling{Seed: 9, Temperature: 1.3}, MaxNewTokens: 12}
	free, err := GenerateBatch(context.Background(), m, batchPrompts, opt, letters{})
	if err != nil {
		t.Fatal(err)
	}
	// EOS: the token prompt 0 draws at step 3 (if it appeared earlier, it
	// ends there).
	m.Config.EOSTokenID = free[0].IDs[3]
	// Stop: two letters of prompt 1's text from its sixth character on.
	opt.Stop = []string{free[1].Text[5:7]}
	long := make([]int, 28) // 28 + 4 tokens reach the context
	full := make([]int, 32) // already fills it
	for i := range full {
		full[i] = (i*7 + 3) % 99
		if i < len(long) {
			long[i] = (i*5 + 1) % 99
		}
	}
	prompts := append(slices.Clone(batchPrompts[:2]), long, full, batchPrompts[3], batchPrompts[2], []int{40, 41})
	res := checkBatch(t, m, prompts, opt, letters{})
	finishes := map[string]bool{}
	for i, r := range res {
		finishes[r.Finish] = true
		t.Logf("prompt %d (%d tokens): %d ids, %s", i, len(prompts[i]), len(r.IDs), r.Finish)
	}
	if res[0].Finish != "eos" || res[1].Finish != "stop" || res[2].Finish != "context" || len(res[2].IDs) != 4 ||
		res[3].Finish != "context" || len(res[3].IDs) != 0 || res[3].Stats.DecodeTokens != 0 || !finishes["length"] {
		t.Errorf("finishes %v", finishes)
	}
	if !strings.Contains(free[1].Text, res[1].Text) || strings.Contains(res[1].Text, opt.Stop[0]) {
		t.Errorf("stop %q: text %q (free %q)", opt.Stop[0], res[1].Text, free[1].Text)
	}
	// Only the context-filling prompts: nothing runs.
	res = checkBatch(t, m, [][]int{full, full}, opt, letters{})
	if res[0].Finish != "context" || len(res[1].IDs) != 0 {
		t.Errorf("full prompts: %+v", res[0])
	}
}

// TestGenerateBatchPasses prefills more prompt tokens than one pass of
// 512 rows holds.
func TestGenerateBatchPasses(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	var prompts [][]int
	total := 0
	for i := range 20 {
		p := make([]int, 25+i%6)
		for j := range p {
			p[j] = (i*13 + j*7) % 99
		}
		prompts = append(prompts, p)
		total += len(p)
	}
	if total <= 512 {
		t.Fatalf("only %d prompt tokens", total)
	}
	checkBatch(t, m, prompts, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 4}, nil)
	checkBatch(t, m, prompts, Options{Sampling: Sampling{Seed: 3}, MaxNewTokens: 4}, nil)
}

// cancelAfter is a context whose Err turns to Canceled after n calls.
type cancelAfter struct {
	context.Context
	n atomic.Int32
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestGenerateBatchCancel(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	opt := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 10}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := GenerateBatch(ctx, m, batchPrompts, opt, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled before: %v", err)
	}
	c := &cancelAfter{Context: context.Background()}
	c.n.Store(4) // the check before the prefill, then three steps
	if res, err := GenerateBatch(c, m, batchPrompts, opt, nil); !errors.Is(err, context.Canceled) || res != nil {
		t.Errorf("cancelled during decoding: %v, %v", res, err)
	}
}

func TestGenerateBatchErrors(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	greedy := Options{Sampling: Sampling{Greedy: true}}
	if _, err := GenerateBatch(ctx, m, nil, greedy, nil); err == nil {
		t.Error("no prompts: no error")
	}
	if _, err := GenerateBatch(ctx, m, [][]int{{1}, {}}, greedy, nil); !errors.Is(err, ErrEmptyPrompt) || !strings.Contains(err.Error(), "prompt 1") {
		t.Errorf("empty prompt: %v", err)
	}
	if _, err := GenerateBatch(ctx, m, [][]int{{1}, make([]int, 33)}, greedy, nil); !errors.Is(err, gpt2.ErrContext) {
		t.Errorf("long prompt: %v", err)
	}
	if _, err := GenerateBatch(ctx, m, [][]int{{1}}, Options{OnToken: func(Step) error { return nil }}, nil); err == nil || !strings.Contains(err.Error(), "OnToken") {
		t.Errorf("OnToken: %v", err)
	}
	if _, err := GenerateBatch(ctx, m, [][]int{{1}}, Options{Stop: []string{"a"}}, nil); err == nil {
		t.Error("stop without a decoder: no error")
	}
	if _, err := GenerateBatch(ctx, m, [][]int{{1}}, Options{MaxNewTokens: -1}, nil); err == nil {
		t.Error("negative max new tokens: no error")
	}
	// 500,000 one-token prompts: 32 positions of caches and logits each
	// (34 KiB) pass the 16 GiB limit; refused before anything is allocated.
	many := make([][]int, 500_000)
	for i := range many {
		many[i] = []int{1}
	}
	if _, err := GenerateBatch(ctx, m, many, greedy, nil); err == nil || !strings.Contains(err.Error(), "GiB limit") {
		t.Errorf("oversized batch: %v", err)
	}
}
