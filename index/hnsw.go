package index

import (
	"fmt"
	"math"
	"math/rand"
	"sync"
	"sync/atomic"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// This file is the HNSW graph of Malkov & Yashunin (arXiv:1603.09320), laid
// out and named like hnswlib's hnswalg.h: a fixed-size level-0 link block per
// element, separately allocated blocks for the upper levels, a random level
// per element with mult = 1/ln(M), greedy search through the upper levels,
// searchBaseLayer with a candidate list of ef (efConstruction when
// inserting), and getNeighborsByHeuristic2 to choose links.
//
// Link blocks are [count, id1, id2, …]. Readers (searches) load them with
// atomic loads and take no locks, so a search running beside an insert sees
// either the old or the new neighbour list entries; writers serialise on a
// striped per-node mutex (hnswlib's link_list_locks_) and store atomically.

// maxLevelCap bounds element levels (the chance of reaching it is
// M^-64; it keeps a corrupt file from asking for huge blocks).
const maxLevelCap = 64

const nStripes = 1 << 12

type hnsw struct {
	M     int // links chosen per insertion and the cap on upper levels (maxM_)
	maxM0 int // cap on level-0 links, 2·M (maxM0_)
	efC   int // ef_construction
	mult  float64

	rngMu sync.Mutex
	rng   *rand.Rand

	levels []uint8    // per slot
	link0  []uint32   // per slot: maxM0+1 words
	upper  [][]uint32 // per slot with level > 0: level·(M+1) words

	stripes [nStripes]sync.Mutex
	global  sync.Mutex // held by an insert that may raise the top level

	// top packs the entry point and the maximum level: entry<<8 | (level+1);
	// 0 means the graph is empty.
	top atomic.Uint64
}

func newHNSW(o *Options) *hnsw {
	return &hnsw{
		M:     o.M,
		maxM0: 2 * o.M,
		efC:   o.EfConstruction,
		mult:  1 / math.Log(float64(o.M)),
		rng:   rand.New(rand.NewSource(o.Seed)),
	}
}

func (h *hnsw) isEmpty() bool { return h.top.Load() == 0 }

func (h *hnsw) entry() (ep uint32, level int, ok bool) {
	t := h.top.Load()
	if t == 0 {
		return 0, 0, false
	}
	return uint32(t >> 8), int(t&0xff) - 1, true
}

func (h *hnsw) setEntry(ep uint32, level int) { h.top.Store(uint64(ep)<<8 | uint64(level+1)) }

func (h *hnsw) grow(c int) {
	levels := make([]uint8, c)
	copy(levels, h.levels)
	h.levels = levels
	link0 := make([]uint32, c*(h.maxM0+1))
	copy(link0, h.link0)
	h.link0 = link0
	upper := make([][]uint32, c)
	copy(upper, h.upper)
	h.upper = upper
}

// randomLevel draws floor(−ln(U)·mult), hnswlib's getRandomLevel.
func (h *hnsw) randomLevel() int {
	u := h.rng.Float64()
	for u == 0 {
		u = h.rng.Float64()
	}
	return min(int(-math.Log(u)*h.mult), maxLevelCap)
}

// assignLevels draws levels for new slots in slot order, so that a build is
// reproducible whatever the thread count.
func (h *hnsw) assignLevels(slots []uint32) {
	h.rngMu.Lock()
	defer h.rngMu.Unlock()
	for _, s := range slots {
		l := h.randomLevel()
		h.levels[s] = uint8(l)
		if l > 0 {
			h.upper[s] = make([]uint32, l*(h.M+1))
		} else {
			h.upper[s] = nil
		}
		clear(h.link0[int(s)*(h.maxM0+1) : int(s+1)*(h.maxM0+1)])
	}
}

// links returns the link block of node i at level l.
func (h *hnsw) links(i uint32, l int) []uint32 {
	if l == 0 {
		o := int(i) * (h.maxM0 + 1)
		return h.link0[o : o+h.maxM0+1 : o+h.maxM0+1]
	}
	u := h.upper[i]
	o := (l - 1) * (h.M + 1)
	if o+h.M+1 > len(u) {
		return nil // corrupt or racing: treat as no links
	}
	return u[o : o+h.M+1 : o+h.M+1]
}

func (h *hnsw) maxLinks(l int) int {
	if l == 0 {
		return h.maxM0
	}
	return h.M
}

func (h *hnsw) lock(i uint32) *sync.Mutex { return &h.stripes[i%nStripes] }

// greedy walks level l from ep to a local minimum of the distance to q.
func (h *hnsw) greedy(x *Index, q []float32, ep uint32, l int, n uint32) uint32 {
	cur, curd := ep, x.distance(q, x.vec(ep))
	for changed := true; changed; {
		changed = false
		lk := h.links(cur, l)
		if lk == nil {
			break
		}
		cnt := min(atomic.LoadUint32(&lk[0]), uint32(len(lk)-1))
		for j := uint32(1); j <= cnt; j++ {
			if nb := atomic.LoadUint32(&lk[j]); nb < n {
				kernels.Prefetch(x.vec(nb))
			}
		}
		for j := uint32(1); j <= cnt; j++ {
			nb := atomic.LoadUint32(&lk[j])
			if nb >= n || int(h.levels[nb]) < l {
				continue
			}
			if d := x.distance(q, x.vec(nb)); d < curd {
				cur, curd, changed = nb, d, true
			}
		}
	}
	return cur
}

// searchLayer is hnswlib's searchBaseLayer(ST): best-first search of level l
// from ep keeping the ef nearest acceptable elements in s.top. Elements that
// accept rejects (deleted, filtered out) are still expanded, and the search
// goes on until ef acceptable ones are found or the candidates run out.
func (h *hnsw) searchLayer(x *Index, q []float32, ep uint32, ef, l int, accept func(uint32) bool, s *scratch) {
	n := uint32(x.nslots.Load())
	s.reset(int(n))
	s.cand = s.cand[:0]
	s.top = s.top[:0]
	lower := float32(math.Inf(1))
	d := x.distance(q, x.vec(ep))
	if accept == nil || accept(ep) {
		s.top.Push(item{Key: d, Value: ep})
		lower = d
	}
	s.cand.Push(item{Key: d, Value: ep})
	s.visit(ep)
	for len(s.cand) > 0 {
		c := s.cand[0]
		if c.Key > lower && (len(s.top) == ef || accept == nil) {
			break
		}
		s.cand.Pop()
		lk := h.links(c.Value, l)
		if lk == nil {
			continue
		}
		// First the unvisited neighbours, their vectors requested from
		// memory all at once (hnswlib prefetches one ahead), then their
		// distances: the cache misses overlap instead of adding up.
		cnt := min(atomic.LoadUint32(&lk[0]), uint32(len(lk)-1))
		s.nbs = s.nbs[:0]
		for j := uint32(1); j <= cnt; j++ {
			nb := atomic.LoadUint32(&lk[j])
			if nb >= n || s.visit(nb) {
				continue
			}
			kernels.Prefetch(x.vec(nb))
			s.nbs = append(s.nbs, nb)
		}
		for _, nb := range s.nbs {
			d := x.distance(q, x.vec(nb))
			if len(s.top) < ef || d < lower {
				s.cand.Push(item{Key: d, Value: nb})
				if accept == nil || accept(nb) {
					s.top.Keep(item{Key: d, Value: nb}, ef)
					lower = s.top[0].Key
				}
			}
		}
	}
}

// search leaves the p.ef (at least p.k) nearest acceptable elements in s.top.
func (h *hnsw) search(x *Index, q []float32, p searchParams, accept func(uint32) bool, s *scratch) {
	ep, maxL, ok := h.entry()
	if !ok {
		return
	}
	n := uint32(x.nslots.Load())
	for l := maxL; l > 0; l-- {
		ep = h.greedy(x, q, ep, l, n)
	}
	h.searchLayer(x, q, ep, p.ef, 0, accept, s)
}

// heuristic is getNeighborsByHeuristic2: from cands (nearest first) keep
// each candidate that is nearer to the base element than to every candidate
// already kept, until m are kept.
func (h *hnsw) heuristic(x *Index, cands []item, m int, dst []item) []item {
	dst = dst[:0]
	if len(cands) <= m {
		return append(dst, cands...)
	}
	for _, c := range cands {
		if len(dst) >= m {
			break
		}
		good := true
		cv := x.vec(c.Value)
		for _, r := range dst {
			if x.distance(cv, x.vec(r.Value)) < c.Key {
				good = false
				break
			}
		}
		if good {
			dst = append(dst, c)
		}
	}
	return dst
}

// selectLinks is the first half of hnswlib's mutuallyConnectNewElement:
// choose node's links at level l with the heuristic among the candidates in
// s.top and write them. It returns the nearest chosen neighbour, the entry
// point for the next level down.
func (h *hnsw) selectLinks(x *Index, node uint32, l int, s *scratch) (uint32, bool) {
	s.list = s.top.Drain(s.list)
	// Drop the node itself (present when an existing element is re-linked).
	k := 0
	for _, it := range s.list {
		if it.Value != node {
			s.list[k] = it
			k++
		}
	}
	s.list = s.list[:k]
	if len(s.list) == 0 {
		return 0, false
	}
	s.sel = h.heuristic(x, s.list, h.M, s.sel)
	maxL := h.maxLinks(l)

	nv := x.vec(node)
	mu := h.lock(node)
	mu.Lock()
	lk := h.links(node, l)
	// When an existing element is re-linked, others already point at it and
	// it may have links; keep those that still fit.
	s.list2 = append(s.list2[:0], s.sel...)
	for j := 1; j <= int(min(lk[0], uint32(len(lk)-1))); j++ {
		o := lk[j]
		dup := o == node
		for _, it := range s.list2 {
			dup = dup || it.Value == o
		}
		if !dup {
			s.list2 = append(s.list2, item{Key: x.distance(x.vec(o), nv), Value: o})
		}
	}
	own := s.list2
	if len(own) > maxL {
		sortItems(own)
		s.sel2 = h.heuristic(x, own, maxL, s.sel2)
		own = s.sel2
	}
	for j, it := range own {
		atomic.StoreUint32(&lk[j+1], it.Value)
	}
	atomic.StoreUint32(&lk[0], uint32(len(own)))
	mu.Unlock()
	return s.sel[0].Value, true
}

// publish is the second half of mutuallyConnectNewElement: add node to the
// lists of its level-l neighbours, shrinking a full list with the heuristic
// (getNeighborsByHeuristic2 over the old links plus node). It runs after
// node's own lists are written on every level, so a search can never reach
// node and find it without links.
func (h *hnsw) publish(x *Index, node uint32, l int, s *scratch) {
	maxL := h.maxLinks(l)
	mu := h.lock(node)
	mu.Lock()
	lk := h.links(node, l)
	s.sel = s.sel[:0]
	for j := 1; j <= int(min(lk[0], uint32(len(lk)-1))); j++ {
		s.sel = append(s.sel, item{Value: lk[j]})
	}
	mu.Unlock()

	nv := x.vec(node)
	for _, it := range s.sel {
		nb := it.Value
		mu := h.lock(nb)
		mu.Lock()
		lk := h.links(nb, l)
		if lk == nil {
			mu.Unlock()
			continue
		}
		cnt := int(min(atomic.LoadUint32(&lk[0]), uint32(len(lk)-1)))
		present := false
		for j := 1; j <= cnt; j++ {
			if lk[j] == node {
				present = true
				break
			}
		}
		switch {
		case present:
		case cnt < maxL:
			atomic.StoreUint32(&lk[cnt+1], node)
			atomic.StoreUint32(&lk[0], uint32(cnt+1))
		default:
			bv := x.vec(nb)
			s.list2 = s.list2[:0]
			s.list2 = append(s.list2, item{Key: x.distance(nv, bv), Value: node})
			for j := 1; j <= cnt; j++ {
				o := lk[j]
				s.list2 = append(s.list2, item{Key: x.distance(x.vec(o), bv), Value: o})
			}
			sortItems(s.list2)
			s.sel2 = h.heuristic(x, s.list2, maxL, s.sel2)
			for j, it := range s.sel2 {
				atomic.StoreUint32(&lk[j+1], it.Value)
			}
			atomic.StoreUint32(&lk[0], uint32(len(s.sel2)))
		}
		mu.Unlock()
	}
}

// sortItems sorts a short list nearest first (insertion sort: lists hold at
// most maxM0+1 items).
func sortItems(a []item) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for j > 0 && a[j-1].Key > v.Key {
			a[j] = a[j-1]
			j--
		}
		a[j] = v
	}
}

