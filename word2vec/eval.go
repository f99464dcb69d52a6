package word2vec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// AnalogyOptions controls EvaluateAnalogies. Start from
// DefaultAnalogyOptions; a value that means nothing is an *OptionError.
type AnalogyOptions struct {
	// Restrict limits the vocabulary to its first Restrict words (gensim's
	// restrict_vocab, default 300000; must be > 0).
	Restrict int
	// CaseSensitive compares words as written; by default (false, as
	// gensim's case_insensitive=True) words are upper-cased and the most
	// frequent spelling of a word stands for all of them.
	CaseSensitive bool
	// Cosmul ranks candidates by 3CosMul instead of 3CosAdd.
	Cosmul bool
}

// DefaultAnalogyOptions returns gensim's defaults: the first 300000
// words, case-insensitive, 3CosAdd.
func DefaultAnalogyOptions() AnalogyOptions { return AnalogyOptions{Restrict: 300000} }

// checkRestrict validates an evaluation's Restrict.
func checkRestrict(r int) error {
	if r <= 0 {
		return optionError("Restrict", r, "> 0")
	}
	return nil
}

// AnalogySection is the score of one ": section" of an analogy file.
type AnalogySection struct {
	Section string `json:"section"`
	Correct int    `json:"correct"`
	// Seen is the number of questions evaluated (all four words in the
	// restricted vocabulary); Correct/Seen is the accuracy.
	Seen     int     `json:"seen"`
	Accuracy float64 `json:"accuracy"`
}

// AnalogyResult is the outcome of EvaluateAnalogies.
type AnalogyResult struct {
	Sections []AnalogySection `json:"sections"`
	// Total sums the sections (gensim's "Total accuracy").
	Total AnalogySection `json:"total"`
	// Questions counts the well-formed question lines; OOV those skipped
	// because a word was outside the restricted vocabulary.
	Questions int     `json:"questions"`
	OOV       int     `json:"oov"`
	OOVRatio  float64 `json:"oov_ratio"`
}

// EvaluateAnalogies scores v on an analogy file in the questions-words.txt
// layout (": section" lines, then "a b c expected" lines), counting like
// gensim's KeyedVectors.evaluate_word_analogies: a question is skipped
// (counted as OOV, not as wrong) if any of its words is outside the first
// Restrict words; otherwise the answer is the best candidate among the
// first Restrict words other than a, b and c (taken from gensim's top 5).
// Malformed question lines are skipped as gensim does.
func (v *Vectors) EvaluateAnalogies(path string, opt AnalogyOptions) (*AnalogyResult, error) {
	if err := checkRestrict(opt.Restrict); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("word2vec: analogies: %w", err)
	}
	defer f.Close()
	res, err := v.evaluateAnalogies(f, opt)
	if err != nil {
		return nil, fmt.Errorf("word2vec: analogies %s: %w", path, err)
	}
	return res, nil
}

