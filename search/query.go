package search

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
)

// SearchOptions control Search. Start from DefaultSearchOptions: K must
// be at least 1 (a zero K is an error, not a default). The other zero
// values are the defaults: dense search, and for the lexical and hybrid
// modes BM25's K1 = DefaultK1 and B = DefaultB, reciprocal-rank fusion
// with RRFK = DefaultRRFK, Alpha = DefaultAlpha and max(K,
// DefaultCandidates) candidates from each list.
type SearchOptions struct {
	// K is the number of results (DefaultSearchOptions: DefaultK). A K
	// larger than the store returns every document.
	K int
	// Ef is HNSW's candidate list size (0: the index default; max(Ef, K)
	// is used, max(Ef, Candidates) in hybrid mode).
	Ef int
	// Filter keeps documents meeting every condition, in every mode.
	Filter []Condition
	// Threads searches several questions in parallel (0: all cores).
	Threads int

	// Mode is how documents are ranked: ModeDense ("" too), ModeBM25 or
	// ModeHybrid (see the package documentation).
	Mode Mode
	// K1 and B are BM25's term-frequency saturation (≥ 0) and length
	// normalisation (0 to 1); nil means DefaultK1 and DefaultB. Only the
	// bm25 and hybrid modes take them. new(0.0) for B turns length
	// normalisation off.
	K1, B *float64
	// Fusion is how hybrid mode merges the dense and BM25 lists: FusionRRF
	// ("" too) or FusionWeighted. Only hybrid mode takes it.
	Fusion Fusion
	// Alpha is the weight of the dense list in weighted fusion (0 to 1;
	// BM25's is 1 − Alpha); nil means DefaultAlpha.
	Alpha *float64
	// RRFK is the rank constant of reciprocal-rank fusion (0: DefaultRRFK).
	RRFK int
	// Candidates is how many results hybrid mode takes from each list
	// before fusing (0: max(K, DefaultCandidates); at least K is used).
	Candidates int
	// Stats, if set, are the BM25 statistics to score with instead of the
	// store's own (bm25 and hybrid modes): package shard gives every shard
	// the sums of all shards' statistics, so that they score as one store.
	Stats *LexicalStats
}

// Mode is a way of ranking documents: SearchOptions.Mode.
type Mode string

// Modes.
const (
	// ModeDense ranks by the vector index: the question is embedded and
	// the nearest documents are found (the default).
	ModeDense Mode = "dense"
	// ModeBM25 ranks by Okapi BM25 over the documents' texts; the
	// embedding model is not loaded.
	ModeBM25 Mode = "bm25"
	// ModeHybrid fuses a dense and a BM25 ranking.
	ModeHybrid Mode = "hybrid"
)

// Fusion is how hybrid search merges its two rankings:
// SearchOptions.Fusion.
type Fusion string

// Fusions.
const (
	// FusionRRF is reciprocal-rank fusion: Σ 1/(RRFK + rank) over the
	// lists (the default).
	FusionRRF Fusion = "rrf"
	// FusionWeighted is relative-score fusion: Alpha·dense + (1 −
	// Alpha)·bm25, each list's scores min–max normalised.
	FusionWeighted Fusion = "weighted"
)

// DefaultSearchOptions asks for DefaultK results with the index's
// defaults, no filter, on all cores.
func DefaultSearchOptions() SearchOptions { return SearchOptions{K: DefaultK} }

func (o SearchOptions) mode() Mode {
	if o.Mode == "" {
		return ModeDense
	}
	return o.Mode
}

func (o SearchOptions) fusion() Fusion {
	if o.Fusion == "" {
		return FusionRRF
	}
	return o.Fusion
}

func orDefault(p *float64, d float64) float64 {
	if p == nil {
		return d
	}
	return *p
}

func (o SearchOptions) k1() float64    { return orDefault(o.K1, DefaultK1) }
func (o SearchOptions) b() float64     { return orDefault(o.B, DefaultB) }
func (o SearchOptions) alpha() float64 { return orDefault(o.Alpha, DefaultAlpha) }

func (o SearchOptions) rrfK() int {
	if o.RRFK == 0 {
		return DefaultRRFK
	}
	return o.RRFK
}

// candidates returns how many results hybrid search takes from each list.
func (o SearchOptions) candidates() int {
	if o.Candidates == 0 {
		return max(o.K, DefaultCandidates)
	}
	return max(o.K, o.Candidates)
}

