package recommend

import (
	"errors"
	"fmt"
)

// EvalOptions controls Evaluate. Start from DefaultEvalOptions; a value
// that means nothing is a *word2vec.OptionError naming the field.
type EvalOptions struct {
	// K is the cut-off of hit-rate@K and MRR@K (default 10; must be > 0).
	K int
	// HalfLife of the profile over the session prefix (see
	// ProfileOptions); 0 weighs the prefix equally.
	HalfLife float64
}

// DefaultEvalOptions returns a cut-off of 10 and equal weights.
func DefaultEvalOptions() EvalOptions { return EvalOptions{K: 10} }

func (o EvalOptions) check() error {
	if err := checkN("K", o.K); err != nil {
		return err
	}
	return checkHalfLife(o.HalfLife)
}

// Scores are hit-rate@K and MRR@K (reciprocal rank of the held-out item,
// 0 when it is not in the top K) of one method.
type Scores struct {
	HitRate float64 `json:"hit_rate"`
	MRR     float64 `json:"mrr"`
}

// EvalResult compares the embedding recommender with the most-popular
// baseline on the same questions.
type EvalResult struct {
	K         int    `json:"k"`
	Questions int    `json:"questions"`
	Skipped   int    `json:"skipped"` // sessions with no known prefix item
	Embedding Scores `json:"embedding"`
	Popular   Scores `json:"popular"`
}

// EvaluateFile is Evaluate on the sessions of a file (see ReadSessions).
func (m *Model) EvaluateFile(path string, opt EvalOptions) (*EvalResult, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New("recommend: no sessions file given")
	}
	sessions, err := ReadSessions(path)
	if err != nil {
		return nil, err
	}
	return m.Evaluate(sessions, opt)
}

// Evaluate holds out the last item of every session with at least two
// items and asks both methods for K items given the rest: ForUser on the
// prefix, and the most popular items of the training data (the model's
// first rows) not in the prefix. Sessions whose prefix has no item known to
// the model are skipped and counted; a held-out item unknown to the model
// counts as a miss for both.
func (m *Model) Evaluate(sessions [][]string, opt EvalOptions) (*EvalResult, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	res := &EvalResult{K: opt.K}
	for _, s := range sessions {
		if len(s) < 2 {
			continue
		}
		prefix, target := s[:len(s)-1], s[len(s)-1]
		known := prefix[:0:0]
		seen := map[string]bool{}
		for _, it := range prefix {
			seen[it] = true
			if _, ok := m.Index(it); ok {
				known = append(known, it)
			}
		}
		if len(known) == 0 {
			res.Skipped++
			continue
		}
		res.Questions++
		recs, err := m.ForUser(known, ProfileOptions{N: opt.K, HalfLife: opt.HalfLife})
		if err != nil {
			return nil, err
		}
		for i, r := range recs {
			if r.Word == target {
				res.Embedding.HitRate++
				res.Embedding.MRR += 1 / float64(i+1)
				break
			}
		}
		for i, w := range m.Popular(opt.K, seen) {
			if w == target {
				res.Popular.HitRate++
				res.Popular.MRR += 1 / float64(i+1)
				break
			}
		}
	}
	if res.Questions == 0 {
		return nil, fmt.Errorf("recommend: no session with at least two items and a known prefix item to evaluate (%d skipped)", res.Skipped)
	}
	q := float64(res.Questions)
	res.Embedding.HitRate /= q
	res.Embedding.MRR /= q
	res.Popular.HitRate /= q
	res.Popular.MRR /= q
	return res, nil
}
