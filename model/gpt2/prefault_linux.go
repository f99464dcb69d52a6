//go:build linux

package gpt2

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// prefault maps the pages of the memory-mapped weights into the process up
// front (madvise MADV_POPULATE_READ, Linux 5.14+), so that the first forward
// pass does not pay a page fault per 4 KiB of weights. It is best effort:
// on older kernels the pages fault in on first use as before.
func prefault(regions [][]float32) {
	page := uintptr(os.Getpagesize())
	for _, r := range regions {
		if len(r) == 0 {
			continue
		}
		p := unsafe.Pointer(&r[0])
		off := uintptr(p) % page
		b := unsafe.Slice((*byte)(unsafe.Add(p, -int(off))), int(off)+4*len(r))
		if err := unix.Madvise(b, unix.MADV_POPULATE_READ); err != nil {
			return
		}
	}
}

// release tells the kernel the pages of a memory-mapped region are not
// needed (they are dropped from the resident set and read again from the
// file if touched). Only whole pages inside the region are released. It
// must only be given file-backed mappings.
func release(r []float32) {
	if len(r) == 0 {
		return
	}
	releaseBytes(unsafe.Slice((*byte)(unsafe.Pointer(&r[0])), 4*len(r)))
}

// releaseBytes is release for raw bytes of the mapping.
func releaseBytes(b []byte) {
	if len(b) == 0 {
		return
	}
	page := uintptr(os.Getpagesize())
	p := unsafe.Pointer(&b[0])
	start := (uintptr(p) + page - 1) &^ (page - 1)
	end := (uintptr(p) + uintptr(len(b))) &^ (page - 1)
	if end <= start {
		return
	}
	unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, int(start-uintptr(p)))), int(end-start)), unix.MADV_DONTNEED)
}
