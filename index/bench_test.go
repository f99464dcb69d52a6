package index

import (
	"fmt"
	"testing"
	"time"
)

// reportCPU adds the CPU time per operation since start ("cpu-ns/op"), the
// figure to compare on a machine shared with other work.
func reportCPU(b *testing.B, start time.Duration) {
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkSearchHNSW(b *testing.B) {
	const n, d = 10000, 128
	if hnswIndex == nil {
		hnswIndex = build(b, testOptions(Options{Dim: d, Metric: L2}), clusteredData(n, d, 1))
	}
	x := hnswIndex
	qs := clusteredData(200, d, 2)
	for _, ef := range []int{16, 64} {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			b.ReportAllocs()
			so := &SearchOptions{Ef: ef, Threads: 1}
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				j := i % 200
				if _, err := x.Search(qs[j*d:(j+1)*d], 10, so); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

func BenchmarkFlatBatch(b *testing.B) {
	const n, d = 20000, 128
	x := build(b, testOptions(Options{Dim: d, Metric: L2, Kind: Flat}), clusteredData(n, d, 1))
	qs := clusteredData(256, d, 2)
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := x.SearchBatch(qs, 256, 10, &SearchOptions{Threads: 1}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkSearchHNSWLarge searches 100,000 clustered 128-d vectors (51 MB,
// more than this machine's L3), where every hop's neighbour vectors come
// from memory: the case that prefetching the neighbours helps.
func BenchmarkSearchHNSWLarge(b *testing.B) {
	const n, d = 100000, 128
	if largeIndex == nil {
		largeIndex = build(b, testOptions(Options{Dim: d, Metric: L2, Threads: 2}), clusteredData(n, d, 1))
	}
	qs := clusteredData(1000, d, 2)
	for _, ef := range []int{16, 64} {
		b.Run(fmt.Sprintf("ef=%d", ef), func(b *testing.B) {
			so := &SearchOptions{Ef: ef, Threads: 1}
			start := cpuTime()
			for i := 0; i < b.N; i++ {
				j := i % 1000
				if _, err := largeIndex.Search(qs[j*d:(j+1)*d], 10, so); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

var hnswIndex, largeIndex *Index

func BenchmarkSearchForest(b *testing.B) {
	const n, d = 10000, 128
	x := build(b, testOptions(Options{Dim: d, Metric: L2, Kind: Forest}), clusteredData(n, d, 1))
	qs := clusteredData(200, d, 2)
	b.ReportAllocs()
	so := &SearchOptions{Threads: 1}
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		j := i % 200
		if _, err := x.Search(qs[j*d:(j+1)*d], 10, so); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}
