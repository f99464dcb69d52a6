package search

import (
	"context"
	"math"
	"strings"
	"testing"
)

// fusedWant is one expected fused hit: id, score, and each list's rank (0
// when absent) and contribution.
type fusedWant struct {
	id         uint64
	score      float64
	ranks      [2]int
	contribute [2]float64
}

func checkFused(t *testing.T, name string, got []fusedHit, want []fusedWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d hits, want %d: %+v", name, len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.id != w.id || math.Abs(g.score-w.score) > 1e-12 {
			t.Errorf("%s: hit %d is %d (%.6g), want %d (%.6g)", name, i, g.id, g.score, w.id, w.score)
		}
		for l, p := range g.parts {
			switch {
			case w.ranks[l] == 0 && p != nil:
				t.Errorf("%s: %d has a part in list %d: %+v", name, g.id, l, p)
			case w.ranks[l] != 0 && (p == nil || p.Rank != w.ranks[l] || math.Abs(p.Contribution-w.contribute[l]) > 1e-12):
				t.Errorf("%s: %d in list %d: %+v, want rank %d contribution %.6g", name, g.id, l, p, w.ranks[l], w.contribute[l])
			}
		}
	}
}

func list(entries ...any) []candidate {
	var out []candidate
	for i := 0; i < len(entries); i += 2 {
		sc := entries[i+1].(float64)
		out = append(out, candidate{id: uint64(entries[i].(int)), score: sc, shown: sc})
	}
	return out
}

func TestFuseRRF(t *testing.T) {
	r := func(rank int) float64 { return 1 / float64(60+rank) }
	for _, c := range []struct {
		name  string
		lists [2][]candidate
		k     int
		want  []fusedWant
	}{
		{"both lists", [2][]candidate{list(1, 0.9, 2, 0.8, 3, 0.7), list(3, 10.0, 4, 5.0)}, 60, []fusedWant{
			{3, r(3) + r(1), [2]int{3, 1}, [2]float64{r(3), r(1)}},
			{1, r(1), [2]int{1, 0}, [2]float64{r(1), 0}},
			// 2 and 4 tie at 1/62: smaller id first.
			{2, r(2), [2]int{2, 0}, [2]float64{r(2), 0}},
			{4, r(2), [2]int{0, 2}, [2]float64{0, r(2)}},
		}},
		{"rank constant 1", [2][]candidate{list(5, 0.1), list(6, 1.0, 5, 0.5)}, 1, []fusedWant{
			{5, 1.0/2 + 1.0/3, [2]int{1, 2}, [2]float64{1.0 / 2, 1.0 / 3}},
			{6, 1.0 / 2, [2]int{0, 1}, [2]float64{0, 1.0 / 2}},
		}},
		{"one list empty", [2][]candidate{nil, list(9, 2.0, 8, 1.0)}, 60, []fusedWant{
			{9, r(1), [2]int{0, 1}, [2]float64{0, r(1)}},
			{8, r(2), [2]int{0, 2}, [2]float64{0, r(2)}},
		}},
		{"both empty", [2][]candidate{}, 60, nil},
	} {
		checkFused(t, c.name, fuseRRF(c.lists, c.k), c.want)
	}
}

func TestFuseWeighted(t *testing.T) {
	for _, c := range []struct {
		name    string
		lists   [2][]candidate
		weights [2]float64
		want    []fusedWant
	}{
		// dense .9 .8 .7 → 1 .5 0; bm25 10 5 → 1 0.
		{"alpha 0.5", [2][]candidate{list(1, 0.9, 2, 0.8, 3, 0.7), list(3, 10.0, 4, 5.0)}, [2]float64{0.5, 0.5}, []fusedWant{
			// 1 and 3 tie at 0.5: smaller id first.
			{1, 0.5, [2]int{1, 0}, [2]float64{0.5, 0}},
			{3, 0.5, [2]int{3, 1}, [2]float64{0, 0.5}},
			{2, 0.25, [2]int{2, 0}, [2]float64{0.25, 0}},
			{4, 0, [2]int{0, 2}, [2]float64{0, 0}},
		}},
		{"alpha 0.8", [2][]candidate{list(1, 0.9, 2, 0.8, 3, 0.7), list(3, 10.0, 4, 5.0)}, [2]float64{0.8, 0.2}, []fusedWant{
			{1, 0.8, [2]int{1, 0}, [2]float64{0.8, 0}},
			{2, 0.4, [2]int{2, 0}, [2]float64{0.4, 0}},
			{3, 0.2, [2]int{3, 1}, [2]float64{0, 0.2}},
			{4, 0, [2]int{0, 2}, [2]float64{0, 0}},
		}},
		// Negative scores (−distance under l2) normalise the same way.
		{"negative scores", [2][]candidate{list(1, -1.0, 2, -3.0), list(2, 4.0, 1, 2.0)}, [2]float64{0.25, 0.75}, []fusedWant{
			{2, 0.75, [2]int{2, 1}, [2]float64{0, 0.75}},
			{1, 0.25, [2]int{1, 2}, [2]float64{0.25, 0}},
		}},
		// A list of one entry, or of equal scores, normalises to 1.
		{"one entry, equal scores", [2][]candidate{list(1, 0.5, 2, 0.5), list(3, 7.0)}, [2]float64{0.5, 0.5}, []fusedWant{
			{1, 0.5, [2]int{1, 0}, [2]float64{0.5, 0}},
			{2, 0.5, [2]int{2, 0}, [2]float64{0.5, 0}},
			{3, 0.5, [2]int{0, 1}, [2]float64{0, 0.5}},
		}},
		{"alpha 1", [2][]candidate{list(1, 0.9, 2, 0.1), list(2, 3.0)}, [2]float64{1, 0}, []fusedWant{
			{1, 1, [2]int{1, 0}, [2]float64{1, 0}},
			{2, 0, [2]int{2, 1}, [2]float64{0, 0}},
		}},
	} {
		got := fuseWeighted(c.lists, c.weights)
		checkFused(t, c.name, got, c.want)
		for _, g := range got {
			for l, p := range g.parts {
				if p != nil && (p.Normalized < 0 || p.Normalized > 1 || math.Abs(p.Contribution-c.weights[l]*p.Normalized) > 1e-12) {
					t.Errorf("%s: %d list %d: %+v", c.name, g.id, l, p)
				}
			}
		}
	}
}

