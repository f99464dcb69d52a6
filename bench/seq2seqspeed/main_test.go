package main

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// TestBeamLM checks the generate.LM adapter the beam benchmark decodes
// through: with one beam, generate.Decode's search must pick the tokens
// the model's Decoder gives greedily, and with 4 beams it must return
// exactly the requested tokens (EOS banned) with a score no worse than
// the greedy sequence's mean log-probability.
func TestBeamLM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the full-size random models")
	}
	const srcLen, n = 8, 6
	for _, name := range []string{"marian", "t5"} {
		t.Run(name, func(t *testing.T) {
			m, err := load(name)
			if err != nil {
				t.Fatal(err)
			}
			src := source(srcLen, m.vocab)
			forward, logits, err := m.newDecoder(src, n)
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			var greedySum float64
			tok := m.start
			for range n {
				if err := forward([][]int{{tok}}); err != nil {
					t.Fatal(err)
				}
				row := slices.Clone(logits())
				row[m.eos] = float32(-1e30) // banned, as min_new_tokens does
				tok = kernels.Argmax(row)
				want = append(want, tok)
				greedySum += float64(logSoftmaxAt(logits(), tok))
			}
			for _, beams := range []int{1, 4} {
				l, err := m.newLM(src)
				if err != nil {
					t.Fatal(err)
				}
				opt, b := beamOptions(m, n, beams)
				o, err := generate.Decode(context.Background(), l, []int{m.start}, opt, b, nil)
				if err != nil {
					t.Fatalf("%d beams: %v", beams, err)
				}
				got := o.Sequences[0]
				if len(got.IDs) != n {
					t.Fatalf("%d beams: %d tokens, want %d", beams, len(got.IDs), n)
				}
				if beams == 1 && !slices.Equal(got.IDs, want) {
					t.Errorf("1 beam: ids %v, want the Decoder's greedy %v", got.IDs, want)
				}
				if beams > 1 && float64(got.Score) < greedySum/n-1e-4 {
					t.Errorf("%d beams: score %g below the greedy sequence's %g", beams, got.Score, greedySum/n)
				}
			}
		})
	}
}

// logSoftmaxAt is log_softmax(row)[i].
func logSoftmaxAt(row []float32, i int) float32 {
	mx := row[0]
	for _, v := range row {
		mx = max(mx, v)
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v - mx))
	}
	return row[i] - mx - float32(math.Log(s))
}
