package word2vec

import (
	"math"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// TestAxpy2 checks the fused update (AVX2 where available) against the Go
// loop, for lengths around the vector width, with guard values after the
// slices to catch stray writes.
func TestAxpy2(t *testing.T) {
	r := newRand(5)
	f := func() float32 { return float32(r.next()>>40)/(1<<24)*2 - 1 }
	for n := 0; n <= 40; n++ {
		for _, size := range []int{n, 100} {
			if size != n && n != 0 {
				continue
			}
			l1, l2, e := make([]float32, size+4), make([]float32, size+4), make([]float32, size+4)
			for i := range l1 {
				l1[i], l2[i], e[i] = f(), f(), f()
			}
			for i := size; i < size+4; i++ {
				l2[i], e[i] = 42, 42
			}
			l2g := append([]float32(nil), l2...)
			eg := append([]float32(nil), e...)
			g := f()
			axpy2(g, l1[:size], l2[:size], e[:size])
			axpy2Go(g, l1[:size], l2g[:size], eg[:size])
			for i := 0; i < size+4; i++ {
				if math.Abs(float64(l2[i]-l2g[i])) > 1e-6 || math.Abs(float64(e[i]-eg[i])) > 1e-6 {
					t.Fatalf("n=%d i=%d: l2 %v e %v, want %v %v", size, i, l2[i], e[i], l2g[i], eg[i])
				}
			}
		}
	}
	if d, want := dot([]float32{1, 2, 3}, []float32{4, 5, 6}), float32(32); d != want {
		t.Fatalf("dot = %v", d)
	}
}

func BenchmarkAxpy2(b *testing.B) {
	l1, l2, e := make([]float32, 100), make([]float32, 100), make([]float32, 100)
	for i := 0; i < b.N; i++ {
		axpy2(1e-3, l1, l2, e)
	}
}

func BenchmarkAxpy2TwoKernelCalls(b *testing.B) {
	l1, l2, e := make([]float32, 100), make([]float32, 100), make([]float32, 100)
	for i := 0; i < b.N; i++ {
		kernels.Axpy(1e-3, l2, e)
		kernels.Axpy(1e-3, l1, l2)
	}
}