// TestHybridSearch runs the hybrid modes end to end with the tiny test
// model: the fused score is the sum of the parts, filters and deletion
// apply, and the parts agree with the single-mode searches.
func TestHybridSearch(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	docs := []Document{
		{Text: "the cat sat on the mat", Meta: map[string]any{"lang": "en"}},
		{Text: "a quick brown fox", Meta: map[string]any{"lang": "en"}},
		{Text: "run a bert model fast on a cpu", Meta: map[string]any{"lang": "en"}},
		{Text: "le chat est sur le tapis", Meta: map[string]any{"lang": "fr"}},
		{Text: "the lazy dog and the cat", Meta: map[string]any{"lang": "en"}},
		{Text: "hello world", Meta: map[string]any{"lang": "fr"}},
	}
	if _, err := s.Add(ctx, docs, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	q := "the cat on a mat"
	dense, err := s.Search(ctx, q, SearchOptions{K: 6})
	if err != nil {
		t.Fatal(err)
	}
	lex, err := s.Search(ctx, q, SearchOptions{K: 6, Mode: ModeBM25})
	if err != nil {
		t.Fatal(err)
	}
	rankIn := func(hits []Hit, id uint64) int {
		for _, h := range hits {
			if h.ID == id {
				return h.Rank
			}
		}
		return 0
	}
	for _, fusion := range []Fusion{FusionRRF, FusionWeighted} {
		opts := SearchOptions{K: 6, Mode: ModeHybrid, Fusion: fusion}
		hits, err := s.Search(ctx, q, opts)
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != 6 {
			t.Fatalf("%s: %d hits", fusion, len(hits))
		}
		for i, h := range hits {
			sum := 0.0
			for _, p := range []*ListScore{h.Dense, h.BM25} {
				if p != nil {
					sum += p.Contribution
				}
			}
			if math.Abs(float64(h.Score)-sum) > 1e-6 || h.Distance != 0 || i > 0 && h.Score > hits[i-1].Score {
				t.Errorf("%s: hit %+v: parts sum to %g", fusion, h, sum)
			}
			if d := rankIn(dense, h.ID); h.Dense == nil || h.Dense.Rank != d || math.Abs(h.Dense.Score-float64(dense[d-1].Score)) > 1e-6 {
				t.Errorf("%s: %d: dense part %+v, dense rank %d", fusion, h.ID, h.Dense, d)
			}
			if b := rankIn(lex, h.ID); b == 0 && h.BM25 != nil || b != 0 && (h.BM25 == nil || h.BM25.Rank != b) {
				t.Errorf("%s: %d: bm25 part %+v, bm25 rank %d", fusion, h.ID, h.BM25, b)
			}
		}
		if fusion == FusionRRF && hits[0].ID != 0 {
			t.Errorf("rrf: %q first, want the cat on the mat", hits[0].Text)
		}
		// A filter applies to both lists.
		opts.Filter = []Condition{{"lang", "fr"}}
		hits, err = s.Search(ctx, q, opts)
		if err != nil || len(hits) != 2 {
			t.Fatalf("%s, lang=fr: %+v, %v", fusion, hits, err)
		}
		for _, h := range hits {
			if !strings.Contains(string(h.Metadata), `"lang":"fr"`) {
				t.Errorf("%s, lang=fr: %s", fusion, h.Metadata)
			}
		}
	}
	// Candidates limit each list (to no fewer than K).
	for _, c := range []struct{ k, candidates, depth int }{{2, 2, 2}, {3, 1, 3}, {1, 4, 4}} {
		hits, err := s.Search(ctx, q, SearchOptions{K: c.k, Mode: ModeHybrid, Candidates: c.candidates})
		if err != nil || len(hits) != c.k {
			t.Fatalf("k %d, %d candidates: %+v, %v", c.k, c.candidates, hits, err)
		}
		deepest := 0
		for _, h := range hits {
			for _, p := range []*ListScore{h.Dense, h.BM25} {
				if p != nil {
					deepest = max(deepest, p.Rank)
				}
			}
		}
		if deepest > c.depth {
			t.Errorf("k %d, %d candidates: a part of rank %d", c.k, c.candidates, deepest)
		}
	}
	// Deleted documents are found by neither list.
	if err := s.Delete(0); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{ModeBM25, ModeHybrid} {
		hits, err := s.Search(ctx, q, SearchOptions{K: 6, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.ID == 0 {
				t.Errorf("%s: the deleted document was found", mode)
			}
		}
	}
	var sb strings.Builder
	r, err := s.SearchMany(ctx, []string{q}, SearchOptions{K: 2, Mode: ModeHybrid})
	if err != nil {
		t.Fatal(err)
	}
	r.WriteText(&sb, []string{q}, s.Index().Metric())
	if !strings.Contains(sb.String(), " 1  rrf ") || !strings.Contains(sb.String(), "(dense #") {
		t.Errorf("hybrid text output:\n%s", sb.String())
	}
}
