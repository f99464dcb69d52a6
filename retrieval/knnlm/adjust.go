package knnlm

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/perplexity"
)

var (
	_ generate.Adjuster = (*Adjuster)(nil)
	_ perplexity.Mixer  = (*Mixer)(nil)
)

// Trace is what an Adjuster records for one call when Options.Trace is
// set: the row, its neighbours (nearest first, with their weights in
// p_kNN), and the model's and the interpolated log-probabilities over the
// vocabulary.
type Trace struct {
	Row         int        `json:"row"`
	Neighbors   []Neighbor `json:"neighbors"`
	LMLogprobs  []float32  `json:"lm_logprobs"`
	MixLogprobs []float32  `json:"mix_logprobs"`
}

// Adjuster interpolates a decoding step's next-token distribution with
// p_kNN: it implements generate.Adjuster (Adjust), so that
// generate.Options{Adjust: a} decodes from the kNN-LM. Not safe for
// concurrent use.
type Adjuster struct {
	ds     *Datastore
	opt    Options
	lm     []float64
	traces []Trace
}

// NewAdjuster returns an Adjuster over d with opt (see Options.Check).
func (d *Datastore) NewAdjuster(opt Options) (*Adjuster, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	return &Adjuster{ds: d, opt: opt}, nil
}

// Datastore returns the datastore the Adjuster retrieves from (for a
// neighbour's Context).
func (a *Adjuster) Datastore() *Datastore { return a.ds }

// Options returns the Adjuster's settings.
func (a *Adjuster) Options() Options { return a.opt }

// Adjust retrieves the K keys nearest to hidden (the ln_f output of the
// row's last position) and overwrites logits (VocabSize floats) with
// log(λ·p_kNN + (1−λ)·p_LM), p_LM being the softmax of the logits given.
// With Options.Trace it records a Trace.
func (a *Adjuster) Adjust(row int, hidden, logits []float32) error {
	if len(hidden) != a.ds.Manifest.Dim {
		return fmt.Errorf("knnlm: adjust: hidden state of %d floats, the datastore's keys have %d", len(hidden), a.ds.Manifest.Dim)
	}
	if len(logits) != a.ds.Manifest.VocabSize {
		return fmt.Errorf("knnlm: adjust: %d logits, the datastore's vocabulary has %d tokens", len(logits), a.ds.Manifest.VocabSize)
	}
	res, err := a.ds.Search(hidden, 1, a.opt.K, &SearchOptions{Ef: a.opt.Ef})
	if err != nil {
		return err
	}
	ns := res[0]
	dists := make([]float32, len(ns))
	values := make([]int, len(ns))
	for i, n := range ns {
		dists[i], values[i] = n.Distance, n.Token
	}
	tokens, knn, weights := Distribution(dists, values, a.opt.Temperature)
	if cap(a.lm) < len(logits) {
		a.lm = make([]float64, len(logits))
	}
	lm := a.lm[:len(logits)]
	LogSoftmax(lm, logits)
	var tr *Trace
	if a.opt.Trace {
		for i := range ns {
			ns[i].Weight = float32(weights[i])
		}
		tr = &Trace{Row: row, Neighbors: ns, LMLogprobs: make([]float32, len(lm)), MixLogprobs: make([]float32, len(lm))}
		for v, x := range lm {
			tr.LMLogprobs[v] = float32(x)
		}
	}
	MixRow(lm, lm, tokens, knn, a.opt.Lambda)
	for v, x := range lm {
		logits[v] = float32(x)
	}
	if tr != nil {
		copy(tr.MixLogprobs, logits)
		a.traces = append(a.traces, *tr)
	}
	return nil
}

// Traces returns the Traces recorded so far, in call order.
func (a *Adjuster) Traces() []Trace { return a.traces }

// ResetTraces forgets the recorded Traces.
func (a *Adjuster) ResetTraces() { a.traces = nil }

// Mixer interpolates the targets of a perplexity evaluation with p_kNN: it
// implements perplexity.Mixer, one batched search per chunk of targets.
type Mixer struct {
	ds      *Datastore
	opt     Options
	Seconds float64 // time spent searching (set by Mix)
	Hits    int     // targets that were among their neighbours' values
	Targets int     // targets mixed
}

// NewMixer returns a Mixer over d with opt (see Options.Check; Trace is
// ignored).
func (d *Datastore) NewMixer(opt Options) (*Mixer, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	return &Mixer{ds: d, opt: opt}, nil
}

// Mix replaces each logp[i] by log(λ·p_kNN(targets[i]) + (1−λ)·exp(logp[i])),
// p_kNN from the K keys nearest to row i of hidden.
func (x *Mixer) Mix(hidden []float32, pos, targets []int, logp []float64) error {
	n := len(targets)
	if len(hidden) != n*x.ds.Manifest.Dim {
		return fmt.Errorf("knnlm: mix: %d hidden floats for %d targets of width %d", len(hidden), n, x.ds.Manifest.Dim)
	}
	t0 := nowSeconds()
	res, err := x.ds.Search(hidden, n, x.opt.K, &SearchOptions{Ef: x.opt.Ef})
	x.Seconds += nowSeconds() - t0
	if err != nil {
		return err
	}
	for i, ns := range res {
		knn := x.logPKNN(ns, targets[i])
		if !math.IsInf(knn, -1) {
			x.Hits++
		}
		logp[i] = Interpolate(logp[i], knn, x.opt.Lambda)
	}
	x.Targets += n
	return nil
}

// logPKNN is log p_kNN(y) over the neighbours ns.
func (x *Mixer) logPKNN(ns []Neighbor, y int) float64 {
	m := -float64(ns[0].Distance) / x.opt.Temperature
	for _, nb := range ns {
		m = math.Max(m, -float64(nb.Distance)/x.opt.Temperature)
	}
	var z, zy float64
	for _, nb := range ns {
		e := math.Exp(-float64(nb.Distance)/x.opt.Temperature - m)
		z += e
		if nb.Token == y {
			zy += e
		}
	}
	if zy == 0 {
		return math.Inf(-1)
	}
	return math.Log(zy) - math.Log(z)
}
