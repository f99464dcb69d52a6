//go:build linux

package kernels

import "syscall"

// cpuSeconds is the process's user+system CPU time: on a shared machine a
// rate per CPU-second (the "/cpu-s" metrics) is steadier than per wall
// second, since time spent descheduled does not count (time spent waiting
// for the other thread, spinning, does).
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
