package shard

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/loupe-ml/loupe/index"
)

// SplitOptions control Split.
type SplitOptions struct {
	// Overwrite lets Split replace indexes already in the output
	// directories (otherwise index.ErrIndexExists).
	Overwrite bool
	// Waiting, if set, is called when an output directory's lock is held
	// by another process.
	Waiting func()
}

// SplitResult says what Split wrote.
type SplitResult struct {
	// Dirs are the shard directories, shard 0 first, and Counts the
	// number of documents in each.
	Dirs   []string `json:"dirs"`
	Counts []int    `json:"counts"`
}

// ShardDir returns the directory of shard i that Split writes for
// prefix: PREFIX-I.
func ShardDir(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }

// Split splits the index in directory dir into n shard directories
// ShardDir(prefix, 0) … ShardDir(prefix, n-1): each document (vector id,
// vector bit for bit, metadata) goes to shard ShardOf(id, n), in
// increasing id order, into an index of the same kind, metric, parameters
// and recorded model, beside a StateFile naming the shard (no update
// applied yet). Deleted documents are left out.
func Split(dir string, n int, prefix string, opts SplitOptions) (*SplitResult, error) {
	if n < 1 {
		return nil, &index.OptionError{Field: "Shards", Value: n, Allowed: "1 or more"}
	}
	x, err := index.Open(dir)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	ids := x.IDs()
	slices.Sort(ids)
	io := x.Options()
	io.Threads = 0
	parts := make([]index.Batch, n)
	for _, id := range ids {
		s := ShardOf(id, n)
		v, _ := x.Vector(id)
		meta, _ := x.Metadata(id)
		b := &parts[s]
		b.IDs, b.Vectors = append(b.IDs, id), append(b.Vectors, v...)
		b.Meta = append(b.Meta, json.RawMessage(meta))
	}
	res := &SplitResult{}
	for i, b := range parts {
		out := ShardDir(prefix, i)
		if err := index.CheckFree(out, index.DirOptions{Overwrite: opts.Overwrite}); err != nil {
			return nil, err
		}
		b.Dim, b.Normalized = x.Dim(), true
		s, err := index.New(io)
		if err == nil {
			err = s.Add(b)
		}
		if err == nil {
			err = s.SaveNew(out, index.DirOptions{Overwrite: opts.Overwrite, Waiting: opts.Waiting})
		}
		if s != nil {
			s.Close()
		}
		if err == nil {
			err = WriteState(out, State{Shard: i, Shards: n})
		}
		if err != nil {
			return nil, fmt.Errorf("shard: split %s: shard %d: %w", dir, i, err)
		}
		res.Dirs, res.Counts = append(res.Dirs, out), append(res.Counts, len(b.IDs))
	}
	return res, nil
}
