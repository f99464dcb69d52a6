package search

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/heap"
)

// BM25 defaults, as Lucene's BM25Similarity and Elasticsearch.
const (
	DefaultK1 = 1.2
	DefaultB  = 0.75
)

// LexicalTokens returns the terms BM25 indexes and searches for in text:
// text lower-cased with strings.ToLower, split into maximal runs of
// letters and digits (unicode.IsLetter or unicode.IsDigit); everything else
// (spaces, punctuation, marks, symbols) separates terms. There is no
// stemming and no stop-word list: "Lord's" is "lord" and "s", "LORD" is
// "lord", "1:2" is "1" and "2", "café" is "café".
func LexicalTokens(text string) []string {
	var out []string
	eachToken(strings.ToLower(text), func(t string) { out = append(out, t) })
	return out
}

// eachToken calls fn with each maximal run of letters and digits of s.
func eachToken(s string, fn func(string)) {
	start := -1
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			fn(s[start:i])
			start = -1
		}
	}
	if start >= 0 {
		fn(s[start:])
	}
}

// lexicon is the in-memory inverted index of a store's document texts,
// built on the first lexical search: the live documents in slot order
// (row r is document ids[r]), their lengths in tokens, and for each term
// its postings (rows holding it and the term's count there), stored back
// to back.
type lexicon struct {
	ids   []uint64
	lens  []float64 // row → |d|
	total int64     // Σ |d|
	rel   []float64 // row → |d| / avgdl
	terms map[string]int32
	df    []int32 // term → number of documents holding it
	off   []int32 // term t's postings are rows[off[t]:off[t+1]]
	rows  []int32
	tf    []int32

	scratch sync.Pool                  // *bm25Scratch
	norm    atomic.Pointer[lengthNorm] // of the last k1, b and avgdl searched with
}

// lengthNorm holds k1·(1 − b + b·|d|/avgdl) for each row.
type lengthNorm struct {
	k1, b, avgdl float64
	norm         []float64
}

// lengthNorm returns the rows' k1·(1 − b + b·|d|/avgdl), computed once for
// the last k1, b and avgdl asked for; avgdl 0 means the lexicon's own.
func (lx *lexicon) lengthNorm(k1, b, avgdl float64) []float64 {
	if ln := lx.norm.Load(); ln != nil && ln.k1 == k1 && ln.b == b && ln.avgdl == avgdl {
		return ln.norm
	}
	ln := &lengthNorm{k1: k1, b: b, avgdl: avgdl, norm: make([]float64, len(lx.rel))}
	for r, rel := range lx.rel {
		if avgdl != 0 {
			rel = lx.lens[r] / avgdl
		}
		ln.norm[r] = k1 * (1 - b + b*rel)
	}
	lx.norm.Store(ln)
	return ln.norm
}

// LexicalStats are the collection statistics BM25 scores with: the number
// of searchable documents N, their total length Σ|d| in terms (avgdl =
// Terms/Docs), and the document frequency of terms. A Store's own are
// those of its documents; package shard sums its shards' (Add) and has
// every shard score with the sums (SearchOptions.Stats), so that BM25
// over the shards scores as one store of the whole collection would.
type LexicalStats struct {
	Docs  int64            `json:"docs"`
	Terms int64            `json:"terms"`
	DF    map[string]int64 `json:"df"`
}

// Add adds o's counts to st's (the statistics of the union of two
// disjoint sets of documents).
func (st *LexicalStats) Add(o LexicalStats) {
	st.Docs += o.Docs
	st.Terms += o.Terms
	if st.DF == nil {
		st.DF = map[string]int64{}
	}
	for t, n := range o.DF {
		st.DF[t] += n
	}
}

// avgdl returns Terms/Docs as the lexicon computes its own, or 0 when
// there are no terms.
func (st *LexicalStats) avgdl() float64 {
	if st.Terms == 0 || st.Docs == 0 {
		return 0
	}
	return float64(st.Terms) / float64(st.Docs)
}