// prepare draws the levels of new slots and, into an empty graph, puts the
// first one in alone as the entry point.
func (h *hnsw) prepare(x *Index, slots []uint32, _ func(int)) int {
	h.assignLevels(slots)
	if len(slots) > 0 && h.isEmpty() {
		h.insert(x, slots[0])
		return 1
	}
	return 0
}

// insertThreads: inserts run in parallel, like hnswlib's addPoint under
// per-node locks.
func (h *hnsw) insertThreads(threads int) int { return threads }

// stats reports the graph's parameters and size.
func (h *hnsw) stats(st *Stats, n int) {
	st.M, st.MaxM0, st.EfConstruction = h.M, h.maxM0, h.efC
	_, st.MaxLevel, _ = h.entry()
	st.StructBytes = int64(n) * int64(h.maxM0+1) * 4
	for i := 0; i < n; i++ {
		st.StructBytes += int64(len(h.upper[i]))*4 + 1
	}
}

// insert is hnswlib's addPoint for a slot whose vector and level are set.
func (h *hnsw) insert(x *Index, node uint32) {
	level := int(h.levels[node])
	h.global.Lock()
	ep, maxL, ok := h.entry()
	if !ok {
		h.setEntry(node, level)
		h.global.Unlock()
		return
	}
	holding := level > maxL
	if !holding {
		h.global.Unlock()
	}
	h.link(x, node, level, ep, maxL)
	if holding {
		h.setEntry(node, level)
		h.global.Unlock()
	}
}

