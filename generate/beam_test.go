package generate

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// beamCase is one entry of testdata/beam_golden.json, written by
// testdata/beam_reference.py (a PyTorch rendering of transformers'
// _beam_search, and of greedy decoding for the cases with Mode "greedy",
// on the tiny checkpoint, and of its do_sample branch for the cases with
// Mode "beam_sample", whose random draws come from Uniforms).
type beamCase struct {
	Name               string      `json:"name"`
	Mode               string      `json:"mode"` // "greedy", "beam_sample", or "beam" (also when absent)
	MinNewTokens       int         `json:"min_new_tokens"`
	MinLength          int         `json:"min_length"`
	Logprobs           [][]float64 `json:"logprobs"` // greedy: log_softmax of the raw logits at each id
	Prompt             []int       `json:"prompt"`
	EOS                []int       `json:"eos_token_id"`
	NumBeams           int         `json:"num_beams"`
	MaxNewTokens       int         `json:"max_new_tokens"`
	LengthPenalty      float64     `json:"length_penalty"`
	EarlyStopping      string      `json:"early_stopping"`
	NumReturn          int         `json:"num_return_sequences"`
	RepetitionPenalty  float64     `json:"repetition_penalty"`
	NoRepeatNGramSize  int         `json:"no_repeat_ngram_size"`
	Temperature        float64     `json:"temperature"` // beam_sample: the warpers
	TopK               int         `json:"top_k"`
	TopP               float64     `json:"top_p"`
	Uniforms           []float64   `json:"uniforms"` // beam_sample: the numbers the draws use, in order
	Sequences          [][]int     `json:"sequences"`
	SequencesScores    []float64   `json:"sequences_scores"`
	sawEOS, sawShorter bool
}

