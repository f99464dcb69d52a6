package word2vec

import (
	"context"
	"fmt"
	"math"
	"os"
	"sort"
)

// vocabulary is the trained vocabulary with the tables training samples from.
type vocabulary struct {
	words  []string
	counts []int64
	index  map[string]int32

	rawWords int64 // all tokens in the corpus, known words or not
	retained int64 // tokens of words kept (count >= min count)

	sampleInt []uint64 // keep a word if uint32 random <= sampleInt (gensim's sample_int)

	// Hierarchical softmax: the Huffman code (0/1 per level, root first)
	// and the inner nodes on the path to each word.
	codes  [][]uint8
	points [][]int32
}

// counter counts tokens in first-seen order.
type counter struct {
	idx    map[string]int32
	words  []string
	counts []int64
	raw    int64
}

func newCounter() *counter { return &counter{idx: make(map[string]int32, 1<<16)} }

func (c *counter) add(b []byte) {
	c.raw++
	if i, ok := c.idx[string(b)]; ok {
		c.counts[i]++
		return
	}
	c.idx[string(b)] = int32(len(c.words))
	c.words = append(c.words, string(b))
	c.counts = append(c.counts, 1)
}

// scanVocab counts the tokens of every file of the corpus.
func scanVocab(ctx context.Context, files []string, minCount int) (*vocabulary, error) {
	c := newCounter()
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("word2vec: corpus: %w", err)
		}
		err = forEachToken(f, c.add, func() {})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("word2vec: corpus %s: %w", name, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return c.vocabulary(minCount, describeFiles(files))
}

// sentenceVocab counts the tokens of sentences held in memory.
func sentenceVocab(sentences [][]string, minCount int) (*vocabulary, error) {
	c := newCounter()
	for _, s := range sentences {
		for _, w := range s {
			c.add([]byte(w))
		}
	}
	return c.vocabulary(minCount, fmt.Sprintf("(%d sentences in memory)", len(sentences)))
}

// vocabulary keeps the words seen at least minCount times, most frequent
// first; ties keep their first-seen order (gensim's order among ties comes
// from numpy's unstable argsort and is not reproducible). source names the
// corpus in errors.
func (c *counter) vocabulary(minCount int, source string) (*vocabulary, error) {
	words, counts := c.words, c.counts
	if c.raw == 0 {
		return nil, fmt.Errorf("word2vec: corpus %s is empty: no tokens", source)
	}
	if len(words) > math.MaxInt32-1 {
		return nil, fmt.Errorf("word2vec: vocabulary of %d distinct words is too large", len(words))
	}
	order := make([]int, 0, len(words))
	var retained int64
	for i, c := range counts {
		if c >= int64(minCount) {
			order = append(order, i)
			retained += c
		}
	}
	if len(order) == 0 {
		maxc := int64(0)
		for _, c := range counts {
			maxc = max(maxc, c)
		}
		return nil, fmt.Errorf("word2vec: no word in corpus %s occurs at least min-count=%d times (%d distinct words, the most frequent occurs %d times)", source, minCount, len(words), maxc)
	}
	sort.SliceStable(order, func(a, b int) bool { return counts[order[a]] > counts[order[b]] })
	v := &vocabulary{
		words:    make([]string, len(order)),
		counts:   make([]int64, len(order)),
		index:    make(map[string]int32, len(order)),
		rawWords: c.raw,
		retained: retained,
	}
	for r, i := range order {
		v.words[r] = words[i]
		v.counts[r] = counts[i]
		v.index[words[i]] = int32(r)
	}
	return v, nil
}

func describeFiles(files []string) string {
	if len(files) == 1 {
		return files[0]
	}
	return fmt.Sprintf("(%d files)", len(files))
}

// setSampling fills sampleInt with gensim's downsampling formula: a word
// with count c is kept with probability (sqrt(c/t)+1)·t/c, capped at 1,
// where t = sample × (tokens of retained words).
func (v *vocabulary) setSampling(sample float64) {
	v.sampleInt = make([]uint64, len(v.words))
	t := sample * float64(v.retained)
	for i, c := range v.counts {
		p := 1.0
		if sample > 0 {
			p = (math.Sqrt(float64(c)/t) + 1) * (t / float64(c))
		}
		if p >= 1 {
			v.sampleInt[i] = 1 << 32 // always kept
		} else {
			v.sampleInt[i] = uint64(p * (1<<32 - 1))
		}
	}
}

