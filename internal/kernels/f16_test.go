package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestToF16 checks the rounding against PyTorch's .half() on hand-picked
// values (torch 1.13 gives these bits): ties to even, subnormals and
// their rounding boundaries, carries into the exponent, overflow to
// infinity at 65520, NaN.
func TestToF16(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3c00}, // 1
		{0x3f801000, 0x3c00}, // tie, even below
		{0x3f803000, 0x3c02}, // tie, odd below: up
		{0x3f801001, 0x3c01}, // above the tie
		{0xbf803000, 0xbc02}, // negative tie
		{0x3fffffff, 0x4000}, // carry into the exponent
		{0x477fe000, 0x7bff}, // 65504, the largest half
		{0x477fefff, 0x7bff}, // just below 65520: down to 65504
		{0x477ff000, 0x7c00}, // 65520, the tie above 65504: +Inf
		{0xc77ff000, 0xfc00}, // -65520: -Inf
		{0x7f800000, 0x7c00}, // +Inf
		{0x33000000, 0x0000}, // 2⁻²⁵, tie between 0 and 2⁻²⁴: even 0
		{0x33000001, 0x0001}, // just above: the smallest subnormal
		{0x337fffff, 0x0001},
		{0x33c00000, 0x0002}, // 1.5·2⁻²⁴, tie: even 2
		{0x387fc000, 0x03ff}, // the largest subnormal
		{0x387fe000, 0x0400}, // tie: up to the smallest normal
		{0x38800000, 0x0400}, // 2⁻¹⁴
		{0x7fc00001, 0x7e00}, // NaN
		{0xffc00000, 0xfe00}, // negative NaN keeps its sign
		{0x7f800001, 0x7e00}, // signalling NaN
		{0x80000000, 0x8000}, // -0
		{0x00000001, 0x0000}, // float32 subnormal
	} {
		if got := ToF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

// TestFromF16 checks every half: finite values against their definition
// (sign, exponent, fraction; subnormals m·2⁻²⁴), infinities, NaNs, and that
// ToF16 gives every non-NaN half back.
func TestFromF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		v := FromF16(uint16(h))
		e, m := h>>10&0x1f, h&0x3ff
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		switch {
		case e == 0x1f && m != 0:
			if v == v {
				t.Fatalf("FromF16(%#04x) = %v, want NaN", h, v)
			}
			continue
		case e == 0x1f:
			if !math.IsInf(float64(v), int(sign)) {
				t.Fatalf("FromF16(%#04x) = %v, want %v·Inf", h, v, sign)
			}
		case e == 0:
			if want := sign * float64(m) * 0x1p-24; float64(v) != want || math.Signbit(float64(v)) != (sign < 0) {
				t.Fatalf("FromF16(%#04x) = %v, want %v", h, v, want)
			}
		default:
			if want := sign * (1 + float64(m)/1024) * math.Ldexp(1, e-15); float64(v) != want {
				t.Fatalf("FromF16(%#04x) = %v, want %v", h, v, want)
			}
		}
		if back := ToF16(v); back != uint16(h) {
			t.Fatalf("ToF16(FromF16(%#04x)) = %#04x", h, back)
		}
	}
}

// f16Nearest is ToF16's reference: for |v| it finds by bisection the
// largest finite half at or below it and picks the nearer of it and the
// next (infinity counting as 2¹⁶, IEEE's overflow rule), ties to the even
// encoding; every value 2¹⁶ or more is infinite.
func f16Nearest(v float32) uint16 {
	x := math.Abs(float64(v))
	var sign uint16
	if math.Signbit(float64(v)) {
		sign = 0x8000
	}
	if x >= 65536 {
		return sign | 0x7c00
	}
	lo, hi := 0, 0x7bff // FromF16(lo) ≤ x holds for lo
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if float64(FromF16(uint16(mid))) <= x {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	below := float64(FromF16(uint16(lo)))
	above := 65536.0
	if lo < 0x7bff {
		above = float64(FromF16(uint16(lo + 1)))
	}
	switch d0, d1 := x-below, above-x; {
	case d0 < d1, d0 == d1 && lo&1 == 0:
		return sign | uint16(lo)
	}
	return sign | uint16(lo+1)
}

// TestToF16Nearest compares ToF16 with f16Nearest on float32 values spread
// over the whole range (every 97th bit pattern from a random start, and
// random ones near the subnormal and overflow boundaries).
func TestToF16Nearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	check := func(u uint32) {
		v := math.Float32frombits(u)
		if v != v {
			return
		}
		if got, want := ToF16(v), f16Nearest(v); got != want {
			t.Fatalf("ToF16(%#08x = %g) = %#04x, want %#04x", u, v, got, want)
		}
	}
	step := uint32(97)
	if testing.Short() {
		step = 9973
	}
	for u := uint64(rng.Uint32() % step); u < 1<<32; u += uint64(step) {
		check(uint32(u))
	}
	for range 100000 {
		check(0x33000000 + rng.Uint32()%0x06000000) // 2⁻²⁵ .. 2⁻¹³
		check(0x47700000 + rng.Uint32()%0x00200000 | rng.Uint32()&0x80000000)
	}
}

