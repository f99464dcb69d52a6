//go:build unix

package index

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used. On a shared machine a
// benchmark's wall-clock ns/op varies with the other load; its CPU time per
// operation (single-threaded searches) does much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