// Validate checks the options, returning an *OptionError for the first
// value out of range, or for an option the mode does not take (K1 in
// dense mode, Alpha with RRF, ...).
func (o SearchOptions) Validate() error {
	switch {
	case o.K < 1:
		return &OptionError{Field: "K", Value: o.K, Allowed: "a positive number"}
	case o.Ef < 0:
		return &OptionError{Field: "Ef", Value: o.Ef, Allowed: "0 or more (0: the index default)"}
	case o.Threads < 0:
		return &OptionError{Field: "Threads", Value: o.Threads, Allowed: "0 or more (0: all cores)"}
	}
	for _, c := range o.Filter {
		if c.Key == "" {
			return &OptionError{Field: "Filter", Value: fmt.Sprintf("%q", c.String()), Allowed: "key=value"}
		}
	}
	mode, fusion := o.mode(), o.fusion()
	lexical, hybrid := mode == ModeBM25 || mode == ModeHybrid, mode == ModeHybrid
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	only := func(field string, v any, modes string) error {
		return &OptionError{Field: field, Value: v, Allowed: "no value in " + string(mode) + " mode (it is " + modes + ")"}
	}
	switch {
	case mode != ModeDense && mode != ModeBM25 && mode != ModeHybrid:
		return &OptionError{Field: "Mode", Value: fmt.Sprintf("%q", o.Mode), Allowed: "dense, bm25 or hybrid"}
	case o.K1 != nil && !lexical:
		return only("K1", *o.K1, "for the bm25 and hybrid modes")
	case o.B != nil && !lexical:
		return only("B", *o.B, "for the bm25 and hybrid modes")
	case o.K1 != nil && !(finite(*o.K1) && *o.K1 >= 0):
		return &OptionError{Field: "K1", Value: *o.K1, Allowed: fmt.Sprintf("a number ≥ 0 (default %g)", DefaultK1)}
	case o.B != nil && !(*o.B >= 0 && *o.B <= 1):
		return &OptionError{Field: "B", Value: *o.B, Allowed: fmt.Sprintf("a number from 0 to 1 (default %g)", DefaultB)}
	case fusion != FusionRRF && fusion != FusionWeighted:
		return &OptionError{Field: "Fusion", Value: fmt.Sprintf("%q", o.Fusion), Allowed: "rrf or weighted"}
	case o.Fusion != "" && !hybrid:
		return only("Fusion", o.Fusion, "for hybrid mode")
	case o.Alpha != nil && !(hybrid && fusion == FusionWeighted):
		return only("Alpha", *o.Alpha, "for hybrid mode with weighted fusion")
	case o.Alpha != nil && !(*o.Alpha >= 0 && *o.Alpha <= 1):
		return &OptionError{Field: "Alpha", Value: *o.Alpha, Allowed: fmt.Sprintf("a number from 0 to 1 (default %g)", DefaultAlpha)}
	case o.RRFK < 0:
		return &OptionError{Field: "RRFK", Value: o.RRFK, Allowed: fmt.Sprintf("1 or more (0: %d)", DefaultRRFK)}
	case o.RRFK != 0 && !(hybrid && fusion == FusionRRF):
		return only("RRFK", o.RRFK, "for hybrid mode with rrf fusion")
	case o.Candidates < 0:
		return &OptionError{Field: "Candidates", Value: o.Candidates, Allowed: fmt.Sprintf("0 or more (0: max(K, %d))", DefaultCandidates)}
	case o.Candidates != 0 && !hybrid:
		return only("Candidates", o.Candidates, "for hybrid mode")
	case o.Stats != nil && !lexical:
		return only("Stats", "given", "for the bm25 and hybrid modes")
	case o.Stats != nil && (o.Stats.Docs < 0 || o.Stats.Terms < 0):
		return &OptionError{Field: "Stats", Value: fmt.Sprintf("%d documents, %d terms", o.Stats.Docs, o.Stats.Terms), Allowed: "counts ≥ 0"}
	}
	return nil
}

