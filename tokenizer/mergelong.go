package tokenizer

// longWord is the length (in bytes) from which mergeLong is used instead of
// mergeSymbols, whose rounds each scan the whole word (quadratic time on a
// long run of letters with no spaces, such as a base64 blob).
const longWord = 128

// mergeLong gives the same result as mergeSymbols in O(n log n): symbols
// form a linked list, and a heap holds the candidate pairs by (rank,
// position). Each round takes every pair of the lowest rank off the heap
// first and then merges them left to right, skipping the ones an earlier
// merge of the round overlapped, which is exactly encoder.py's round (even
// for vocabularies where a merge's result takes part in a better-ranked
// merge).
func (t *BPE) mergeLong(syms []int32) []int32 {
	n := len(syms)
	next := make([]int32, n) // -1 at the end
	prev := make([]int32, n) // -1 at the start
	alive := make([]bool, n)
	h := make(pairHeap, 0, n)
	for i := range n {
		next[i], prev[i], alive[i] = int32(i+1), int32(i-1), true
		if i+1 < n {
			if r := t.rank(syms[i], syms[i+1]); r != noMerge {
				h = append(h, pairAt{r, int32(i)})
			}
		}
	}
	next[n-1] = -1
	h.init()
	var batch []int32
	for h.Len() > 0 {
		r := h[0].rank
		batch = batch[:0]
		for h.Len() > 0 && h[0].rank == r {
			batch = append(batch, h.pop().pos)
		}
		// The heap pops equal ranks in position order, so batch is sorted.
		for _, p := range batch {
			q := next[p]
			if !alive[p] || q < 0 || t.rank(syms[p], syms[q]) != r {
				continue // overlapped or changed by an earlier merge
			}
			m, _ := t.merges.get(pairKey(syms[p], syms[q]))
			syms[p] = m.id
			alive[q] = false
			next[p] = next[q]
			if next[q] >= 0 {
				prev[next[q]] = p
			}
			if a := prev[p]; a >= 0 {
				if rr := t.rank(syms[a], syms[p]); rr != noMerge {
					h.push(pairAt{rr, a})
				}
			}
			if b := next[p]; b >= 0 {
				if rr := t.rank(syms[p], syms[b]); rr != noMerge {
					h.push(pairAt{rr, p})
				}
			}
		}
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}

type pairAt struct {
	rank int32
	pos  int32 // index of the pair's left symbol
}

// pairHeap is a binary min-heap of pairs by (rank, position), written out
// rather than through container/heap to avoid boxing every entry. It is
// not internal/heap's either: with it (ranks as keys and the batch sorted,
// or rank and position packed in an int64 key) BenchmarkBPEEncode/longword
// took 7-11% more CPU time (min of 4-7 interleaved runs).
type pairHeap []pairAt

func (h pairHeap) less(i, j int) bool {
	return h[i].rank < h[j].rank || (h[i].rank == h[j].rank && h[i].pos < h[j].pos)
}

func (h pairHeap) Len() int { return len(h) }

func (h pairHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *pairHeap) push(x pairAt) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *pairHeap) pop() pairAt {
	s := *h
	x := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	h.down(0)
	return x
}

func (h pairHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
