package generate

import (
	"context"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestHook: Options.Hook is attached to every forward pass of every kind of
// decoding, so an intervention changes greedy decoding exactly as a full
// forward with the same hook does at each step.
func TestHook(t *testing.T) {
	m := tinyModel(t)
	m.Config.EOSTokenID = -1
	prompt := []int{3, 17, 42}
	ivs := make([]gpt2.Intervention, 0, 4*m.Config.NEmbd)
	for j := range 4 * m.Config.NEmbd {
		ivs = append(ivs, gpt2.Intervention{Layer: 1, Neuron: j, Positions: []int{1, 3, 4, 6}, Scale: 0.25 * float32(j%5)})
	}
	hook := gpt2.InterventionHook(ivs)
	ctx := context.Background()
	greedy := Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 8, Hook: hook}
	res, err := Generate(ctx, m, prompt, greedy, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Generate(ctx, m, prompt, Options{Sampling: Sampling{Greedy: true}, MaxNewTokens: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(res.IDs, plain.IDs) {
		t.Fatalf("the intervention changed nothing: %v", res.IDs)
	}
	seq := slices.Clone(prompt)
	V := m.Config.VocabSize
	for i := range 8 {
		logits, err := m.Forward(seq, hook)
		if err != nil {
			t.Fatal(err)
		}
		tok := argmax(logits[(len(seq)-1)*V:])
		if res.IDs[i] != tok {
			t.Fatalf("token %d: generate with the hook %d, full forward with the hook %d", i, res.IDs[i], tok)
		}
		seq = append(seq, tok)
	}

	// Every path calls the hook at the prompt and at each decoding step.
	count := func() (*Options, *int) {
		n := 0
		o := &Options{Sampling: Sampling{Temperature: 1, Seed: 3}, MaxNewTokens: 4, Hook: func(a *gpt2.Activation) {
			if a.Name == "resid_pre" && a.Layer == 0 {
				n += a.Shape[0]
			}
		}}
		return o, &n
	}
	o, n := count()
	if _, err := GenerateN(ctx, m, prompt, *o, 2, nil); err != nil {
		t.Fatal(err)
	}
	if want := 3 + 2*3; *n != want {
		t.Errorf("GenerateN: the hook saw %d rows, want %d", *n, want)
	}
	o, n = count()
	if _, err := GenerateBatch(ctx, m, [][]int{prompt, {5}}, *o, nil); err != nil {
		t.Fatal(err)
	}
	if want := 4 + 2*3; *n != want {
		t.Errorf("GenerateBatch: the hook saw %d rows, want %d", *n, want)
	}
	o, n = count()
	o.Sampling = Sampling{Greedy: true}
	if _, err := BeamSearch(ctx, m, prompt, *o, Beams{NumBeams: 2, LengthPenalty: 1, NumReturnSequences: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if *n < 3+2 {
		t.Errorf("BeamSearch: the hook saw %d rows, want the prompt's 3 and more", *n)
	}
}
