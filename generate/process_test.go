package generate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var inf = float32(math.Inf(-1))

func logs(p ...float64) []float32 {
	out := make([]float32, len(p))
	for i, v := range p {
		out[i] = float32(math.Log(v))
	}
	return out
}

// keptOf lists the indices of finite logits.
func keptOf(x []float32) []int {
	var k []int
	for i, v := range x {
		if !math.IsInf(float64(v), -1) {
			k = append(k, i)
		}
	}
	return k
}

// The expected values below are worked by hand from transformers'
// logits_process.py definitions (typical from running it under PyTorch).
func TestProcessors(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Processor
		ids  []int
		in   []float32
		want []float32 // exact expected logits; nil: check kept only
		kept []int
	}{
		{"repetition divides positive, multiplies negative", &RepetitionPenalty{Penalty: 2}, []int{0, 1, 1},
			[]float32{1, -1, 2, 0.5}, []float32{0.5, -2, 2, 0.5}, nil},
		{"repetition below 1 rewards", &RepetitionPenalty{Penalty: 0.5}, []int{2, 3},
			[]float32{1, -1, 2, -0.5}, []float32{1, -1, 4, -0.25}, nil},
		{"temperature", &Temperature{T: 0.5}, nil, []float32{1, -2, 0}, []float32{2, -4, 0}, nil},
		{"top-k keeps ties at the k-th value", &TopK{K: 2}, nil, []float32{1, 3, 3, 2}, []float32{inf, 3, 3, inf}, nil},
		{"top-k 3", &TopK{K: 3}, nil, []float32{1, 3, 3, 2}, []float32{inf, 3, 3, 2}, nil},
		{"top-k tie run", &TopK{K: 2}, nil, []float32{5, 4, 4, 4, 1}, []float32{5, 4, 4, 4, inf}, nil},
		{"top-k 0 keeps one", &TopK{K: 0}, nil, []float32{1, 7, 3}, []float32{inf, 7, inf}, nil},
		{"top-k >= vocab", &TopK{K: 9}, nil, []float32{1, 7, 3}, []float32{1, 7, 3}, nil},
		{"top-p 0.75", &TopP{P: 0.75}, nil, logs(0.05, 0.5, 0.15, 0.3), nil, []int{1, 3}},
		{"top-p 0.85", &TopP{P: 0.85}, nil, logs(0.05, 0.5, 0.15, 0.3), nil, []int{1, 2, 3}},
		{"top-p keeps at least one", &TopP{P: 0.01}, nil, logs(0.05, 0.5, 0.15, 0.3), nil, []int{1}},
		{"top-p 0.999 keeps all", &TopP{P: 0.999}, nil, logs(0.05, 0.5, 0.15, 0.3), nil, []int{0, 1, 2, 3}},
		{"top-p after top-k", &TopP{P: 0.9}, nil, []float32{inf, 0, inf, 0}, nil, []int{1, 3}},
		{"min-p relative to max", &MinP{P: 0.2}, nil, logs(0.5, 0.3, 0.15, 0.05), nil, []int{0, 1, 2}},
		{"min-p 1 keeps the top", &MinP{P: 1}, nil, logs(0.5, 0.3, 0.15, 0.05), nil, []int{0}},
		{"typical 0.2", &Typical{Mass: 0.2}, nil, []float32{2, 1, 0.5, -1, 0}, nil, []int{1}},
		{"typical 0.5", &Typical{Mass: 0.5}, nil, []float32{2, 1, 0.5, -1, 0}, nil, []int{0, 1}},
		{"typical 0.9", &Typical{Mass: 0.9}, nil, []float32{2, 1, 0.5, -1, 0}, nil, []int{0, 1, 2, 4}},
	} {
		x := slices.Clone(c.in)
		c.p.Process(c.ids, x)
		if c.want != nil && !slices.Equal(x, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, x, c.want)
		}
		if c.kept != nil {
			if k := keptOf(x); !slices.Equal(k, c.kept) {
				t.Errorf("%s: kept %v, want %v (logits %v)", c.name, k, c.kept, x)
			}
			for _, i := range c.kept {
				if x[i] != c.in[i] {
					t.Errorf("%s: kept logit %d changed from %v to %v", c.name, i, c.in[i], x[i])
				}
			}
		}
		// Run again: scratch state must not leak between calls.
		y := slices.Clone(c.in)
		c.p.Process(c.ids, y)
		if !slices.Equal(x, y) && !(c.want == nil && slices.Equal(keptOf(x), keptOf(y))) {
			t.Errorf("%s: second call gave %v, first %v", c.name, y, x)
		}
	}
}

