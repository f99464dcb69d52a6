package recommend

import (
	"errors"
	"math"
	"sort"
	"strings"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/word2vec"
)

// Model is a set of item vectors, most frequent item first.
type Model struct {
	*word2vec.Vectors
}

// Load reads a model saved by Save (any word2vec file).
func Load(path string) (*Model, error) {
	v, err := word2vec.Load(path, word2vec.FormatAuto, 0)
	if err != nil {
		return nil, wrap(err)
	}
	return &Model{Vectors: v}, nil
}

// Save writes the model in the word2vec binary format, atomically.
func (m *Model) Save(path string) error { return m.Vectors.Save(path, word2vec.FormatBinary) }

// Similar returns the n items most similar to item by cosine; n must be
// > 0 (an *word2vec.OptionError for the field N otherwise).
func (m *Model) Similar(item string, n int) ([]word2vec.Neighbor, error) {
	if err := checkN("N", n); err != nil {
		return nil, err
	}
	ns, err := m.MostSimilar([]string{item}, nil, word2vec.QueryOptions{TopN: n})
	if err != nil {
		return nil, wrap(err)
	}
	return ns, nil
}

// ProfileOptions controls ForUser. Start from DefaultProfileOptions; a
// value that means nothing is a *word2vec.OptionError naming the field.
type ProfileOptions struct {
	// N is the number of recommendations (default 10; must be > 0).
	N int
	// HalfLife is the number of items after which an item's weight in
	// the profile halves: the most recent item weighs 1, the one before
	// 2^(-1/HalfLife), and so on. 0 weighs all items equally; negative is
	// an error.
	HalfLife float64
	// IgnoreUnknown skips recent items missing from the model instead of
	// failing.
	IgnoreUnknown bool
}

// DefaultProfileOptions returns 10 recommendations from an equally
// weighted profile of known items.
func DefaultProfileOptions() ProfileOptions { return ProfileOptions{N: 10} }

// ForUser ranks the items the user has not seen by cosine similarity to a
// time-decayed profile: the weighted mean of the unit vectors of recent
// (oldest first).
func (m *Model) ForUser(recent []string, opt ProfileOptions) ([]word2vec.Neighbor, error) {
	if err := checkN("N", opt.N); err != nil {
		return nil, err
	}
	if err := checkHalfLife(opt.HalfLife); err != nil {
		return nil, err
	}
	if len(recent) == 0 {
		return nil, errors.New("recommend: no recent items")
	}
	d := m.Dim
	profile := make([]float32, d)
	seen := map[int]bool{}
	var missing []string
	unit := make([]float32, d)
	for k, it := range recent {
		row, ok := m.Index(it)
		if !ok {
			missing = append(missing, it)
			continue
		}
		seen[row] = true
		w := 1.0
		if opt.HalfLife > 0 {
			w = math.Pow(0.5, float64(len(recent)-1-k)/opt.HalfLife)
		}
		copy(unit, m.Data[row*d:(row+1)*d])
		if n := kernels.Dot(unit, unit); n > 0 {
			kernels.Axpy(float32(w/math.Sqrt(float64(n))), unit, profile)
		}
	}
	if len(missing) > 0 && (!opt.IgnoreUnknown || len(seen) == 0) {
		return nil, wrap(&word2vec.UnknownWordsError{Words: missing})
	}
	return m.rank(profile, seen, opt.N), nil
}

// checkN rejects a count n (of recommendations, of the cut-off K) that is
// not > 0 with a *word2vec.OptionError for field.
func checkN(field string, n int) error {
	if n <= 0 {
		return wrap(&word2vec.OptionError{Field: field, Name: strings.ToLower(field), Value: n, Allowed: "> 0"})
	}
	return nil
}

// checkHalfLife rejects a negative or non-finite half-life with a
// *word2vec.OptionError for the field HalfLife.
func checkHalfLife(h float64) error {
	if !(h >= 0) || math.IsInf(h, 0) {
		return wrap(&word2vec.OptionError{Field: "HalfLife", Name: "half-life", Value: h, Allowed: ">= 0 (0: equal weights)"})
	}
	return nil
}

// rank returns the n rows most similar to q (by cosine), skipping exclude.
func (m *Model) rank(q []float32, exclude map[int]bool, n int) []word2vec.Neighbor {
	d := m.Dim
	qn := float32(math.Sqrt(float64(kernels.Dot(q, q))))
	type cand struct {
		row int
		s   float32
	}
	all := make([]cand, 0, m.Len())
	for i := 0; i < m.Len(); i++ {
		if exclude[i] {
			continue
		}
		r := m.Data[i*d : (i+1)*d]
		rn := float32(math.Sqrt(float64(kernels.Dot(r, r))))
		s := float32(0)
		if rn > 0 && qn > 0 {
			s = kernels.Dot(q, r) / (rn * qn)
		}
		all = append(all, cand{i, s})
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].s > all[b].s })
	if len(all) > n {
		all = all[:n]
	}
	out := make([]word2vec.Neighbor, len(all))
	for i, c := range all {
		out[i] = word2vec.Neighbor{Word: m.Words[c.row], Score: float64(c.s)}
	}
	return out
}

// Popular returns the n most frequent items (the model's first rows) not
// in exclude: the most-popular baseline.
func (m *Model) Popular(n int, exclude map[string]bool) []string {
	var out []string
	for _, w := range m.Words {
		if len(out) == n {
			break
		}
		if !exclude[w] {
			out = append(out, w)
		}
	}
	return out
}
