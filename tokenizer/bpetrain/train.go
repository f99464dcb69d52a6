package bpetrain

import (
	"io"
	"slices"
	"sort"

	"github.com/loupe-ml/loupe/tokenizer"
)

// Result is a learned byte-level BPE vocabulary.
type Result struct {
	// Vocab is the vocabulary in id order: the special tokens, the 256
	// byte-level characters by code point, then the merged tokens in the
	// order they were learned. Tokens other than the special ones are
	// byte-level strings ("Ġthe").
	Vocab []string
	// Merges are the learned merges, best (first learned) first, as pairs
	// of vocabulary strings. Two merges may make the same token.
	Merges [][2]string
	// SpecialTokens are Options.SpecialTokens: Vocab's first entries.
	SpecialTokens []string
	// Words is the number of distinct words (pre-tokens) trained on, and
	// TotalWords the number with repeats.
	Words      int
	TotalWords int64
}

// Train counts the words of everything r holds (as one text, see
// Counter.AddText) and learns merges from them with TrainCounts.
func Train(r io.Reader, opt Options) (*Result, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	c := NewCounter()
	if err := c.AddReader(r); err != nil {
		return nil, err
	}
	return TrainCounts(c, opt)
}

// TrainCounts learns byte-level BPE merges from the word counts of c, in
// the order of Hugging Face's BpeTrainer: repeatedly merge the pair of
// adjacent tokens that occurs most often over all words (weighted by the
// word's count), the pair of smaller ids first among equal counts, until
// the vocabulary has opt.VocabSize tokens, no pair is left, or the best
// pair occurs fewer than opt.MinFrequency times. See the package
// documentation for the details.
func TrainCounts(c *Counter, opt Options) (*Result, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	t := newTrainer(c, opt.SpecialTokens)
	total := max(opt.VocabSize-len(t.tokens), 0)
	minFreq := int64(max(opt.MinFrequency, 1))
	for len(t.tokens) < opt.VocabSize {
		p, n, ok := t.best()
		if !ok || n < minFreq {
			break
		}
		t.merge(p)
		if opt.Progress != nil {
			opt.Progress(len(t.merges), total)
		}
	}
	res := &Result{
		Vocab:         t.tokens,
		Merges:        make([][2]string, len(t.merges)),
		SpecialTokens: slices.Clone(opt.SpecialTokens),
		Words:         c.Words(),
		TotalWords:    c.Total(),
	}
	for i, p := range t.merges {
		a, b := split(p)
		res.Merges[i] = [2]string{t.tokens[a], t.tokens[b]}
	}
	return res, nil
}

// alphabet returns the 256 byte-level characters sorted by code point.
func alphabet() []rune {
	rs := make([]rune, 256)
	for b := range rs {
		rs[b] = tokenizer.ByteLevelRune(byte(b))
	}
	slices.Sort(rs)
	return rs
}

// A pair of adjacent token ids, left in the high half: comparing keys
// compares (left, right) lexicographically.
type pair uint64

func pairOf(a, b int32) pair    { return pair(uint64(uint32(a))<<32 | uint64(uint32(b))) }
func split(p pair) (a, b int32) { return int32(p >> 32), int32(uint32(p)) }

// trainer holds the state of HF's BpeTrainer.do_train: each distinct word
// as a sequence of token ids, the count of every adjacent pair over the
// corpus, where each pair occurs (a word index list that may hold words
// the pair has since left), and a lazy max-queue of pairs by count.
type trainer struct {
	tokens []string         // id → vocabulary string
	vocab  map[string]int32 // vocabulary string → id
	merges []pair

	words  [][]int32 // word → its tokens
	counts []int64   // word → times seen
	stamp  []int32   // word → last merge that visited it

	pairs map[pair]int64   // pair → occurrences over all words
	where map[pair][]int32 // pair → words it was added to (a superset of where it is)
	queue pairQueue
	grown []pair // pairs whose count rose during the current merge
}

