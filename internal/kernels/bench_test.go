package kernels

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// Benchmarks run on the kernel set chosen at start-up (set LOUPE_KERNELS to
// compare). Shapes are named M×K×N: an M×K activation times a K×N weight
// (stored [N, K] and used transposed when the name ends in _transB).
// GFLOP/s counts 2*M*N*K; GB/s counts the bytes of the weight matrix, the
// figure that matters for the memory-bound GEMV (M = 1) case.

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
		{512, 3072, 768, false}, // 512×768×3072: GPT-2 c_fc at T=512
		{512, 768, 3072, false}, // 512×3072×768: GPT-2 c_proj
		{512, 768, 768, true},   // BERT-style nn.Linear [out, in]
		{64, 64, 64, false},
		{4, 2304, 768, false},
		{8, 2304, 768, false},
	} {
		name := fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
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

// BenchmarkGemvCold runs the GPT-2 decode shapes with the weights cycled
// over 512 MiB of copies, so that they come from memory rather than a large
// L3 (EPYC parts have up to 96 MiB per CCD), as in real decoding, where
// every layer's weights are read once per token.
func BenchmarkGemvCold(b *testing.B) {
	for _, s := range []struct{ n, k int }{{2304, 768}, {3072, 768}, {768, 768}, {768, 3072}} {
		b.Run(fmt.Sprintf("1x%dx%d", s.k, s.n), func(b *testing.B) {
			if coldBuf == nil {
				coldBuf = make([]float32, coldFloats)
				for i := range coldBuf {
					coldBuf[i] = float32(i%17) * 0.01
				}
			}
			size := s.n * s.k
			copies := coldFloats / size
			x := randMatrix(rand.New(rand.NewPCG(3, 3)), 1, s.k)
			y := make([]float32, s.n)
			for b.Loop() {
				i := coldNext % copies // continues across calls: never the same copy twice in a row
				coldNext++
				Sgemm(false, false, 1, s.n, s.k, 1, x, s.k, coldBuf[i*size:(i+1)*size], s.n, 0, y, s.n)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*float64(s.n)*float64(s.k)/sec/1e9, "GFLOP/s")
			b.ReportMetric(float64(s.k)*float64(s.n)*4/sec/1e9, "GB/s")
		})
	}
}

const coldFloats = 128 << 20 // 512 MiB

var (
	coldBuf  []float32
	coldNext int
)

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

// BenchmarkAxpy2 compares the fused paired update with the two Axpy calls
// it replaces, at word2vec's usual row sizes.
func BenchmarkAxpy2(b *testing.B) {
	for _, n := range []int{100, 300} {
		x := make([]float32, n)
		y := make([]float32, n)
		acc := make([]float32, n)
		b.Run(fmt.Sprintf("fused/%d", n), func(b *testing.B) {
			for b.Loop() {
				Axpy2(1e-3, x, y, acc)
			}
		})
		b.Run(fmt.Sprintf("two-axpy/%d", n), func(b *testing.B) {
			for b.Loop() {
				Axpy(1e-3, y, acc)
				Axpy(1e-3, x, y)
			}
		})
	}
}

var bandwidthBuf []float32

// BenchmarkReadBandwidth measures the machine's read bandwidth the way the
// GEMV target is stated: a pass over 1 GiB of float32 on every thread of the
// worker pool, the threads claiming chunks from a shared counter as the
// threaded GEMV does (so that a slower thread does not leave the other idle
// at the end). Two access patterns, since the rate depends on it:
//
//   - dot: a dot product of the two 512 MiB halves in 128 KiB chunks, 64
//     KiB of each half (two streams per thread);
//   - 4streams: 256 KiB chunks, each read as four streams a quarter of the
//     chunk apart (gemvT4 against an L1-resident vector), the pattern of
//     the GEMVs.
//
// bench/kernels.sh reports GEMV GB/s as a fraction of the faster of the two.
func BenchmarkReadBandwidth(b *testing.B) {
	const n = 1 << 28 // floats: 1 GiB
	if bandwidthBuf == nil {
		bandwidthBuf = make([]float32, n) // kept for -count > 1
		for i := range bandwidthBuf {
			bandwidthBuf[i] = 1
		}
	}
	x := bandwidthBuf
	parts := make([]float32, 8*Threads())
	var next atomic.Int64
	run := func(b *testing.B, fn func(lo, hi int)) {
		b.SetBytes(4 * n)
		for b.Loop() {
			next.Store(0)
			Parallel(Threads(), 1, fn)
		}
		b.ReportMetric(4*n/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
	}
	b.Run("dot", func(b *testing.B) {
		const half, chunk = n / 2, 16 << 10 // chunk: floats of each half
		run(b, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				for {
					c := int(next.Add(1) - 1)
					if c*chunk >= half {
						break
					}
					o := c * chunk
					parts[8*t] += Dot(x[o:o+chunk], x[half+o:half+o+chunk])
				}
			}
		})
	})
	b.Run("4streams", func(b *testing.B) {
		const chunk, piece = 64 << 10, 2048 // floats: 256 KiB chunks, 8 KiB of each stream per call
		const q = chunk / 4
		v := make([]float32, piece)
		run(b, func(lo, hi int) {
			var s [4]float32
			for t := lo; t < hi; t++ {
				for {
					c := int(next.Add(1) - 1)
					if c*chunk >= n {
						break
					}
					blk := x[c*chunk : (c+1)*chunk]
					for o := 0; o < q; o += piece {
						gemvT4L(level, v, blk[o:], q, s[:])
						parts[8*t] += s[0] + s[1] + s[2] + s[3]
					}
				}
			}
		})
	})
}

func BenchmarkRowKernels(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	x := randMatrix(rng, 64, 768)
	dst := make([]float32, len(x))
	g := randMatrix(rng, 1, 768)
	logits := randMatrix(rng, 1, 50257)
	idx := make([]int, 0, 50)
	for _, bm := range []struct {
		name  string
		elems int
		fn    func()
	}{
		{"SoftmaxRows_64x768_causal", len(x), func() { copy(dst, x); SoftmaxRows(dst, 64, 768, true, 0) }},
		{"Softmax_50257", len(logits), func() { copy(dst, logits[:len(dst)]); Softmax(dst) }},
		{"SoftmaxRows_12x4096", 12 * 4096, func() { copy(dst, x); SoftmaxRows(dst, 12, 4096, false, 0) }},
		{"LayerNorm_64x768", len(x), func() { LayerNorm(dst, x, g, g, 64, 768, 1e-5) }},
		{"GeluTanh_64x768", len(x), func() { GeluTanh(dst, x) }},
		{"GeluErf_64x768", len(x), func() { GeluErf(dst, x) }},
		{"Argmax_50257", len(logits), func() { Argmax(logits) }},
		{"TopK50_50257", len(logits), func() { idx = TopK(logits, 50, idx) }},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				bm.fn()
			}
			b.ReportMetric(float64(bm.elems)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}
