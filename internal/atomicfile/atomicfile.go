// Package atomicfile writes files so that a reader (or a crash) never sees a
// half-written one: data goes to a temporary file in the same directory,
// which is synced and then renamed over the destination.
//
// A destination that is a symbolic link is followed: the link stays and its
// target is replaced. A destination that exists and is not a regular file (a
// device such as /dev/stdout, a named pipe) cannot be replaced atomically and
// is written in place instead.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Write creates path atomically with the bytes that fn writes. If fn or any
// step fails, the destination is left as it was and the temporary file is
// removed. The file gets mode 0644 (before the umask).
func Write(path string, fn func(w io.Writer) error) (err error) {
	if fi, serr := os.Stat(path); serr == nil {
		if fi.IsDir() {
			return fmt.Errorf("write %s: is a directory", path)
		}
		if !fi.Mode().IsRegular() {
			return writeInPlace(path, fn)
		}
		// Replace the target of a symbolic link, not the link itself.
		if real, rerr := filepath.EvalSymlinks(path); rerr == nil {
			path = real
		}
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, tempPrefix(path)+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, hideTemp(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = fn(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, hideTemp(err))
	}
	if err = tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, hideTemp(err))
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, hideTemp(err))
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, hideTemp(err))
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, hideTemp(err))
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// tempPrefix is the name of Write's temporary files for path up to the
// random digits os.CreateTemp puts in place of its "*".
func tempPrefix(path string) string { return "." + filepath.Base(path) + ".tmp-" }

// RemoveStale removes the temporary files that a Write of path killed before
// it finished (by a crash or a signal) left in path's directory: regular
// files named like the ones Write creates, ".NAME.tmp-" followed by digits,
// and nothing else. It returns the names removed.
//
// A Write of path that is running at the time would lose its temporary file
// and fail: call RemoveStale only while holding a lock that every writer of
// path takes (package index holds its directory lock).
func RemoveStale(path string) ([]string, error) {
	dir := filepath.Dir(path)
	prefix := tempPrefix(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		name := e.Name()
		digits, ok := strings.CutPrefix(name, prefix)
		if !ok || !allDigits(digits) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, name)
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, p)
	}
	return removed, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// WriteFile is Write for a byte slice already in memory.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeInPlace writes to an existing non-regular file (a device or a pipe),
// which cannot be renamed over.
func writeInPlace(path string, fn func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// hideTemp drops the temporary file's name from a file-system error, so that
// messages name only the destination the user asked for.
func hideTemp(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}
