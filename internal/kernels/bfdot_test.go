package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestBFRoundDAZ: VCVTNE2PS2BF16's rounding (bfRoundDAZ): ToBF16's ties to
// even, with denormals to signed zeros; the assembly conversion agrees on
// every kind of value where AVX512_BF16 exists.
func TestBFRoundDAZ(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, odd below
		{0x00400000, 0x0000}, // denormal: zero
		{0x80000001, 0x8000}, // negative denormal: -0
		{0x00800000, 0x0080}, // the smallest normal
		{0x7f800000, 0x7f80}, // +Inf
		{0x7f800001, 0x7fc0}, // NaN: quiet
	} {
		if got := bfRoundDAZ(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("bfRoundDAZ(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	if !cpuHasBF16 {
		t.Skip("no AVX512_BF16: the assembly conversion is not tested")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 4096)
	for i := range x {
		switch i % 4 {
		case 0:
			x[i] = math.Float32frombits(rng.Uint32())
		case 1:
			x[i] = math.Float32frombits(rng.Uint32()&0x807fffff | 0x3f800000&^0x7fff | 0x8000) // ties and near-ties
		case 2:
			x[i] = math.Float32frombits(rng.Uint32() & 0x807fffff) // denormals
		default:
			x[i] = float32(rng.NormFloat64())
		}
	}
	got := make([]uint16, len(x))
	bfRound32AVX512BF16(len(x), x, got)
	for i, v := range x {
		want := bfRoundDAZ(v)
		if v != v {
			// A NaN's payload: only check that it stays a NaN.
			if got[i]&0x7f80 != 0x7f80 || got[i]&0x7f == 0 && got[i]&0x40 == 0 {
				t.Errorf("x[%d] = NaN %#08x: %#04x", i, math.Float32bits(v), got[i])
			}
			continue
		}
		if got[i] != want {
			t.Fatalf("x[%d] = %#08x: VCVTNE2PS2BF16 %#04x, bfRoundDAZ %#04x", i, math.Float32bits(v), got[i], want)
		}
	}
}

// TestBFDotKernel compares the VDPBF16PS kernel with its generic twin on
// GPT-2's k (and odd block counts) and Apply through it with the bf16
// reference of rounded activations.
func TestBFDotKernel(t *testing.T) {
	if !cpuHasBF16 || !cpuHasAVX512 {
		t.Skip("no AVX512_BF16")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{768, 3072, 33, 2} {
		for _, nblk := range []int{1, 2, 5} {
			kp := (k + 1) &^ 1
			x := randMatrix(rng, 8, k)
			a := make([]uint16, 8*kp)
			bfRoundRows(8, k, x, k, a)
			b := make([]uint16, nblk*kp*bfNR)
			for i := range b {
				b[i] = ToBF16(float32(rng.NormFloat64()) * 0.05)
			}
			bias := randMatrix(rng, 1, nblk*bfNR)
			ldc := nblk*bfNR + 5
			got := make([]float32, 8*ldc)
			want := make([]float32, 8*ldc)
			bfdot8x16AVX512BF16(nblk, kp, a, kp, b, bias, got, ldc)
			bfdot8x16Generic(nblk, kp, a, kp, b, bias, want, ldc)
			exact := true
			for i := range got {
				if got[i] != want[i] {
					exact = false
				}
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5*float64(k) {
					t.Fatalf("k=%d nblk=%d: c[%d] = %v, generic %v", k, nblk, i, got[i], want[i])
				}
			}
			if !exact {
				t.Logf("k=%d nblk=%d: VDPBF16PS sums differ from the generic order in the last bits", k, nblk)
			}
		}
	}
}

// TestBF16LinearDot runs BF16Linear.Apply with the VDPBF16PS path on
// (several row counts, partial blocks) against a float64 sum of the
// products of the bf16-rounded activations and weights.
func TestBF16LinearDot(t *testing.T) {
	if !cpuHasBF16 || level < levelAVX512 {
		t.Skip("no AVX512_BF16")
	}
	saved := bfDot
	defer func() { bfDot = saved }()
	bfDot = true
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][3]int{{8, 7, 16}, {9, 33, 17}, {20, 64, 100}, {17, 768, 2304}} {
		m, k, n := s[0], s[1], s[2]
		w := randMatrix(rng, n, k)
		a := randMatrix(rng, m, k)
		bias := randMatrix(rng, 1, n)
		l := NewBF16Linear(w, bias, n, k)
		c := make([]float32, m*n)
		l.Apply(m, a, k, c, n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				sum, abs := float64(bias[j]), math.Abs(float64(bias[j]))
				for p := 0; p < k; p++ {
					x := float64(a[i*k+p])
					if i < m&^7 {
						x = float64(FromBF16(bfRoundDAZ(a[i*k+p])))
					}
					x *= float64(FromBF16(ToBF16(w[j*k+p])))
					sum += x
					abs += math.Abs(x)
				}
				if d := math.Abs(float64(c[i*n+j]) - sum); d > 2*float64(k+1)*0x1p-24*abs {
					t.Fatalf("%v: c[%d][%d] = %v, want %v", s, i, j, c[i*n+j], sum)
				}
			}
		}
	}
}

