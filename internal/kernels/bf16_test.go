package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestToBF16 checks the rounding against values worked out by hand (the
// same as PyTorch's .to(torch.bfloat16)): ties to even, carries into the
// exponent, infinities, NaN.
func TestToBF16(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even below
		{0x3f818000, 0x3f82}, // tie, odd below: up
		{0x3f808001, 0x3f81}, // above the tie
		{0x3f807fff, 0x3f80}, // below the tie
		{0xbf818000, 0xbf82}, // negative tie, away
		{0x3fffffff, 0x4000}, // carry into the exponent
		{0x7f7fffff, 0x7f80}, // max float32 rounds to +Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f800001, 0x7fc0}, // signalling NaN: quiet
		{0x00000001, 0x0000}, // tiny subnormal
		{0x80000000, 0x8000}, // -0
	} {
		if got := ToBF16(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
	for _, v := range []float32{0, 1, -2.5, 3.140625} { // exact in bf16
		if got := FromBF16(ToBF16(v)); got != v {
			t.Errorf("FromBF16(ToBF16(%v)) = %v", v, got)
		}
	}
}

// bfRef is the reference: float64 sums of the exact products of a and the
// bf16-rounded weights, and Σ|a·w| for the tolerance.
func bfRef(w, bias, a []float32, n, k int, j, i int) (sum, abs float64) {
	for p := 0; p < k; p++ {
		x := float64(a[i*k+p]) * float64(FromBF16(ToBF16(w[j*k+p])))
		sum += x
		abs += math.Abs(x)
	}
	if bias != nil {
		sum += float64(bias[j])
		abs += math.Abs(float64(bias[j]))
	}
	return sum, abs
}

// TestBF16Linear runs Apply at every level over shapes with partial
// blocks, every k tail, one row and several, with and without a bias,
// against a float64 sum of the same products. Tolerance: float32 sums of
// k+1 terms in any order are within (k+1)·2⁻²⁴·Σ|terms| of the exact sum;
// the test allows twice that. It also checks that the output's padding
// (ldc > N) is untouched.
func TestBF16Linear(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, s := range [][3]int{{1, 1, 1}, {1, 7, 16}, {1, 33, 17}, {2, 64, 48}, {3, 5, 100}, {5, 130, 33}, {1, 768, 2304}, {7, 3072, 40}, {1, 256, 8192}} {
			m, k, n := s[0], s[1], s[2]
			for _, withBias := range []bool{true, false} {
				w := randMatrix(rng, n, k)
				a := randMatrix(rng, m, k)
				var bias []float32
				if withBias {
					bias = randMatrix(rng, 1, n)
				}
				l := NewBF16Linear(w, bias, n, k)
				ldc := n + 3
				c := make([]float32, m*ldc)
				for i := range c {
					c[i] = guardVal
				}
				l.Apply(m, a, k, c, ldc)
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						got := c[i*ldc+j]
						if j >= n {
							if got != guardVal {
								t.Fatalf("%v bias=%v: c[%d][%d] past N overwritten", s, withBias, i, j)
							}
							continue
						}
						want, abs := bfRef(w, bias, a, n, k, j, i)
						tol := 2 * float64(k+1) * 0x1p-24 * abs
						if d := math.Abs(float64(got) - want); !(d <= tol) {
							t.Fatalf("%v bias=%v: c[%d][%d] = %v, want %v (±%g)", s, withBias, i, j, got, want, tol)
						}
					}
				}
			}
		}
	})
}

