package knnlm

import (
	"fmt"
	"math"
	"sort"
)

// Options are kNN-LM's interpolation settings.
type Options struct {
	// Lambda is the weight of p_kNN, 0 to 1 (default 0.25, the paper's
	// WikiText-103 value).
	Lambda float64
	// K is the number of neighbours retrieved (default 1024); capped at
	// the datastore's keys.
	K int
	// Temperature T divides the negative distances before the softmax,
	// > 0 (default 1, the paper's).
	Temperature float64
	// Ef is HNSW's candidate list (max(Ef, K) is used; 0: K).
	Ef int
	// Trace makes an Adjuster record a Trace per call (see
	// Adjuster.Traces).
	Trace bool
}

// DefaultOptions returns the paper's settings: λ 0.25, k 1024, T 1.
func DefaultOptions() Options { return Options{Lambda: 0.25, K: 1024, Temperature: 1} }

// OptionError reports an Options field out of range.
type OptionError struct {
	Field   string // "lambda", "k", "temperature" or "ef"
	Value   any
	Allowed string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("knnlm: %s %v: want %s", e.Field, e.Value, e.Allowed)
}

// Check reports the first field of o out of range, as an *OptionError.
func (o Options) Check() error {
	switch {
	case !(o.Lambda >= 0 && o.Lambda <= 1):
		return &OptionError{"lambda", o.Lambda, "0 to 1"}
	case o.K < 1:
		return &OptionError{"k", o.K, "1 or more"}
	case !(o.Temperature > 0) || math.IsInf(o.Temperature, 1):
		return &OptionError{"temperature", o.Temperature, "a positive number"}
	case o.Ef < 0:
		return &OptionError{"ef", o.Ef, "0 or more"}
	}
	return nil
}

// Weights sets w[i] to neighbour i's share of p_kNN, exp(−d_i/T) /
// Σ_j exp(−d_j/T), computed in float64 around the largest score (so the
// nearest neighbour's term is 1 and nothing underflows), and returns
// log Σ_j exp(−d_j/T). dists need not be sorted. len(w) = len(dists).
func Weights(w []float64, dists []float32, temperature float64) (logZ float64) {
	if len(dists) == 0 {
		return math.Inf(-1)
	}
	m := math.Inf(-1)
	for _, d := range dists {
		m = math.Max(m, -float64(d)/temperature)
	}
	var z float64
	for i, d := range dists {
		w[i] = math.Exp(-float64(d)/temperature - m)
		z += w[i]
	}
	for i := range w {
		w[i] /= z
	}
	return m + math.Log(z)
}

// Distribution returns p_kNN as a sparse distribution: the distinct
// values of the neighbours in increasing order, log p_kNN of each
// (log Σ of the weights of the neighbours with that value), and each
// neighbour's weight (see Weights). Every other token has p_kNN = 0.
func Distribution(dists []float32, values []int, temperature float64) (tokens []int, logp []float64, weights []float64) {
	weights = make([]float64, len(dists))
	Weights(weights, dists, temperature)
	sum := map[int]float64{}
	for i, v := range values {
		sum[v] += weights[i]
	}
	tokens = make([]int, 0, len(sum))
	for v := range sum {
		tokens = append(tokens, v)
	}
	sort.Ints(tokens)
	logp = make([]float64, len(tokens))
	for i, v := range tokens {
		logp[i] = math.Log(sum[v])
	}
	return tokens, logp, weights
}

// Interpolate returns log(λ·exp(knn) + (1−λ)·exp(lm)) for log-probabilities
// knn (log p_kNN, −Inf when the token has none) and lm (log p_LM), by
// log-add-exp; λ = 0 returns lm and λ = 1 returns knn exactly.
func Interpolate(lm, knn, lambda float64) float64 {
	switch lambda {
	case 0:
		return lm
	case 1:
		return knn
	}
	return logAddExp(math.Log(lambda)+knn, math.Log1p(-lambda)+lm)
}

func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// LogSoftmax writes log softmax(logits) into out (float64; len(out) =
// len(logits)).
func LogSoftmax(out []float64, logits []float32) {
	m := math.Inf(-1)
	for _, x := range logits {
		m = math.Max(m, float64(x))
	}
	var z float64
	for _, x := range logits {
		z += math.Exp(float64(x) - m)
	}
	lz := m + math.Log(z)
	for i, x := range logits {
		out[i] = float64(x) - lz
	}
}

// MixRow writes the interpolated log-probabilities over the vocabulary
// into out: out[v] = log(λ·p_kNN(v) + (1−λ)·p_LM(v)), where lm holds
// log p_LM (LogSoftmax of the logits) and tokens, knn the sparse log
// p_kNN of Distribution. out and lm may be the same slice.
func MixRow(out, lm []float64, tokens []int, knn []float64, lambda float64) {
	if lambda == 1 {
		for v := range out {
			out[v] = math.Inf(-1)
		}
		for i, v := range tokens {
			out[v] = knn[i]
		}
		return
	}
	l1 := math.Log1p(-lambda)
	for v, x := range lm {
		out[v] = x + l1
	}
	if lambda == 0 {
		copy(out, lm)
		return
	}
	ll := math.Log(lambda)
	for i, v := range tokens {
		out[v] = logAddExp(ll+knn[i], out[v])
	}
}