func newTrainer(c *Counter, specials []string) *trainer {
	t := &trainer{
		tokens: baseVocab(specials),
		pairs:  make(map[pair]int64),
		where:  make(map[pair][]int32),
	}
	t.vocab = make(map[string]int32, len(t.tokens))
	for id, s := range t.tokens {
		t.vocab[s] = int32(id)
	}
	var byteID [256]int32
	for b := range byteID {
		byteID[b] = t.vocab[string(tokenizer.ByteLevelRune(byte(b)))]
	}
	// Words of one byte have no pair; the others in a fixed order (the
	// result does not depend on it, the where lists' order does).
	keys := make([]string, 0, len(c.words))
	for w := range c.words {
		if len(w) > 1 {
			keys = append(keys, w)
		}
	}
	sort.Strings(keys)
	t.words = make([][]int32, len(keys))
	t.counts = make([]int64, len(keys))
	t.stamp = make([]int32, len(keys))
	for i, w := range keys {
		ids := make([]int32, len(w))
		for j := 0; j < len(w); j++ {
			ids[j] = byteID[w[j]]
		}
		t.words[i], t.counts[i] = ids, c.words[w]
		for j := 1; j < len(ids); j++ {
			t.add(pairOf(ids[j-1], ids[j]), t.counts[i], int32(i))
		}
	}
	for p, n := range t.pairs {
		t.queue.push(qentry{n, p})
	}
	t.grown = nil // filled by add above; used per merge
	return t
}

// add changes the count of p by n in word w, noting where p now occurs.
func (t *trainer) add(p pair, n int64, w int32) {
	t.pairs[p] += n
	if n > 0 {
		ws := t.where[p]
		if len(ws) == 0 || ws[len(ws)-1] != w {
			t.where[p] = append(ws, w)
		}
		t.grown = append(t.grown, p)
	}
}

// best returns the pair to merge next: the most frequent, the smallest
// (left, right) ids among equals. Queue entries whose count is out of date
// are put back with the current count (or dropped at zero) until the top
// one is current, as in HF's trainer.
func (t *trainer) best() (pair, int64, bool) {
	for len(t.queue) > 0 {
		e := t.queue.pop()
		n := t.pairs[e.pair]
		if n == e.count {
			return e.pair, n, true
		}
		if n > 0 {
			t.queue.push(qentry{n, e.pair})
		}
	}
	return 0, 0, false
}

// merge replaces pair p = (a, b) by the token a+b (a new id, or the id the
// string already has) in every word, left to right and without overlap
// ("aaa" with (a, a) becomes "aa a"), updating the counts of the pairs
// around each occurrence as HF's Word.merge reports them.
func (t *trainer) merge(p pair) {
	a, b := split(p)
	s := t.tokens[a] + t.tokens[b]
	id, ok := t.vocab[s]
	if !ok {
		id = int32(len(t.tokens))
		t.tokens = append(t.tokens, s)
		t.vocab[s] = id
	}
	t.merges = append(t.merges, p)
	stamp := int32(len(t.merges))
	ws := t.where[p]
	delete(t.where, p)
	t.grown = t.grown[:0]
	for _, w := range ws {
		if t.stamp[w] == stamp {
			continue
		}
		t.stamp[w] = stamp
		word, n := t.words[w], t.counts[w]
		j := 0 // word[:j] is the merged output; word[i:] the input left
		for i := 0; i < len(word); {
			if word[i] != a || i+1 == len(word) || word[i+1] != b {
				word[j] = word[i]
				i++
				j++
				continue
			}
			if j > 0 {
				prev := word[j-1]
				t.add(pairOf(prev, a), -n, w)
				t.add(pairOf(prev, id), n, w)
			}
			if i+2 < len(word) {
				next := word[i+2]
				t.add(pairOf(b, next), -n, w)
				t.add(pairOf(id, next), n, w)
			}
			word[j] = id
			i += 2
			j++
		}
		t.words[w] = word[:j]
	}
	delete(t.pairs, p) // every occurrence is merged
	slices.Sort(t.grown)
	for _, q := range slices.Compact(t.grown) {
		if n := t.pairs[q]; n > 0 {
			t.queue.push(qentry{n, q})
		}
	}
}

// qentry is a queue entry: a pair and its count when it was queued.
type qentry struct {
	count int64
	pair  pair
}

// before orders the queue: higher count first, then the smaller pair.
func (e qentry) before(f qentry) bool {
	return e.count > f.count || (e.count == f.count && e.pair < f.pair)
}

// pairQueue is a binary heap of entries, best (by before) on top.
type pairQueue []qentry

func (q *pairQueue) push(e qentry) {
	h := append(*q, e)
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !e.before(h[parent]) {
			break
		}
		h[i] = h[parent]
		i = parent
	}
	h[i] = e
	*q = h
}

func (q *pairQueue) pop() qentry {
	h := *q
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	i := 0
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1].before(h[c]) {
			c++
		}
		if !h[c].before(last) {
			break
		}
		h[i] = h[c]
		i = c
	}
	if len(h) > 0 {
		h[i] = last
	}
	*q = h
	return top
}