func (v *Vectors) evaluateAnalogies(r io.Reader, opt AnalogyOptions) (*AnalogyResult, error) {
	restrict := min(opt.Restrict, v.Len())
	norm := func(s string) string { return s }
	if !opt.CaseSensitive {
		norm = strings.ToUpper
	}
	// ok maps a normalised word to its row; the earliest (most frequent)
	// spelling wins, as gensim builds it from the reversed key list.
	ok := make(map[string]int, restrict)
	for i := restrict - 1; i >= 0; i-- {
		ok[norm(v.Words[i])] = i
	}
	res := &AnalogyResult{}
	var cur *AnalogySection
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	qopt := QueryOptions{TopN: 5, Restrict: restrict}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ": ") {
			if cur != nil {
				res.Sections = append(res.Sections, *cur)
			}
			cur = &AnalogySection{Section: strings.TrimSpace(strings.TrimLeft(line, ": "))}
			continue
		}
		if cur == nil {
			return nil, errors.New("missing section header: the file must start with a \": section\" line")
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			continue // gensim skips invalid lines
		}
		for i := range f {
			f[i] = norm(f[i])
		}
		res.Questions++
		ra, oka := ok[f[0]]
		rb, okb := ok[f[1]]
		rc, okc := ok[f[2]]
		_, okd := ok[f[3]]
		if !oka || !okb || !okc || !okd {
			res.OOV++
			continue
		}
		var sims []Neighbor
		if opt.Cosmul {
			sims = v.cosmulRows([]int{rb, rc}, []int{ra}, qopt)
		} else {
			sims = v.mostSimilarRows([]int{rb, rc}, []int{ra}, qopt)
		}
		predicted := ""
		for _, s := range sims {
			predicted = norm(s.Word)
			if _, in := ok[predicted]; in && predicted != f[0] && predicted != f[1] && predicted != f[2] {
				break
			}
		}
		cur.Seen++
		if predicted == f[3] {
			cur.Correct++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if res.Questions == 0 {
		return nil, errors.New("no analogy questions: want \": section\" lines, each followed by \"a b c d\" lines")
	}
	if cur != nil {
		res.Sections = append(res.Sections, *cur)
	}
	res.Total.Section = "Total accuracy"
	for i := range res.Sections {
		s := &res.Sections[i]
		s.Accuracy = ratio(s.Correct, s.Seen)
		res.Total.Correct += s.Correct
		res.Total.Seen += s.Seen
	}
	res.Total.Accuracy = ratio(res.Total.Correct, res.Total.Seen)
	if res.Questions > 0 {
		res.OOVRatio = float64(res.OOV) / float64(res.Questions) * 100
	}
	return res, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// PairsOptions controls EvaluateWordPairs. Start from DefaultPairsOptions;
// a value that means nothing is an *OptionError.
type PairsOptions struct {
	// Restrict limits the vocabulary to its first Restrict words (default
	// 300000 as gensim; must be > 0).
	Restrict int
	// CaseSensitive: see AnalogyOptions.
	CaseSensitive bool
	// Delimiter separates the two words and the score (default tab; must
	// not be empty).
	Delimiter string
}

// DefaultPairsOptions returns gensim's defaults: the first 300000 words,
// case-insensitive, tab-separated.
func DefaultPairsOptions() PairsOptions { return PairsOptions{Restrict: 300000, Delimiter: "\t"} }

// PairsResult is the outcome of EvaluateWordPairs.
type PairsResult struct {
	Pearson  float64 `json:"pearson"`
	Spearman float64 `json:"spearman"`
	// Pairs is the number of pairs scored; OOV those skipped.
	Pairs    int     `json:"pairs"`
	OOV      int     `json:"oov"`
	OOVRatio float64 `json:"oov_ratio"`
}

// EvaluateWordPairs correlates human similarity judgements ("a<TAB>b<TAB>
// score" lines, '#' comments) with cosine similarities, like gensim's
// evaluate_word_pairs: Pearson and Spearman (average ranks for ties)
// coefficients over the pairs whose words are both in the first Restrict
// words; the OOV ratio is skipped / (scored + skipped) in percent.
func (v *Vectors) EvaluateWordPairs(path string, opt PairsOptions) (*PairsResult, error) {
	if err := checkRestrict(opt.Restrict); err != nil {
		return nil, err
	}
	if opt.Delimiter == "" {
		return nil, optionError("Delimiter", `""`, "a non-empty separator (default tab)")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("word2vec: word pairs: %w", err)
	}
	defer f.Close()
	restrict := min(opt.Restrict, v.Len())
	norm := func(s string) string { return s }
	if !opt.CaseSensitive {
		norm = strings.ToUpper
	}
	delim := opt.Delimiter
	ok := make(map[string]int, restrict)
	for i := restrict - 1; i >= 0; i-- {
		ok[norm(v.Words[i])] = i
	}
	var gold, model []float64
	res := &PairsResult{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, delim)
		if len(p) != 3 {
			continue
		}
		sim, err := strconv.ParseFloat(strings.TrimSpace(p[2]), 64)
		if err != nil {
			continue
		}
		ra, oka := ok[norm(p[0])]
		rb, okb := ok[norm(p[1])]
		if !oka || !okb {
			res.OOV++
			continue
		}
		gold = append(gold, sim)
		var d float64
		ua, ub := v.unitRow(ra), v.unitRow(rb)
		for i := range ua {
			d += float64(ua[i]) * float64(ub[i])
		}
		model = append(model, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("word2vec: word pairs %s: %w", path, err)
	}
	if len(gold) == 0 {
		return nil, fmt.Errorf("word2vec: word pairs %s: no valid pairs in the vocabulary (want \"a<TAB>b<TAB>score\" lines)", path)
	}
	res.Pairs = len(gold)
	res.Pearson = pearson(gold, model)
	res.Spearman = pearson(ranks(gold), ranks(model))
	res.OOVRatio = float64(res.OOV) / float64(res.Pairs+res.OOV) * 100
	return res, nil
}

// EvalOptions names the files Evaluate scores and how. Start from
// DefaultEvalOptions, then name at least one file.
type EvalOptions struct {
	// Analogies is an analogy questions file (EvaluateAnalogies); "" skips.
	Analogies string
	// Pairs is a word-pairs file (EvaluateWordPairs); "" skips.
	Pairs string
	// Restrict, CaseSensitive and Cosmul: see AnalogyOptions (Cosmul
	// concerns the analogies only).
	Restrict      int
	CaseSensitive bool
	Cosmul        bool
}

// DefaultEvalOptions returns gensim's defaults (see DefaultAnalogyOptions)
// and no files.
func DefaultEvalOptions() EvalOptions { return EvalOptions{Restrict: 300000} }

// EvalResult holds the results of the files Evaluate was given.
type EvalResult struct {
	Analogies *AnalogyResult `json:"analogies,omitempty"`
	Pairs     *PairsResult   `json:"similarities,omitempty"`
}

// Evaluate scores v on opt.Analogies and opt.Pairs, whichever are given
// (at least one must be), as EvaluateAnalogies and EvaluateWordPairs do.
func (v *Vectors) Evaluate(opt EvalOptions) (*EvalResult, error) {
	if err := checkRestrict(opt.Restrict); err != nil {
		return nil, err
	}
	if opt.Analogies == "" && opt.Pairs == "" {
		return nil, errors.New("word2vec: evaluate: give an analogies file, a word-pairs file or both")
	}
	res := &EvalResult{}
	var err error
	if opt.Analogies != "" {
		a := AnalogyOptions{Restrict: opt.Restrict, CaseSensitive: opt.CaseSensitive, Cosmul: opt.Cosmul}
		if res.Analogies, err = v.EvaluateAnalogies(opt.Analogies, a); err != nil {
			return nil, err
		}
	}
	if opt.Pairs != "" {
		p := DefaultPairsOptions()
		p.Restrict, p.CaseSensitive = opt.Restrict, opt.CaseSensitive
		if res.Pairs, err = v.EvaluateWordPairs(opt.Pairs, p); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// pearson returns the Pearson correlation coefficient (NaN if either
// series is constant).
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks returns 1-based ranks with ties given their average rank.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}