// TestBF16LevelsAgree compares the assembly one-row kernels with the
// generic one directly on GPT-2's shapes: within 2·k·2⁻²⁴·Σ|a·w| (different
// summation orders and fused vs separate rounding of the products).
func TestBF16LevelsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{768, 3072, 769, 1} {
		const nblk = 4
		kp := (k + 1) &^ 1
		w := make([]uint16, nblk*kp*bfNR)
		for i := range w {
			w[i] = ToBF16(float32(rng.NormFloat64()) * 0.05)
		}
		a := randMatrix(rng, 1, k)
		bias := randMatrix(rng, 1, nblk*bfNR)
		want := make([]float32, nblk*bfNR)
		bfgemv16Generic(nblk, k, a, w, bias, want)
		for _, lvl := range availableLevels() {
			got := make([]float32, nblk*bfNR)
			bfgemvL(lvl, nblk, k, a, w, bias, got)
			for j := range got {
				abs := math.Abs(float64(bias[j%bfNR+(j/bfNR)*bfNR]))
				for p := 0; p < k; p++ {
					abs += math.Abs(float64(a[p]) * float64(FromBF16(w[(j/bfNR)*kp*bfNR+(p/2)*2*bfNR+2*(j%bfNR)+p%2])))
				}
				tol := 2 * float64(k) * 0x1p-24 * abs
				if d := math.Abs(float64(got[j] - want[j])); !(d <= tol) {
					t.Errorf("%s k=%d: c[%d] = %v, generic %v (±%g)", levelNames[lvl], k, j, got[j], want[j], tol)
				}
			}
		}
	}
}

// TestBF16LinearAllocs checks that Apply allocates nothing once warm, for
// one row (decoding) and many.
func TestBF16LinearAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const k, n = 768, 2304
	l := NewBF16Linear(randMatrix(rng, n, k), randMatrix(rng, 1, n), n, k)
	for _, m := range []int{1, 9} {
		a := randMatrix(rng, m, k)
		c := make([]float32, m*n)
		l.Apply(m, a, k, c, n)
		if got := testing.AllocsPerRun(20, func() { l.Apply(m, a, k, c, n) }); got != 0 {
			t.Errorf("m=%d: %v allocations per Apply, want 0", m, got)
		}
	}
}

// BenchmarkBF16Gemv compares one decoding row (m = 1) through the bf16
// layer with float32 (Sgemm, transB, as nn.Linear) and the int8 QLinear on
// GPT-2 small's shapes (k×n: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj,
// and the LM head), weights warm in cache where they fit. GB/s counts the
// layer's weight bytes.
func BenchmarkBF16Gemv(b *testing.B) {
	for _, s := range [][2]int{{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}, {768, 50257}} {
		k, n := s[0], s[1]
		rng := rand.New(rand.NewPCG(1, 1))
		a := randMatrix(rng, 1, k)
		w := randMatrix(rng, n, k)
		bias := randMatrix(rng, 1, n)
		c := make([]float32, n)
		for _, kind := range []string{"float32", "int8", "bf16"} {
			b.Run(fmt.Sprintf("%s/%dx%d", kind, k, n), func(b *testing.B) {
				var q *QLinear
				var l *BF16Linear
				bytes := 4.0
				switch kind {
				case "int8":
					q, bytes = NewQLinear(w, bias, n, k, QInt8), 1
				case "bf16":
					l, bytes = NewBF16Linear(w, bias, n, k), 2
				}
				b.ReportAllocs()
				for b.Loop() {
					switch {
					case q != nil:
						q.Apply(1, a, k, c, n)
					case l != nil:
						l.Apply(1, a, k, c, n)
					default:
						Sgemm(false, true, 1, n, k, 1, a, k, w, k, 0, c, n)
					}
				}
				b.ReportMetric(bytes*float64(n*k)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
			})
		}
	}
}

// TestBF16SelfCheck runs the start-up self-check of every level (it also
// compares the four-row AVX-512 kernel with its generic twin), so that a
// failure shows here and not only as a slower kernel set.
func TestBF16SelfCheck(t *testing.T) {
	for _, lvl := range availableLevels() {
		if err := bfSelfCheck(lvl); err != nil {
			t.Errorf("%s: %v", levelNames[lvl], err)
		}
	}
}
