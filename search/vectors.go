package search

import (
	"encoding/json"
	"time"

	"github.com/loupe-ml/loupe/index"
)

// VectorResult is what QueryVectors found.
type VectorResult struct {
	// Hits are each query's neighbours, nearest first.
	Hits [][]index.Result
	// Seconds is the time of the search alone: not opening the index,
	// reading the queries or compiling the filter (what ANN benchmarks
	// time).
	Seconds float64
	// NoneAllowed reports that a filter or allow list was given and left
	// every query (at least one) without results.
	NoneAllowed bool
}

// QueryVectors opens the index in directory dir, reads the query vectors
// of file queries (.npy or .fvecs, of the index's dimension) and returns
// the k nearest neighbours of each, searched with opts in parallel. filter
// conditions (on the stored metadata, compiled once) are added to opts'
// own Filter and Allow.
func QueryVectors(dir, queries string, k int, opts index.SearchOptions, filter []Condition) (*VectorResult, error) {
	x, err := index.Open(dir)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	qs, nq, err := index.ReadQueries(queries, x.Dim())
	if err != nil {
		return nil, err
	}
	if len(filter) > 0 {
		f := CompileFilter(x, filter)
		if prev := opts.Filter; prev != nil {
			opts.Filter = func(id uint64, meta json.RawMessage) bool { return prev(id, meta) && f.Match(id, meta) }
		} else {
			opts.Filter = f.Match
		}
	}
	start := time.Now()
	hits, err := x.SearchBatch(qs, nq, k, &opts)
	res := &VectorResult{Hits: hits, Seconds: time.Since(start).Seconds()}
	if err != nil {
		return nil, err
	}
	if (opts.Filter != nil || opts.Allow != nil) && nq > 0 {
		res.NoneAllowed = true
		for _, h := range hits {
			res.NoneAllowed = res.NoneAllowed && len(h) == 0
		}
	}
	return res, nil
}

// Columns returns the ids and distances of the hits as two matrices,
// query by query (hnswlib's knn_query and faiss's search return these).
func (r *VectorResult) Columns() (ids [][]uint64, distances [][]float32) {
	ids = make([][]uint64, len(r.Hits))
	distances = make([][]float32, len(r.Hits))
	for i, hits := range r.Hits {
		ids[i] = make([]uint64, len(hits))
		distances[i] = make([]float32, len(hits))
		for j, h := range hits {
			ids[i][j], distances[i][j] = h.ID, h.Distance
		}
	}
	return ids, distances
}
