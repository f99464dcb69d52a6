//go:build !unix

package mmapfile

import "os"

// Map reads the whole file at path into memory on platforms without mmap
// support here (unmap is nil).
func Map(path string) (data []byte, unmap func() error, err error) {
	b, err := os.ReadFile(path)
	return b, nil, err
}

// Evict does nothing on platforms where Map reads files into memory.
func Evict(data []byte) error { return nil }
