package generate

import (
	"context"
	"errors"
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
