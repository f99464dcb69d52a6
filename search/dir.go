package search

import (
	"context"
	"fmt"

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
