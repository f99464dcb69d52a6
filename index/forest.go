package index

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"sync"

	"github.com/loupe-ml/loupe/internal/heap"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// This file is the Annoy-style forest: n_trees binary trees, each splitting
// the vectors recursively by a hyperplane between two centroids found by a
// short 2-means run on two random seeds, down to leaves of at most leaf-size
// items. A search walks all trees at once with one priority queue keyed by
// the smallest margin seen on the way (Annoy's), collects search_k items
// from the leaves it reaches, and ranks them by exact distance.

type fnode struct {
	plane       []float32 // unit normal; nil for a leaf
	offset      float32   // side = plane·v + offset > 0 → right
	left, right int32
	items       []uint32 // leaf items (slots)
}

type forest struct {
	mu       sync.RWMutex
	nTrees   int
	leafSize int
	seed     int64
	dim      int
	trees    [][]fnode // node 0 of each tree is its root
	rng      *rand.Rand
}

func newForest(o *Options) *forest {
	return &forest{nTrees: o.NTrees, leafSize: o.LeafSize, seed: o.Seed, dim: o.Dim, rng: rand.New(rand.NewSource(o.Seed))}
}

func (f *forest) empty() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.trees) == 0
}

func (f *forest) margin(n *fnode, v []float32) float32 {
	return kernels.Dot(n.plane, v) + n.offset
}

// split finds a hyperplane for items. It returns ok=false when the items
// cannot be separated (all identical).
func (f *forest) split(x *Index, items []uint32, rng *rand.Rand) (plane []float32, offset float32, ok bool) {
	d := x.dim
	c0 := make([]float32, d)
	c1 := make([]float32, d)
	for try := 0; try < 3; try++ {
		a := items[rng.Intn(len(items))]
		b := items[rng.Intn(len(items))]
		if a == b {
			continue
		}
		copy(c0, x.vec(a))
		copy(c1, x.vec(b))
		n0, n1 := 1, 1
		// A short 2-means refinement on random members, as Annoy does.
		iters := min(200, 2*len(items))
		for it := 0; it < iters; it++ {
			v := x.vec(items[rng.Intn(len(items))])
			d0 := kernels.SqDist(v, c0)
			d1 := kernels.SqDist(v, c1)
			if d0 < d1 {
				kernels.Scale(float32(n0)/float32(n0+1), c0)
				kernels.Axpy(1/float32(n0+1), v, c0)
				n0++
			} else {
				kernels.Scale(float32(n1)/float32(n1+1), c1)
				kernels.Axpy(1/float32(n1+1), v, c1)
				n1++
			}
		}
		plane = make([]float32, d)
		var norm float64
		for j := range plane {
			plane[j] = c0[j] - c1[j]
			norm += float64(plane[j]) * float64(plane[j])
		}
		if norm == 0 {
			continue
		}
		kernels.Scale(float32(1/math.Sqrt(norm)), plane)
		var off float32
		for j := range plane {
			off -= plane[j] * (c0[j] + c1[j]) / 2
		}
		return plane, off, true
	}
	// Random direction through the median: always balanced unless the
	// items are identical.
	plane = make([]float32, d)
	var norm float64
	for j := range plane {
		plane[j] = float32(rng.NormFloat64())
		norm += float64(plane[j]) * float64(plane[j])
	}
	kernels.Scale(float32(1/math.Sqrt(norm)), plane)
	m := make([]float32, len(items))
	for i, s := range items {
		m[i] = kernels.Dot(plane, x.vec(s))
	}
	sort.Slice(m, func(i, j int) bool { return m[i] < m[j] })
	if m[0] == m[len(m)-1] {
		return nil, 0, false
	}
	mid := m[len(m)/2]
	if mid == m[len(m)-1] {
		mid = m[len(m)/2-1]
	}
	return plane, -mid, true
}

// partition splits items by the plane; ok is false if a side is empty.
func (f *forest) partition(x *Index, n *fnode, items []uint32) (left, right []uint32, ok bool) {
	for _, s := range items {
		if f.margin(n, x.vec(s)) > 0 {
			right = append(right, s)
		} else {
			left = append(left, s)
		}
	}
	return left, right, len(left) > 0 && len(right) > 0
}

// grow builds the subtree for items at node i of tree t, appending nodes.
func (f *forest) growNode(x *Index, t []fnode, i int, items []uint32, limit int, rng *rand.Rand) []fnode {
	if len(items) <= limit {
		t[i] = fnode{items: items, left: -1, right: -1}
		return t
	}
	for try := 0; try < 4; try++ {
		plane, off, ok := f.split(x, items, rng)
		if !ok {
			break
		}
		n := fnode{plane: plane, offset: off}
		l, r, ok := f.partition(x, &n, items)
		if !ok {
			continue
		}
		n.left = int32(len(t))
		n.right = n.left + 1
		t[i] = n
		t = append(t, fnode{}, fnode{})
		t = f.growNode(x, t, int(n.left), l, limit, rng)
		t = f.growNode(x, t, int(n.right), r, limit, rng)
		return t
	}
	// Inseparable (duplicates): one big leaf.
	t[i] = fnode{items: items, left: -1, right: -1}
	return t
}

