package generate

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestForcedProcessors checks the encoder-decoder processors against
// transformers' NoBadWordsLogitsProcessor, ForcedBOSTokenLogitsProcessor
// and ForcedEOSTokenLogitsProcessor definitions, worked by hand.
func TestForcedProcessors(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Processor
		ids  []int
		in   []float32
		want []float32
	}{
		{"bad word single", NewNoBadWords([][]int{{2}}, nil), []int{0},
			[]float32{1, 2, 3, 4}, []float32{1, 2, inf, 4}},
		{"bad word eos kept", NewNoBadWords([][]int{{2}, {3}}, []int{3}), []int{0},
			[]float32{1, 2, 3, 4}, []float32{1, 2, inf, 4}},
		{"bad word multi after prefix", NewNoBadWords([][]int{{0, 1, 3}}, nil), []int{2, 0, 1},
			[]float32{1, 2, 3, 4}, []float32{1, 2, 3, inf}},
		{"bad word multi prefix not at end", NewNoBadWords([][]int{{0, 1, 3}}, nil), []int{0, 1, 2},
			[]float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}},
		{"bad word multi longer than ids", NewNoBadWords([][]int{{0, 1, 3}}, nil), []int{1},
			[]float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}},
		{"bad word two-token eos not dropped", NewNoBadWords([][]int{{1, 3}}, []int{3}), []int{1},
			[]float32{1, 2, 3, 4}, []float32{1, 2, 3, inf}},
		{"forced bos at length 1", &ForcedBOS{ID: 1}, []int{5},
			[]float32{1, -2, 3}, []float32{inf, 0, inf}},
		{"forced bos later: no-op", &ForcedBOS{ID: 1}, []int{5, 1},
			[]float32{1, -2, 3}, []float32{1, -2, 3}},
		{"forced eos at max_length-1", &ForcedEOS{MaxLength: 4, IDs: []int{0, 2}}, []int{5, 1, 1},
			[]float32{1, -2, 3}, []float32{0, inf, 0}},
		{"forced eos before: no-op", &ForcedEOS{MaxLength: 4, IDs: []int{0}}, []int{5, 1},
			[]float32{1, -2, 3}, []float32{1, -2, 3}},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := slices.Clone(c.in)
			c.p.Process(c.ids, x)
			if !slices.Equal(x, c.want) {
				t.Errorf("got %v, want %v", x, c.want)
			}
		})
	}
}

// TestExtraOrder: the options' stages come in transformers' order (bad
// words, min length, forced BOS, forced EOS) and only when set.
func TestExtraOrder(t *testing.T) {
	bos := 3
	o := Options{MaxNewTokens: 5, MinLength: 4, BadWordsIDs: [][]int{{1}}, ForcedBOSTokenID: &bos, ForcedEOSTokenIDs: []int{2}}
	ps := o.extra([]int{2}, 1, 100)
	var names []string
	for _, p := range ps {
		switch q := p.(type) {
		case *NoBadWords:
			names = append(names, "bad")
		case *MinLength:
			names = append(names, "min")
		case *ForcedBOS:
			names = append(names, "bos")
		case *ForcedEOS:
			names = append(names, "eos")
			if q.MaxLength != 6 {
				t.Errorf("forced EOS max length %d, want prompt 1 + 5 new", q.MaxLength)
			}
		}
	}
	if got := strings.Join(names, ","); got != "bad,min,bos,eos" {
		t.Errorf("stages %s, want bad,min,bos,eos", got)
	}
	if q := o.extra([]int{2}, 1, 4)[3].(*ForcedEOS); q.MaxLength != 4 {
		t.Errorf("forced EOS max length %d, want the model's 4 positions", q.MaxLength)
	}
	if ps := (&Options{}).extra([]int{2}, 1, 100); len(ps) != 0 {
		t.Errorf("zero options add %d stages", len(ps))
	}
}

// TestForcedThroughLoop: greedy decoding with forced BOS and EOS and a
// bad word gives what the processors demand, and bad ids are errors.
func TestForcedThroughLoop(t *testing.T) {
	m := tinyModel(t)
	lm := GPT2(m)
	bos := 7
	opt := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 4, IgnoreEOS: true, ForcedBOSTokenID: &bos, ForcedEOSTokenIDs: []int{9}}
	out, err := Decode(context.Background(), lm, []int{1}, opt, Beams{NumBeams: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := out.Sequences[0].IDs
	if len(ids) != 4 || ids[0] != 7 || ids[3] != 9 {
		t.Errorf("ids %v: want 7 first and 9 last of 4", ids)
	}
	bout, err := Decode(context.Background(), lm, []int{1}, opt, Beams{NumBeams: 3, LengthPenalty: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sq := range bout.Sequences {
		if sq.IDs[0] != 7 {
			t.Errorf("beam ids %v: want 7 first", sq.IDs)
		}
	}
	opt2 := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 4, IgnoreEOS: true, BadWordsIDs: [][]int{{ids[1]}}}
	out2, err := Decode(context.Background(), lm, []int{1, 7}, opt2, Beams{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(out2.Sequences[0].IDs, ids[1]) {
		t.Errorf("ids %v hold the banned %d", out2.Sequences[0].IDs, ids[1])
	}
	bad := m.Config.VocabSize
	for _, o := range []Options{
		{ForcedBOSTokenID: &bad}, {ForcedEOSTokenIDs: []int{-1}}, {BadWordsIDs: [][]int{{}}}, {BadWordsIDs: [][]int{{1, bad}}},
	} {
		o.Greedy = true
		if _, err := Decode(context.Background(), lm, []int{1}, o, Beams{}, nil); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

// TestHookNeedsGPT2: a hook with an LM that is not GPT-2 is an error.
func TestHookNeedsGPT2(t *testing.T) {
	m := tinyModel(t)
	lm := otherLM{GPT2(m)}
	opt := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 2, Hook: func(*gpt2.Activation) {}}
	if _, err := Decode(context.Background(), lm, []int{1}, opt, Beams{}, nil); err == nil || !strings.Contains(err.Error(), "Hook") {
		t.Errorf("err %v, want one about the hook", err)
	}
	opt.Hook = nil
	a, err := Decode(context.Background(), lm, []int{1}, opt, Beams{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(context.Background(), m, []int{1}, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Sequences[0].IDs, b.IDs) {
		t.Errorf("through another LM %v, Generate %v", a.Sequences[0].IDs, b.IDs)
	}
}

// otherLM hides that an LM is GPT-2's.
type otherLM struct{ LM }