// link connects node (at its level) into the graph entered at ep.
func (h *hnsw) link(x *Index, node uint32, level int, ep uint32, maxL int) {
	s := getScratch(int(x.nslots.Load()))
	defer putScratch(s)
	q := x.vec(node)
	n := uint32(x.nslots.Load())
	for l := maxL; l > level; l-- {
		ep = h.greedy(x, q, ep, l, n)
	}
	var accept func(uint32) bool
	if x.ndeleted.Load() > 0 {
		accept = func(i uint32) bool { return atomic.LoadUint32(&x.flags[i])&flagDeleted == 0 }
	}
	top := min(level, maxL)
	for l := top; l >= 0; l-- {
		h.searchLayer(x, q, ep, h.efC, l, accept, s)
		if next, ok := h.selectLinks(x, node, l, s); ok {
			ep = next
		}
	}
	for l := top; l >= 0; l-- {
		h.publish(x, node, l, s)
	}
}

// update re-links an element whose vector was replaced in place (a re-added
// id or a reused deleted slot). Called with the index locked exclusively.
// Its own links are chosen afresh and it is added to its new neighbours'
// lists; elements that linked to its old position keep those links (a
// simplification of hnswlib's updatePoint, which also repairs them).
func (h *hnsw) update(x *Index, node uint32) {
	ep, maxL, ok := h.entry()
	if !ok {
		return
	}
	level := int(h.levels[node])
	if ep == node {
		if x.nslots.Load() == 1 {
			return
		}
		// Enter through one of its own neighbours.
		lk := h.links(node, maxL)
		if lk == nil || lk[0] == 0 {
			lk = h.links(node, 0)
			if lk[0] == 0 {
				return
			}
			maxL = 0
		}
		ep = lk[1]
	}
	h.link(x, node, level, ep, maxL)
}

