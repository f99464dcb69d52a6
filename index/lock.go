package index

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// LockFileName is the file LockDir creates in an index directory. It stays
// there, empty: removing it while another process waits on it would let
// that process and a newcomer both hold "the" lock.
const LockFileName = "index.lock"

// DirLock is an exclusive advisory lock on an index directory, held by
// this process until Unlock.
type DirLock struct {
	f *os.File
}

// LockDir takes an exclusive advisory lock on the index directory dir (which
// must exist), creating dir/index.lock if needed, and blocks until it has
// it. If another process holds the lock and waiting is not nil, waiting is
// called once before blocking (loupe prints a note on stderr).
//
// Holding the lock, LockDir removes the temporary files that a save killed
// before it finished may have left in dir (.index.loupe.tmp-NNN); Open and
// Save do the same when no one holds the lock.
//
// The lock serialises writers that take it: loupe index add, delete and
// build hold it from reading the index to saving it, so that two of them
// never both start from the same old file and lose one's changes. Readers
// (Open, searches) do not need it: Save replaces the file atomically. It is
// an flock(2) lock on Unix and a LockFileEx lock on Windows; on other
// systems LockDir does not lock. Locks on network file systems are only as
// good as the file system's support for them.
func LockDir(dir string, waiting func()) (*DirLock, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("index: lock: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("index: lock: %s is not a directory", dir)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("index: lock: %w", err)
	}
	ok, err := tryLockFile(f)
	if err == nil && !ok {
		if waiting != nil {
			waiting()
		}
		err = lockFile(f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("index: lock %s: %w", path, err)
	}
	removeStale(dir)
	return &DirLock{f: f}, nil
}

// tryLockDir takes the lock on the index directory dir if no one holds it,
// without waiting, and returns nil if someone does (this process included,
// through LockDir) or the lock cannot be taken. With create false it does
// not create dir/index.lock: a directory without one has never been saved
// to by this loupe (Save takes the lock).
func tryLockDir(dir string, create bool) *DirLock {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFileName), flag, 0o644)
	if err != nil {
		return nil
	}
	if ok, err := tryLockFile(f); err != nil || !ok {
		f.Close()
		return nil
	}
	return &DirLock{f: f}
}

// removeStale removes the temporary files that saves of the index in dir
// killed before they finished left there (see atomicfile.RemoveStale). It is
// called only with dir's lock held, so that no save is running meanwhile:
// by LockDir, and by Open and Save when the lock is free. Failing to remove
// one is not an error: the next lock holder tries again.
func removeStale(dir string) {
	atomicfile.RemoveStale(filepath.Join(dir, FileName))
}

// removeStaleIfFree is removeStale under the lock of dir if no one holds it.
func removeStaleIfFree(dir string) {
	if l := tryLockDir(dir, false); l != nil {
		removeStale(dir)
		l.Unlock()
	}
}

// Unlock releases the lock. Unlocking a nil or released lock does nothing.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}
