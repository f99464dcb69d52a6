package index

import (
	"sync"

	"github.com/loupe-ml/loupe/internal/heap"
)

// item is a candidate: a slot (Value) and its distance to the query (Key).
type item = heap.Item[float32, uint32]

// maxHeap keeps the farthest item on top: the running result set.
type maxHeap = heap.Max[float32, uint32]

// minHeap keeps the nearest item on top: the candidates still to expand.
type minHeap = heap.Min[float32, uint32]

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
	fq    forestQueue
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