// checkLinks checks that every link block of the first n elements holds at
// most its level's cap of links, each to an element below n: what inserting
// relies on (searches bound what they read). It reports ErrCorrupt.
func (h *hnsw) checkLinks(n uint32) error {
	for i := uint32(0); i < n; i++ {
		for l := 0; l <= int(h.levels[i]); l++ {
			lk := h.links(i, l)
			if lk == nil {
				return corrupt("element %d has no link block for level %d", i, l)
			}
			cnt := lk[0]
			if cnt > uint32(len(lk)-1) {
				return corrupt("element %d level %d has %d links, cap %d", i, l, cnt, len(lk)-1)
			}
			for _, nb := range lk[1 : 1+cnt] {
				if nb >= n {
					return corrupt("element %d level %d links to %d, past the last element %d", i, l, nb, n-1)
				}
			}
		}
	}
	return nil
}

// CheckIntegrity verifies the invariants of hnswlib's checkIntegrity on an
// HNSW index: every link points to an existing element present on that
// level, no element links to itself or twice to the same element, no list
// is longer than its level's cap. (hnswlib also asserts that every element
// has an incoming link; the pruning heuristic can legitimately leave a rare
// element without one, notably under the inner product, so Orphans counts
// them instead.) For other kinds it checks their structure.
func (x *Index) CheckIntegrity() error {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return ErrClosed
	}
	return x.algo.check(x)
}

