//go:build !unix

package torchfile

import "os"

// mapFile reads the whole file at path into memory on platforms without
// mmap support in this package.
func mapFile(path string) ([]byte, func() error, error) {
	b, err := os.ReadFile(path)
	return b, nil, err
}
