package retrieval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
	"github.com/loupe-ml/loupe/tokenizer"
)

// ErrSourceExists: Update was asked to add a file the store already holds.
var ErrSourceExists = errors.New("already in the store")

// ErrNoSource: Update was asked to delete a source the store does not hold.
var ErrNoSource = errors.New("is not in the store")

// UpdateOptions control Update.
type UpdateOptions struct {
	// Add are files or directories to add, read as Build reads them.
	Add []string
	// Replace lets Add take files the store already holds: their old
	// chunks are deleted and the file is chunked again. Without it such a
	// file is an error (ErrSourceExists).
	Replace bool
	// Delete are sources to delete, as the store records them (SourceInfo's
	// Path); one the store does not hold is an error (ErrNoSource).
	Delete []string
	// LM, Tokenizer, Embed, Hub, BatchChunks and Progress are as in
	// OpenOptions and BuildOptions; LM defaults to the manifest's.
	LM          string
	Tokenizer   *tokenizer.BPE
	Embed       embed.Options
	Hub         *hub.Client
	BatchChunks int
	Progress    func(done, total int64)
	// Waiting, if set, is called when another process is changing the
	// store and Update waits for it.
	Waiting func()
}

// Update adds files to the store in directory dir and deletes sources
// from it, under the directory's lock (index.LockDir), so that concurrent
// updates wait for each other. The chunks are cut, embedded and stored as
// Build does, with the store's chunk size and embedding model, and the
// LM's tokenizer must be the store's (TokenizerError). The index is saved
// atomically and then the manifest: a cancelled or failed update changes
// nothing, and one killed between the two writes leaves a manifest that
// Open sees is stale and counts again from the chunks.
func Update(ctx context.Context, dir string, opts UpdateOptions) (*BuildResult, error) {
	start := time.Now()
	if len(opts.Add) == 0 && len(opts.Delete) == 0 {
		return nil, errors.New("retrieval: update: nothing to add or delete")
	}
	if opts.BatchChunks < 0 {
		return nil, &search.OptionError{Field: "BatchChunks", Value: opts.BatchChunks, Allowed: "a positive number (0: 512)"}
	}
	if opts.BatchChunks == 0 {
		opts.BatchChunks = DefaultBatchChunks
	}
	if _, err := ReadManifest(dir); err != nil { // before taking the lock (which creates a file)
		return nil, err
	}
	lock, err := index.LockDir(dir, opts.Waiting)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	s, err := Open(ctx, dir, OpenOptions{LM: opts.LM, Tokenizer: opts.Tokenizer, Embed: opts.Embed, Hub: opts.Hub})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	res := &BuildResult{Manifest: *s.man}
	res.Sources = append([]SourceInfo(nil), s.man.Sources...)
	held := map[string]int{}
	for i, src := range res.Sources {
		held[src.Path] = i
	}
	var files []corpusFile
	var total int64
	if len(opts.Add) > 0 {
		if files, total, err = listSources(opts.Add); err != nil {
			return nil, err
		}
	}
	drop := map[string]bool{}
	for _, p := range opts.Delete {
		p = filepath.Clean(p)
		if _, ok := held[p]; !ok {
			return nil, fmt.Errorf("retrieval: store %s: source %s %w", dir, p, ErrNoSource)
		}
		drop[p] = true
	}
	for _, f := range files {
		if _, ok := held[f.path]; ok && !drop[f.path] {
			if !opts.Replace {
				return nil, fmt.Errorf("retrieval: store %s: %s is %w", dir, f.path, ErrSourceExists)
			}
			drop[f.path] = true
		}
	}
	if len(drop) > 0 {
		ids, err := chunkIDs(s.s.Index(), drop)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			if err := s.s.Delete(ids...); err != nil {
				return nil, err
			}
		}
		kept := res.Sources[:0]
		for _, src := range res.Sources {
			if drop[src.Path] {
				res.Chunks -= src.Chunks
				res.Tokens -= int64(src.Tokens)
				continue
			}
			kept = append(kept, src)
		}
		res.Sources = kept
	}
	if err := addFiles(ctx, s.s, s.tok, files, total, s.man.ChunkTokens, opts.BatchChunks, opts.Progress, res); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.s.Len() == 0 {
		return nil, fmt.Errorf("retrieval: store %s: the update would leave no chunks", dir)
	}
	if err := s.s.Save(dir); err != nil {
		return nil, err
	}
	res.NextID = s.s.Index().NextID()
	if err := res.Manifest.write(dir); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// chunkIDs returns the vector ids of the chunks whose source is in
// sources.
func chunkIDs(x *index.Index, sources map[string]bool) ([]uint64, error) {
	var ids []uint64
	for _, id := range x.IDs() {
		m, _ := x.Metadata(id)
		var c struct {
			Source string `json:"source"`
		}
		if err := json.Unmarshal(m, &c); err != nil {
			return nil, fmt.Errorf("retrieval: chunk %d: metadata: %w", id, err)
		}
		if sources[c.Source] {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// recount sets m's sources and counts from the chunks of x (what the
// manifest says when it was written with the index), in the order of each
// source's first chunk.
func recount(m *Manifest, x *index.Index) error {
	at := map[string]int{}
	m.Sources, m.Chunks, m.Tokens = []SourceInfo{}, 0, 0
	for _, id := range x.IDs() {
		meta, _ := x.Metadata(id)
		var c chunkMeta
		if err := json.Unmarshal(meta, &c); err != nil {
			return fmt.Errorf("retrieval: chunk %d: metadata: %w", id, err)
		}
		i, ok := at[c.Source]
		if !ok {
			i = len(m.Sources)
			at[c.Source] = i
			m.Sources = append(m.Sources, SourceInfo{Path: c.Source})
		}
		m.Sources[i].Chunks++
		m.Sources[i].Tokens += c.Tokens
		m.Chunks++
		m.Tokens += int64(c.Tokens)
	}
	m.NextID = x.NextID()
	return nil
}
