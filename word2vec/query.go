package word2vec

import (
	"errors"
	"math"
	"sort"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// QueryOptions limits a similarity query. Start from DefaultQueryOptions:
// every field means what it says, and a value that means nothing (TopN 0)
// is an *OptionError, as for Options.
type QueryOptions struct {
	// TopN is the number of neighbours returned (default 10; must be > 0).
	TopN int
	// Restrict, when > 0, searches only the first Restrict words (the most
	// frequent ones in a vocabulary sorted by count), like gensim's
	// restrict_vocab; 0 (the default) searches all words.
	Restrict int
}

// DefaultQueryOptions returns gensim's defaults: the top 10 among all
// words.
func DefaultQueryOptions() QueryOptions { return QueryOptions{TopN: 10} }

// check validates o, the one place that does.
func (o QueryOptions) check() error {
	switch {
	case o.TopN <= 0:
		return optionError("TopN", o.TopN, "> 0")
	case o.Restrict < 0:
		return optionError("Restrict", o.Restrict, ">= 0 (0: all words)")
	}
	return nil
}

func (o QueryOptions) clip(n int) (topn, end int) {
	end = n
	if o.Restrict > 0 && o.Restrict < n {
		end = o.Restrict
	}
	return o.TopN, end
}

// MostSimilar returns the words closest by cosine similarity to the mean of
// the unit vectors of positive minus those of negative (3CosAdd when
// positive = {b, c} and negative = {a}), excluding the query words, as
// gensim's most_similar. Unknown words give an *UnknownWordsError.
func (v *Vectors) MostSimilar(positive, negative []string, opt QueryOptions) ([]Neighbor, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	if len(positive)+len(negative) == 0 {
		return nil, errors.New("word2vec: most similar: no query words")
	}
	rows, err := v.lookup(append(append([]string(nil), positive...), negative...))
	if err != nil {
		return nil, err
	}
	pos, neg := rows[:len(positive)], rows[len(positive):]
	return v.mostSimilarRows(pos, neg, opt), nil
}

func (v *Vectors) mostSimilarRows(pos, neg []int, opt QueryOptions) []Neighbor {
	topn, end := opt.clip(v.Len())
	mean := make([]float32, v.Dim)
	exclude := make(map[int]bool, len(pos)+len(neg))
	for _, r := range pos {
		kernels.Axpy(1, v.unitRow(r), mean)
		exclude[r] = true
	}
	for _, r := range neg {
		kernels.Axpy(-1, v.unitRow(r), mean)
		exclude[r] = true
	}
	kernels.Scale(1/float32(len(pos)+len(neg)), mean)
	unitize(mean)
	scores := v.dotAll(mean, end)
	best := topK(scores, topn, exclude)
	out := make([]Neighbor, len(best))
	for i, r := range best {
		out[i] = Neighbor{Word: v.Words[r], Score: float64(scores[r])}
	}
	return out
}

// dotAll returns the dot products of q with the unit vectors of rows [0, end).
func (v *Vectors) dotAll(q []float32, end int) []float32 {
	scores := make([]float32, end)
	d := v.Dim
	v.normOnce.Do(v.fillUnit)
	kernels.Parallel(end, 2048, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			scores[i] = kernels.Dot(q, v.unit[i*d:(i+1)*d])
		}
	})
	return scores
}

func unitize(x []float32) {
	n := float32(math.Sqrt(float64(kernels.Dot(x, x))))
	if n > 0 {
		kernels.Scale(1/n, x)
	}
}

// cosmulEps is gensim's guard against division by zero in 3CosMul.
const cosmulEps = 1e-6

// MostSimilarCosmul ranks words by 3CosMul (Levy and Goldberg): the
// product of the shifted similarities (1+cos)/2 to the positive words
// divided by the product of those to the negative words plus 1e-6, as
// gensim's most_similar_cosmul. The query words are excluded.
func (v *Vectors) MostSimilarCosmul(positive, negative []string, opt QueryOptions) ([]Neighbor, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	if len(positive) == 0 {
		return nil, errors.New("word2vec: most similar (cosmul): no positive words")
	}
	rows, err := v.lookup(append(append([]string(nil), positive...), negative...))
	if err != nil {
		return nil, err
	}
	pos, neg := rows[:len(positive)], rows[len(positive):]
	return v.cosmulRows(pos, neg, opt), nil
}

func (v *Vectors) cosmulRows(pos, neg []int, opt QueryOptions) []Neighbor {
	topn, end := opt.clip(v.Len())
	exclude := make(map[int]bool, len(pos)+len(neg))
	num := make([]float32, end)
	den := make([]float32, end)
	for i := range num {
		num[i], den[i] = 1, 1
	}
	for _, r := range pos {
		exclude[r] = true
		s := v.dotAll(v.unitRow(r), end)
		for i, c := range s {
			num[i] *= (1 + c) / 2
		}
	}
	for _, r := range neg {
		exclude[r] = true
		s := v.dotAll(v.unitRow(r), end)
		for i, c := range s {
			den[i] *= (1 + c) / 2
		}
	}
	for i := range num {
		if len(neg) > 0 {
			num[i] /= den[i] + cosmulEps
		} else {
			num[i] /= 1 + cosmulEps
		}
	}
	best := topK(num, topn, exclude)
	out := make([]Neighbor, len(best))
	for i, r := range best {
		out[i] = Neighbor{Word: v.Words[r], Score: float64(num[r])}
	}
	return out
}

// Similarity returns the cosine similarity of two words.
func (v *Vectors) Similarity(a, b string) (float64, error) {
	rows, err := v.lookup([]string{a, b})
	if err != nil {
		return 0, err
	}
	return float64(kernels.Dot(v.unitRow(rows[0]), v.unitRow(rows[1]))), nil
}

// DoesntMatch returns the word least similar to the normalised mean of the
// words' unit vectors, as gensim's doesnt_match (which, unlike this method,
// silently drops unknown words).
func (v *Vectors) DoesntMatch(words []string) (string, error) {
	if len(words) == 0 {
		return "", errors.New("word2vec: doesn't match: no words")
	}
	rows, err := v.lookup(words)
	if err != nil {
		return "", err
	}
	mean := make([]float32, v.Dim)
	for _, r := range rows {
		kernels.Axpy(1, v.unitRow(r), mean)
	}
	unitize(mean)
	type ws struct {
		s float32
		w string
	}
	all := make([]ws, len(rows))
	for i, r := range rows {
		all[i] = ws{kernels.Dot(v.unitRow(r), mean), words[i]}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].s != all[j].s {
			return all[i].s < all[j].s
		}
		return all[i].w < all[j].w
	})
	return all[0].w, nil
}

// Analogy answers "a is to b as c is to ?" by 3CosAdd (MostSimilar with
// positive {b, c} and negative {a}) or, if cosmul, 3CosMul.
func (v *Vectors) Analogy(a, b, c string, cosmul bool, opt QueryOptions) ([]Neighbor, error) {
	if cosmul {
		return v.MostSimilarCosmul([]string{b, c}, []string{a}, opt)
	}
	return v.MostSimilar([]string{b, c}, []string{a}, opt)
}
