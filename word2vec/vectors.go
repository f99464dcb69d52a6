package word2vec

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Vectors is a vocabulary of words with one float32 vector each, in the
// order of the file or of training (most frequent first), like gensim's
// KeyedVectors.
type Vectors struct {
	// Words lists the vocabulary; Words[i] owns Data[i*Dim:(i+1)*Dim].
	Words []string
	// Dim is the length of every vector.
	Dim int
	// Data holds len(Words)×Dim float32 values, row-major.
	Data []float32

	index map[string]int

	normOnce sync.Once
	unit     []float32 // rows scaled to unit length (zero rows stay zero)
}

// NewVectors builds Vectors from words and their row-major data. It returns
// an error if the sizes disagree, a word is empty or repeated, or a word
// contains white space.
func NewVectors(words []string, dim int, data []float32) (*Vectors, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("word2vec: vector dimension %d, want > 0", dim)
	}
	if len(data) != len(words)*dim {
		return nil, fmt.Errorf("word2vec: %d words × %d dims need %d values, have %d", len(words), dim, len(words)*dim, len(data))
	}
	v := &Vectors{Words: words, Dim: dim, Data: data, index: make(map[string]int, len(words))}
	for i, w := range words {
		if w == "" || strings.ContainsAny(w, " \t\n\r\v\f") {
			return nil, fmt.Errorf("word2vec: word %d (%q) is empty or contains white space", i, w)
		}
		if j, dup := v.index[w]; dup {
			return nil, fmt.Errorf("word2vec: duplicate word %q at rows %d and %d", w, j, i)
		}
		v.index[w] = i
	}
	return v, nil
}

// Len returns the number of words.
func (v *Vectors) Len() int { return len(v.Words) }

// Index returns the row of word and whether it is in the vocabulary.
func (v *Vectors) Index(word string) (int, bool) {
	i, ok := v.index[word]
	return i, ok
}

// Vector returns the stored (not normalised) vector of word, or nil.
func (v *Vectors) Vector(word string) []float32 {
	i, ok := v.index[word]
	if !ok {
		return nil
	}
	return v.Data[i*v.Dim : (i+1)*v.Dim]
}

// row returns the stored vector at row i.
func (v *Vectors) row(i int) []float32 { return v.Data[i*v.Dim : (i+1)*v.Dim] }

// unitRow returns row i scaled to unit length.
func (v *Vectors) unitRow(i int) []float32 {
	v.normOnce.Do(v.fillUnit)
	return v.unit[i*v.Dim : (i+1)*v.Dim]
}

func (v *Vectors) fillUnit() {
	v.unit = make([]float32, len(v.Data))
	copy(v.unit, v.Data)
	d := v.Dim
	kernels.Parallel(len(v.Words), 1024, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := v.unit[i*d : (i+1)*d]
			n := float32(math.Sqrt(float64(kernels.Dot(r, r))))
			if n > 0 {
				kernels.Scale(1/n, r)
			}
		}
	})
}

// invalidate drops cached unit vectors after Data changed.
func (v *Vectors) invalidate() {
	v.normOnce = sync.Once{}
	v.unit = nil
}

// UnknownWordsError reports query words missing from the vocabulary.
type UnknownWordsError struct {
	Words []string
}

func (e *UnknownWordsError) Error() string {
	q := make([]string, len(e.Words))
	for i, w := range e.Words {
		q[i] = fmt.Sprintf("%q", w)
	}
	if len(q) == 1 {
		return "word2vec: word " + q[0] + " not in vocabulary"
	}
	return "word2vec: words " + strings.Join(q, ", ") + " not in vocabulary"
}

// lookup returns the rows of words, or an *UnknownWordsError naming every
// missing one.
func (v *Vectors) lookup(words []string) ([]int, error) {
	rows := make([]int, len(words))
	var missing []string
	for i, w := range words {
		r, ok := v.index[w]
		if !ok {
			missing = append(missing, w)
			continue
		}
		rows[i] = r
	}
	if len(missing) > 0 {
		return nil, &UnknownWordsError{Words: missing}
	}
	return rows, nil
}

// Neighbor is a word and its score in a query result.
type Neighbor struct {
	Word  string  `json:"word"`
	Score float64 `json:"score"`
}

// topK returns the k best rows of scores[0:n] in descending score order,
// skipping rows in exclude. Ties keep the lower row first.
func topK(scores []float32, k int, exclude map[int]bool) []int {
	if k <= 0 {
		return nil
	}
	// A bounded min-heap would be faster for huge vocabularies; a partial
	// selection over candidates is simple and fast enough here.
	type cand struct {
		i int
		s float32
	}
	h := make([]cand, 0, k+1)
	less := func(a, b cand) bool { // a ranks below b
		if a.s != b.s {
			return a.s < b.s
		}
		return a.i > b.i
	}
	for i, s := range scores {
		if exclude[i] || s != s {
			continue
		}
		c := cand{i, s}
		if len(h) == k && !less(h[0], c) {
			continue
		}
		// push
		h = append(h, c)
		for j := len(h) - 1; j > 0; {
			p := (j - 1) / 2
			if !less(h[j], h[p]) {
				break
			}
			h[j], h[p] = h[p], h[j]
			j = p
		}
		if len(h) > k { // pop the smallest
			last := len(h) - 1
			h[0] = h[last]
			h = h[:last]
			for j := 0; ; {
				l, r, m := 2*j+1, 2*j+2, j
				if l < len(h) && less(h[l], h[m]) {
					m = l
				}
				if r < len(h) && less(h[r], h[m]) {
					m = r
				}
				if m == j {
					break
				}
				h[j], h[m] = h[m], h[j]
				j = m
			}
		}
	}
	sort.Slice(h, func(a, b int) bool { return less(h[b], h[a]) })
	out := make([]int, len(h))
	for i, c := range h {
		out[i] = c.i
	}
	return out
}
