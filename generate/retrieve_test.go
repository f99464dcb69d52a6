package generate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// favour is an Adjuster that checks its inputs and adds a bonus to one
// token's logit, so that it wins every greedy step.
type favour struct {
	t     *testing.T
	m     *gpt2.Model
	tok   int
	calls int
	rows  []int
}

func (f *favour) Adjust(row int, hidden, logits []float32) error {
	c := f.m.Config
	if len(hidden) != c.NEmbd || len(logits) != c.VocabSize {
		f.t.Fatalf("Adjust got %d hidden and %d logits, want %d and %d", len(hidden), len(logits), c.NEmbd, c.VocabSize)
	}
	// The logits are the hidden state times the tied head.
	var d float64
	for i, h := range hidden {
		d += float64(h) * float64(f.m.Weights.LMHead[f.tok*c.NEmbd+i])
	}
	if math.Abs(d-float64(logits[f.tok])) > 1e-3 {
		f.t.Fatalf("row %d: logit %g is not hidden·wte[%d] = %g", row, logits[f.tok], f.tok, d)
	}
	f.calls++
	f.rows = append(f.rows, row)
	logits[f.tok] += 1000
	return nil
}

// TestAdjust: every decoding path hands each row's hidden state and logits
// to Options.Adjust before sampling, and uses what it writes.
func TestAdjust(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	ctx := context.Background()
	prompt := []int{3, 17, 42}
	all := func(ids []int) bool {
		for _, id := range ids {
			if id != 7 {
				return false
			}
		}
		return len(ids) > 0
	}
	f := &favour{t: t, m: m, tok: 7}
	greedy := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 5, Adjust: f}
	res, err := Generate(ctx, m, prompt, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !all(res.IDs) || f.calls != 5 {
		t.Errorf("Generate: ids %v after %d calls, want five 7s after 5", res.IDs, f.calls)
	}
	if lp := res.Logprobs[0]; lp < -1e-3 {
		t.Errorf("Generate: logprob %g of the favoured token, want ≈ 0 (the adjusted logits' log-softmax)", lp)
	}
	f = &favour{t: t, m: m, tok: 7}
	sampled := Options{Sampling: Sampling{Temperature: 1, Seed: 9}, MaxNewTokens: 3, Adjust: f}
	mr, err := GenerateN(ctx, m, prompt, sampled, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !all(mr.Sequences[0].IDs) || !all(mr.Sequences[1].IDs) || f.calls != 6 {
		t.Errorf("GenerateN: %v, %v after %d calls", mr.Sequences[0].IDs, mr.Sequences[1].IDs, f.calls)
	}
	f = &favour{t: t, m: m, tok: 7}
	sampled.Adjust = f
	br, err := GenerateBatch(ctx, m, [][]int{prompt, {5}}, sampled, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !all(br[0].IDs) || !all(br[1].IDs) || !slices.Contains(f.rows, 1) {
		t.Errorf("GenerateBatch: %v, %v, rows %v", br[0].IDs, br[1].IDs, f.rows)
	}
	f = &favour{t: t, m: m, tok: 7}
	greedy.Adjust = f
	bm, err := BeamSearch(ctx, m, prompt, greedy, Beams{NumBeams: 2, LengthPenalty: 1, NumReturnSequences: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !all(bm.Sequences[0].IDs) || !slices.Contains(f.rows, 1) {
		t.Errorf("BeamSearch: %v, rows %v", bm.Sequences[0].IDs, f.rows)
	}
	boom := errors.New("boom")
	greedy.Adjust = adjustFunc(func(int, []float32, []float32) error { return boom })
	if _, err := Generate(ctx, m, prompt, greedy, nil); !errors.Is(err, boom) {
		t.Errorf("an Adjust error: got %v", err)
	}
}

type adjustFunc func(row int, hidden, logits []float32) error

func (f adjustFunc) Adjust(row int, hidden, logits []float32) error { return f(row, hidden, logits) }

// passage is a Contexter that puts a fixed passage before the last tail
// tokens of the text, recording every call.
type passage struct {
	stride, tail int
	toks         []int
	calls        [][]int // the texts it was given
	bad          func(text []int) []int
}

func (p *passage) Stride() int { return p.stride }

func (p *passage) Context(_ context.Context, _ int, text []int, budget int) ([]int, error) {
	p.calls = append(p.calls, slices.Clone(text))
	if p.bad != nil {
		return p.bad(text), nil
	}
	tail := text[max(0, len(text)-p.tail):]
	out := append(slices.Clone(p.toks), tail...)
	return out[max(0, len(out)-budget):], nil
}

// TestContext: with Options.Context, greedy decoding conditions on the
// rebuilt context exactly as a full forward over it does, rebuilding before
// the first token and every stride tokens, for Generate, GenerateBatch and
// BeamSearch with one beam.
func TestContext(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	ctx := context.Background()
	prompt := []int{3, 17, 42, 8}
	V := m.Config.VocabSize
	const maxNew = 7
	newPassage := func() *passage { return &passage{stride: 3, tail: 2, toks: []int{11, 12, 13, 14, 15}} }

	// The reference: a full forward over the context each step.
	ref := newPassage()
	text := slices.Clone(prompt)
	var cache []int
	var want []int
	for i := range maxNew {
		if i%ref.stride == 0 {
			cache, _ = ref.Context(ctx, 0, text, m.Config.NPositions-ref.stride)
		}
		logits, err := m.Forward(cache, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok := argmax(logits[(len(cache)-1)*V:])
		want = append(want, tok)
		text = append(text, tok)
		cache = append(cache, tok)
	}
	plain, err := Generate(ctx, m, prompt, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: maxNew}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(plain.IDs, want) {
		t.Fatalf("the passage changed nothing: %v", want)
	}

	p := newPassage()
	greedy := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: maxNew, Context: p}
	res, err := Generate(ctx, m, prompt, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.IDs, want) {
		t.Errorf("Generate: %v, want %v", res.IDs, want)
	}
	if len(p.calls) != 3 || len(p.calls[1]) != len(prompt)+3 || len(p.calls[2]) != len(prompt)+6 {
		t.Errorf("Generate: rebuilt from texts of %d tokens, want the prompt's 4, 7 and 10", lens(p.calls))
	}
	if res.Stats.PrefillTokens != 7 || res.Stats.ContextTokens != 14 {
		t.Errorf("Generate: stats %+v, want 7 prefill and 14 context tokens", res.Stats)
	}

	p = newPassage()
	greedy.Context = p
	br, err := GenerateBatch(ctx, m, [][]int{{5, 6}, prompt}, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(br[1].IDs, want) {
		t.Errorf("GenerateBatch: %v, want %v", br[1].IDs, want)
	}

	p = newPassage()
	greedy.Context = p
	bm, err := BeamSearch(ctx, m, prompt, greedy, Beams{NumBeams: 1, LengthPenalty: 1, NumReturnSequences: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bm.Sequences[0].IDs, want) {
		t.Errorf("BeamSearch: %v, want %v", bm.Sequences[0].IDs, want)
	}
	p = newPassage()
	greedy.Context = p
	if _, err := BeamSearch(ctx, m, prompt, greedy, Beams{NumBeams: 3, LengthPenalty: 1, NumReturnSequences: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if len(p.calls) != 1+3*2 {
		t.Errorf("BeamSearch with 3 beams: %d rebuilds, want 1 + 3 beams × 2", len(p.calls))
	}

	// A Contexter that breaks its contract is an error, not a wrong answer.
	for _, tc := range []struct {
		name string
		bad  func([]int) []int
		want string
	}{
		{"empty", func([]int) []int { return nil }, "0 tokens"},
		{"too long", func(text []int) []int { return make([]int, m.Config.NPositions) }, "want 1 to"},
		{"wrong end", func(text []int) []int { return []int{text[len(text)-1] + 1} }, "not the text's last token"},
	} {
		greedy.Context = &passage{stride: 2, bad: tc.bad}
		if _, err := Generate(ctx, m, prompt, greedy, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	greedy.Context = &passage{stride: 0}
	if _, err := Generate(ctx, m, prompt, greedy, nil); err == nil || !strings.Contains(err.Error(), "stride") {
		t.Errorf("stride 0: got %v", err)
	}
}

func lens(xs [][]int) []int {
	var n []int
	for _, x := range xs {
		n = append(n, len(x))
	}
	return n
}
