package shard

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/search"
)

// request is a query sent to every shard: the questions, their vectors
// (little-endian float32, dim each; none in bm25 mode), and the search
// options. In hybrid mode a shard answers with its dense and its BM25
// candidates (Lists) and the gateway fuses the merged lists.
type request struct {
	Questions []string `json:"questions"`
	Dim       int      `json:"dim,omitempty"`
	Vectors   []byte   `json:"vectors,omitempty"`
	// Options are the search's options; Filter travels as Conditions.
	K          int      `json:"k"`
	Ef         int      `json:"ef,omitempty"`
	Mode       string   `json:"mode,omitempty"`
	K1         *float64 `json:"k1,omitempty"`
	B          *float64 `json:"b,omitempty"`
	Conditions []string `json:"filter,omitempty"`
	// Stats are the BM25 statistics summed over the shards, to score
	// with (bm25 and hybrid); StatsOnly asks for the shard's own
	// statistics of the questions' terms instead of a search.
	Stats     *search.LexicalStats `json:"stats,omitempty"`
	StatsOnly bool                 `json:"stats_only,omitempty"`
}

// response is a shard's answer: per question its hits (dense or bm25), or
// in hybrid mode its dense and BM25 candidates; the replica that answered
// and the stream sequence it had applied; or an error.
type response struct {
	Shard   int            `json:"shard"`
	Replica string         `json:"replica,omitempty"`
	Applied uint64         `json:"applied"`
	Hits    [][]search.Hit `json:"hits,omitempty"`
	Lexical [][]search.Hit `json:"lexical,omitempty"` // hybrid: the BM25 candidates
	// Exact are the full-precision scores of the BM25 hits (Hits in
	// bm25 mode, Lexical in hybrid mode), which JSON's float32 Score
	// rounds.
	Exact [][]float64 `json:"exact,omitempty"`
	// Stats answers a StatsOnly request.
	Stats *search.LexicalStats `json:"stats,omitempty"`
	Error string               `json:"error,omitempty"`
}

// update is one message of a collection's stream: documents to add (or
// replace), already embedded, or ids to delete, for one shard.
type update struct {
	Op  string   `json:"op"` // "add" or "delete"
	IDs []uint64 `json:"ids"`
	// Dim and Vectors (little-endian float32, len(IDs)·Dim of them) and
	// Meta (one JSON object per id) for adds.
	Dim     int               `json:"dim,omitempty"`
	Vectors []byte            `json:"vectors,omitempty"`
	Meta    []json.RawMessage `json:"meta,omitempty"`
}

// Update operations.
const (
	opAdd    = "add"
	opDelete = "delete"
)

// putFloats encodes vs as little-endian float32s, bit for bit.
func putFloats(vs ...[]float32) []byte {
	n := 0
	for _, v := range vs {
		n += len(v)
	}
	b := make([]byte, 0, 4*n)
	for _, v := range vs {
		for _, f := range v {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
		}
	}
	return b
}

// floats decodes rows of dim little-endian float32s from b.
func floats(b []byte, rows, dim int) ([]float32, error) {
	if dim < 1 || rows < 0 || len(b) != 4*rows*dim {
		return nil, fmt.Errorf("%d bytes of vectors is not %d rows of %d float32s", len(b), rows, dim)
	}
	out := make([]float32, rows*dim)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// decodeUpdate parses and checks a stream message.
func decodeUpdate(data []byte) (*update, error) {
	var u update
	if err := json.Unmarshal(data, &u); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	switch u.Op {
	case opDelete:
		return &u, nil
	case opAdd:
		if _, err := floats(u.Vectors, len(u.IDs), u.Dim); err != nil {
			return nil, fmt.Errorf("update: %w", err)
		}
		if len(u.Meta) != len(u.IDs) {
			return nil, fmt.Errorf("update: %d metadata objects for %d ids", len(u.Meta), len(u.IDs))
		}
		return &u, nil
	}
	return nil, fmt.Errorf("update: op %q: want add or delete", u.Op)
}

// decodeRequest parses and checks a query.
func decodeRequest(data []byte) (*request, [][]float32, search.SearchOptions, error) {
	var r request
	var opts search.SearchOptions
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, nil, opts, fmt.Errorf("request: %w", err)
	}
	opts = search.SearchOptions{K: r.K, Ef: r.Ef, Mode: search.Mode(r.Mode), K1: r.K1, B: r.B, Stats: r.Stats}
	var err error
	if opts.Filter, err = search.ParseConditions(r.Conditions); err != nil {
		return nil, nil, opts, fmt.Errorf("request: %w", err)
	}
	if err := opts.Validate(); err != nil {
		return nil, nil, opts, fmt.Errorf("request: %w", err)
	}
	var vecs [][]float32
	if !r.StatsOnly && (len(r.Vectors) > 0 || opts.Mode != search.ModeBM25) {
		flat, err := floats(r.Vectors, len(r.Questions), r.Dim)
		if err != nil {
			return nil, nil, opts, fmt.Errorf("request: %w", err)
		}
		for i := range r.Questions {
			vecs = append(vecs, flat[i*r.Dim:(i+1)*r.Dim])
		}
	}
	return &r, vecs, opts, nil
}

// setExact gives the BM25 hits their full-precision scores from Exact.
func (r *response) setExact() {
	lexical := r.Lexical
	if lexical == nil {
		lexical = r.Hits
	}
	if len(r.Exact) != len(lexical) {
		return
	}
	for q, hits := range lexical {
		if len(r.Exact[q]) != len(hits) {
			continue
		}
		for i := range hits {
			hits[i].SetExactScore(r.Exact[q][i])
		}
	}
}