// LexicalStats returns the store's BM25 statistics for the terms of the
// questions (LexicalTokens): its searchable documents, their total length,
// and how many hold each term (terms no document holds are left out).
func (s *Store) LexicalStats(questions []string) (LexicalStats, error) {
	st := LexicalStats{DF: map[string]int64{}}
	if s.x.Len() == 0 {
		return st, nil
	}
	lx, err := s.lexicon()
	if errors.Is(err, ErrNoText) {
		st.Docs = int64(s.x.Len())
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.Docs, st.Terms = int64(len(lx.ids)), lx.total
	for _, q := range questions {
		eachToken(strings.ToLower(q), func(t string) {
			if ti, ok := lx.terms[t]; ok {
				st.DF[t] = int64(lx.df[ti])
			}
		})
	}
	return st, nil
}

// bm25Scratch is one search's accumulator: acc[r] is row r's score so far
// (0 when untouched: every contribution is positive), touched the rows
// with a score.
type bm25Scratch struct {
	acc     []float64
	touched []int32
	top     heap.Min[float64, int32]
}

// buildLexicon tokenises the text of every searchable document of x. A
// document without a "text" metadata field has no terms (and length 0).
func buildLexicon(x *index.Index) *lexicon {
	ids := x.IDs()
	lx := &lexicon{ids: ids, rel: make([]float64, len(ids)), terms: map[string]int32{}}
	type posting struct{ row, tf int32 }
	var lists [][]posting
	count := map[int32]int32{}
	var order []int32
	var total int64
	for r, id := range ids {
		clear(count)
		order = order[:0]
		n := 0
		eachToken(strings.ToLower(x.Text(id)), func(t string) {
			n++
			ti, ok := lx.terms[t]
			if !ok {
				ti = int32(len(lists))
				lx.terms[strings.Clone(t)] = ti
				lists = append(lists, nil)
			}
			if count[ti] == 0 {
				order = append(order, ti)
			}
			count[ti]++
		})
		for _, ti := range order {
			lists[ti] = append(lists[ti], posting{int32(r), count[ti]})
		}
		lx.rel[r] = float64(n)
		total += int64(n)
	}
	lx.lens, lx.total = slices.Clone(lx.rel), total
	if total > 0 {
		avgdl := float64(total) / float64(len(ids))
		for r := range lx.rel {
			lx.rel[r] /= avgdl
		}
	}
	lx.df = make([]int32, len(lists))
	lx.off = make([]int32, len(lists)+1)
	n := 0
	for t, l := range lists {
		lx.df[t] = int32(len(l))
		n += len(l)
		lx.off[t+1] = int32(n)
	}
	lx.rows, lx.tf = make([]int32, 0, n), make([]int32, 0, n)
	for _, l := range lists {
		for _, p := range l {
			lx.rows, lx.tf = append(lx.rows, p.row), append(lx.tf, p.tf)
		}
	}
	lx.scratch.New = func() any { return &bm25Scratch{acc: make([]float64, len(ids))} }
	return lx
}

// idf is Lucene's BM25 idf, ln(1 + (N − df + 0.5)/(df + 0.5)), positive
// for every df ≤ N.
func idf(n, df int) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// lexHit is a document BM25 found: its row and score.
type lexHit struct {
	row   int32
	score float64
}

// search returns the k highest BM25 scores for question with parameters
// k1 and b among the rows that match (all when nil), highest first, ties
// by smaller vector id; documents holding no query term are not returned.
func (lx *lexicon) search(question string, k int, k1, b float64, match func(row int32) bool, stats *LexicalStats) []lexHit {
	// Query terms with their multiplicity, in order of first appearance.
	var qterms []int32
	var qtf []float64
	var qdf []int
	eachToken(strings.ToLower(question), func(t string) {
		ti, ok := lx.terms[t]
		if !ok {
			return
		}
		if i := slices.Index(qterms, ti); i >= 0 {
			qtf[i]++
			return
		}
		df := int(lx.df[ti])
		if stats != nil {
			df = int(stats.DF[t])
		}
		qterms, qtf, qdf = append(qterms, ti), append(qtf, 1), append(qdf, df)
	})
	if len(qterms) == 0 {
		return nil
	}
	s := lx.scratch.Get().(*bm25Scratch)
	defer lx.scratch.Put(s)
	n, avgdl := len(lx.ids), 0.0
	if stats != nil {
		n, avgdl = int(stats.Docs), stats.avgdl()
	}
	acc, norm := s.acc, lx.lengthNorm(k1, b, avgdl)
	for i, t := range qterms {
		w := qtf[i] * idf(n, qdf[i]) * (k1 + 1)
		lo, hi := lx.off[t], lx.off[t+1]
		rows, tfs := lx.rows[lo:hi], lx.tf[lo:hi:hi]
		if i == 0 { // nothing touched yet
			s.touched = append(s.touched, rows...)
			for j, r := range rows {
				f := float64(tfs[j])
				acc[r] = w * f / (f + norm[r])
			}
			continue
		}
		for j, r := range rows {
			f := float64(tfs[j])
			if acc[r] == 0 {
				s.touched = append(s.touched, r)
			}
			acc[r] += w * f / (f + norm[r])
		}
	}
	// The k best that match, then every match tied with the k-th, so that
	// ties break by id whatever order the heap kept them in.
	top := s.top[:0]
	for _, r := range s.touched {
		if sc := acc[r]; (len(top) < k || sc > top[0].Key) && (match == nil || match(r)) {
			top.Keep(heap.Item[float64, int32]{Key: sc, Value: r}, k)
		}
	}
	var out []lexHit
	if len(top) < k {
		// The heap never filled: it holds every match.
		for _, it := range top {
			out = append(out, lexHit{it.Value, it.Key})
		}
	} else {
		t := top[0].Key
		for _, r := range s.touched {
			if sc := acc[r]; sc >= t && (match == nil || match(r)) {
				out = append(out, lexHit{r, sc})
			}
		}
	}
	slices.SortFunc(out, func(a, b lexHit) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return cmpID(lx.ids[a.row], lx.ids[b.row])
	})
	if len(out) > k {
		out = out[:k]
	}
	for _, r := range s.touched {
		acc[r] = 0
	}
	s.touched, s.top = s.touched[:0], top[:0]
	return out
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lexicon returns the store's inverted index, building it on first use.
func (s *Store) lexicon() (*lexicon, error) {
	s.lexMu.Lock()
	defer s.lexMu.Unlock()
	if s.lex == nil {
		lx := buildLexicon(s.x)
		if len(lx.rows) == 0 {
			return nil, fmt.Errorf("search: index %s: %w", s.dir, ErrNoText)
		}
		s.lex = lx
	}
	return s.lex, nil
}

// dropLexicon forgets the inverted index (Add and Delete change the
// documents).
func (s *Store) dropLexicon() {
	s.lexMu.Lock()
	s.lex = nil
	s.lexMu.Unlock()
}

// searchLexical ranks the documents by BM25 for each question into k hits
// each, over threads goroutines.
func (s *Store) searchLexical(questions []string, k int, opts SearchOptions) ([][]lexHit, *lexicon, error) {
	lx, err := s.lexicon()
	if err != nil {
		return nil, nil, err
	}
	var match func(int32) bool
	if f := s.filter(opts.Filter); f != nil {
		match = func(r int32) bool { return f.Match(lx.ids[r], nil) }
	}
	k1, b := opts.k1(), opts.b()
	out := make([][]lexHit, len(questions))
	threads := opts.Threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, len(questions))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(questions) {
					return
				}
				out[i] = lx.search(questions[i], k, k1, b, match, opts.Stats)
			}
		})
	}
	wg.Wait()
	return out, lx, nil
}
