package generate

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

func tinyModel(t *testing.T) *gpt2.Model {
	t.Helper()
	m, err := gpt2.Load("../model/gpt2/testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// letters decodes id i as the letter 'a'+i%26, and ids listed in multi as
// a two-byte character split over two tokens (200+i: first byte, 300+i:
// second byte), to exercise the UTF-8 hold-back.
type letters struct{ split map[int]bool }

func (l letters) Decode(ids []int) string {
	var b []byte
	for _, id := range ids {
		if l.split[id] {
			if id%2 == 0 {
				b = append(b, 0xc3) // first byte of "é"
			} else {
				b = append(b, 0xa9)
			}
			continue
		}
		b = append(b, byte('a'+id%26))
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func TestGreedyMatchesForward(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	prompt := []int{3, 17, 42}
	res, err := Generate(context.Background(), m, prompt, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 10}, letters{})
	if err != nil {
		t.Fatal(err)
	}
	seq := slices.Clone(prompt)
	V := m.Config.VocabSize
	for i := 0; i < 10; i++ {
		logits, err := m.Forward(seq, nil)
		if err != nil {
			t.Fatal(err)
		}
		last := logits[(len(seq)-1)*V:]
		tok := argmax(last)
		if res.IDs[i] != tok {
			t.Fatalf("token %d: generate %d, full forward %d", i, res.IDs[i], tok)
		}
		if d := res.Logprobs[i] - logSoftmaxAt(last, tok); d > 1e-4 || d < -1e-4 {
			t.Errorf("logprob %d: %v vs %v", i, res.Logprobs[i], logSoftmaxAt(last, tok))
		}
		seq = append(seq, tok)
	}
	if res.Finish != "length" || res.Stats.PrefillTokens != 3 || res.Stats.DecodeTokens != 9 {
		t.Errorf("finish %q, stats %+v", res.Finish, res.Stats)
	}
	if want := (letters{}).Decode(res.IDs); res.Text != want {
		t.Errorf("text %q, want %q", res.Text, want)
	}
}

func TestSampledReproducible(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	run := func(seed uint64) []int {
		res, err := Generate(context.Background(), m, []int{1, 2}, Options{
			Sampling:     Sampling{Seed: seed, Temperature: 1.5, TopK: 50, TopP: 0.95, MinP: 0.01, RepetitionPenalty: 1.2},
			MaxNewTokens: 20}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.IDs
	}
	a, b, c := run(42), run(42), run(43)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Errorf("seed 42: %v and %v; seed 43: %v", a, b, c)
	}
}

func TestEOS(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	res, err := Generate(context.Background(), m, []int{5}, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 5}, letters{})
	if err != nil {
		t.Fatal(err)
	}
	j := slices.IndexFunc(res.IDs, func(id int) bool { return id != res.IDs[0] })
	if j < 0 {
		t.Skip("greedy run repeats one token")
	}
	m.Config.EOSTokenID = res.IDs[j]
	res2, err := Generate(context.Background(), m, []int{5}, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 5}, letters{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Finish != "eos" || !slices.Equal(res2.IDs, res.IDs[:j+1]) || res2.Text != (letters{}).Decode(res.IDs[:j]) {
		t.Errorf("with EOS %d: finish %q ids %v text %q (free run %v)", m.Config.EOSTokenID, res2.Finish, res2.IDs, res2.Text, res.IDs)
	}
	res3, _ := Generate(context.Background(), m, []int{5}, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 5, IgnoreEOS: true}, letters{})
	if !slices.Equal(res3.IDs, res.IDs) {
		t.Errorf("IgnoreEOS: %v, want %v", res3.IDs, res.IDs)
	}
}

func TestStopStrings(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	free, err := Generate(context.Background(), m, []int{7, 8}, Options{Sampling: Sampling{Seed: 3}, MaxNewTokens: 30}, letters{})
	if err != nil {
		t.Fatal(err)
	}
	full := free.Text
	// Stop at a 2-letter string starting at a character in the middle.
	at := 12
	stop := full[at : at+2]
	first := strings.Index(full, stop)
	var streamed strings.Builder
	res, err := Generate(context.Background(), m, []int{7, 8}, Options{Sampling: Sampling{Seed: 3}, MaxNewTokens: 30,
		Stop: []string{"zzzzzz", stop},
		OnToken: func(s Step) error {
			streamed.WriteString(s.Text)
			return nil
		}}, letters{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Finish != "stop" || res.Text != full[:first] || streamed.String() != res.Text {
		t.Errorf("stop %q in %q: finish %q text %q streamed %q", stop, full, res.Finish, res.Text, streamed.String())
	}
	if !slices.Equal(res.IDs, free.IDs[:first+2]) || len(res.Logprobs) != len(res.IDs) {
		t.Errorf("ids %v, want the first %d of %v", res.IDs, first+2, free.IDs)
	}
}

func TestStreamer(t *testing.T) {
	dec := letters{split: map[int]bool{200: true, 301: true}}
	s := streamer{stop: []string{"cde", "xy"}, dec: dec}
	var out []string
	for _, id := range []int{0, 1, 2, 3, 200, 301, 23, 0, 2, 3, 4, 5} {
		text, stop := s.add(id)
		out = append(out, text)
		if stop {
			break
		}
	}
	// a b c(held: prefix of "cde") d(held) then half of "é": "cd" is released
	// (not followed by "e") while the incomplete character is held, and
	// released with its second byte; x(held) a(releases "xa") c d e → stop.
	want := []string{"a", "b", "", "", "cd", "é", "", "xa", "", "", ""}
	if !slices.Equal(out, want) {
		t.Errorf("released %q, want %q", out, want)
	}
	if s.text() != "abcdéxa" {
		t.Errorf("text %q", s.text())
	}
}

func TestContextLimit(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	prompt := make([]int, 30)
	res, err := Generate(context.Background(), m, prompt, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Finish != "context" || len(res.IDs) != 2 {
		t.Errorf("30-token prompt in a 32 context: finish %q, %d tokens", res.Finish, len(res.IDs))
	}
	res, err = Generate(context.Background(), m, make([]int, 32), Options{MaxNewTokens: 10}, nil)
	if err != nil || res.Finish != "context" || len(res.IDs) != 0 {
		t.Errorf("full prompt: %v, %+v", err, res)
	}
	if _, err := Generate(context.Background(), m, make([]int, 33), Options{}, nil); !errors.Is(err, gpt2.ErrContext) {
		t.Errorf("33-token prompt: %v, want ErrContext", err)
	}
	if _, err := Generate(context.Background(), m, nil, Options{}, nil); !errors.Is(err, ErrEmptyPrompt) {
		t.Errorf("empty prompt: %v", err)
	}
	if _, err := Generate(context.Background(), m, []int{1}, Options{Stop: []string{"x"}}, nil); err == nil {
		t.Error("stop strings without a decoder accepted")
	}
	if _, err := Generate(context.Background(), m, []int{100}, Options{}, nil); err == nil {
		t.Error("out-of-vocabulary prompt id accepted")
	}
}

// FuzzStreamer checks the streaming invariants on arbitrary token streams
// and stop strings: the released pieces concatenate to the final text, the
// final text holds no stop string, and it is the decoded text cut at the
// first stop string.
func FuzzStreamer(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 200 - 128, 301 - 256, 23, 0, 2, 3, 4}, "cde", "xy")
	f.Add([]byte{5, 5, 5}, "ff", "f")
	f.Add([]byte{72, 73}, "\uFFFD", "a")
	f.Fuzz(func(t *testing.T, toks []byte, stop1, stop2 string) {
		dec := letters{split: map[int]bool{200: true, 201: true, 300: true, 301: true}}
		var stops []string
		for _, s := range []string{stop1, stop2} {
			if s != "" {
				stops = append(stops, s)
			}
		}
		s := streamer{stop: stops, dec: dec}
		var released strings.Builder
		var ids []int
		stopped := false
		for _, b := range toks {
			id := int(b)
			if id >= 128 {
				id += 72 // 200..327: some are halves of "é"
			}
			ids = append(ids, id)
			text, stop := s.add(id)
			released.WriteString(text)
			if stop {
				stopped = true
				break
			}
		}
		if !stopped {
			released.WriteString(s.flush())
		}
		final := s.text()
		if released.String() != final {
			t.Fatalf("released %q, final %q", released.String(), final)
		}
		full := dec.Decode(ids)
		cut := len(full)
		for _, st := range stops {
			if i := strings.Index(full, st); i >= 0 && i < cut {
				cut = i
			}
		}
		if stopped != (cut < len(full)) || final != full[:cut] {
			t.Fatalf("ids %v stops %q: final %q (stopped %v), want %q", ids, stops, final, stopped, full[:cut])
		}
	})
}

// TestEOSTokenIDs stops greedy decoding at any of several EOS ids (as
// generation_config.json's eos_token_id list).
func TestEOSTokenIDs(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	greedy := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 8, IgnoreEOS: true}
	full, err := Generate(ctx, m, []int{1, 2, 3}, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	opt := greedy
	opt.IgnoreEOS = false
	opt.EOSTokenIDs = []int{98, full.IDs[2]}
	res, err := Generate(ctx, m, []int{1, 2, 3}, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := slices.Index(full.IDs, full.IDs[2]) + 1
	if res.Finish != "eos" || !slices.Equal(res.IDs, full.IDs[:n]) {
		t.Errorf("ids %v finish %s, want %v then eos", res.IDs, res.Finish, full.IDs[:n])
	}
	// An empty list: no EOS at all.
	opt.EOSTokenIDs = []int{}
	res, _ = Generate(ctx, m, []int{1, 2, 3}, opt, nil)
	if !slices.Equal(res.IDs, full.IDs) {
		t.Errorf("empty EOS list: %v, want %v", res.IDs, full.IDs)
	}
}

// naiveSequence is sequence seq of GenerateN computed alone, with a full
// forward pass over the whole sequence for every token (no cache, no
// batch): the reference for the batched decoding.
func naiveSequence(t *testing.T, m *gpt2.Model, prompt []int, opt Options, seq int, dec Decoder) Sequence {
	t.Helper()
	eos := opt.eos(m.Config)
	sampler := newSampler(opt.Sampling, opt.minLength(eos, len(prompt)), seq)
	st := streamer{stop: opt.Stop, dec: dec}
	all := slices.Clone(prompt)
	sq := Sequence{Finish: "length"}
	V := m.Config.VocabSize
	for len(sq.IDs) < opt.MaxNewTokens {
		if len(all) >= m.Config.NPositions {
			sq.Finish = "context"
			break
		}
		lg, err := m.Forward(all, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, lp, err := sampler.Next(all, lg[(len(all)-1)*V:])
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tok)
		sq.IDs = append(sq.IDs, tok)
		sq.Logprobs = append(sq.Logprobs, lp)
		if slices.Contains(eos, tok) {
			sq.Finish = "eos"
			break
		}
		if _, stop := st.add(tok); stop {
			sq.Finish = "stop"
			break
		}
	}
	sq.Text = st.text()
	return sq
}

// TestGenerateN: every sequence of a batched GenerateN is what that
// sequence's random stream gives alone, each stopping on its own (EOS,
// stop string, length); sequence 0 is Generate's run with the same seed;
// a seed reproduces the whole result.
func TestGenerateN(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	dec := letters{}
	opt := Options{Sampling: Sampling{Seed: 11, Temperature: 1.3, TopK: 40, RepetitionPenalty: 1.1}, MaxNewTokens: 12,
		EOSTokenIDs: []int{0, 1, 2, 3, 4, 5, 6, 7}, Stop: []string{"wy", "lo"}}
	const n = 8
	res, err := GenerateN(ctx, m, []int{3, 17, 42}, opt, n, dec)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sequences) != n || !slices.Equal(res.PromptIDs, []int{3, 17, 42}) {
		t.Fatalf("%d sequences, prompt %v", len(res.Sequences), res.PromptIDs)
	}
	finishes := map[string]int{}
	lengths := map[int]bool{}
	fed := 0
	for i, sq := range res.Sequences {
		want := naiveSequence(t, m, []int{3, 17, 42}, opt, i, dec)
		if !slices.Equal(sq.IDs, want.IDs) || sq.Finish != want.Finish || sq.Text != want.Text {
			t.Errorf("sequence %d: %v %q %s, alone %v %q %s", i, sq.IDs, sq.Text, sq.Finish, want.IDs, want.Text, want.Finish)
			continue
		}
		for j := range sq.Logprobs {
			if d := math.Abs(float64(sq.Logprobs[j] - want.Logprobs[j])); d > 1e-4 {
				t.Errorf("sequence %d token %d: logprob %g, alone %g", i, j, sq.Logprobs[j], want.Logprobs[j])
			}
		}
		finishes[sq.Finish]++
		lengths[len(sq.IDs)] = true
		fed += len(sq.IDs) - 1
	}
	// The case must exercise sequences leaving the batch at different steps.
	if len(finishes) < 3 || len(lengths) < 3 {
		t.Errorf("finishes %v, lengths %v: the sequences do not stop on their own", finishes, lengths)
	}
	if res.Stats.PrefillTokens != 3 || res.Stats.DecodeTokens != fed {
		t.Errorf("stats %+v, want 3 prefill tokens and %d decoded", res.Stats, fed)
	}
	again, err := GenerateN(ctx, m, []int{3, 17, 42}, opt, n, dec)
	if err != nil || !reflect.DeepEqual(again.Sequences, res.Sequences) {
		t.Errorf("same seed, different result: %v", err)
	}
	one, err := Generate(ctx, m, []int{3, 17, 42}, opt, dec)
	if err != nil {
		t.Fatal(err)
	}
	s0 := res.Sequences[0]
	if !slices.Equal(one.IDs, s0.IDs) || one.Text != s0.Text || one.Finish != s0.Finish {
		t.Errorf("Generate: %v %q %s; sequence 0 of %d: %v %q %s", one.IDs, one.Text, one.Finish, n, s0.IDs, s0.Text, s0.Finish)
	}
	opt.Seed = 12
	other, _ := GenerateN(ctx, m, []int{3, 17, 42}, opt, n, dec)
	if reflect.DeepEqual(other.Sequences, res.Sequences) {
		t.Error("seeds 11 and 12 give the same sequences")
	}
}

// TestGenerateNLimits: the context ends every sequence, n = 1 is
// Generate, and the errors.
func TestGenerateNLimits(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	res, err := GenerateN(ctx, m, make([]int, 29), Options{MaxNewTokens: 10, IgnoreEOS: true}, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, sq := range res.Sequences {
		if sq.Finish != "context" || len(sq.IDs) != 3 || len(sq.Logprobs) != 3 {
			t.Errorf("sequence %d: %+v, want 3 tokens and the context", i, sq)
		}
	}
	res, err = GenerateN(ctx, m, make([]int, 32), Options{}, 2, nil)
	if err != nil || len(res.Sequences) != 2 || res.Sequences[1].Finish != "context" || res.Sequences[1].IDs == nil {
		t.Errorf("full prompt: %+v, %v", res, err)
	}
	opt := Options{Sampling: Sampling{Seed: 5}, MaxNewTokens: 6}
	one, _ := Generate(ctx, m, []int{9}, opt, nil)
	n1, err := GenerateN(ctx, m, []int{9}, opt, 1, nil)
	if err != nil || !slices.Equal(n1.Sequences[0].IDs, one.IDs) || !slices.Equal(n1.Sequences[0].Logprobs, one.Logprobs) {
		t.Errorf("n = 1: %+v, %v; Generate %v", n1, err, one.IDs)
	}
	for _, c := range []struct {
		name string
		opt  Options
		n    int
		want string
	}{
		{"zero", Options{}, 0, "num return sequences 0"},
		{"greedy", Options{Sampling: Sampling{Greedy: true}}, 2, "with greedy decoding"},
		{"stream", Options{OnToken: func(Step) error { return nil }}, 2, "OnToken"},
		{"memory", Options{}, 100_000_000, "GiB limit"},
		{"min new", Options{MinNewTokens: -1}, 2, "min new tokens -1"},
		{"min length", Options{MinLength: -2}, 1, "min length -2"},
	} {
		_, err := GenerateN(ctx, m, []int{1}, c.opt, c.n, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := BeamSearch(ctx, m, []int{1}, Options{MinNewTokens: -1}, Beams{NumBeams: 2}, nil); err == nil || !strings.Contains(err.Error(), "min new tokens -1") {
		t.Errorf("beam search with min new tokens -1: %v", err)
	}
}

// TestMinNewTokensSampling: with most of the vocabulary as EOS ids, sampled
// runs end at once without a minimum and never before it with one; the
// model's eos_token_id counts when no list is given, and IgnoreEOS leaves
// no EOS to keep out.
func TestMinNewTokensSampling(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	var eos []int
	for i := range 90 {
		eos = append(eos, i)
	}
	opt := Options{Sampling: Sampling{Seed: 1, Temperature: 2}, MaxNewTokens: 10, EOSTokenIDs: eos}
	free, err := GenerateN(ctx, m, []int{5, 6}, opt, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	short := 0
	for _, sq := range free.Sequences {
		if len(sq.IDs) < 4 {
			short++
		}
	}
	if short == 0 {
		t.Fatalf("no sequence ends early without a minimum: %+v", free.Sequences)
	}
	opt.MinNewTokens = 4
	res, err := GenerateN(ctx, m, []int{5, 6}, opt, 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, sq := range res.Sequences {
		for j, id := range sq.IDs[:min(4, len(sq.IDs))] {
			if slices.Contains(eos, id) {
				t.Errorf("sequence %d: EOS %d at token %d, below the minimum of 4", i, id, j)
			}
		}
		if len(sq.IDs) < 4 {
			t.Errorf("sequence %d ended after %d tokens", i, len(sq.IDs))
		}
	}
	// MinLength counts the prompt: 2 + 4 is the same minimum.
	opt.MinNewTokens, opt.MinLength = 0, 6
	byLength, _ := GenerateN(ctx, m, []int{5, 6}, opt, 6, nil)
	if !reflect.DeepEqual(byLength.Sequences, res.Sequences) {
		t.Errorf("min length 6 differs from 4 new tokens after a 2-token prompt")
	}
	// The model's eos_token_id (99 for the tiny model) when no list is given.
	m.Config.EOSTokenID = 40
	greedy := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 5}
	g, _ := Generate(ctx, m, []int{1, 2, 3}, greedy, nil) // the tiny model repeats 40
	greedy.MinNewTokens = 3
	g3, _ := Generate(ctx, m, []int{1, 2, 3}, greedy, nil)
	if !slices.Equal(g.IDs, []int{40}) || len(g3.IDs) < 4 || slices.Contains(g3.IDs[:3], 40) {
		t.Errorf("model EOS 40: %v without a minimum, %v with 3", g.IDs, g3.IDs)
	}
	greedy.IgnoreEOS = true
	gi, _ := Generate(ctx, m, []int{1, 2, 3}, greedy, nil)
	if !slices.Equal(gi.IDs, []int{40, 40, 40, 40, 40}) {
		t.Errorf("IgnoreEOS with a minimum: %v, want the free greedy run", gi.IDs)
	}
}
