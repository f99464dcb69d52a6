package search

import (
	"slices"
)

// Hybrid search defaults: Elasticsearch's and Qdrant's RRF rank constant,
// Weaviate's alpha, and the depth of each list fused.
const (
	DefaultRRFK       = 60
	DefaultAlpha      = 0.5
	DefaultCandidates = 100
)

// ListScore is where a hybrid hit stood in one of the two lists fused.
type ListScore struct {
	// Rank in the list, from 1.
	Rank int `json:"rank"`
	// Score is the list's own score: the BM25 score, or the dense score
	// (see the Score function: the cosine similarity, the dot product, or
	// the squared L2 distance).
	Score float64 `json:"score"`
	// Normalized is the score min–max normalised over the list (weighted
	// fusion only; 0 under RRF).
	Normalized float64 `json:"normalized,omitempty"`
	// Contribution is what the list adds to the fused score:
	// 1/(RRFK + Rank) under RRF, the list's weight times Normalized under
	// weighted fusion.
	Contribution float64 `json:"contribution"`
}

// candidate is one entry of a list to fuse: an id, its score in the list
// (higher better) and the score to report (ListScore.Score). A list is
// sorted best first.
type candidate struct {
	id           uint64
	score, shown float64
}

// fusedHit is a document of the fused ranking: its fused score and its
// place in each list (nil when it was not in that list).
type fusedHit struct {
	id    uint64
	score float64
	parts [2]*ListScore
	from  [2]int // index of the entry in each list, -1 if absent
}

// fuse merges lists (each best first) into one ranking, best first, ties
// by smaller id. contribution gives entry i's (0-based) share of the fused
// score from list l and its normalised score.
func fuse(lists [2][]candidate, contribution func(l, i int) (norm, c float64)) []fusedHit {
	at := map[uint64]int{}
	var out []fusedHit
	for l, list := range lists {
		for i, c := range list {
			j, ok := at[c.id]
			if !ok {
				j = len(out)
				at[c.id] = j
				out = append(out, fusedHit{id: c.id, from: [2]int{-1, -1}})
			}
			norm, share := contribution(l, i)
			out[j].parts[l] = &ListScore{Rank: i + 1, Score: c.shown, Normalized: norm, Contribution: share}
			out[j].from[l] = i
		}
	}
	for i := range out {
		// Sum in list order so that equal parts give equal sums.
		for _, p := range out[i].parts {
			if p != nil {
				out[i].score += p.Contribution
			}
		}
	}
	slices.SortFunc(out, func(a, b fusedHit) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return cmpID(a.id, b.id)
	})
	return out
}

// fuseRRF is reciprocal-rank fusion (Cormack, Clarke and Büttcher, 2009):
// a document's score is Σ 1/(k + rank) over the lists holding it, rank
// from 1.
func fuseRRF(lists [2][]candidate, k int) []fusedHit {
	return fuse(lists, func(l, i int) (float64, float64) {
		return 0, 1 / float64(k+i+1)
	})
}

// fuseWeighted is relative-score fusion (Weaviate's relativeScoreFusion):
// each list's scores are min–max normalised to [0, 1] over the list, (s −
// min)/(max − min), every score 1 when they are all equal (a list of one
// entry included), and a document's score is Σ weight·normalised over the
// lists holding it.
func fuseWeighted(lists [2][]candidate, weights [2]float64) []fusedHit {
	var lo, hi [2]float64
	for l, list := range lists {
		for i, c := range list {
			if i == 0 || c.score < lo[l] {
				lo[l] = c.score
			}
			if i == 0 || c.score > hi[l] {
				hi[l] = c.score
			}
		}
	}
	return fuse(lists, func(l, i int) (float64, float64) {
		norm := 1.0
		if hi[l] > lo[l] {
			norm = (lists[l][i].score - lo[l]) / (hi[l] - lo[l])
		}
		return norm, weights[l] * norm
	})
}

// FuseHits fuses a dense and a BM25 list of hits (each best first, as
// SearchMany returns them in the dense and bm25 modes) into the k best of
// hybrid search with opts' fusion, as SearchMany does in hybrid mode; the
// hits keep their text and metadata. Package shard fuses the lists it
// merged from its shards with it.
func FuseHits(dense, lexical []Hit, k int, opts SearchOptions) []Hit {
	var lists [2][]candidate
	byID := map[uint64]Hit{}
	for _, h := range dense {
		lists[0] = append(lists[0], candidate{id: h.ID, score: -float64(h.Distance), shown: float64(h.Score)})
		byID[h.ID] = h
	}
	for _, h := range lexical {
		lists[1] = append(lists[1], candidate{id: h.ID, score: h.ExactScore(), shown: h.ExactScore()})
		if _, ok := byID[h.ID]; !ok {
			byID[h.ID] = h
		}
	}
	var fused []fusedHit
	if opts.fusion() == FusionWeighted {
		a := opts.alpha()
		fused = fuseWeighted(lists, [2]float64{a, 1 - a})
	} else {
		fused = fuseRRF(lists, opts.rrfK())
	}
	fused = fused[:min(k, len(fused))]
	hits := make([]Hit, len(fused))
	for i, f := range fused {
		h := byID[f.id]
		hits[i] = Hit{Rank: i + 1, ID: f.id, Score: float32(f.score), Text: h.Text, Metadata: h.Metadata, Dense: f.parts[0], BM25: f.parts[1]}
	}
	return hits
}
