package knnlm

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/npy"
	"github.com/loupe-ml/loupe/tokenizer"
)

// Datastore is an open kNN-LM datastore: its manifest, token stream and
// key index (memory-mapped). It is safe for concurrent searches.
type Datastore struct {
	// Manifest is what the datastore's manifest.json says.
	Manifest Manifest

	dir    string
	tokens []int32
	idx    *index.Index
}

// Neighbor is one retrieved key: the datastore position of its context's
// last token, the token that followed (the value), the squared L2
// distance to the query and, once a distribution is computed, its share
// of p_kNN.
type Neighbor struct {
	Pos      int     `json:"pos"`      // datastore position of the context's last token (the key's id)
	Token    int     `json:"token"`    // the value: the datastore token at Pos+1
	Distance float32 `json:"distance"` // squared L2 distance of the key to the query
	Weight   float32 `json:"weight"`   // its share of p_kNN: exp(−d/T) / Σ exp(−d_j/T)
}

// Open opens the datastore at dir for model m and tokenizer tok and
// refuses, with a *MismatchError naming which, a model or tokenizer other
// than the ones it was built with (compared by ModelFingerprint and
// TokenizerFingerprint). A nil m or tok is not checked (for tools that
// only read the datastore).
func Open(dir string, m *gpt2.Model, tok tokenizer.Tokenizer) (*Datastore, error) {
	man, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if m != nil {
		if fp := ModelFingerprint(m); fp != man.ModelFingerprint {
			return nil, &MismatchError{Dir: dir, What: "model", Built: man.ModelFingerprint, Given: fp, BuiltModel: man.Model}
		}
		if m.Config.NEmbd != man.Dim {
			return nil, fmt.Errorf("knnlm: datastore %s has keys of width %d; the model's n_embd is %d", dir, man.Dim, m.Config.NEmbd)
		}
	}
	if tok != nil {
		if fp := TokenizerFingerprint(tok); fp != man.TokenizerFingerprint {
			return nil, &MismatchError{Dir: dir, What: "tokenizer", Built: man.TokenizerFingerprint, Given: fp, BuiltModel: man.Model}
		}
	}
	toks, err := npy.ReadInts(filepath.Join(dir, TokensFile))
	if err != nil {
		return nil, fmt.Errorf("knnlm: datastore %s: %w", dir, err)
	}
	if len(toks) != man.Tokens {
		return nil, fmt.Errorf("knnlm: datastore %s: %s holds %d tokens, the manifest says %d", dir, TokensFile, len(toks), man.Tokens)
	}
	for i, t := range toks {
		if t < 0 || int(t) >= man.VocabSize {
			return nil, fmt.Errorf("knnlm: datastore %s: token %d at position %d of %s is outside the vocabulary [0, %d)", dir, t, i, TokensFile, man.VocabSize)
		}
	}
	x, err := index.Open(filepath.Join(dir, IndexDir))
	if err != nil {
		return nil, fmt.Errorf("knnlm: datastore %s: %w", dir, err)
	}
	switch {
	case x.Dim() != man.Dim:
		err = fmt.Errorf("knnlm: datastore %s: the index has dimension %d, the manifest says %d", dir, x.Dim(), man.Dim)
	case x.Metric() != index.L2:
		err = fmt.Errorf("knnlm: datastore %s: the index's metric is %s, want l2", dir, x.Metric())
	case x.Len() != man.Keys:
		err = fmt.Errorf("knnlm: datastore %s: the index holds %d keys, the manifest says %d", dir, x.Len(), man.Keys)
	}
	if err != nil {
		x.Close()
		return nil, err
	}
	return &Datastore{Manifest: *man, dir: dir, tokens: toks, idx: x}, nil
}

// Close releases the index.
func (d *Datastore) Close() error { return d.idx.Close() }

// Dir returns the datastore's directory.
func (d *Datastore) Dir() string { return d.dir }

// Len returns the number of keys.
func (d *Datastore) Len() int { return d.Manifest.Keys }

// Token returns the datastore token at position pos.
func (d *Datastore) Token(pos int) int { return int(d.tokens[pos]) }

// Context returns the datastore tokens before and including pos, at most
// max of them (all of them when max <= 0): the context whose final hidden
// state is the key of pos. The value that followed is Token(pos+1).
func (d *Datastore) Context(pos, max int) []int {
	if pos < 0 || pos >= len(d.tokens) {
		return nil
	}
	lo := 0
	if max > 0 {
		lo = pos + 1 - min(max, pos+1)
	}
	out := make([]int, pos+1-lo)
	for i := range out {
		out[i] = int(d.tokens[lo+i])
	}
	return out
}

// SearchOptions tune Search.
type SearchOptions struct {
	// Ef is HNSW's candidate list (max(Ef, k) is used); unused by a flat
	// index.
	Ef int
	// Threads searching (0: all cores).
	Threads int
}

// Search returns the k nearest keys (squared L2) to each of the nq
// queries stored back to back in qs (nq·Dim floats), nearest first, as
// Neighbors with their positions, values and distances (Weight 0). k is
// capped at the number of keys. A flat datastore is searched exactly, a
// block of queries against a block of keys per matrix multiply with a
// per-query top-k selection; an HNSW one approximately with ef ≥ k.
func (d *Datastore) Search(qs []float32, nq, k int, opt *SearchOptions) ([][]Neighbor, error) {
	if opt == nil {
		opt = &SearchOptions{}
	}
	if k < 1 {
		return nil, fmt.Errorf("knnlm: search: k %d: want 1 or more", k)
	}
	k = min(k, d.Len())
	res, err := d.idx.SearchBatch(qs, nq, k, &index.SearchOptions{Ef: max(opt.Ef, k), Threads: opt.Threads})
	if err != nil {
		return nil, fmt.Errorf("knnlm: search: %w", err)
	}
	out := make([][]Neighbor, nq)
	for i, rs := range res {
		ns := make([]Neighbor, len(rs))
		for j, r := range rs {
			p := int(r.ID)
			if p+1 >= len(d.tokens) {
				return nil, errors.New("knnlm: search: the index returned a key past the token stream")
			}
			ns[j] = Neighbor{Pos: p, Token: int(d.tokens[p+1]), Distance: r.Distance}
		}
		out[i] = ns
	}
	return out, nil
}

func jsonIndent(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