func loadBeamGolden(t *testing.T) []beamCase {
	t.Helper()
	b, err := os.ReadFile("testdata/beam_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []beamCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

func TestBeamSearchGolden(t *testing.T) {
	m := tinyModel(t)
	cases := loadBeamGolden(t)
	eosFinished, sampled := 0, 0
	for _, c := range cases {
		if c.Mode == "greedy" {
			continue // TestGreedyGolden
		}
		t.Run(c.Name, func(t *testing.T) {
			es, err := ParseEarlyStopping(c.EarlyStopping)
			if err != nil {
				t.Fatal(err)
			}
			opt := Options{MaxNewTokens: c.MaxNewTokens, EOSTokenIDs: append([]int{}, c.EOS...),
				MinNewTokens: c.MinNewTokens, MinLength: c.MinLength,
				Sampling: Sampling{RepetitionPenalty: c.RepetitionPenalty, NoRepeatNGramSize: c.NoRepeatNGramSize}}
			b := Beams{NumBeams: c.NumBeams, LengthPenalty: c.LengthPenalty, EarlyStopping: es, NumReturnSequences: c.NumReturn}
			var uniform func() float64
			used := 0
			if c.Mode == "beam_sample" {
				sampled++
				b.Sample = true
				opt.Sampling.Temperature, opt.Sampling.TopK, opt.Sampling.TopP = c.Temperature, c.TopK, c.TopP
				uniform = func() float64 {
					if used == len(c.Uniforms) {
						t.Fatalf("more than the reference's %d draws", len(c.Uniforms))
					}
					used++
					return c.Uniforms[used-1]
				}
			}
			res, err := beamSearchWith(context.Background(), m, c.Prompt, opt, b, nil, uniform)
			if err != nil {
				t.Fatal(err)
			}
			if used != len(c.Uniforms) {
				t.Errorf("%d draws, the reference made %d", used, len(c.Uniforms))
			}
			if len(res.Sequences) != len(c.Sequences) {
				t.Fatalf("%d sequences, want %d", len(res.Sequences), len(c.Sequences))
			}
			worst := 0.0
			for i, sq := range res.Sequences {
				if !slices.Equal(sq.IDs, c.Sequences[i]) {
					t.Errorf("sequence %d: %v, want %v", i, sq.IDs, c.Sequences[i])
				}
				d := math.Abs(float64(sq.Score) - c.SequencesScores[i])
				worst = max(worst, d)
				if d > 1e-4 {
					t.Errorf("sequence %d: score %g, want %g", i, sq.Score, c.SequencesScores[i])
				}
				if len(sq.Logprobs) != len(sq.IDs) {
					t.Errorf("sequence %d: %d logprobs for %d ids", i, len(sq.Logprobs), len(sq.IDs))
				}
				wantFinish := "length"
				if n := len(sq.IDs); n > 0 && slices.Contains(c.EOS, sq.IDs[n-1]) {
					wantFinish = "eos"
					eosFinished++
				}
				if sq.Finish != wantFinish {
					t.Errorf("sequence %d: finish %q, want %q", i, sq.Finish, wantFinish)
				}
				if i > 0 && sq.Score > res.Sequences[i-1].Score {
					t.Errorf("sequence %d scores %g, above sequence %d's %g", i, sq.Score, i-1, res.Sequences[i-1].Score)
				}
			}
			t.Logf("largest score difference %.2g", worst)
		})
	}
	if eosFinished == 0 {
		t.Error("no golden case ends with an EOS token: the finished-list path is untested")
	}
	if sampled == 0 {
		t.Error("no beam_sample golden case")
	}
}

// TestGreedyGolden checks greedy decoding with min_new_tokens and
// min_length against the reference's cases (transformers' _sample without
// do_sample): the ids, where each run ends, and the raw logprobs.
func TestGreedyGolden(t *testing.T) {
	m := tinyModel(t)
	n, masked := 0, 0
	for _, c := range loadBeamGolden(t) {
		if c.Mode != "greedy" {
			continue
		}
		n++
		t.Run(c.Name, func(t *testing.T) {
			opt := Options{MaxNewTokens: c.MaxNewTokens, EOSTokenIDs: append([]int{}, c.EOS...),
				MinNewTokens: c.MinNewTokens, MinLength: c.MinLength,
				Sampling: Sampling{Greedy: true, RepetitionPenalty: c.RepetitionPenalty, NoRepeatNGramSize: c.NoRepeatNGramSize}}
			res, err := Generate(context.Background(), m, c.Prompt, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := c.Sequences[0]
			if !slices.Equal(res.IDs, want) {
				t.Fatalf("ids %v, want %v", res.IDs, want)
			}
			wantFinish := "length"
			if slices.Contains(c.EOS, want[len(want)-1]) {
				wantFinish = "eos"
			}
			if res.Finish != wantFinish {
				t.Errorf("finish %q, want %q", res.Finish, wantFinish)
			}
			for i, lp := range res.Logprobs {
				if d := math.Abs(float64(lp) - c.Logprobs[0][i]); d > 1e-4 {
					t.Errorf("logprob %d: %g, want %g", i, lp, c.Logprobs[0][i])
				}
			}
			// The same run without the minimum: where it differs, the
			// minimum kept an EOS out.
			opt.MinNewTokens, opt.MinLength = 0, 0
			free, err := Generate(context.Background(), m, c.Prompt, opt, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(free.IDs, res.IDs) {
				masked++
				if free.Finish != "eos" || len(free.IDs) >= len(res.IDs) && res.Finish == "eos" {
					t.Errorf("without the minimum: %v (%s); with it: %v (%s)", free.IDs, free.Finish, res.IDs, res.Finish)
				}
			}
		})
	}
	if n == 0 || masked == 0 {
		t.Errorf("%d greedy golden cases, %d where the minimum changed the result", n, masked)
	}
}

// TestBeamLogprobs checks the reported per-token logprobs against a plain
// forward pass of the returned sequence.
func TestBeamLogprobs(t *testing.T) {
	m := tinyModel(t)
	prompt := []int{50, 1, 2, 98}
	res, err := BeamSearch(context.Background(), m, prompt, Options{MaxNewTokens: 6},
		Beams{NumBeams: 4, LengthPenalty: 1, NumReturnSequences: 4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	for i, sq := range res.Sequences {
		all := append(slices.Clone(prompt), sq.IDs...)
		lg, err := m.Forward(all, nil)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for j, id := range sq.IDs {
			row := lg[(len(prompt)+j-1)*V : (len(prompt)+j)*V]
			want := logSoftmaxAt(row, id)
			sum += float64(want)
			if d := math.Abs(float64(sq.Logprobs[j] - want)); d > 1e-4 {
				t.Errorf("sequence %d token %d: logprob %g, want %g", i, j, sq.Logprobs[j], want)
			}
		}
		// Without processors the score is the mean log-prob (length penalty 1).
		if d := math.Abs(sum/float64(len(sq.IDs)) - float64(sq.Score)); d > 1e-4 {
			t.Errorf("sequence %d: score %g, mean logprob %g", i, sq.Score, sum/float64(len(sq.IDs)))
		}
	}
}

func TestBeamSearchErrors(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	var allIDs []int // every token an EOS: more candidates than tokens
	for i := range m.Config.VocabSize {
		allIDs = append(allIDs, i)
	}
	for _, c := range []struct {
		name string
		opt  Options
		b    Beams
		want string
	}{
		{"zero beams", Options{}, Beams{}, "num beams 0"},
		{"too many returns", Options{}, Beams{NumBeams: 2, NumReturnSequences: 3}, "num return sequences 3"},
		{"stop", Options{Stop: []string{"x"}}, Beams{NumBeams: 2}, "stop strings"},
		{"nan penalty", Options{}, Beams{NumBeams: 2, LengthPenalty: math.NaN()}, "length penalty"},
		{"ngram", Options{Sampling: Sampling{NoRepeatNGramSize: -1}}, Beams{NumBeams: 2}, "no_repeat_ngram_size -1"},
		{"vocab", Options{EOSTokenIDs: allIDs}, Beams{NumBeams: 2}, "more than the"},
		{"memory", Options{}, Beams{NumBeams: 100_000_000}, "GiB limit"},
	} {
		_, err := BeamSearch(ctx, m, []int{1}, c.opt, c.b, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// A prompt that fills the context leaves nothing to generate.
	full := make([]int, m.Config.NPositions)
	res, err := BeamSearch(ctx, m, full, Options{}, Beams{NumBeams: 2, NumReturnSequences: 2}, nil)
	if err != nil || len(res.Sequences) != 2 || res.Sequences[0].Finish != "context" {
		t.Errorf("full context: %+v, %v", res, err)
	}
	// Past the context: the search stops at n_positions.
	res, err = BeamSearch(ctx, m, full[:28], Options{MaxNewTokens: 10, IgnoreEOS: true}, Beams{NumBeams: 2, LengthPenalty: 1}, nil)
	if err != nil || len(res.Sequences[0].IDs) != 4 || res.Sequences[0].Finish != "context" {
		t.Errorf("context limit: %+v, %v", res.Sequences, err)
	}
}

func TestEarlyStoppingParse(t *testing.T) {
	for _, s := range []string{"false", "true", "never"} {
		e, err := ParseEarlyStopping(s)
		if err != nil || e.String() != s {
			t.Errorf("%q: %v %v", s, e, err)
		}
	}
	if _, err := ParseEarlyStopping("sometimes"); err == nil {
		t.Error("sometimes: no error")
	}
}

// BenchmarkBeamSearch measures the search itself on GPT-2's vocabulary
// size with a one-layer, 16-wide model (so the forward passes are cheap).
func BenchmarkBeamSearch(b *testing.B) {
	cfg := gpt2.Config{NLayer: 1, NHead: 2, NEmbd: 16, NPositions: 64, VocabSize: 50257, LayerNormEps: 1e-5,
		Activation: "gelu_new", EOSTokenID: 50256, BOSTokenID: 50256}
	m, err := gpt2.Random(cfg, 5, 2)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 4, 8} {
		b.Run(fmt.Sprintf("beams=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := BeamSearch(context.Background(), m, []int{1, 2, 3}, Options{MaxNewTokens: 20, IgnoreEOS: true},
					Beams{NumBeams: n, LengthPenalty: 1}, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N)/20*1e3, "ms/step")
		})
	}
}

// TestDrawCandidates checks the beam-sampling draw as drawCandidates
// defines it (the reference script repeats it): inverse-CDF draws in index
// order, renormalised over what is left, then the best remaining scores
// once no weight above 0 is left.
func TestDrawCandidates(t *testing.T) {
	inf := float32(math.Inf(-1))
	ln := func(x float64) float32 { return float32(math.Log(x)) }
	// Two beams of four tokens; weights 1, 2, 0, 1 | 0, 0, 0, 4 (of 8), and
	// beam 1's -1e9 entries (weight 0) and -Inf ones.
	acc := []float32{0, ln(2), inf, 0, scoreFloor, 2 * scoreFloor, inf, ln(4)}
	for _, c := range []struct {
		acc  []float32 // nil: acc
		u    []float64
		want []int
	}{
		{nil, []float64{0, 0, 0, 0, 0, 0}, []int{0, 1, 3, 7, 4, 5}},             // always the first left
		{nil, []float64{0.99, 0.99, 0.99, 0.99, 0, 0}, []int{7, 3, 1, 0, 4, 5}}, // always the last left
		{nil, []float64{0.2, 0.5, 0.25, 0.7, 0.3, 0.9}, []int{1, 7, 0, 3, 4, 5}},
		// Equal weights (exactly 1): u = 1/4 is exactly the first one's
		// share, and the running sum must pass it.
		{[]float32{0, 0, inf, 0, scoreFloor, 2 * scoreFloor, inf, 0}, []float64{0.25, 0.5, 0, 0, 0}, []int{1, 3, 0, 7, 4}},
	} {
		if c.acc == nil {
			c.acc = acc
		}
		acc := c.acc
		used := 0
		bs := &beamSearch{K: len(c.u), V: 4, acc: slices.Clone(acc), w: make([]float64, len(acc)),
			uniform: func() float64 { used++; return c.u[used-1] }}
		bs.drawCandidates()
		var got []int
		for j, cd := range bs.cand {
			got = append(got, cd.index)
			if cd.beam != cd.index/4 || cd.tok != cd.index%4 || cd.score != acc[cd.index] {
				t.Errorf("u %v: candidate %d is %+v", c.u, j, cd)
			}
		}
		if !slices.Equal(got, c.want) || used != len(c.u) {
			t.Errorf("u %v: drew %v with %d numbers, want %v with %d", c.u, got, used, c.want, len(c.u))
		}
	}
}

// TestBeamSampleSeed checks that beam sampling draws from Sampling.Seed:
// the same seed gives the same sequences, other seeds and plain beam
// search give others.
func TestBeamSampleSeed(t *testing.T) {
	m := tinyModel(t)
	run := func(sample bool, seed uint64) []Sequence {
		t.Helper()
		opt := Options{MaxNewTokens: 8, IgnoreEOS: true, Sampling: Sampling{Seed: seed, Temperature: 1.5}}
		res, err := BeamSearch(context.Background(), m, []int{3, 17, 42}, opt,
			Beams{NumBeams: 3, LengthPenalty: 1, NumReturnSequences: 3, Sample: sample}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Sequences
	}
	same := func(a, b []Sequence) bool {
		return slices.EqualFunc(a, b, func(x, y Sequence) bool { return slices.Equal(x.IDs, y.IDs) && x.Score == y.Score })
	}
	a := run(true, 1)
	if !same(a, run(true, 1)) {
		t.Error("seed 1 twice: different sequences")
	}
	if same(a, run(false, 1)) {
		t.Errorf("beam sample %v: the same as beam search", a[0].IDs)
	}
	differ := 0
	for seed := uint64(2); seed < 6; seed++ {
		if !same(a, run(true, seed)) {
			differ++
		}
	}
	if differ == 0 {
		t.Error("seeds 1 to 5 all give the same sequences")
	}
	// Without Sample the sampling fields change nothing.
	if !same(run(false, 1), run(false, 9)) {
		t.Error("beam search depends on the seed")
	}
}
