package kernels

import (
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestParallelCoversRange(t *testing.T) {
	for _, tc := range []struct{ n, grain int }{{0, 1}, {1, 1}, {7, 1}, {100, 3}, {1000, 1000}, {1001, 500}, {5, 0}} {
		seen := make([]int32, tc.n)
		var calls atomic.Int32
		Parallel(tc.n, tc.grain, func(lo, hi int) {
			calls.Add(1)
			if lo >= hi && tc.n > 0 {
				t.Errorf("n=%d: empty range [%d,%d)", tc.n, lo, hi)
			}
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&seen[i], 1)
			}
		})
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d grain=%d: element %d covered %d times", tc.n, tc.grain, i, s)
			}
		}
		if int(calls.Load()) > max(Threads(), 1) {
			t.Fatalf("n=%d: %d calls for %d threads", tc.n, calls.Load(), Threads())
		}
	}
}

func BenchmarkParallelOverhead(b *testing.B) {
	var sink atomic.Int64
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	for b.Loop() {
		Parallel(2, 1, fn)
	}
}

// BenchmarkParallelWake measures how long the second range of a Parallel
// call waits before a worker starts it, after a gap of single-threaded work
// (a LayerNorm between two matrix products): the cost of waking the pool.
// It reports the median delay. On the 2-vCPU build VM, with parked workers
// the caller usually ran the second range itself after its own (median
// 27 µs, 79-91 µs per iteration); with polling workers it starts after
// about 0.6 µs (51-54 µs per iteration).
func BenchmarkParallelWake(b *testing.B) {
	if Threads() < 2 {
		b.Skip("needs two threads")
	}
	buf := make([]float32, 1<<14)
	var t0, started time.Time
	fn := func(lo, hi int) {
		if lo == 1 {
			started = time.Now()
		}
		for range 20 {
			Dot(buf, buf)
		}
	}
	delays := make([]time.Duration, 0, b.N)
	for b.Loop() {
		for range 20 {
			Dot(buf, buf)
		}
		t0 = time.Now()
		Parallel(2, 1, fn)
		delays = append(delays, started.Sub(t0))
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Nanoseconds()), "ns-to-start")
}

// TestParallelNested checks that Parallel inside Parallel (a matrix multiply
// per attention head, each split across threads) finishes and covers every
// element.
func TestParallelNested(t *testing.T) {
	done := make(chan struct{})
	var total atomic.Int64
	go func() {
		defer close(done)
		for rep := 0; rep < 50; rep++ {
			Parallel(12, 1, func(lo, hi int) {
				for h := lo; h < hi; h++ {
					Parallel(1000, 10, func(lo, hi int) {
						Parallel(hi-lo, 1, func(a, b int) { total.Add(int64(b - a)) })
					})
				}
			})
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("nested Parallel did not finish (deadlock)")
	}
	if got := total.Load(); got != 50*12*1000 {
		t.Fatalf("nested Parallel covered %d elements, want %d", got, 50*12*1000)
	}
	// Nested Sgemm: per-head products inside a parallel loop.
	rng := rand.New(rand.NewPCG(1, 2))
	a := randMatrix(rng, 64, 64)
	c := make([]float32, 4*64*64)
	Parallel(4, 1, func(lo, hi int) {
		for h := lo; h < hi; h++ {
			Sgemm(false, true, 64, 64, 64, 1, a, 64, a, 64, 0, c[h*4096:(h+1)*4096], 64)
		}
	})
	want := make([]float32, 64*64)
	sgemmNaive(false, true, 64, 64, 64, 1, a, 64, a, 64, 0, want, 64)
	for h := 0; h < 4; h++ {
		for i, w := range want {
			if d := c[h*4096+i] - w; d > 1e-3 || d < -1e-3 {
				t.Fatalf("nested Sgemm head %d [%d] = %g, want %g", h, i, c[h*4096+i], w)
			}
		}
	}
}
