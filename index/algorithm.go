package index

// algorithm is the search structure of an index: flat (none, every slot is
// scanned), HNSW or forest, the way hnswlib's BruteforceSearch and
// HierarchicalNSW share AlgorithmInterface. Index owns the slots (vectors,
// labels, flags, metadata), the locks and the file; an algorithm owns only
// its structure over the slots and reads vectors through the index.
//
// Adding runs in two phases (see Index.Add): prepare, with the index locked
// exclusively, then insert for the remaining new slots, concurrently, with
// the index locked shared while searches run.
type algorithm interface {
	// grow makes room for c slots. Index locked exclusively.
	grow(c int)
	// prepare readies the new slots, in slot order, and completes the
	// first done of them itself (a bulk build, a first entry point); the
	// index marks those ready and hands the rest to insert. Index locked
	// exclusively.
	prepare(x *Index, slots []uint32, progress func(int)) (done int)
	// insertThreads is the most goroutines insert may run on, given the
	// index's Threads option.
	insertThreads(threads int) int
	// insert adds new slot s, its vector set. Index locked shared; several
	// inserts may run at once.
	insert(x *Index, s uint32)
	// update re-inserts slot s, whose vector was replaced in place (a
	// re-added id or a reused deleted slot). Index locked exclusively.
	update(x *Index, s uint32)
	// search leaves the nearest acceptable slots to q (at least p.k of them
	// when there are) in s.top, a max-heap. Index locked shared.
	search(x *Index, q []float32, p searchParams, accept func(uint32) bool, s *scratch)

	// check verifies the structure's invariants (CheckIntegrity).
	check(x *Index) error
	// stats fills the structure's fields of st for n slots.
	stats(st *Stats, n int)
	// sections returns the structure's file sections for n slots and sets
	// its manifest fields (Save). Index locked exclusively.
	sections(x *Index, n int, man *manifest) []section
	// open reads the structure from the sections of a file of n slots,
	// range-checking what searches read (and, with verify, everything).
	open(x *Index, need sectionFunc, man manifest, n uint64, verify bool) error
	// makeWritable copies a structure opened from a file off the mapping,
	// first checking everything a change relies on. Index locked
	// exclusively.
	makeWritable(n int) error
}

// batchSearcher is implemented by an algorithm that answers a batch of
// queries better together than one by one (flat: blocked matrix
// multiplies). SearchBatch then hands it the whole batch.
type batchSearcher interface {
	searchBatch(x *Index, qs []float32, nq, k int, accept func(uint32) bool, threads int, out [][]Result)
}

// searchParams are one search's settings, defaults applied.
type searchParams struct {
	k       int // results wanted
	ef      int // HNSW candidate list size, at least k
	searchK int // forest items to inspect
}

// sectionFunc returns the named section of an index file, checking its size
// unless size is math.MaxUint64.
type sectionFunc func(name string, size uint64) ([]byte, error)

func newAlgorithm(o *Options) algorithm {
	switch o.Kind {
	case HNSW:
		return newHNSW(o)
	case Forest:
		return newForest(o)
	}
	return flat{}
}
