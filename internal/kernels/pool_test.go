package kernels

import (
	"sync/atomic"
	"testing"
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