// build creates the trees from slots, one tree per worker at a time.
func (f *forest) build(x *Index, slots []uint32, progress func(int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trees = make([][]fnode, f.nTrees)
	var done sync.Mutex
	built := 0
	parallelFor(f.nTrees, x.opts.Threads, func(ti int) {
		rng := rand.New(rand.NewSource(f.seed + int64(ti)*7919))
		items := append([]uint32(nil), slots...)
		t := []fnode{{}}
		f.trees[ti] = f.growNode(x, t, 0, items, f.leafSize, rng)
		if progress != nil {
			done.Lock()
			built++
			progress(built * len(slots) / f.nTrees)
			done.Unlock()
		}
	})
}

func (f *forest) grow(int) {}

// prepare builds the trees in bulk from the first slots added to an empty
// forest; later ones are inserted one by one.
func (f *forest) prepare(x *Index, slots []uint32, progress func(int)) int {
	if len(slots) == 0 || !f.empty() {
		return 0
	}
	f.build(x, slots, progress)
	return len(slots)
}

// insertThreads: inserts serialise on the tree lock anyway.
func (f *forest) insertThreads(int) int { return 1 }

// update moves a slot whose vector was replaced into the leaves it now
// falls in (it stays in its old leaves too, as Annoy has no removal).
func (f *forest) update(x *Index, s uint32) { f.insert(x, s) }

// stats reports the trees' parameters and size.
func (f *forest) stats(st *Stats, _ int) {
	st.NTrees, st.LeafSize = f.nTrees, f.leafSize
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, t := range f.trees {
		st.ForestNodes += len(t)
		for _, nd := range t {
			st.StructBytes += 24 + int64(len(nd.plane))*4 + int64(len(nd.items))*4
		}
	}
}

// insert adds slot s to the leaf it falls in on every tree, splitting a
// leaf that grows past twice the leaf size. A slot already in that leaf
// (a re-added id whose vector did not move) is not added twice.
func (f *forest) insert(x *Index, s uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.trees) == 0 {
		f.trees = make([][]fnode, f.nTrees)
		for i := range f.trees {
			f.trees[i] = []fnode{{left: -1, right: -1}}
		}
	}
	v := x.vec(s)
	for ti := range f.trees {
		t := f.trees[ti]
		i := 0
		for t[i].plane != nil {
			if f.margin(&t[i], v) > 0 {
				i = int(t[i].right)
			} else {
				i = int(t[i].left)
			}
		}
		dup := false
		for _, o := range t[i].items {
			if o == s {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		t[i].items = append(t[i].items[:len(t[i].items):len(t[i].items)], s)
		if len(t[i].items) > 2*f.leafSize {
			items := t[i].items
			f.trees[ti] = f.growNode(x, t, i, items, f.leafSize, f.rng)
		}
	}
}

// forestQueue holds the nodes still to visit, keyed by the smallest margin
// on their path (Annoy's priority), the largest first.
type forestQueue = heap.Max[float32, fref]

// fref names a node: tree, index in the tree.
type fref struct{ tree, node int32 }

// search leaves the p.k nearest acceptable items among the first p.searchK
// reached (or more, until p.k acceptable ones are found) in s.top.
func (f *forest) search(x *Index, q []float32, p searchParams, accept func(uint32) bool, s *scratch) {
	k, searchK := p.k, p.searchK
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := uint32(x.nslots.Load())
	s.fq = s.fq[:0]
	for ti := range f.trees {
		s.fq.Push(heap.Item[float32, fref]{Key: float32(math.Inf(1)), Value: fref{int32(ti), 0}})
	}
	seen, found := 0, 0
	for len(s.fq) > 0 && (seen < searchK || found < k) {
		it := s.fq.Pop()
		nd := &f.trees[it.Value.tree][it.Value.node]
		if nd.plane == nil {
			for _, id := range nd.items {
				if id >= n || s.visit(id) {
					continue
				}
				seen++
				if accept != nil && !accept(id) {
					continue
				}
				found++
				d := x.distance(q, x.vec(id))
				s.top.Keep(item{Key: d, Value: id}, k)
			}
			continue
		}
		m := f.margin(nd, q)
		s.fq.Push(heap.Item[float32, fref]{Key: min(it.Key, m), Value: fref{it.Value.tree, nd.right}})
		s.fq.Push(heap.Item[float32, fref]{Key: min(it.Key, -m), Value: fref{it.Value.tree, nd.left}})
	}
}

// check verifies the trees: child indices in range, leaves only at the
// bottom, every item an existing slot.
func (f *forest) check(x *Index) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n := uint32(x.nslots.Load())
	for ti, t := range f.trees {
		for i, nd := range t {
			if nd.plane == nil {
				for _, s := range nd.items {
					if s >= n {
						return fmt.Errorf("index: integrity: tree %d node %d holds item %d, past the last element %d", ti, i, s, n-1)
					}
				}
				continue
			}
			if len(nd.plane) != x.dim {
				return fmt.Errorf("index: integrity: tree %d node %d has a %d-dimensional plane, want %d", ti, i, len(nd.plane), x.dim)
			}
			if nd.left <= int32(i) || nd.right <= int32(i) || int(nd.left) >= len(t) || int(nd.right) >= len(t) {
				return fmt.Errorf("index: integrity: tree %d node %d has children %d and %d out of order or range (%d nodes)", ti, i, nd.left, nd.right, len(t))
			}
		}
	}
	return nil
}
