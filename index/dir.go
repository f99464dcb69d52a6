package index

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrIndexExists: Build was asked to write where an index already is.
var ErrIndexExists = errors.New("already holds an index")

// DirOptions control Build, Update and DeleteFrom, which change an index
// directory under its lock (LockDir), so that concurrent callers (other
// processes included) wait for each other.
type DirOptions struct {
	// Overwrite lets Build replace an index already in the directory
	// (otherwise ErrIndexExists).
	Overwrite bool
	// Replace lets Update replace the vectors of ids already in the index
	// (otherwise an *ExistsError, and nothing is added).
	Replace bool
	// Waiting, if set, is called when the directory's lock is held by
	// another process and the call waits for it.
	Waiting func()
	// Threads used by Update's Add (0: GOMAXPROCS; see SetThreads).
	Threads int
}

// AddResult says what Build or Update did.
type AddResult struct {
	Added, Replaced int
	Seconds         float64 // spent in Add
}

// Build makes a new index of b with opts (Dim 0 takes b.Dim) and saves it
// in directory dir (created if needed; see SaveNew). It returns the index,
// open.
func Build(dir string, opts Options, b Batch, d DirOptions) (*Index, AddResult, error) {
	var res AddResult
	if err := CheckFree(dir, d); err != nil {
		return nil, res, err
	}
	if opts.Dim == 0 {
		opts.Dim = b.Dim
	}
	x, err := New(opts)
	if err != nil {
		return nil, res, err
	}
	if res, err = x.timedAdd(b, 0); err == nil {
		err = x.SaveNew(dir, d)
	}
	if err != nil {
		x.Close()
		return nil, res, err
	}
	return x, res, nil
}

// SaveNew saves x in directory dir, which it creates if needed, under the
// directory's lock; unless d.Overwrite is set it returns ErrIndexExists if
// dir already holds an index (one another process may have saved while x
// was built).
func (x *Index) SaveNew(dir string, d DirOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	lock, err := LockDir(dir, d.Waiting)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	if err := CheckFree(dir, d); err != nil {
		return err
	}
	return x.Save(dir)
}

// CheckFree returns ErrIndexExists if directory dir holds an index and
// d.Overwrite is not set: what Build checks first, before any work.
func CheckFree(dir string, d DirOptions) error {
	if d.Overwrite {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		return fmt.Errorf("index: %s %w", dir, ErrIndexExists)
	}
	return nil
}

// Update opens the index in directory dir under its lock, adds b (see
// CheckNew and DirOptions.Replace for ids already there) and saves it. It
// returns the index, open.
func Update(dir string, b Batch, d DirOptions) (*Index, AddResult, error) {
	var res AddResult
	if err := checkThreads(d.Threads); err != nil {
		return nil, res, err
	}
	lock, err := LockDir(dir, d.Waiting)
	if err != nil {
		return nil, res, err
	}
	defer lock.Unlock()
	x, err := Open(dir)
	if err != nil {
		return nil, res, err
	}
	x.SetThreads(d.Threads)
	replaced := 0
	if b.Dim != 0 && b.Dim != x.dim {
		err = x.dimError(b.Dim)
	} else if b.IDs != nil {
		replaced, err = x.CheckNew(b.IDs, d.Replace)
	}
	if err == nil {
		if res, err = x.timedAdd(b, replaced); err == nil {
			err = x.Save(dir)
		}
	}
	if err != nil {
		x.Close()
		return nil, res, err
	}
	return x, res, nil
}

// DeleteFrom opens the index in directory dir under its lock, deletes ids
// (see Delete) and saves it. It returns the index, open.
func DeleteFrom(dir string, ids []uint64, d DirOptions) (*Index, error) {
	lock, err := LockDir(dir, d.Waiting)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	x, err := Open(dir)
	if err != nil {
		return nil, err
	}
	if err = x.Delete(ids...); err == nil {
		err = x.Save(dir)
	}
	if err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

// timedAdd adds b, of which replaced rows replace existing ids.
func (x *Index) timedAdd(b Batch, replaced int) (AddResult, error) {
	start := time.Now()
	err := x.Add(b)
	return AddResult{Added: len(b.Vectors)/x.dim - replaced, Replaced: replaced, Seconds: time.Since(start).Seconds()}, err
}

// dimError reports dim-dimensional vectors given to x.
func (x *Index) dimError(dim int) error {
	return fmt.Errorf("index: %d-dimensional vectors for a %d-dimensional index: %w", dim, x.dim, ErrDim)
}