// check is CheckIntegrity of the graph.
func (h *hnsw) check(x *Index) error {
	n := uint32(x.nslots.Load())
	seen := make(map[uint32]bool)
	for i := uint32(0); i < n; i++ {
		for l := 0; l <= int(h.levels[i]); l++ {
			lk := h.links(i, l)
			if lk == nil {
				return fmt.Errorf("index: integrity: element %d has no link block for level %d", i, l)
			}
			cnt := int(lk[0])
			if cnt > h.maxLinks(l) {
				return fmt.Errorf("index: integrity: element %d level %d has %d links, cap %d", i, l, cnt, h.maxLinks(l))
			}
			clear(seen)
			for j := 1; j <= cnt; j++ {
				nb := lk[j]
				switch {
				case nb >= n:
					return fmt.Errorf("index: integrity: element %d level %d links to %d, past the last element %d", i, l, nb, n-1)
				case nb == i:
					return fmt.Errorf("index: integrity: element %d level %d links to itself", i, l)
				case seen[nb]:
					return fmt.Errorf("index: integrity: element %d level %d links to %d twice", i, l, nb)
				case int(h.levels[nb]) < l:
					return fmt.Errorf("index: integrity: element %d level %d links to %d, which only reaches level %d", i, l, nb, h.levels[nb])
				}
				seen[nb] = true
			}
		}
	}
	return nil
}

// Orphans returns the number of HNSW elements that no other element links
// to on any level (reachable only as the entry point, if at all); 0 for other
// kinds and for indexes of fewer than two elements.
func (x *Index) Orphans() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	h, ok := x.algo.(*hnsw)
	n := uint32(x.nslots.Load())
	if !ok || x.closed || n < 2 {
		return 0
	}
	in := make([]bool, n)
	for i := uint32(0); i < n; i++ {
		for l := 0; l <= int(h.levels[i]); l++ {
			lk := h.links(i, l)
			if lk == nil {
				continue
			}
			cnt := min(lk[0], uint32(len(lk)-1))
			for j := uint32(1); j <= cnt; j++ {
				if lk[j] < n {
					in[lk[j]] = true
				}
			}
		}
	}
	c := 0
	ep, _, _ := h.entry()
	for i, ok := range in {
		if !ok && uint32(i) != ep {
			c++
		}
	}
	return c
}
