//go:build unix

package mmapfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Map maps the whole regular file at path privately (copy-on-write) into
// memory and returns its bytes and the function that unmaps them. An empty
// file is an empty slice with no mapping (unmap nil). Where the file system
// cannot map, the file is read into memory instead (unmap nil).
func Map(path string) (data []byte, unmap func() error, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		return []byte{}, nil, nil
	}
	if size != int64(int(size)) {
		return nil, nil, fmt.Errorf("%s: file of %d bytes is too large to map", path, size)
	}
	b, err := unix.Mmap(int(fh.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, nil, fmt.Errorf("mmap %s: %v; read: %w", path, err, rerr)
		}
		return data, nil, nil
	}
	return b, func() error { return unix.Munmap(b) }, nil
}

// Evict tells the kernel the process no longer needs the pages of data, a
// whole mapping returned by Map (with a non-nil unmap): they leave the
// process's resident memory and are read again from the file (usually
// from the page cache) when next touched. Pages the process wrote to
// revert to the file's contents, so evict only mappings nobody writes.
func Evict(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	return unix.Madvise(data, unix.MADV_DONTNEED)
}
