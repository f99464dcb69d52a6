package tokenizer

import (
	"slices"

	"github.com/loupe-ml/loupe/internal/heap"
)

// longWord is the length (in bytes) from which mergeLong is used instead of
// mergeSymbols, whose rounds each scan the whole word (quadratic time on a
// long run of letters with no spaces, such as a base64 blob).
const longWord = 128

// mergeLong gives the same result as mergeSymbols in O(n log n): symbols
// form a linked list, and a heap holds the candidate pairs by rank.
// Each round takes every pair of the lowest rank off the heap first and then
// merges them left to right (sorted by position), skipping the ones an earlier
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
				h = append(h, heap.Item[int32, int32]{Key: r, Value: int32(i)})
			}
		}
	}
	next[n-1] = -1
	h.Init()
	var batch []int32
	for len(h) > 0 {
		r := h[0].Key
		batch = batch[:0]
		for len(h) > 0 && h[0].Key == r {
			batch = append(batch, h.Pop().Value)
		}
		// Merge left to right: the heap pops equal ranks in no set order.
		slices.Sort(batch)
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
					h.Push(heap.Item[int32, int32]{Key: rr, Value: a})
				}
			}
			if b := next[p]; b >= 0 {
				if rr := t.rank(syms[p], syms[b]); rr != noMerge {
					h.Push(heap.Item[int32, int32]{Key: rr, Value: p})
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

// pairHeap holds the candidate pairs: Key is the pair's merge rank, Value
// the position of its left symbol.
type pairHeap = heap.Min[int32, int32]
