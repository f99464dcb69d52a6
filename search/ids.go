package search

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/index"
)

// idPlan is where documents go: the vector id of each, the external id
// kept in its metadata (or nil), and how many replace a stored document.
type idPlan struct {
	ids      []uint64
	external []any
	replaced int
}

// vectorID reports whether a document ID is a vector id (a non-negative
// integer) and which.
func vectorID(id any) (uint64, bool) {
	switch v := id.(type) {
	case json.Number:
		u, err := strconv.ParseUint(v.String(), 10, 64)
		return u, err == nil
	case uint64:
		return v, true
	case uint:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case int:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	case int32:
		return uint64(v), v >= 0
	case float64:
		if v >= 0 && v <= 1<<53 && v == math.Trunc(v) {
			return uint64(v), true
		}
	}
	return 0, false
}

// externalKey is the canonical JSON of an external document id, for
// comparing a new document's id with stored ones.
func externalKey(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// planIDs assigns vector ids to docs for adding them to x:
//   - a document whose ID is a non-negative integer gets that id;
//   - any other ID is external: kept in the metadata as "id", and the
//     document gets a new vector id, or, when x holds a document with that
//     "id" and replace is set, that document's id;
//   - documents without an ID get new ids, after the largest id x ever
//     held and the largest integer ID of docs.
//
// An ID given twice is an error, and so is one already in x (deleted ids
// excepted) unless replace is set.
func planIDs(docs []Document, x *index.Index, replace bool) (idPlan, error) {
	p := idPlan{ids: make([]uint64, len(docs)), external: make([]any, len(docs))}
	assigned := make([]bool, len(docs))
	labelAt := map[uint64]int{}
	extAt := map[string]int{}
	next := x.NextID()
	for i, d := range docs {
		if d.ID == nil {
			continue
		}
		if u, ok := vectorID(d.ID); ok {
			if j, dup := labelAt[u]; dup {
				return p, fmt.Errorf("id %d is given to documents %d and %d (counting from 1)", u, j+1, i+1)
			}
			labelAt[u] = i
			p.ids[i], assigned[i] = u, true
			if u >= next && u < math.MaxUint64 {
				next = u + 1
			}
			continue
		}
		key := externalKey(d.ID)
		if j, dup := extAt[key]; dup {
			return p, fmt.Errorf("id %s is given to documents %d and %d (counting from 1)", key, j+1, i+1)
		}
		extAt[key] = i
		p.external[i] = d.ID
	}
	var clash []int
	for u, i := range labelAt {
		if x.Has(u) {
			clash = append(clash, i)
		}
	}
	if len(extAt) > 0 {
		// Once per Add: the stored external ids, decoded as they were
		// written (numbers kept exact).
		for _, id := range x.IDs() {
			m, _ := x.Metadata(id)
			if m == nil {
				continue
			}
			var doc map[string]any
			dec := json.NewDecoder(bytes.NewReader(m))
			dec.UseNumber()
			if dec.Decode(&doc) != nil || doc["id"] == nil {
				continue
			}
			i, ok := extAt[externalKey(doc["id"])]
			if !ok || assigned[i] {
				continue
			}
			clash = append(clash, i)
			p.ids[i], assigned[i] = id, true
		}
	}
	if len(clash) > 0 && !replace {
		sort.Ints(clash)
		var list []string
		for j, i := range clash {
			if j == 5 {
				list = append(list, fmt.Sprintf("and %d more", len(clash)-5))
				break
			}
			list = append(list, fmt.Sprintf("%s (document %d)", externalKey(docs[i].ID), i+1))
		}
		return p, &existsError{strings.Join(list, ", ")}
	}
	p.replaced = len(clash)
	for i := range docs {
		if !assigned[i] {
			p.ids[i] = next
			next++
		}
	}
	return p, nil
}

// existsError lists ids already in the index; it is ErrExists.
type existsError struct{ list string }

func (e *existsError) Error() string        { return "ids already in the index: " + e.list }
func (e *existsError) Is(target error) bool { return target == ErrExists }
