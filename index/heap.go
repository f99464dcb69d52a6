package index

import "sync"

// item is a candidate: a slot and its distance to the query.
type item struct {
	d  float32
	id uint32
}

// maxHeap keeps the farthest item on top: the running result set.
type maxHeap []item

func (h *maxHeap) push(it item) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].d >= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *maxHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r].d > s[l].d {
			c = r
		}
		if s[i].d >= s[c].d {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

// minHeap keeps the nearest item on top: the candidates still to expand.
type minHeap []item

func (h *minHeap) push(it item) {
	s := append(*h, it)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].d <= s[i].d {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
	*h = s
}

func (h *minHeap) pop() item {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && s[r].d < s[l].d {
			c = r
		}
		if s[i].d <= s[c].d {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

// sortedAscending empties h into dst, nearest first.
func (h *maxHeap) sortedAscending(dst []item) []item {
	n := len(*h)
	if cap(dst) < n {
		dst = make([]item, n)
	}
	dst = dst[:n]
	for i := n - 1; i >= 0; i-- {
		dst[i] = h.pop()
	}
	return dst
}

// scratch is the per-search working memory, pooled so that the search loop
// allocates nothing: the visited marks (hnswlib's VisitedList, reset by
// bumping a tag) and the heaps.
type scratch struct {
	marks []uint16
	tag   uint16
	cand  minHeap
	top   maxHeap
	nbs   []uint32 // unvisited neighbours of the node being expanded
	list  []item
	sel   []item
	list2 []item
	sel2  []item
	q     []float32
	fq    fheap
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch(n int) *scratch {
	s := scratchPool.Get().(*scratch)
	s.reset(n)
	return s
}

func putScratch(s *scratch) { scratchPool.Put(s) }

// reset prepares the visited marks for slots [0, n).
func (s *scratch) reset(n int) {
	if len(s.marks) < n {
		s.marks = make([]uint16, n+n/4+64)
		s.tag = 0
	}
	s.tag++
	if s.tag == 0 {
		clear(s.marks)
		s.tag = 1
	}
	s.cand = s.cand[:0]
	s.top = s.top[:0]
}

// visit marks slot i and reports whether it was already marked.
func (s *scratch) visit(i uint32) bool {
	if s.marks[i] == s.tag {
		return true
	}
	s.marks[i] = s.tag
	return false
}
