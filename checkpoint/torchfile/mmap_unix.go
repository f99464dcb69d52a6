//go:build unix

package torchfile

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps the whole file at path privately (copy-on-write) into memory.
// Empty files are returned as an empty slice with no mapping.
func mapFile(path string) ([]byte, func() error, error) {
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
		// Some file systems cannot map; read the file instead.
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, nil, fmt.Errorf("mmap %s: %v; read: %w", path, err, rerr)
		}
		return data, nil, nil
	}
	return b, func() error { return unix.Munmap(b) }, nil
}