// TestF16Overflow: the first finite value that rounds to infinity.
func TestF16Overflow(t *testing.T) {
	for _, c := range []struct {
		w    []float32
		want int
	}{
		{nil, -1},
		{[]float32{1, -65504, 65519.99, float32(math.Inf(1)), float32(math.NaN())}, -1},
		{[]float32{1, 65520}, 1},
		{[]float32{-1e6, 2}, 0},
		{[]float32{math.MaxFloat32}, 0},
	} {
		if got := F16Overflow(c.w); got != c.want {
			t.Errorf("F16Overflow(%v) = %d, want %d", c.w, got, c.want)
		}
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("NewF16Linear accepted a weight of 1e5")
		} else if s := fmt.Sprint(r); s != "kernels: NewF16Linear: weight [1][0] = 100000 is beyond float16's range (±65504)" {
			t.Errorf("panic %q", s)
		}
	}()
	NewF16Linear([]float32{1, 2, 1e5, 0}, nil, 2, 2)
}

// TestNewF16LinearBits: packing half bits directly gives NewF16Linear's
// layer for the same weights; Bits gives them back and Row widens one
// output's weights.
func TestNewF16LinearBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, k = 37, 19
	w := randMatrix(rng, n, k)
	h := make([]uint16, n*k)
	for i, v := range w {
		h[i] = ToF16(v)
	}
	bias := randMatrix(rng, 1, n)
	a, b := NewF16Linear(w, bias, n, k), NewF16LinearBits(h, bias, n, k)
	if a.N != b.N || a.K != b.K || !slices.Equal(a.b, b.b) || !slices.Equal(a.bias, b.bias) {
		t.Error("NewF16LinearBits packs differently from NewF16Linear")
	}
	if got := a.Bits(); !slices.Equal(got, h) {
		t.Error("Bits does not give the half weights back")
	}
	row := make([]float32, k)
	for j := range n {
		a.Row(j, row)
		for p, v := range row {
			if v != FromF16(h[j*k+p]) {
				t.Fatalf("Row(%d)[%d] = %v, want %v", j, p, v, FromF16(h[j*k+p]))
			}
		}
	}
}

// FuzzToF16 compares ToF16 with the bisection reference on any float32
// bit pattern, and checks that FromF16 gives the half back.
func FuzzToF16(f *testing.F) {
	for _, u := range []uint32{0x3f801000, 0x3f803000, 0x477ff000, 0x477fefff, 0x33000000, 0x33000001, 0x387fe000, 0x7fc00001, 0x80000001} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, u uint32) {
		v := math.Float32frombits(u)
		h := ToF16(v)
		if v != v {
			if h&0x7fff != 0x7e00 {
				t.Fatalf("ToF16(NaN %#08x) = %#04x", u, h)
			}
			return
		}
		if want := f16Nearest(v); h != want {
			t.Fatalf("ToF16(%#08x) = %#04x, want %#04x", u, h, want)
		}
		if back := ToF16(FromF16(h)); back != h {
			t.Fatalf("ToF16(FromF16(%#04x)) = %#04x", h, back)
		}
	})
}

// f16Ref is the reference: float64 sums of the exact products of a and the
// half-rounded weights, and Σ|a·w| for the tolerance.
func f16Ref(w, bias, a []float32, k int, j, i int) (sum, abs float64) {
	for p := 0; p < k; p++ {
		x := float64(a[i*k+p]) * float64(FromF16(ToF16(w[j*k+p])))
		sum += x
		abs += math.Abs(x)
	}
	if bias != nil {
		sum += float64(bias[j])
		abs += math.Abs(float64(bias[j]))
	}
	return sum, abs
}

