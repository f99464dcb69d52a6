package index

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Result is one neighbour: its id and its distance to the query (see Metric).
type Result struct {
	ID       uint64  `json:"id"`
	Distance float32 `json:"distance"`
}

// SearchOptions tune one search. The zero value (or nil) uses the index's
// defaults; a negative value is an *OptionError, as is k < 1.
type SearchOptions struct {
	// Ef is HNSW's candidate list size (hnswlib's ef); max(Ef, k) is used.
	// 0 means the index default (10 unless set).
	Ef int
	// SearchK is the number of forest items to inspect (Annoy's search_k);
	// 0 means n_trees·k.
	SearchK int
	// Allow, if non-nil, restricts results to these ids.
	Allow []uint64
	// Filter, if non-nil, restricts results to ids for which it returns
	// true; meta is the stored JSON metadata (nil if none). It may be called
	// from several goroutines at once in SearchBatch.
	Filter func(id uint64, meta json.RawMessage) bool
	// Threads for SearchBatch (0: GOMAXPROCS).
	Threads int
}

// check validates k and o, returning an *OptionError (Field "K" for k)
// for the first value out of range.
func (o *SearchOptions) check(k int) error {
	bad := func(field string, v int, allowed string) error {
		return &OptionError{Field: field, Value: v, Allowed: allowed}
	}
	switch {
	case k < 1:
		return bad("K", k, positive)
	case o.Ef < 0:
		return bad("Ef", o.Ef, "0 or more (0: the index default)")
	case o.SearchK < 0:
		return bad("SearchK", o.SearchK, "0 or more (0: n_trees·k)")
	case o.Threads < 0:
		return bad("Threads", o.Threads, "0 or more (0: all cores)")
	}
	return nil
}

// Search returns the k nearest vectors to q, nearest first.
//
// Like hnswlib, asking for more neighbours than the index holds is an error
// (ErrKTooLarge), as is searching an empty index (ErrEmpty). With Allow or
// Filter the search keeps exploring until it has k allowed results or has
// run out of candidates, so it may return fewer than k.
func (x *Index) Search(q []float32, k int, opts *SearchOptions) ([]Result, error) {
	res, err := x.SearchBatch(q, 1, k, opts)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// SearchBatch searches nq queries stored back to back in qs, in parallel
// over opts.Threads goroutines. A flat index computes the distances of a
// block of queries against the base together.
func (x *Index) SearchBatch(qs []float32, nq, k int, opts *SearchOptions) ([][]Result, error) {
	if opts == nil {
		opts = &SearchOptions{}
	}
	if nq < 0 || len(qs) != nq*x.dim {
		return nil, fmt.Errorf("index: search: %d values is not %d queries of dimension %d: %w", len(qs), nq, x.dim, ErrDim)
	}
	if err := opts.check(k); err != nil {
		return nil, err
	}
	for i := 0; i < nq; i++ {
		if err := checkFinite(qs[i*x.dim:(i+1)*x.dim], fmt.Sprintf("query %d", i)); err != nil {
			return nil, err
		}
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.closed {
		return nil, ErrClosed
	}
	live := int(x.live.Load())
	if live == 0 {
		return nil, fmt.Errorf("index: search: %w", ErrEmpty)
	}
	if k > live {
		return nil, fmt.Errorf("index: search: k = %d but the index holds %d vectors: %w", k, live, ErrKTooLarge)
	}
	accept, err := x.acceptFunc(opts)
	if err != nil {
		return nil, err
	}
	p := searchParams{k: k, ef: opts.Ef, searchK: opts.SearchK}
	if p.ef <= 0 {
		p.ef = x.opts.Ef
	}
	p.ef = max(p.ef, k)
	if p.searchK <= 0 {
		p.searchK = x.opts.NTrees * k
	}
	out := make([][]Result, nq)
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if b, ok := x.algo.(batchSearcher); ok {
		b.searchBatch(x, qs, nq, k, accept, threads, out)
		return out, nil
	}
	one := func(i int) {
		s := getScratch(int(x.nslots.Load()))
		q := x.prepQuery(s, qs[i*x.dim:(i+1)*x.dim])
		x.algo.search(x, q, p, accept, s)
		out[i] = x.results(s, k)
		putScratch(s)
	}
	parallelFor(nq, threads, one)
	return out, nil
}

// parallelFor calls fn(i) for i in [0, n) on up to threads goroutines,
// handing out indices one at a time.
func parallelFor(n, threads int, fn func(i int)) {
	if threads <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for t := 0; t < min(threads, n); t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// prepQuery returns q normalised for cosine (in scratch memory) or q itself.
func (x *Index) prepQuery(s *scratch, q []float32) []float32 {
	if x.opts.Metric != Cosine {
		return q
	}
	s.q = append(s.q[:0], q...)
	if normalize(s.q, "query") != nil {
		return s.q // zero query: every cosine distance is 1
	}
	return s.q
}

// results turns the max-heap s.top into at most k results, nearest first.
func (x *Index) results(s *scratch, k int) []Result {
	for len(s.top) > k {
		s.top.Pop()
	}
	s.list = s.top.Drain(s.list)
	out := make([]Result, len(s.list))
	for i, it := range s.list {
		out[i] = Result{ID: x.labels[it.Value], Distance: it.Key}
	}
	return out
}

// acceptFunc compiles the deletion marks and the options' filters into one
// predicate over slots, or nil when every ready slot is acceptable and none
// is deleted (the fast path).
func (x *Index) acceptFunc(o *SearchOptions) (func(uint32) bool, error) {
	var allow map[uint32]bool
	if o.Allow != nil {
		allow = make(map[uint32]bool, len(o.Allow))
		for _, id := range o.Allow {
			if s, ok := x.slotOf(id); ok {
				allow[s] = true
			}
		}
	}
	filter := o.Filter
	if allow == nil && filter == nil && x.ndeleted.Load() == 0 {
		return nil, nil
	}
	return func(s uint32) bool {
		if atomic.LoadUint32(&x.flags[s]) != flagReady {
			return false
		}
		if allow != nil && !allow[s] {
			return false
		}
		if filter != nil && !filter(x.labels[s], x.metaAt(s)) {
			return false
		}
		return true
	}, nil
}