// aliasTable samples word indices with probability proportional to
// count^power in O(1) (Walker/Vose alias method); the C tool uses a 10^8
// entry table and gensim a binary search in a cumulative table, both for
// the same distribution.
type aliasTable struct {
	n     uint64
	prob  []uint32 // threshold on a 32-bit random number
	alias []int32
}

func newAliasTable(counts []int64, power float64) *aliasTable {
	n := len(counts)
	p := make([]float64, n)
	var sum float64
	for i, c := range counts {
		p[i] = math.Pow(float64(c), power)
		sum += p[i]
	}
	t := &aliasTable{n: uint64(n), prob: make([]uint32, n), alias: make([]int32, n)}
	small := make([]int32, 0, n)
	large := make([]int32, 0, n)
	for i := range p {
		p[i] = p[i] * float64(n) / sum
		if p[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		t.prob[s] = uint32(p[s] * (1<<32 - 1))
		t.alias[s] = l
		p[l] -= 1 - p[s]
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		t.prob[i] = math.MaxUint32
		t.alias[i] = i
	}
	for _, i := range small { // rounding leftovers
		t.prob[i] = math.MaxUint32
		t.alias[i] = i
	}
	return t
}

// sample draws one index using 64 random bits.
func (t *aliasTable) sample(r uint64) int32 {
	i := int32(((r >> 32) * t.n) >> 32)
	if uint32(r) < t.prob[i] {
		return i
	}
	return t.alias[i]
}

// groupNoise draws noise words within groups (Airbnb's in-market
// negatives): one alias table per group over its members' counts.
type groupNoise struct {
	of     []int32 // the group of each word, -1 if none
	tables []*aliasTable
	ids    [][]int32 // the members of each group, in table order
}

// newGroupNoise builds the tables for groups (word → group name); words
// without a group get -1. Groups are numbered in order of first member.
func newGroupNoise(v *vocabulary, groups map[string]string, power float64) *groupNoise {
	g := &groupNoise{of: make([]int32, len(v.words))}
	num := map[string]int32{}
	var counts [][]int64
	for i, w := range v.words {
		name, ok := groups[w]
		if !ok {
			g.of[i] = -1
			continue
		}
		k, seen := num[name]
		if !seen {
			k = int32(len(g.ids))
			num[name] = k
			g.ids = append(g.ids, nil)
			counts = append(counts, nil)
		}
		g.of[i] = k
		g.ids[k] = append(g.ids[k], int32(i))
		counts[k] = append(counts[k], v.counts[i])
	}
	for _, c := range counts {
		g.tables = append(g.tables, newAliasTable(c, power))
	}
	return g
}

// sample draws a word of group k using 64 random bits.
func (g *groupNoise) sample(k int32, r uint64) int32 {
	return g.ids[k][g.tables[k].sample(r)]
}

// buildHuffman builds the Huffman tree over the (descending) counts as the
// C tool does, and stores each word's code and inner-node path.
func (v *vocabulary) buildHuffman() {
	n := len(v.counts)
	v.codes = make([][]uint8, n)
	v.points = make([][]int32, n)
	if n < 2 {
		// A single word needs no decision; give it one node so training
		// still has something to learn.
		for i := range v.codes {
			v.codes[i] = []uint8{0}
			v.points[i] = []int32{0}
		}
		return
	}
	count := make([]int64, 2*n)
	binaryBit := make([]uint8, 2*n)
	parent := make([]int32, 2*n)
	copy(count, v.counts)
	for i := n; i < 2*n; i++ {
		count[i] = math.MaxInt64
	}
	pos1, pos2 := n-1, n
	pick := func() int {
		if pos1 >= 0 && count[pos1] < count[pos2] {
			pos1--
			return pos1 + 1
		}
		pos2++
		return pos2 - 1
	}
	for a := 0; a < n-1; a++ {
		m1 := pick()
		m2 := pick()
		count[n+a] = count[m1] + count[m2]
		parent[m1] = int32(n + a)
		parent[m2] = int32(n + a)
		binaryBit[m2] = 1
	}
	root := int32(2*n - 2)
	var code []uint8
	var point []int32
	for w := 0; w < n; w++ {
		code = code[:0]
		point = point[:0]
		for b := int32(w); b != root; b = parent[b] {
			code = append(code, binaryBit[b])
			point = append(point, parent[b]-int32(n))
		}
		l := len(code)
		c := make([]uint8, l)
		p := make([]int32, l)
		for i := 0; i < l; i++ {
			c[i] = code[l-1-i]
			p[i] = point[l-1-i]
		}
		v.codes[w] = c
		v.points[w] = p
	}
}
