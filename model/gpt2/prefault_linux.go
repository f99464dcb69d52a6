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
