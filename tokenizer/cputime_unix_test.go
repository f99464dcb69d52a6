package tokenizer

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPUThroughput adds a "cpuMB/s" metric: bytes per op over the CPU
// time the process used (not wall time), which stays meaningful when the
// machine is shared and the benchmark is descheduled.
func reportCPUThroughput(b *testing.B, start time.Duration, bytesPerOp int) {
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/cpu.Seconds()/1e6, "cpuMB/s")
	}
}
