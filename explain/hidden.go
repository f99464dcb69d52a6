package explain

import (
	"math"

	"github.com/loupe-ml/loupe/autograd"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// hidden holds what the hidden-state, attention and NMF views read from one
// forward pass over T positions: the residual stream after each block
// (resid[l+1], [T, C]; resid[0] is unused), the attention probabilities
// (att[l], [nh, T, T]) and, when kept, the MLP activations (act[l], [T, 4C]).
type hidden struct {
	T     int
	resid [][]float32
	att   [][]float32
	act   [][]float32
}

// Prediction is one of a layer's top tokens at a position.
type Prediction struct {
	ID    int     `json:"id"`
	Token string  `json:"token"`
	Prob  float64 `json:"prob"`
}

// layerLogits applies the LM head to the residual stream after each block
// (layers 1..L) at the given rows of h, returning [L][len(rows)*V].
// With lens set the final LayerNorm is applied first (the logit lens done
// right); without it the raw residual is used, except after the last block,
// where Hugging Face's last hidden state already includes ln_f (Ecco's view).
func layerLogits(m *gpt2.Model, h *hidden, rows []int, lens bool) [][]float32 {
	C, L := m.Config.NEmbd, m.Config.NLayer
	out := make([][]float32, L)
	x := make([]float32, len(rows)*C)
	for l := 1; l <= L; l++ {
		for i, r := range rows {
			copy(x[i*C:(i+1)*C], h.resid[l][r*C:(r+1)*C])
		}
		out[l-1] = m.Unembed(x, len(rows), lens || l == L)
	}
	return out
}

// rankOf returns the 1-based rank of token id in logits (1 = most likely).
func rankOf(logits []float32, id int) int {
	v := logits[id]
	r := 1
	for j, x := range logits {
		if x > v || (x == v && j < id) {
			r++
		}
	}
	return r
}

// topK returns the k most likely tokens of logits with their probabilities.
func topK(logits []float32, k int, text func(int) string) []Prediction {
	probs := make([]float32, len(logits))
	copy(probs, logits)
	softmax(probs)
	idx := topIndices(probs, k)
	out := make([]Prediction, len(idx))
	for i, id := range idx {
		out[i] = Prediction{ID: id, Token: text(id), Prob: float64(probs[id])}
	}
	return out
}

// softmaxProb returns softmax(logits)[id] computed stably.
func softmaxProb(logits []float32, id int) float64 {
	m := logits[0]
	for _, v := range logits {
		if v > m {
			m = v
		}
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(float64(v - m))
	}
	return math.Exp(float64(logits[id]-m)) / s
}

// softmax replaces x by its softmax, computed stably.
func softmax(x []float32) {
	autograd.SoftmaxForward(x, x, 1, len(x), false, 0)
}

// topIndices returns the indices of the k largest values of x, largest
// first (earlier index first on ties), by one pass with a small sorted list.
func topIndices(x []float32, k int) []int {
	k = min(k, len(x))
	top := make([]int, 0, k+1)
	for i, v := range x {
		if len(top) == k && v <= x[top[k-1]] {
			continue
		}
		j := len(top)
		top = append(top, i)
		for j > 0 && x[top[j-1]] < v {
			top[j] = top[j-1]
			j--
		}
		top[j] = i
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

// argmax returns the index of the largest value of x (the first on ties).
func argmaxf(x []float32) int {
	b := 0
	for i, v := range x {
		if v > x[b] {
			b = i
		}
	}
	return b
}
