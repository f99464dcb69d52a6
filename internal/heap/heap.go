// Package heap is loupe's one binary heap: a slice of items, each a value
// with the key it is ordered by, kept with the smallest key on top (Min) or
// the largest (Max).
//
// The order is the key's own < on a cmp.Ordered type, not a less function
// or method: the compiler then specialises the comparisons for each key
// type, with no indirect call per comparison as a function or method value
// would make, and the sifts move a hole rather than swapping. In
// BenchmarkSearchLike it takes about 0.85 times the CPU time of the
// hand-written heaps index had.
//
// Ties between equal keys come out in no particular order. A caller that
// needs a second criterion packs it into the key (two int32s in an int64,
// say) or keeps its own heap, as internal/kernels' top-k (value, then
// index) and the tokenizer's merge queue (measured faster written out) do.
//
// The typical uses are a bounded result set (Max with Keep: the k smallest
// keys seen, worst on top, as in a nearest-neighbour search) and a priority
// queue (Min with Push and Pop: best first). A heap is a slice: reset it with
// h = h[:0] to reuse its memory, so that a loop that refills it allocates
// nothing.
package heap

import "cmp"

// Item is a value and the key the heap orders it by.
type Item[K cmp.Ordered, V any] struct {
	Key   K
	Value V
}

// Min is a binary heap with the item of the smallest key at index 0.
type Min[K cmp.Ordered, V any] []Item[K, V]

// Max is a binary heap with the item of the largest key at index 0.
type Max[K cmp.Ordered, V any] []Item[K, V]

// Push adds it.
func (h *Min[K, V]) Push(it Item[K, V]) { *h = append(*h, it); upMin(*h, len(*h)-1) }

// Pop removes and returns the item of the smallest key. h must not be empty.
func (h *Min[K, V]) Pop() Item[K, V] {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	downMin(s[:n], 0)
	return top
}

// Init orders the items of h, in any order, into a heap in linear time.
func (h Min[K, V]) Init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		downMin(h, i)
	}
}

// ReplaceTop replaces the item on top with it and restores the order: a
// Pop and a Push in one sift.
func (h Min[K, V]) ReplaceTop(it Item[K, V]) { h[0] = it; downMin(h, 0) }

// Keep keeps the k largest keys (k ≥ 1): it adds it if h holds fewer than k
// items, else replaces the top (the smallest kept) if it.Key is larger.
func (h *Min[K, V]) Keep(it Item[K, V], k int) {
	switch {
	case len(*h) < k:
		h.Push(it)
	case it.Key > (*h)[0].Key:
		h.ReplaceTop(it)
	}
}

// Drain empties h into dst[:0] (grown if needed), largest key first.
func (h *Min[K, V]) Drain(dst []Item[K, V]) []Item[K, V] {
	dst = grow(dst, len(*h))
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = h.Pop()
	}
	return dst
}

// Push adds it.
func (h *Max[K, V]) Push(it Item[K, V]) { *h = append(*h, it); upMax(*h, len(*h)-1) }

// Pop removes and returns the item of the largest key. h must not be empty.
func (h *Max[K, V]) Pop() Item[K, V] {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	*h = s[:n]
	downMax(s[:n], 0)
	return top
}

// Init orders the items of h, in any order, into a heap in linear time.
func (h Max[K, V]) Init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		downMax(h, i)
	}
}

// ReplaceTop replaces the item on top with it and restores the order.
func (h Max[K, V]) ReplaceTop(it Item[K, V]) { h[0] = it; downMax(h, 0) }

// Keep keeps the k smallest keys (k ≥ 1): it adds it if h holds fewer than
// k items, else replaces the top (the largest kept) if it.Key is smaller.
func (h *Max[K, V]) Keep(it Item[K, V], k int) {
	switch {
	case len(*h) < k:
		h.Push(it)
	case it.Key < (*h)[0].Key:
		h.ReplaceTop(it)
	}
}

// Drain empties h into dst[:0] (grown if needed), smallest key first.
func (h *Max[K, V]) Drain(dst []Item[K, V]) []Item[K, V] {
	dst = grow(dst, len(*h))
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = h.Pop()
	}
	return dst
}

// The sifts are written once per order, not once with an order flag: in
// BenchmarkSearchLike (an HNSW layer search's heap traffic) the flag made
// the heap take 1.5 times the CPU time of the hand-written heaps index had;
// written out, it takes about 0.85 times (hole-moving sifts, one sift to
// replace the top).

func upMin[K cmp.Ordered, V any](s []Item[K, V], i int) {
	it := s[i]
	for i > 0 {
		p := (i - 1) / 2
		if !(it.Key < s[p].Key) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
}

func upMax[K cmp.Ordered, V any](s []Item[K, V], i int) {
	it := s[i]
	for i > 0 {
		p := (i - 1) / 2
		if !(it.Key > s[p].Key) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
}

func downMin[K cmp.Ordered, V any](s []Item[K, V], i int) {
	n := len(s)
	if n == 0 {
		return
	}
	it := s[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && s[r].Key < s[c].Key {
			c = r
		}
		if !(s[c].Key < it.Key) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
}

func downMax[K cmp.Ordered, V any](s []Item[K, V], i int) {
	n := len(s)
	if n == 0 {
		return
	}
	it := s[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && s[r].Key > s[c].Key {
			c = r
		}
		if !(s[c].Key > it.Key) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