// TestTopKLarge checks the quickselect threshold against sorting.
func TestTopKLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		n := 1 + r.IntN(3000)
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(50)) // many ties
		}
		k := 1 + r.IntN(n)
		sorted := slices.Clone(x)
		slices.Sort(sorted)
		thr := sorted[n-k]
		p := &TopK{K: k}
		y := slices.Clone(x)
		p.Process(nil, y)
		for i := range x {
			if (x[i] >= thr) != (y[i] == x[i]) {
				t.Fatalf("n=%d k=%d: element %d = %v (threshold %v) became %v", n, k, i, x[i], thr, y[i])
			}
		}
	}
}

// TestTopPLarge checks the thresholded candidate search against a full sort
// on GPT-2-sized, peaked distributions.
func TestTopPLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 20; trial++ {
		x := make([]float32, 50257)
		for i := range x {
			x[i] = float32(r.NormFloat64() * (1 + float64(trial)))
		}
		p := float32(0.05 + 0.9*r.Float64())
		y := slices.Clone(x)
		(&TopP{P: p}).Process(nil, y)
		// Reference: sort all by probability, keep while the mass above < p.
		prob := make([]float32, len(x))
		softmaxInto(prob, x)
		idx := make([]int, len(x))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int {
			if prob[a] != prob[b] {
				if prob[a] > prob[b] {
					return -1
				}
				return 1
			}
			return a - b
		})
		var above float64
		want := map[int]bool{}
		for n, i := range idx {
			if n > 0 && above >= float64(p) {
				break
			}
			want[i] = true
			above += float64(prob[i])
		}
		got := keptOf(y)
		if len(got) != len(want) {
			t.Fatalf("trial %d p=%v: kept %d tokens, want %d", trial, p, len(got), len(want))
		}
		for _, i := range got {
			if !want[i] {
				t.Fatalf("trial %d: kept %d, not in the reference set", trial, i)
			}
		}
	}
}

