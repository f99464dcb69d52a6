package train

import (
	"math"
	"testing"

	"github.com/loupe-ml/loupe/autograd"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestGradientsWithDropout checks the training gradient (LM head, the
// blocks' backward with dropout masks, embeddings) against central finite
// differences of the loss computed with the same masks, on the tiny model
// (PyTorch agreement is checked without dropout, whose draws differ).
func TestGradientsWithDropout(t *testing.T) {
	m := loadTiny(t)
	toks := loadTokens(t)
	o := DefaultOptions()
	o.BatchSize, o.SeqLen, o.Dropout, o.DataOrder = 2, 12, 0.2, "sequential"
	tr, err := New(m, toks, nil, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range tr.gparams {
		clear(g.Data)
	}
	if _, err := tr.microBatch(3, 1); err != nil {
		t.Fatal(err)
	}
	c := m.Config
	inputs, targets := append([]int(nil), tr.inputs...), append([]int(nil), tr.targets...)
	loss := func() float64 {
		x0 := make([]float32, len(inputs)*c.NEmbd)
		autograd.EmbeddingForward(x0, m.Weights.WTE, inputs, c.NEmbd)
		p, err := m.ForwardPass(x0, o.BatchSize, o.SeqLen, gpt2.PassOptions{Train: true, Dropout: float32(o.Dropout), DropoutSeed: dropoutSeed(o.Seed, 3)})
		if err != nil {
			t.Fatal(err)
		}
		n := o.BatchSize * o.SeqLen
		return headLoss(p.LNF, targets, n, c.NEmbd, c.VocabSize, m.Weights.LMHead, 0, nil, nil, make([]float32, n*c.VocabSize)) / float64(n)
	}
	worst := 0.0
	for pi, p := range tr.params {
		g := tr.gparams[pi].Data
		for _, j := range []int{0, len(p.Data) / 3, len(p.Data) - 1} {
			const h = 1e-2
			old := p.Data[j]
			p.Data[j] = old + h
			up := loss()
			p.Data[j] = old - h
			down := loss()
			p.Data[j] = old
			fd := (up - down) / (2 * h)
			diff := math.Abs(fd - float64(g[j]))
			scale := math.Max(1e-3, math.Abs(fd))
			worst = math.Max(worst, diff/scale)
			if diff > 2e-3+0.05*math.Abs(fd) {
				t.Errorf("%s[%d]: gradient %g, finite difference %g", p.Name, j, g[j], fd)
			}
		}
	}
	t.Logf("worst relative difference %.2g", worst)
}
