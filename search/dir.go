package search

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/index"
)

// DirOptions control Build and Update.
type DirOptions struct {
	// Overwrite lets Build replace an index already in the directory
	// (otherwise ErrIndexExists).
	Overwrite bool
	// Waiting, if set, is called when the directory's lock is held by
	// another process and the call waits for it.
	Waiting func()
}

// Build embeds docs with opts.Model into a new index saved in directory
// dir (created if needed), taking the directory's lock to save. It returns
// the store, open, and what Add did.
func Build(ctx context.Context, dir string, docs []Document, opts Options, add AddOptions, d DirOptions) (*Store, AddResult, error) {
	if err := refuseExisting(dir, d.Overwrite); err != nil {
		return nil, AddResult{}, err
	}
	s, err := New(ctx, opts)
	if err != nil {
		return nil, AddResult{}, err
	}
	res, err := s.Add(ctx, docs, add)
	if err == nil {
		err = s.saveLocked(dir, func() error { return refuseExisting(dir, d.Overwrite) }, d.Waiting)
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

// refuseExisting returns ErrIndexExists if dir holds an index and
// overwrite is not set.
func refuseExisting(dir string, overwrite bool) error {
	if overwrite {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, index.FileName)); err == nil {
		return fmt.Errorf("search: %s %w", dir, ErrIndexExists)
	}
	return nil
}

// saveLocked creates dir, takes its lock, runs check and saves.
func (s *Store) saveLocked(dir string, check func() error, waiting func()) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	lock, err := index.LockDir(dir, waiting)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := check(); err != nil {
		return err
	}
	return s.Save(dir)
}
