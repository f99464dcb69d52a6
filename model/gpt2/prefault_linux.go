//go:build linux

package gpt2

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// prefault maps the pages of the memory-mapped weights into the process up
// front (madvise MADV_POPULATE_READ, Linux 5.14+), so that the first forward
// pass does not pay a page fault per 4 KiB of weights. Only whole pages
// inside each slice are advised (a slice may also be a heap copy, whose
// neighbouring memory is not ours to touch); the partial pages at the ends
// fault in on first use. It is best effort: on older kernels every page
// faults in on first use as before.
func prefault(regions [][]float32) {
	for _, r := range regions {
		if len(r) == 0 {
			continue
		}
		b, ok := wholePages(unsafe.Slice((*byte)(unsafe.Pointer(&r[0])), 4*len(r)))
		if !ok {
			continue
		}
		if err := unix.Madvise(b, unix.MADV_POPULATE_READ); err != nil {
			return
		}
	}
}

// wholePages returns the largest page-aligned part of b.
func wholePages(b []byte) ([]byte, bool) {
	if len(b) == 0 {
		return nil, false
	}
	page := uintptr(os.Getpagesize())
	p := uintptr(unsafe.Pointer(&b[0]))
	start := (p + page - 1) &^ (page - 1)
	end := (p + uintptr(len(b))) &^ (page - 1)
	if end <= start {
		return nil, false
	}
	return b[start-p : end-p], true
}

// releaseBytes tells the kernel the whole pages inside b, a part of a
// file-backed mapping, are not needed: they are dropped from the resident
// set and read again from the file if touched. It must only be given
// file-backed mappings.
func releaseBytes(b []byte) {
	if w, ok := wholePages(b); ok {
		unix.Madvise(w, unix.MADV_DONTNEED)
	}
}
