package search

import (
	"context"
	"fmt"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
)

// DirOptions control Build and Update: Overwrite lets Build replace an
// index already in the directory (otherwise ErrIndexExists); Waiting, if
// set, is called when the directory's lock is held by another process and
// the call waits for it; Threads are Update's insert threads. Replace is
// not used (see AddOptions.Replace).
type DirOptions = index.DirOptions

// Build embeds docs with opts.Model into a new index saved in directory
// dir (created if needed), taking the directory's lock to save. It returns
// the store, open, and what Add did.
func Build(ctx context.Context, dir string, docs []Document, opts Options, add AddOptions, d DirOptions) (*Store, AddResult, error) {
	if err := index.CheckFree(dir, d); err != nil {
		return nil, AddResult{}, err
	}
	s, err := New(ctx, opts)
	if err != nil {
		return nil, AddResult{}, err
	}
	res, err := s.Add(ctx, docs, add)
	if err == nil {
		if err = s.x.SaveNew(dir, d); err == nil {
			s.dir = dir
		}
	}
	if err != nil {
		s.Close()
		return nil, res, err
	}
	return s, res, nil
}

// BuildEmbedded is Build with the documents' vectors already computed
// (vecs[i] is docs[i]'s, made by opts.Model with opts.Embed, as package
// jobs computes them on many machines): the index it saves is the one
// Build saves for the same documents and vectors. The model is not loaded
// (it is recorded in the index as Build records it).
func BuildEmbedded(dir string, docs []Document, vecs [][]float32, opts Options, add AddOptions, d DirOptions) (*Store, AddResult, error) {
	if opts.Model == "" {
		return nil, AddResult{}, &OptionError{Field: "Model", Value: `""`, Allowed: "a hub id or a model directory"}
	}
	if len(vecs) == 0 || len(vecs[0]) == 0 {
		return nil, AddResult{}, fmt.Errorf("search: add: %w", ErrNoDocuments)
	}
	if err := index.CheckFree(dir, d); err != nil {
		return nil, AddResult{}, err
	}
	io := opts.Index
	if io == (index.Options{}) {
		io = index.DefaultOptions()
	}
	if err := io.Validate(); err != nil {
		return nil, AddResult{}, err
	}
	io.Dim, io.Model = len(vecs[0]), embed.RecordedModel(opts.Model)
	x, err := index.New(io)
	if err != nil {
		return nil, AddResult{}, err
	}
	s := &Store{x: x, embedOpts: opts.Embed}
	b, p, err := s.batch(docs, add)
	var res AddResult
	if err == nil {
		res, err = s.addVectors(b, p, vecs, io.Dim, add)
	}
	if err == nil {
		if err = s.x.SaveNew(dir, d); err == nil {
			s.dir = dir
		}
	}
	if err != nil {
		s.Close()
		return nil, res, err
	}
	return s, res, nil
}

// Update opens the index in directory dir under its lock, adds docs and
// saves it. It returns the store, open, and what Add did.
func Update(ctx context.Context, dir string, docs []Document, opts OpenOptions, add AddOptions, d DirOptions) (*Store, AddResult, error) {
	lock, err := index.LockDir(dir, d.Waiting)
	if err != nil {
		return nil, AddResult{}, err
	}
	defer lock.Unlock()
	s, err := Open(dir, opts)
	if err != nil {
		return nil, AddResult{}, err
	}
	if err := s.x.SetThreads(d.Threads); err != nil {
		s.Close()
		return nil, AddResult{}, err
	}
	if s.x.Model() == "" && opts.Model == "" {
		s.Close()
		return nil, AddResult{}, fmt.Errorf("search: index %s %w (it was built from vectors)", dir, ErrNoModel)
	}
	res, err := s.Add(ctx, docs, add)
	if err == nil {
		err = s.Save(dir)
	}
	if err != nil {
		s.Close()
		return nil, res, err
	}
	return s, res, nil
}
