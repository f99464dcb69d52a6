package explain

import (
	"fmt"
	"slices"

	"github.com/loupe-ml/loupe/retrieval/knnlm"
)

// NewKNN returns the KNN of a retrieval/knnlm Adjuster: decoding goes
// through a itself, and Step through a second Adjuster over the same
// datastore with the same settings that records a Trace.
func NewKNN(a *knnlm.Adjuster) (KNN, error) {
	opt := a.Options()
	opt.Trace = true
	tr, err := a.Datastore().NewAdjuster(opt)
	if err != nil {
		return nil, err
	}
	return &knnAdapter{a: a, tr: tr}, nil
}

type knnAdapter struct {
	a, tr *knnlm.Adjuster
}

func (k *knnAdapter) Adjust(row int, hidden, logits []float32) error {
	return k.a.Adjust(row, hidden, logits)
}

func (k *knnAdapter) Step(hidden, logits []float32) (*KNNStep, error) {
	k.tr.ResetTraces()
	if err := k.tr.Adjust(0, hidden, slices.Clone(logits)); err != nil {
		return nil, err
	}
	ts := k.tr.Traces()
	if len(ts) != 1 {
		return nil, fmt.Errorf("explain: the kNN-LM recorded %d traces for one step", len(ts))
	}
	t := ts[0]
	st := &KNNStep{LMLogprobs: t.LMLogprobs, MixLogprobs: t.MixLogprobs, Neighbors: make([]Neighbor, len(t.Neighbors))}
	for i, n := range t.Neighbors {
		st.Neighbors[i] = Neighbor{Pos: n.Pos, Token: n.Token, Distance: n.Distance, Weight: n.Weight}
	}
	k.tr.ResetTraces()
	return st, nil
}

func (k *knnAdapter) Context(pos, n int) []int { return k.a.Datastore().Context(pos, n) }

func (k *knnAdapter) Settings() KNNSettings {
	o := k.a.Options()
	return KNNSettings{Datastore: k.a.Datastore().Dir(), Lambda: o.Lambda, K: o.K, Temperature: o.Temperature}
}
