package index

import (
	"fmt"
	"runtime"
)

// Options configure a new index. Every field means what it says, zero
// included: start from DefaultOptions (hnswlib's and Annoy's defaults) and
// set Dim and what you need. New rejects a value that means nothing (M = 0,
// say) with an *OptionError instead of replacing it. The two "unset"
// values are Threads = 0 (GOMAXPROCS) and Seed = 0 (100).
type Options struct {
	Kind   Kind   // search structure (DefaultOptions: HNSW)
	Metric Metric // distance (DefaultOptions: Cosine)
	Dim    int    // vector dimension, required

	// HNSW, with hnswlib's names and defaults. They are checked whatever
	// the Kind, so one set of options can build every kind.
	M              int   // links per node on upper layers, 2..2048 (16); layer 0 keeps up to maxM0 = 2·M
	EfConstruction int   // candidate list size while inserting, > 0 (200); raised to M if smaller
	Ef             int   // default candidate list size while searching, > 0 (10); max(ef, k) is used
	Seed           int64 // seed of the level generator and forest planes (0: 100, hnswlib's random_seed)

	// Forest (Annoy-style).
	NTrees   int // number of trees, 1..10000 (10)
	LeafSize int // most items in a leaf after a bulk build, > 0 (64); leaves split past twice that on add

	// AllowReplaceDeleted lets Add put new ids into the slots of deleted
	// ones (hnswlib's allow_replace_deleted) instead of growing the index.
	AllowReplaceDeleted bool

	// Threads used by Add (0: GOMAXPROCS). Searches take their own.
	Threads int

	// Model records the embedding model the vectors came from (a hub id or
	// directory), for loupe search. Free text; may be empty.
	Model string
}

// DefaultOptions returns the defaults of hnswlib (HNSW, M 16,
// ef_construction 200, ef 10, seed 100) and Annoy (10 trees, leaves of
// 64) under the cosine distance. Dim is left 0: set it.
func DefaultOptions() Options {
	return Options{Kind: HNSW, Metric: Cosine, M: 16, EfConstruction: 200, Ef: 10, Seed: 100, NTrees: 10, LeafSize: 64}
}

// OptionError reports an option whose value means nothing: the field (as
// named in the Go struct: "M", "EfConstruction"), the value given and what
// is allowed. Surfaces map Field to their own flag or JSON names.
type OptionError struct {
	Field   string
	Value   any
	Allowed string

	unknown bool // a name (kind, metric) that is not known
}

func (e *OptionError) Error() string {
	if e.unknown {
		return fmt.Sprintf("index: unknown %s %v: want %s", lowerFirst(e.Field), e.Value, e.Allowed)
	}
	return fmt.Sprintf("index: %s %v: want %s", e.Field, e.Value, e.Allowed)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// positive is what a count that must be at least 1 allows.
const positive = "a positive number"

// Validate checks o as New does, except that Dim 0 is allowed (for a
// caller that learns the dimension later, as search.New does from its
// model). It returns an *OptionError for the first value out of range.
func (o Options) Validate() error {
	o.Dim = max(o.Dim, 1)
	return o.check()
}

// check validates o (the only place that does), normalising the metric's
// spelling and resolving Threads = 0 and Seed = 0.
func (o *Options) check() error {
	if _, err := ParseKind(string(o.Kind)); err != nil {
		return err
	}
	m, err := ParseMetric(string(o.Metric))
	if err != nil {
		return err
	}
	o.Metric = m
	bad := func(field string, v any, allowed string) error {
		return &OptionError{Field: field, Value: v, Allowed: allowed}
	}
	switch {
	case o.Dim <= 0:
		return bad("Dim", o.Dim, "a positive vector dimension")
	case o.M < 2 || o.M > 2048:
		return bad("M", o.M, positive+" from 2 to 2048")
	case o.EfConstruction < 1:
		return bad("EfConstruction", o.EfConstruction, positive)
	case o.Ef < 1:
		return bad("Ef", o.Ef, positive)
	case o.NTrees < 1 || o.NTrees > 10000:
		return bad("NTrees", o.NTrees, positive+" up to 10000")
	case o.LeafSize < 1:
		return bad("LeafSize", o.LeafSize, positive)
	}
	if err := checkThreads(o.Threads); err != nil {
		return err
	}
	o.EfConstruction = max(o.EfConstruction, o.M)
	if o.Seed == 0 {
		o.Seed = 100
	}
	if o.Threads == 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	return nil
}

// checkThreads checks a thread count, 0 meaning GOMAXPROCS.
func checkThreads(n int) error {
	if n < 0 {
		return &OptionError{Field: "Threads", Value: n, Allowed: "0 or more (0: all cores)"}
	}
	return nil
}
