package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks run on the kernel set chosen at start-up (set LOUPE_KERNELS to
// compare). GFLOP/s counts 2*m*n*k; GB/s counts the bytes of B (the weights)
// for GEMV, the bytes of both inputs for Dot.

func benchSgemm(b *testing.B, m, n, k int, transB bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := randMatrix(rng, m, k)
	bm := randMatrix(rng, k, n)
	c := make([]float32, m*n)
	ldb := n
	if transB {
		ldb = k
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Sgemm(false, transB, m, n, k, 1, a, k, bm, ldb, 0, c, n)
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)/sec/1e9, "GFLOP/s")
	b.ReportMetric(float64(k)*float64(n)*4/sec/1e9, "GB/s")
}

func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct {
		m, n, k int
		tB      bool
	}{
		{768, 768, 768, false},
		{512, 768, 3072, false},
		{512, 3072, 768, false},
		{512, 768, 768, true},
		{64, 64, 64, false},
		{4, 2304, 768, false},
		{8, 2304, 768, false},
	} {
		name := fmt.Sprintf("%dx%dx%d", s.m, s.n, s.k)
		if s.tB {
			name += "_transB"
		}
		b.Run(name, func(b *testing.B) { benchSgemm(b, s.m, s.n, s.k, s.tB) })
	}
}

func BenchmarkGemv(b *testing.B) {
	for _, s := range []struct {
		n, k int
		tB   bool
	}{
		{2304, 768, false}, // GPT-2 c_attn, Conv1D [in, out]
		{3072, 768, false}, // GPT-2 c_fc
		{768, 3072, false}, // GPT-2 c_proj
		{50257, 768, true}, // tied LM head, WTE [V, C]
		{2304, 768, true},
	} {
		name := fmt.Sprintf("1x%dx%d", s.k, s.n)
		if s.tB {
			name += "_transB"
		}
		b.Run(name, func(b *testing.B) { benchSgemm(b, 1, s.n, s.k, s.tB) })
	}
}

func BenchmarkDot(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096, 16384, 65536} {
		x := make([]float32, n)
		y := make([]float32, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(8 * n))
			for b.Loop() {
				Dot(x, y)
			}
		})
	}
}

func BenchmarkAxpy(b *testing.B) {
	for _, n := range []int{16, 64, 256, 1024, 4096, 16384, 65536} {
		x := make([]float32, n)
		y := make([]float32, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(12 * n))
			for b.Loop() {
				Axpy(0.5, x, y)
			}
		})
	}
}