// TestBFDotSelfCheck runs the start-up check of the VDPBF16PS path.
func TestBFDotSelfCheck(t *testing.T) {
	if !cpuHasBF16 || !cpuHasAVX512 {
		t.Skip("no AVX512_BF16")
	}
	if err := bfDotSelfCheck(); err != nil {
		t.Error(err)
	}
}

// BenchmarkBF16Prefill runs 512 rows (a prompt) through GPT-2 small's
// linear shapes with BF16Linear's float32-activation kernels ("fma") and,
// where AVX512_BF16 exists, the VDPBF16PS path ("dot").
func BenchmarkBF16Prefill(b *testing.B) {
	const m = 512
	for _, s := range [][2]int{{768, 2304}, {768, 3072}, {3072, 768}} {
		k, n := s[0], s[1]
		rng := rand.New(rand.NewPCG(1, 2))
		a := randMatrix(rng, m, k)
		l := NewBF16Linear(randMatrix(rng, n, k), nil, n, k)
		c := make([]float32, m*n)
		for _, dot := range []bool{false, true} {
			if dot && (!cpuHasBF16 || level < levelAVX512) {
				continue
			}
			name := "fma"
			if dot {
				name = "dot"
			}
			b.Run(fmt.Sprintf("%s/%dx%d", name, k, n), func(b *testing.B) {
				saved := bfDot
				defer func() { bfDot = saved }()
				bfDot = dot
				for b.Loop() {
					l.Apply(m, a, k, c, n)
				}
				b.ReportMetric(2*float64(m*n*k)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkBFDotMicro compares, on one thread with every operand in L1/L2,
// the VDPBF16PS kernel (8 rows × 32 columns) with two calls of the
// four-row FMA kernel over the same 8 × 32 outputs, k = 768.
func BenchmarkBFDotMicro(b *testing.B) {
	if !cpuHasBF16 || !cpuHasAVX512 {
		b.Skip("no AVX512_BF16")
	}
	const k, nblk = 768, 2
	rng := rand.New(rand.NewPCG(1, 2))
	x := randMatrix(rng, 8, k)
	a := make([]uint16, 8*k)
	bfRoundRows(8, k, x, k, a)
	w := make([]uint16, nblk*k*bfNR)
	for i := range w {
		w[i] = ToBF16(float32(rng.NormFloat64()))
	}
	bias := make([]float32, nblk*bfNR)
	c := make([]float32, 8*nblk*bfNR)
	flops := 2 * 8 * nblk * bfNR * k
	b.Run("dot", func(b *testing.B) {
		for b.Loop() {
			bfdot8x16AVX512BF16(nblk, k, a, k, w, bias, c, nblk*bfNR)
		}
		b.ReportMetric(float64(flops)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
	})
	b.Run("fma", func(b *testing.B) {
		for b.Loop() {
			bfgemm4x16AVX512(nblk, k, x, k, w, bias, c, nblk*bfNR)
			bfgemm4x16AVX512(nblk, k, x[4*k:], k, w, bias, c[4*nblk*bfNR:], nblk*bfNR)
		}
		b.ReportMetric(float64(flops)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
	})
}
