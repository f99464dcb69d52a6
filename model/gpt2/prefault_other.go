//go:build !linux

package gpt2

// prefault is a no-op where MADV_POPULATE_READ does not exist: pages fault
// in on first use.
func prefault(regions [][]float32) {}

// releaseBytes is a no-op here.
func releaseBytes(b []byte) {}
