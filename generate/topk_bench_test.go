//go:build unix

package generate

import (
	"fmt"
	"math/rand"
	"syscall"
	"testing"
)

// cpuNanos is the CPU time this process has used: per operation, steadier
// than wall time on a machine shared with other work.
func cpuNanos() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkTopK filters GPT-2-sized logits with the k of sampling.
func BenchmarkTopK(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	src := make([]float32, 50257)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 3)
	}
	logits := make([]float32, len(src))
	for _, k := range []int{10, 50, 400} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			p := &TopK{K: k}
			b.ReportAllocs()
			start := cpuNanos()
			for i := 0; i < b.N; i++ {
				copy(logits, src)
				p.Process(nil, logits)
			}
			b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}