func TestSamplingOrder(t *testing.T) {
	s := Sampling{Temperature: 0.7, TopK: 40, TopP: 0.9, MinP: 0.05, Typical: 0.95, RepetitionPenalty: 1.3}
	var names []string
	for _, p := range s.Processors() {
		switch p.(type) {
		case *RepetitionPenalty:
			names = append(names, "rep")
		case *Temperature:
			names = append(names, "temp")
		case *TopK:
			names = append(names, "topk")
		case *TopP:
			names = append(names, "topp")
		case *MinP:
			names = append(names, "minp")
		case *Typical:
			names = append(names, "typical")
		}
	}
	if want := []string{"rep", "temp", "topk", "topp", "minp", "typical"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
	s.Greedy = true
	if ps := s.Processors(); len(ps) != 1 {
		t.Errorf("greedy keeps %d processors, want only the repetition penalty", len(ps))
	}
	if ps := (Sampling{Temperature: 1, TopP: 1, RepetitionPenalty: 1}).Processors(); len(ps) != 0 {
		t.Errorf("no-op settings gave %d processors", len(ps))
	}
}

// TestOrderMatters: temperature before top-p changes which tokens survive,
// as in transformers (warpers see tempered logits).
func TestOrderMatters(t *testing.T) {
	x := logs(0.6, 0.3, 0.1)
	s, err := NewSampler(Sampling{Temperature: 0.5, TopP: 0.8})
	if err != nil {
		t.Fatal(err)
	}
	// Tempered probs ∝ p²: 0.36, 0.09, 0.01 → 0.78, 0.20, 0.02; top-p 0.8
	// keeps tokens 0 and 1. Untempered, top-p 0.8 would also keep 0 and 1;
	// with top-p 0.7 tempered keeps only token 0.
	s2, _ := NewSampler(Sampling{Temperature: 0.5, TopP: 0.7})
	for i := 0; i < 200; i++ {
		if tok, _, _ := s2.Next(nil, x); tok != 0 {
			t.Fatalf("temperature 0.5, top-p 0.7 drew token %d", tok)
		}
	}
	seen := map[int]bool{}
	for i := 0; i < 500; i++ {
		tok, _, _ := s.Next(nil, x)
		seen[tok] = true
	}
	if !seen[0] || !seen[1] || seen[2] {
		t.Errorf("temperature 0.5, top-p 0.8 drew %v, want tokens 0 and 1 only", seen)
	}
}

func TestSamplerSeeded(t *testing.T) {
	x := make([]float32, 100)
	draw := func(seed uint64) []int {
		s, err := NewSampler(Sampling{Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for i := 0; i < 30; i++ {
			tok, _, _ := s.Next(nil, x)
			out = append(out, tok)
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different draws: %v vs %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("different seeds, same draws: %v", a)
	}
}

func TestSamplerDistribution(t *testing.T) {
	x := logs(0.5, 0.3, 0.2)
	s, _ := NewSampler(Sampling{Seed: 1})
	counts := make([]int, 3)
	const n = 20000
	for i := 0; i < n; i++ {
		tok, lp, err := s.Next(nil, x)
		if err != nil {
			t.Fatal(err)
		}
		counts[tok]++
		if want := math.Log([]float64{0.5, 0.3, 0.2}[tok]); math.Abs(float64(lp)-want) > 1e-6 {
			t.Fatalf("logprob of %d = %v, want %v", tok, lp, want)
		}
	}
	for i, p := range []float64{0.5, 0.3, 0.2} {
		if f := float64(counts[i]) / n; math.Abs(f-p) > 0.02 {
			t.Errorf("token %d drawn %.3f of the time, want %.2f", i, f, p)
		}
	}
}

func TestGreedyUsesRepetitionPenalty(t *testing.T) {
	x := []float32{2, 1.5, -1}
	s, _ := NewSampler(Sampling{Greedy: true, RepetitionPenalty: 2, Temperature: 0.01, TopK: 1})
	tok, lp, _ := s.Next([]int{0}, x)
	if tok != 1 {
		t.Errorf("greedy with penalty on token 0 chose %d, want 1", tok)
	}
	if want := logSoftmaxAt(x, 1); lp != want {
		t.Errorf("logprob %v, want the raw log-softmax %v", lp, want)
	}
	if x[0] != 2 {
		t.Errorf("Next modified the logits")
	}
}

func TestSamplingCheck(t *testing.T) {
	for _, s := range []Sampling{{Temperature: -1}, {TopK: -1}, {TopP: 1.5}, {MinP: -0.1}, {Typical: 2}, {RepetitionPenalty: -1}, {TopP: math.NaN()}} {
		if _, err := NewSampler(s); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

func TestExpNeg(t *testing.T) {
	worst := 0.0
	for x := 0.0; x > -700; x -= 0.0137 {
		got, want := expNeg(x), math.Exp(x)
		if want < 1e-290 {
			continue
		}
		worst = math.Max(worst, math.Abs(got-want)/want)
	}
	if worst > 2e-7 {
		t.Errorf("expNeg: worst relative error %g", worst)
	}
	for _, x := range []float64{math.Inf(-1), math.NaN(), -1000} {
		if v := expNeg(x); v != 0 {
			t.Errorf("expNeg(%v) = %v, want 0", x, v)
		}
	}
	if v := expNeg(0); v != 1 {
		t.Errorf("expNeg(0) = %v", v)
	}
}

func BenchmarkLogSoftmaxAt(b *testing.B) {
	x := make([]float32, 50257)
	for i := range x {
		x[i] = float32(i%97) * 0.1
	}
	for b.Loop() {
		logSoftmaxAt(x, 5)
	}
}

func TestNoRepeatNGram(t *testing.T) {
	ids := []int{1, 2, 3, 1, 2}
	for _, c := range []struct {
		n      int
		banned []int
	}{{1, []int{1, 2, 3}}, {2, []int{3}}, {3, []int{3}}, {4, nil}, {6, nil}, {7, nil}, {0, nil}} {
		x := make([]float32, 6)
		(&NoRepeatNGram{N: c.n}).Process(ids, x)
		var got []int
		for i, v := range x {
			if v == negInf {
				got = append(got, i)
			}
		}
		if !slices.Equal(got, c.banned) {
			t.Errorf("n=%d: banned %v, want %v", c.n, got, c.banned)
		}
	}
	// In the stage list, after the repetition penalty, also when greedy.
	ps := Sampling{Greedy: true, RepetitionPenalty: 1.2, NoRepeatNGramSize: 2}.Processors()
	if len(ps) != 2 {
		t.Fatalf("%d processors", len(ps))
	}
	if _, ok := ps[1].(*NoRepeatNGram); !ok {
		t.Errorf("second stage is %T", ps[1])
	}
}

// TestMinLength: the EOS ids get -Inf exactly while the length is below the
// minimum (MinLength counts the prompt, MinNewTokens only what follows
// it), every listed id, and nothing else changes.
func TestMinLength(t *testing.T) {
	in := []float32{0.5, -1, 2, 3, 0}
	prompt3 := func(gen int) []int { return make([]int, 3+gen) } // 3 prompt ids, gen generated
	for _, c := range []struct {
		name   string
		p      Processor
		ids    []int
		banned []int
	}{
		{"min length: prompt 3 + 0 < 5", &MinLength{Length: 5, EOS: []int{3}}, prompt3(0), []int{3}},
		{"min length: prompt 3 + 1 < 5", &MinLength{Length: 5, EOS: []int{3}}, prompt3(1), []int{3}},
		{"min length: prompt 3 + 2 = 5", &MinLength{Length: 5, EOS: []int{3}}, prompt3(2), nil},
		{"min length: past it", &MinLength{Length: 5, EOS: []int{3}}, prompt3(7), nil},
		{"min length below the prompt", &MinLength{Length: 2, EOS: []int{3}}, prompt3(0), nil},
		{"min length 0", &MinLength{EOS: []int{3}}, nil, nil},
		{"min length: several EOS", &MinLength{Length: 4, EOS: []int{4, 1, 3}}, prompt3(0), []int{1, 3, 4}},
		{"min length: no EOS", &MinLength{Length: 9}, prompt3(0), nil},
		{"min length: ids out of range", &MinLength{Length: 9, EOS: []int{-1, 7, 2}}, prompt3(0), []int{2}},
		{"min new: 0 of 2", &MinNewTokens{PromptLen: 3, N: 2, EOS: []int{3}}, prompt3(0), []int{3}},
		{"min new: 1 of 2", &MinNewTokens{PromptLen: 3, N: 2, EOS: []int{3}}, prompt3(1), []int{3}},
		{"min new: 2 of 2", &MinNewTokens{PromptLen: 3, N: 2, EOS: []int{3}}, prompt3(2), nil},
		{"min new: 5 of 2", &MinNewTokens{PromptLen: 3, N: 2, EOS: []int{3}}, prompt3(5), nil},
		{"min new ignores a long prompt", &MinNewTokens{PromptLen: 30, N: 1, EOS: []int{3}}, make([]int, 30), []int{3}},
		{"min new 0", &MinNewTokens{PromptLen: 3, EOS: []int{3}}, prompt3(0), nil},
		{"min new: several EOS", &MinNewTokens{PromptLen: 3, N: 1, EOS: []int{0, 2}}, prompt3(0), []int{0, 2}},
	} {
		x := slices.Clone(in)
		c.p.Process(c.ids, x)
		var banned []int
		for i, v := range x {
			switch {
			case v == negInf:
				banned = append(banned, i)
			case v != in[i]:
				t.Errorf("%s: logit %d changed from %v to %v", c.name, i, in[i], v)
			}
		}
		if !slices.Equal(banned, c.banned) {
			t.Errorf("%s: banned %v, want %v", c.name, banned, c.banned)
		}
	}
}

// TestMinLengthOrder: the minimum-length stages sit after the penalties and
// before the warpers (transformers' _get_logits_processor), also when
// greedy; without EOS ids, or with a MinLength the prompt already reaches,
// there is no stage; MinNewTokens replaces MinLength.
func TestMinLengthOrder(t *testing.T) {
	stages := func(o Options, eos []int, promptLen int) []string {
		var names []string
		for _, p := range o.processors(o.minLength(eos, promptLen)) {
			names = append(names, fmt.Sprintf("%T", p))
		}
		return names
	}
	s := Sampling{Temperature: 0.7, TopK: 40, RepetitionPenalty: 1.3, NoRepeatNGramSize: 2}
	o := Options{Sampling: s, MinNewTokens: 3, MinLength: 50}
	want := []string{"*generate.RepetitionPenalty", "*generate.NoRepeatNGram", "*generate.MinNewTokens", "*generate.Temperature", "*generate.TopK"}
	if got := stages(o, []int{9}, 4); !slices.Equal(got, want) {
		t.Errorf("sampling: %v, want %v", got, want)
	}
	o.Greedy = true
	if got := stages(o, []int{9}, 4); !slices.Equal(got, want[:3]) {
		t.Errorf("greedy: %v, want %v", got, want[:3])
	}
	if got := stages(o, nil, 4); !slices.Equal(got, want[:2]) {
		t.Errorf("no EOS: %v, want %v", got, want[:2])
	}
	o.MinNewTokens = 0
	if got := stages(o, []int{9}, 4); !slices.Equal(got, []string{want[0], want[1], "*generate.MinLength"}) {
		t.Errorf("min length: %v", got)
	}
	if got := stages(o, []int{9}, 50); !slices.Equal(got, want[:2]) {
		t.Errorf("min length reached by the prompt: %v", got)
	}
}

// TestMinKeep checks min_tokens_to_keep on the truncating warpers: each
// would keep one token here, and keeps MinKeep (the most probable, or for
// Typical the most typical) when it is set.
func TestMinKeep(t *testing.T) {
	logits := []float32{5, 1, 4, 0, 3, -2}
	for _, c := range []struct {
		name string
		p    Processor
		want []float32
	}{
		{"top-k", &TopK{K: 1, MinKeep: 3}, []float32{5, inf, 4, inf, 3, inf}},
		{"top-p", &TopP{P: 0.01, MinKeep: 3}, []float32{5, inf, 4, inf, 3, inf}},
		{"top-p one", &TopP{P: 0.01}, []float32{5, inf, inf, inf, inf, inf}},
		{"min-p", &MinP{P: 1, MinKeep: 2}, []float32{5, inf, 4, inf, inf, inf}},
		{"min-p one", &MinP{P: 1}, []float32{5, inf, inf, inf, inf, inf}},
		{"typical", &Typical{Mass: 0.01, MinKeep: 2}, nil},
	} {
		x := slices.Clone(logits)
		c.p.Process(nil, x)
		kept := 0
		for _, v := range x {
			if v != inf {
				kept++
			}
		}
		if c.want == nil {
			if kept != 2 {
				t.Errorf("%s: %v keeps %d, want 2", c.name, x, kept)
			}
			continue
		}
		if !slices.Equal(x, c.want) {
			t.Errorf("%s: %v, want %v", c.name, x, c.want)
		}
	}
}
