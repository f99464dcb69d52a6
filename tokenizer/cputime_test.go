package tokenizer

import (
	"testing"
	"time"
)

// reportCPUThroughput adds a "cpuMB/s" metric: bytes per op over the CPU
// time the process used (not wall time), which stays meaningful when the
// machine is shared and the benchmark is descheduled.
func reportCPUThroughput(b *testing.B, start time.Duration, bytesPerOp int) {
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/cpu.Seconds()/1e6, "cpuMB/s")
	}
}
