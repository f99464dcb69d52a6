package search

import (
	"encoding/json"
	"fmt"
	"strings"

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
// decoded once: per field, a dictionary of its values (as compared by
// conditions) and each document's value code.
type columns struct {
	dense []int32          // id → row, -1 for none, when the ids are small
	rowOf map[uint64]int32 // id → row otherwise
	keys  map[string]*column
}

// column is one metadata field: codes[row] is the code of the row's value
// in dict, 0 when the row lacks the field.
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

// buildColumns decodes the metadata of x's searchable documents once.
func buildColumns(x *index.Index) *columns {
	ids := x.IDs()
	c := &columns{keys: map[string]*column{}}
	var maxID uint64
	for _, id := range ids {
		maxID = max(maxID, id)
	}
	if len(ids) > 0 && maxID < uint64(2*len(ids)+1024) {
		c.dense = make([]int32, maxID+1)
		for i := range c.dense {
			c.dense[i] = -1
		}
	} else {
		c.rowOf = make(map[uint64]int32, len(ids))
	}
	for row, id := range ids {
		if c.dense != nil {
			c.dense[id] = int32(row)
		} else {
			c.rowOf[id] = int32(row)
		}
		raw, _ := x.Metadata(id)
		if raw == nil {
			continue
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		for k, v := range m {
			col := c.keys[k]
			if col == nil {
				col = &column{codes: make([]uint32, len(ids)), dict: map[string]uint32{}}
				c.keys[k] = col
			}
			s := canonical(v)
			code, ok := col.dict[s]
			if !ok {
				code = uint32(len(col.dict) + 1)
				col.dict[s] = code
			}
			col.codes[row] = code
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

// Filter is a compiled set of conditions over an index's metadata.
type Filter struct {
	cols  *columns
	conds []compiled
	never bool // a condition names a field or value no document has
}

type compiled struct {
	codes []uint32
	code  uint32
}

// compile resolves conds against c.
func (c *columns) compile(conds []Condition) *Filter {
	f := &Filter{cols: c}
	for _, cd := range conds {
		col := c.keys[cd.Key]
		if col == nil {
			f.never = true
			continue
		}
		code, ok := col.dict[cd.Value]
		if !ok {
			f.never = true
			continue
		}
		f.conds = append(f.conds, compiled{col.codes, code})
	}
	return f
}

// CompileFilter decodes the metadata of x's searchable documents once and
// compiles conds against it. Use Match as index.SearchOptions.Filter; it
// holds for documents added later than the compilation never.
func CompileFilter(x *index.Index, conds []Condition) *Filter {
	return buildColumns(x).compile(conds)
}

// Match reports whether the document with vector id id meets every
// condition. Its signature is that of index.SearchOptions.Filter; the
// stored metadata argument is not read. It is safe for concurrent use.
func (f *Filter) Match(id uint64, _ json.RawMessage) bool {
	if f.never {
		return false
	}
	r := f.cols.row(id)
	if r < 0 {
		return false
	}
	for _, c := range f.conds {
		if c.codes[r] != c.code {
			return false
		}
	}
	return true
}

// Never reports whether no document can match (a condition names a field
// or value that no document has).
func (f *Filter) Never() bool { return f.never }

// filter compiles conds against the store's cached columns (nil for no
// conditions).
func (s *Store) filter(conds []Condition) *Filter {
	if len(conds) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cols == nil {
		s.cols = buildColumns(s.x)
	}
	return s.cols.compile(conds)
}
