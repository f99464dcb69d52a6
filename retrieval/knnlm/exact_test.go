package knnlm

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// golden is testdata/golden.json, written by testdata/knnlm_ref.py
// (/usr/bin/python3 retrieval/knnlm/testdata/knnlm_ref.py >
// retrieval/knnlm/testdata/golden.json).
type golden struct {
	Vocab int `json:"vocab"`
	Cases []struct {
		Distances []float32 `json:"distances"`
		Values    []int     `json:"values"`
		Logits    []float32 `json:"logits"`
	} `json:"cases"`
	Outputs []struct {
		Case        int       `json:"case"`
		Temperature float64   `json:"temperature"`
		Lambda      float64   `json:"lambda"`
		Weights     []float64 `json:"weights"`
		KNNProbs    []float64 `json:"knn_probs"`
		MixProbs    []float64 `json:"mix_probs"`
		MixLogprobs []float64 `json:"mix_logprobs"`
	} `json:"outputs"`
}

// TestExactAgainstTorch: p_kNN, the neighbour weights and the
// interpolated probabilities and log-probabilities match the PyTorch
// reference within 1e-5, by the three paths that compute them: the
// full-vocabulary row (Distribution + MixRow, what Adjust writes), the
// per-target path (Mixer, what perplexity uses) and Tune's prefix sums.
func TestExactAgainstTorch(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Outputs) == 0 {
		t.Fatal("no outputs in golden.json")
	}
	const tol = 1e-5
	worst := 0.0
	check := func(what string, i int, got, want float64) {
		t.Helper()
		d := math.Abs(got - want)
		if math.IsInf(want, -1) && math.IsInf(got, -1) {
			d = 0
		}
		worst = max(worst, d)
		if !(d <= tol) {
			t.Errorf("%s [%d]: got %.9g, want %.9g", what, i, got, want)
		}
	}
	for oi, o := range g.Outputs {
		c := g.Cases[o.Case]
		tokens, knn, weights := Distribution(c.Distances, c.Values, o.Temperature)
		for i, w := range weights {
			check("weight", i, w, o.Weights[i])
		}
		full := make([]float64, g.Vocab)
		for i, v := range tokens {
			full[v] = math.Exp(knn[i])
		}
		for v := range full {
			check("p_kNN", v, full[v], o.KNNProbs[v])
		}
		lm := make([]float64, g.Vocab)
		LogSoftmax(lm, c.Logits)
		mix := make([]float64, g.Vocab)
		MixRow(mix, lm, tokens, knn, o.Lambda)
		ns := make([]Neighbor, len(c.Distances))
		for i := range ns {
			ns[i] = Neighbor{Pos: i, Token: c.Values[i], Distance: c.Distances[i]}
		}
		mx := &Mixer{opt: Options{Lambda: o.Lambda, K: len(ns), Temperature: o.Temperature}}
		for v := range mix {
			check("mix prob", v, math.Exp(mix[v]), o.MixProbs[v])
			per := Interpolate(lm[v], mx.logPKNN(ns, v), o.Lambda)
			check("per-target mix prob", v, math.Exp(per), o.MixProbs[v])
			if o.MixLogprobs != nil {
				check("mix logprob", v, mix[v], o.MixLogprobs[v])
				check("per-target mix logprob", v, per, o.MixLogprobs[v])
			}
		}
		_ = oi
		// Tune's path: the grid's prefix sums, k = all neighbours.
		k := len(ns)
		match := make([]bool, k)
		g := newGrid([]int{k}, []float64{o.Temperature}, []float64{o.Lambda})
		for v := range mix {
			for i := range match {
				match[i] = c.Values[i] == v
			}
			s := []float64{0}
			g.add(s, c.Distances, match, lm[v])
			check("tune mix prob", v, math.Exp(-s[0]), o.MixProbs[v])
		}
	}
	t.Logf("worst absolute difference from the PyTorch reference: %.3g over %d outputs", worst, len(g.Outputs))
}

// TestInterpolateEdges: λ = 0 and 1 select one distribution, a token with
// no neighbour gets log(1−λ) + log p_LM, and huge distances do not
// underflow the nearest neighbour's weight.
func TestInterpolateEdges(t *testing.T) {
	ninf := math.Inf(-1)
	for _, tc := range []struct {
		lm, knn, lambda, want float64
	}{
		{-2, -1, 0, -2},
		{-2, -1, 1, -1},
		{-2, ninf, 0.25, math.Log(0.75) - 2},
		{-2, ninf, 1, ninf},
		{math.Log(0.5), math.Log(0.5), 0.3, math.Log(0.5)},
		{-800, -1, 0.5, math.Log(0.5) - 1},
	} {
		got := Interpolate(tc.lm, tc.knn, tc.lambda)
		if !(got == tc.want || math.Abs(got-tc.want) < 1e-12) {
			t.Errorf("Interpolate(%g, %g, %g) = %g, want %g", tc.lm, tc.knn, tc.lambda, got, tc.want)
		}
	}
	w := make([]float64, 3)
	lz := Weights(w, []float32{1e6, 1e6 + 1, 2e6}, 1)
	if math.Abs(w[0]-1/(1+math.Exp(-1))) > 1e-12 || w[2] != 0 || math.Abs(lz-(-1e6+math.Log1p(math.Exp(-1)))) > 1e-6 {
		t.Errorf("Weights at distance 1e6: %v, logZ %g", w, lz)
	}
}
