package search

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
)

// SearchOptions control Search. Start from DefaultSearchOptions: K must
// be at least 1 (a zero K is an error, not a default).
type SearchOptions struct {
	// K is the number of results (DefaultSearchOptions: DefaultK). A K
	// larger than the store returns every document.
	K int
	// Ef is HNSW's candidate list size (0: the index default; max(Ef, K)
	// is used).
	Ef int
	// Filter keeps documents meeting every condition.
	Filter []Condition
	// Threads searches several questions in parallel (0: all cores).
	Threads int
}

// DefaultSearchOptions asks for DefaultK results with the index's
// defaults, no filter, on all cores.
func DefaultSearchOptions() SearchOptions { return SearchOptions{K: DefaultK} }

// Validate checks the options, returning an *OptionError for the first
// value out of range.
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
	return nil
}

// Hit is one document found.
type Hit struct {
	Rank     int             `json:"rank"` // from 1
	ID       uint64          `json:"id"`
	Score    float32         `json:"score"`
	Distance float32         `json:"distance"`
	Text     string          `json:"text,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

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

// Result holds the hits of each question and the time taken.
type Result struct {
	Hits                        [][]Hit
	EmbedSeconds, SearchSeconds float64
}

// Search embeds question and returns the nearest documents, nearest first.
func (s *Store) Search(ctx context.Context, question string, opts SearchOptions) ([]Hit, error) {
	r, err := s.SearchMany(ctx, []string{question}, opts)
	if err != nil {
		return nil, err
	}
	return r.Hits[0], nil
}

// SearchMany embeds the questions and searches each. With a filter a
// question may get fewer than K hits, or none.
func (s *Store) SearchMany(ctx context.Context, questions []string, opts SearchOptions) (*Result, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if err := embed.CheckUTF8(questions); err != nil {
		return nil, err
	}
	if s.x.Len() == 0 {
		return nil, fmt.Errorf("search: index %s: %w", s.dir, index.ErrEmpty)
	}
	m, err := s.model(ctx)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	qs, err := m.Embed(questions)
	if err != nil {
		return nil, err
	}
	res := &Result{EmbedSeconds: time.Since(start).Seconds()}
	return res, s.searchVectors(qs, opts, res)
}

// searchVectors searches the embedded questions qs into res.
func (s *Store) searchVectors(qs [][]float32, opts SearchOptions, res *Result) error {
	k := min(opts.K, s.x.Len())
	so := &index.SearchOptions{Ef: opts.Ef, Threads: opts.Threads}
	if f := s.filter(opts.Filter); f != nil {
		so.Filter = f.Match
	}
	flat := make([]float32, 0, len(qs)*s.x.Dim())
	for _, q := range qs {
		flat = append(flat, q...)
	}
	start := time.Now()
	found, err := s.x.SearchBatch(flat, len(qs), k, so)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	res.SearchSeconds = time.Since(start).Seconds()
	res.Hits = make([][]Hit, len(found))
	metric := s.x.Metric()
	for qi, rs := range found {
		hits := make([]Hit, len(rs))
		for i, r := range rs {
			meta, _ := s.x.Metadata(r.ID)
			hits[i] = Hit{Rank: i + 1, ID: r.ID, Score: Score(metric, r.Distance), Distance: r.Distance, Text: s.x.Text(r.ID), Metadata: meta}
		}
		res.Hits[qi] = hits
	}
	return nil
}