// TestF16Linear runs Apply at every level over shapes with partial
// blocks, every k tail, one row and several (the eight- and four-row
// kernels and their remainders), with and without a bias, against a float64 sum of the same
// products, within twice the float32 bound (k+1)·2⁻²⁴·Σ|terms|. The
// weights include subnormal halves. It also checks that the output's
// padding (ldc > N) is untouched and that the half weights were used (not
// the float32 ones).
func TestF16Linear(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, s := range [][3]int{{1, 1, 1}, {1, 7, 16}, {1, 33, 17}, {2, 64, 48}, {3, 5, 100}, {4, 9, 33}, {5, 130, 33}, {1, 768, 2304}, {7, 3072, 40}, {9, 17, 64}, {8, 33, 17}, {13, 64, 48}, {21, 768, 100}, {1, 256, 8192}} {
			m, k, n := s[0], s[1], s[2]
			for _, withBias := range []bool{true, false} {
				w := randMatrix(rng, n, k)
				for i := 0; i < len(w); i += 11 {
					w[i] *= 1e-5 // subnormal in float16
				}
				a := randMatrix(rng, m, k)
				var bias []float32
				if withBias {
					bias = randMatrix(rng, 1, n)
				}
				l := NewF16Linear(w, bias, n, k)
				ldc := n + 3
				c := make([]float32, m*ldc)
				for i := range c {
					c[i] = guardVal
				}
				l.Apply(m, a, k, c, ldc)
				var exact float64 // the largest error against float32 weights
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						got := c[i*ldc+j]
						if j >= n {
							if got != guardVal {
								t.Fatalf("%v bias=%v: c[%d][%d] past N overwritten", s, withBias, i, j)
							}
							continue
						}
						want, abs := f16Ref(w, bias, a, k, j, i)
						tol := 2 * float64(k+1) * 0x1p-24 * abs
						if d := math.Abs(float64(got) - want); !(d <= tol) {
							t.Fatalf("%v bias=%v: c[%d][%d] = %v, want %v (±%g)", s, withBias, i, j, got, want, tol)
						}
						var f32 float64
						for p := 0; p < k; p++ {
							f32 += float64(a[i*k+p]) * float64(w[j*k+p])
						}
						if bias != nil {
							f32 += float64(bias[j])
						}
						exact = max(exact, math.Abs(float64(got)-f32))
					}
				}
				if k >= 7 && exact == 0 {
					t.Errorf("%v: results equal the float32 weights' exactly: the half weights were not used", s)
				}
			}
		}
	})
}

// TestF16LevelsAgree compares the assembly kernels with the generic ones
// directly on GPT-2's shapes: within 2·k·2⁻²⁴·Σ|a·w| (different summation
// orders and fused vs separate rounding of the products).
func TestF16LevelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{768, 3072, 769, 1} {
		const nblk = 4
		w := make([]uint16, nblk*k*f16NR)
		for i := range w {
			w[i] = ToF16(float32(rng.NormFloat64()) * 0.05)
		}
		a := randMatrix(rng, 8, k)
		bias := randMatrix(rng, 1, nblk*f16NR)
		tol := func(i, j int) float64 {
			abs := math.Abs(float64(bias[j]))
			for p := 0; p < k; p++ {
				abs += math.Abs(float64(a[i*k+p]) * float64(FromF16(w[(j/f16NR)*k*f16NR+p*f16NR+j%f16NR])))
			}
			return 2 * float64(k) * 0x1p-24 * abs
		}
		want := make([]float32, nblk*f16NR)
		f16gemv16Generic(nblk, k, a, w, bias, want)
		for _, lvl := range availableLevels() {
			got := make([]float32, nblk*f16NR)
			f16gemvL(lvl, nblk, k, a, w, bias, got)
			for j := range got {
				if d := math.Abs(float64(got[j] - want[j])); !(d <= tol(0, j)) {
					t.Errorf("%s k=%d: c[%d] = %v, generic %v (±%g)", levelNames[lvl], k, j, got[j], want[j], tol(0, j))
				}
			}
			if lvl < levelAVX512 {
				continue
			}
			for _, rows := range []int{4, 8} {
				want4 := make([]float32, rows*nblk*f16NR)
				got4 := make([]float32, rows*nblk*f16NR)
				if rows == 4 {
					f16gemm4x16Generic(nblk, k, a, k, w, bias, want4, nblk*f16NR)
					f16gemm4x16AVX512(nblk, k, a, k, w, bias, got4, nblk*f16NR)
				} else {
					f16gemm8x16Generic(nblk, k, a, k, w, bias, want4, nblk*f16NR)
					f16gemm8x16AVX512(nblk, k, a, k, w, bias, got4, nblk*f16NR)
				}
				for x := range got4 {
					i, j := x/(nblk*f16NR), x%(nblk*f16NR)
					if d := math.Abs(float64(got4[x] - want4[x])); !(d <= tol(i, j)) {
						t.Errorf("%s %d rows k=%d: c[%d][%d] = %v, generic %v (±%g)", levelNames[lvl], rows, k, i, j, got4[x], want4[x], tol(i, j))
					}
				}
			}
		}
	}
}