// Hit is one document found.
type Hit struct {
	Rank int    `json:"rank"` // from 1
	ID   uint64 `json:"id"`
	// Score ranks the hits: in dense mode the Score of the distance, in
	// bm25 mode the BM25 score, in hybrid mode the fused score.
	Score float32 `json:"score"`
	// Distance is the index's distance in dense mode, 0 in the bm25 and
	// hybrid modes (see Dense).
	Distance float32         `json:"distance"`
	Text     string          `json:"text,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Dense and BM25 say, in hybrid mode, where the document stood in
	// each list fused and what each added to Score; nil when the
	// document was not among that list's candidates (it adds 0), and in
	// the other modes.
	Dense *ListScore `json:"dense,omitempty"`
	BM25  *ListScore `json:"bm25,omitempty"`

	exact float64 // bm25 mode: Score before rounding to float32
}

// ExactScore returns a bm25 hit's score in full (float64) precision, as
// the ranking and hybrid fusion use it, or Score for other hits.
func (h *Hit) ExactScore() float64 {
	if h.exact != 0 {
		return h.exact
	}
	return float64(h.Score)
}

// SetExactScore records a bm25 hit's full-precision score (JSON carries
// only the float32 Score): package shard sends it beside the hits so that
// merging and fusion rank as one machine does.
func (h *Hit) SetExactScore(v float64) { h.exact = v }

// Score maps a distance under metric to the score Hit reports: the cosine
// similarity or the dot product (1 − distance) for cosine and dot, the
// squared L2 distance itself for l2.
func Score(metric index.Metric, distance float32) float32 {
	switch metric {
	case index.Cosine, index.Dot:
		return 1 - distance
	}
	return distance
}

// Result holds the hits of each question, how they were ranked and the
// time taken. SearchSeconds covers the index and BM25 searches and the
// fusion; EmbedSeconds is 0 in bm25 mode.
type Result struct {
	Hits                        [][]Hit
	Mode                        Mode
	Fusion                      Fusion // in hybrid mode
	EmbedSeconds, SearchSeconds float64
}

// Search ranks the documents for question (see SearchOptions.Mode) and
// returns the best, best first.
func (s *Store) Search(ctx context.Context, question string, opts SearchOptions) ([]Hit, error) {
	r, err := s.SearchMany(ctx, []string{question}, opts)
	if err != nil {
		return nil, err
	}
	return r.Hits[0], nil
}

// SearchMany searches each of the questions. With a filter, or in bm25
// mode (a document must hold a query term), a question may get fewer than
// K hits, or none. Only the dense and hybrid modes load the embedding
// model; the BM25 index is built on the first bm25 or hybrid search and
// kept until Add or Delete change the store.
func (s *Store) SearchMany(ctx context.Context, questions []string, opts SearchOptions) (*Result, error) {
	return s.searchMany(ctx, questions, nil, opts)
}

// SearchEmbedded is SearchMany with the questions already embedded (by the
// store's model, as a gateway of package shard does once for every shard):
// vectors[i] is questions[i]'s embedding, and the embedding model is never
// loaded. The bm25 mode reads only the questions (vectors may be nil); the
// dense mode only the vectors (questions may be empty strings, one per
// vector).
func (s *Store) SearchEmbedded(ctx context.Context, questions []string, vectors [][]float32, opts SearchOptions) (*Result, error) {
	if opts.mode() != ModeBM25 && len(vectors) != len(questions) {
		return nil, fmt.Errorf("search: %d question vectors for %d questions", len(vectors), len(questions))
	}
	for i, v := range vectors {
		if len(v) != s.x.Dim() {
			return nil, fmt.Errorf("search: question vector %d has %d values, the index %d: %w", i, len(v), s.x.Dim(), index.ErrDim)
		}
	}
	if vectors == nil {
		vectors = [][]float32{}
	}
	return s.searchMany(ctx, questions, vectors, opts)
}

// searchMany is SearchMany, with the questions' vectors when given (not
// nil).
func (s *Store) searchMany(ctx context.Context, questions []string, vectors [][]float32, opts SearchOptions) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := embed.CheckUTF8(questions); err != nil {
		return nil, err
	}
	if s.x.Len() == 0 {
		return nil, fmt.Errorf("search: index %s: %w", s.dir, index.ErrEmpty)
	}
	mode := opts.mode()
	res := &Result{Mode: mode}
	k := min(opts.K, s.x.Len())
	switch mode {
	case ModeBM25:
		start := time.Now()
		found, lx, err := s.searchLexical(questions, k, opts)
		if err != nil {
			return nil, err
		}
		res.SearchSeconds = time.Since(start).Seconds()
		res.Hits = make([][]Hit, len(found))
		for qi, hs := range found {
			hits := make([]Hit, len(hs))
			for i, h := range hs {
				hits[i] = s.hit(i+1, lx.ids[h.row])
				hits[i].Score, hits[i].exact = float32(h.score), h.score
			}
			res.Hits[qi] = hits
		}
		return res, nil
	case ModeHybrid:
		res.Fusion = opts.fusion()
		return res, s.searchHybrid(ctx, questions, vectors, opts, res)
	}
	qs, err := s.embed(ctx, questions, vectors, res)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	found, err := s.searchDense(qs, k, opts)
	if err != nil {
		return nil, err
	}
	res.SearchSeconds = time.Since(start).Seconds()
	res.Hits = make([][]Hit, len(found))
	metric := s.x.Metric()
	for qi, rs := range found {
		hits := make([]Hit, len(rs))
		for i, r := range rs {
			hits[i] = s.hit(i+1, r.ID)
			hits[i].Score, hits[i].Distance = Score(metric, r.Distance), r.Distance
		}
		res.Hits[qi] = hits
	}
	return res, nil
}

// embed embeds the questions with the store's model, timing it in res,
// or returns vectors when they are given (not nil).
func (s *Store) embed(ctx context.Context, questions []string, vectors [][]float32, res *Result) ([][]float32, error) {
	if vectors != nil {
		return vectors, nil
	}
	m, err := s.model(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	qs, err := m.Embed(questions)
	res.EmbedSeconds = time.Since(start).Seconds()
	return qs, err
}

// searchDense searches the index for the k nearest documents of each
// embedded question.
func (s *Store) searchDense(qs [][]float32, k int, opts SearchOptions) ([][]index.Result, error) {
	so := &index.SearchOptions{Ef: opts.Ef, Threads: opts.Threads}
	if f := s.filter(opts.Filter); f != nil {
		so.Filter = f.Match
	}
	flat := make([]float32, 0, len(qs)*s.x.Dim())
	for _, q := range qs {
		flat = append(flat, q...)
	}
	// A flat index is asked for one more than k: when the (k+1)-th ties
	// with the k-th, which of the tied documents make the top k is decided
	// below by id, not by where they sit in the index.
	ask := k
	exact := s.x.Kind() == index.Flat
	if exact {
		ask = min(k+1, s.x.Len())
	}
	found, err := s.x.SearchBatch(flat, len(qs), ask, so)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	for i, rs := range found {
		n, q := ask, flat[i*s.x.Dim():(i+1)*s.x.Dim()]
		for exact && len(rs) == n && n < s.x.Len() && len(rs) > k && rs[len(rs)-1].Distance == rs[k-1].Distance {
			// Ties run past the k-th: ask for more until they end.
			n = min(2*n, s.x.Len())
			if rs, err = s.x.Search(q, n, so); err != nil {
				return nil, fmt.Errorf("search: %w", err)
			}
		}
		found[i] = CanonicalOrder(rs, k)
	}
	return found, nil
}

// CanonicalOrder sorts results nearest first, equal distances by smaller
// id, and keeps the first k: the order dense search gives, on one machine
// or merged from the shards of package shard.
func CanonicalOrder(rs []index.Result, k int) []index.Result {
	slices.SortStableFunc(rs, func(a, b index.Result) int {
		switch {
		case a.Distance < b.Distance:
			return -1
		case a.Distance > b.Distance:
			return 1
		}
		return cmpID(a.ID, b.ID)
	})
	return rs[:min(k, len(rs))]
}

// searchHybrid takes opts.candidates() results from the dense and the BM25
// rankings of each question and fuses them into res.
func (s *Store) searchHybrid(ctx context.Context, questions []string, vectors [][]float32, opts SearchOptions, res *Result) error {
	c := min(opts.candidates(), s.x.Len())
	start := time.Now()
	lexical, lx, err := s.searchLexical(questions, c, opts)
	if err != nil {
		return err
	}
	lexSeconds := time.Since(start).Seconds()
	qs, err := s.embed(ctx, questions, vectors, res)
	if err != nil {
		return err
	}
	start = time.Now()
	dense, err := s.searchDense(qs, c, opts)
	if err != nil {
		return err
	}
	metric := s.x.Metric()
	k := min(opts.K, s.x.Len())
	res.Hits = make([][]Hit, len(questions))
	for qi := range questions {
		var lists [2][]candidate
		for _, r := range dense[qi] {
			// −distance orders every metric best first; min–max
			// normalisation does not see the offset of 1 − distance.
			lists[0] = append(lists[0], candidate{id: r.ID, score: -float64(r.Distance), shown: float64(Score(metric, r.Distance))})
		}
		for _, h := range lexical[qi] {
			lists[1] = append(lists[1], candidate{id: lx.ids[h.row], score: h.score, shown: h.score})
		}
		var fused []fusedHit
		if res.Fusion == FusionWeighted {
			a := opts.alpha()
			fused = fuseWeighted(lists, [2]float64{a, 1 - a})
		} else {
			fused = fuseRRF(lists, opts.rrfK())
		}
		fused = fused[:min(k, len(fused))]
		hits := make([]Hit, len(fused))
		for i, f := range fused {
			hits[i] = s.hit(i+1, f.id)
			hits[i].Score, hits[i].Dense, hits[i].BM25 = float32(f.score), f.parts[0], f.parts[1]
		}
		res.Hits[qi] = hits
	}
	res.SearchSeconds = lexSeconds + time.Since(start).Seconds()
	return nil
}

// hit returns the hit of rank for document id, with its text and
// metadata.
func (s *Store) hit(rank int, id uint64) Hit {
	meta, _ := s.x.Metadata(id)
	var doc struct {
		Text string `json:"text"`
	}
	if meta != nil {
		json.Unmarshal(meta, &doc)
	}
	return Hit{Rank: rank, ID: id, Text: doc.Text, Metadata: meta}
}
