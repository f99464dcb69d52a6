package search

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/loupe-ml/loupe/index"
)

// Condition keeps documents whose metadata field Key equals Value (see the
// package documentation for how values compare).
type Condition struct {
	Key, Value string
}

func (c Condition) String() string { return c.Key + "=" + c.Value }

// ParseCondition parses "key=value" (the key non-empty; the value may be
// empty and may hold '='). Errors are *OptionError with Field "Filter".
func ParseCondition(s string) (Condition, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return Condition{}, &OptionError{Field: "Filter", Value: fmt.Sprintf("%q", s), Allowed: "key=value"}
	}
	return Condition{Key: k, Value: v}, nil
}

// ParseConditions parses each of conds with ParseCondition.
func ParseConditions(conds []string) ([]Condition, error) {
	out := make([]Condition, 0, len(conds))
	for _, s := range conds {
		c, err := ParseCondition(s)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// columns are the top-level metadata fields of an index's documents,
// each document decoded once, on the first visit a filter makes to it: per
// field, a dictionary of its values (as compared by conditions) and each
// document's value code. Later visits compare small integers.
type columns struct {
	x     *index.Index
	dense []int32          // id → row, -1 for none, when the ids are small
	rowOf map[uint64]int32 // id → row otherwise
	ids   []uint64         // row → id
	done  []uint32         // row → 1 once decoded (atomic)

	mu   sync.Mutex // guards decoding and the maps below
	keys map[string]*column
}

// column is one metadata field: codes[row] is the code of the row's value
// in dict, 0 when the row lacks the field (or is not decoded yet).
type column struct {
	codes []uint32
	dict  map[string]uint32
}

// canonical is a decoded metadata value as conditions compare it: a
// string as is, anything else as its JSON text.
func canonical(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// newColumns maps the ids of x's searchable documents to rows; nothing is
// decoded yet.
func newColumns(x *index.Index) *columns {
	ids := x.IDs()
	c := &columns{x: x, ids: ids, done: make([]uint32, len(ids)), keys: map[string]*column{}}
	var maxID uint64
	for _, id := range ids {
		maxID = max(maxID, id)
	}
	if len(ids) > 0 && maxID < uint64(2*len(ids)+1024) {
		c.dense = make([]int32, maxID+1)
		for i := range c.dense {
			c.dense[i] = -1
		}
		for row, id := range ids {
			c.dense[id] = int32(row)
		}
	} else {
		c.rowOf = make(map[uint64]int32, len(ids))
		for row, id := range ids {
			c.rowOf[id] = int32(row)
		}
	}
	return c
}

// row returns the row of id, or -1.
func (c *columns) row(id uint64) int32 {
	if c.dense != nil {
		if id < uint64(len(c.dense)) {
			return c.dense[id]
		}
		return -1
	}
	if r, ok := c.rowOf[id]; ok {
		return r
	}
	return -1
}

// column returns the column of key, creating it; c.mu must be held.
func (c *columns) column(key string) *column {
	col := c.keys[key]
	if col == nil {
		col = &column{codes: make([]uint32, len(c.ids)), dict: map[string]uint32{}}
		c.keys[key] = col
	}
	return col
}

// code returns the code of value in col, assigning one; c.mu must be held.
func (col *column) code(value string) uint32 {
	code, ok := col.dict[value]
	if !ok {
		code = uint32(len(col.dict) + 1)
		col.dict[value] = code
	}
	return code
}

// decode fills row r's codes from its metadata meta (read from the index
// if nil) unless another visit did.
func (c *columns) decode(r int32, meta json.RawMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done[r] != 0 {
		return
	}
	if meta == nil {
		meta, _ = c.x.Metadata(c.ids[r])
	}
	var m map[string]any
	if meta != nil && json.Unmarshal(meta, &m) == nil {
		for k, v := range m {
			col := c.column(k)
			col.codes[r] = col.code(canonical(v))
		}
	}
	// The codes written above happen before this store, and a reader
	// that sees it (Match) reads them after.
	atomic.StoreUint32(&c.done[r], 1)
}

// Filter is a compiled set of conditions over an index's metadata.
type Filter struct {
	cols  *columns
	conds []compiled
}

type compiled struct {
	codes []uint32
	code  uint32
}

// compile resolves conds against c.
func (c *columns) compile(conds []Condition) *Filter {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := &Filter{cols: c}
	for _, cd := range conds {
		col := c.column(cd.Key)
		f.conds = append(f.conds, compiled{col.codes, col.code(cd.Value)})
	}
	return f
}

// CompileFilter compiles conds over the metadata of x's searchable
// documents. Use Match as index.SearchOptions.Filter: each document's
// metadata is decoded once, on its first visit, and every later visit (in
// this or later searches with filters compiled by the same call) compares
// integers. Documents added to x after the call never match.
func CompileFilter(x *index.Index, conds []Condition) *Filter {
	return newColumns(x).compile(conds)
}

// Match reports whether the document with vector id id meets every
// condition. Its signature is that of index.SearchOptions.Filter; meta is
// the document's stored metadata, decoded on its first visit (read from the
// index when nil). It is safe for concurrent use.
func (f *Filter) Match(id uint64, meta json.RawMessage) bool {
	c := f.cols
	r := c.row(id)
	if r < 0 {
		return false
	}
	if atomic.LoadUint32(&c.done[r]) == 0 {
		c.decode(r, meta)
	}
	for _, cd := range f.conds {
		if cd.codes[r] != cd.code {
			return false
		}
	}
	return true
}

// filter compiles conds against the store's cached columns (nil for no
// conditions).
func (s *Store) filter(conds []Condition) *Filter {
	if len(conds) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cols == nil {
		s.cols = newColumns(s.x)
	}
	return s.cols.compile(conds)
}