// TestF16LinearAllocs checks that Apply allocates nothing once warm, for
// one row (decoding) and many.
func TestF16LinearAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const k, n = 768, 2304
	l := NewF16Linear(randMatrix(rng, n, k), randMatrix(rng, 1, n), n, k)
	for _, m := range []int{1, 9} {
		a := randMatrix(rng, m, k)
		c := make([]float32, m*n)
		l.Apply(m, a, k, c, n)
		if got := testing.AllocsPerRun(20, func() { l.Apply(m, a, k, c, n) }); got != 0 {
			t.Errorf("m=%d: %v allocations per Apply, want 0", m, got)
		}
	}
}

// TestF16SelfCheck runs the start-up self-check of every level (it also
// compares the four-row AVX-512 kernel with its generic twin), so that a
// failure shows here and not only as a slower kernel set.
func TestF16SelfCheck(t *testing.T) {
	for _, lvl := range availableLevels() {
		if err := f16SelfCheck(lvl); err != nil {
			t.Errorf("%s: %v", levelNames[lvl], err)
		}
	}
}

// BenchmarkF16Gemv compares one decoding row (m = 1) through the float16
// layer with the bf16 one on GPT-2 small's shapes (k×n: c_attn,
// attn.c_proj, mlp.c_fc, mlp.c_proj, and the LM head), weights warm in
// cache where they fit. GB/s counts the layer's weight bytes.
func BenchmarkF16Gemv(b *testing.B) {
	for _, s := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}} {
		k, n := s[0], s[1]
		rng := rand.New(rand.NewPCG(1, 1))
		a := randMatrix(rng, 1, k)
		w := randMatrix(rng, n, k)
		bias := randMatrix(rng, 1, n)
		c := make([]float32, n)
		for _, kind := range []string{"bf16", "f16"} {
			b.Run(fmt.Sprintf("%s/%dx%d", kind, k, n), func(b *testing.B) {
				var l interface {
					Apply(m int, a []float32, lda int, c []float32, ldc int)
				}
				if kind == "f16" {
					l = NewF16Linear(w, bias, n, k)
				} else {
					l = NewBF16Linear(w, bias, n, k)
				}
				b.ReportAllocs()
				for b.Loop() {
					l.Apply(1, a, k, c, n)
				}
				b.ReportMetric(2*float64(n*k)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
			})
		}
	}
}

// BenchmarkF16Prefill runs 512 rows (a prompt) through GPT-2 small's
// mlp.c_fc shape with float16 and bf16 weights.
func BenchmarkF16Prefill(b *testing.B) {
	const m, k, n = 512, 768, 3072
	rng := rand.New(rand.NewPCG(1, 2))
	a := randMatrix(rng, m, k)
	w := randMatrix(rng, n, k)
	c := make([]float32, m*n)
	for _, kind := range []string{"bf16", "f16"} {
		b.Run(kind, func(b *testing.B) {
			var l interface {
				Apply(m int, a []float32, lda int, c []float32, ldc int)
			}
			if kind == "f16" {
				l = NewF16Linear(w, nil, n, k)
			} else {
				l = NewBF16Linear(w, nil, n, k)
			}
			for b.Loop() {
				l.Apply(m, a, k, c, n)
			}
			b.ReportMetric(2*float64(m*n*k)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GFLOP/s")
		})
	}
}
