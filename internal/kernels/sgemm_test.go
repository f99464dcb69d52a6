package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gemmCase is one Sgemm call of the conformance table.
type gemmCase struct {
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
	padA, padB     int // extra columns in the leading dimensions
	padC           int
}

func (c gemmCase) String() string {
	return fmt.Sprintf("m%d_n%d_k%d_tA%v_tB%v_a%g_b%g_pad%d.%d.%d", c.m, c.n, c.k, c.transA, c.transB, c.alpha, c.beta, c.padA, c.padB, c.padC)
}

// runGemmCase calls Sgemm and compares with a float64 triple loop. C carries
// guard values in its row padding and after its end; A and B must be
// unchanged; with beta == 0, C starts as NaN (it must not be read).
func runGemmCase(t *testing.T, rng *rand.Rand, tc gemmCase) {
	t.Helper()
	m, n, k := tc.m, tc.n, tc.k
	ar, ac := m, k
	if tc.transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tc.transB {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+tc.padA, bc+tc.padB, n+tc.padC
	a := randMatrix(rng, ar, lda)
	b := randMatrix(rng, br, ldb)
	a0 := append([]float32(nil), a...)
	b0 := append([]float32(nil), b...)
	const tail = 21
	c := make([]float32, m*ldc+tail)
	for i := range c {
		c[i] = guardVal
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			if tc.beta == 0 {
				c[i*ldc+j] = float32(math.NaN())
			} else {
				c[i*ldc+j] = float32(rng.NormFloat64())
			}
		}
	}
	c0 := append([]float32(nil), c...)
	Sgemm(tc.transA, tc.transB, m, n, k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, scale float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tc.transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tc.transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				scale += math.Abs(float64(av) * float64(bv))
			}
			want := float64(tc.alpha) * s
			scale *= math.Abs(float64(tc.alpha))
			if tc.beta != 0 {
				want += float64(tc.beta) * float64(c0[i*ldc+j])
				scale += math.Abs(float64(tc.beta) * float64(c0[i*ldc+j]))
			}
			got := float64(c[i*ldc+j])
			if math.Abs(got-want) > 2e-6*scale+1e-30 {
				t.Fatalf("%v: C[%d,%d] = %g, want %g (scale %g)", tc, i, j, got, want, scale)
			}
		}
		for j := n; j < ldc && i*ldc+j < len(c); j++ {
			if c[i*ldc+j] != guardVal {
				t.Fatalf("%v: padding C[%d,%d] overwritten: %g", tc, i, j, c[i*ldc+j])
			}
		}
	}
	for i := m * ldc; i < len(c); i++ {
		if c[i] != guardVal {
			t.Fatalf("%v: guard after C at %d overwritten: %g", tc, i, c[i])
		}
	}
	for i := range a {
		if a[i] != a0[i] {
			t.Fatalf("%v: A changed at %d", tc, i)
		}
	}
	for i := range b {
		if b[i] != b0[i] {
			t.Fatalf("%v: B changed at %d", tc, i)
		}
	}
}

func randMatrix(rng *rand.Rand, rows, ld int) []float32 {
	x := make([]float32, rows*ld)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

func gemmCases() []gemmCase {
	var cases []gemmCase
	dims := []int{1, 2, 3, 5, 7, 8, 16, 17, 33, 65}
	i := 0
	for _, m := range dims {
		for _, n := range dims {
			for _, k := range []int{1, 3, 7, 17, 63} {
				i++
				for t := 0; t < 4; t++ {
					tc := gemmCase{m: m, n: n, k: k, transA: t&1 != 0, transB: t&2 != 0, alpha: 1}
					switch (i + t) % 4 {
					case 1:
						tc.alpha, tc.beta = -0.5, 0.75
					case 2:
						tc.beta = 1
						tc.padA, tc.padB, tc.padC = 3, 1, 5
					case 3:
						tc.alpha, tc.beta = 2, -1
						tc.padC = 2
					}
					cases = append(cases, tc)
				}
			}
		}
	}
	// Larger shapes: several mc/kc blocks, the parallel split by columns and
	// by rows, ncBlock edges, large k, and small m through the GEMV path.
	big := []gemmCase{
		{m: 300, n: 200, k: 600, alpha: 1},
		{m: 300, n: 200, k: 600, transA: true, transB: true, alpha: 0.5, beta: 2, padA: 1, padB: 2, padC: 3},
		{m: 291, n: 33, k: 257, transA: true, alpha: 1, beta: 1},
		{m: 97, n: 130, k: 513, transB: true, alpha: -1, padC: 7},
		{m: 7, n: 4200, k: 5, alpha: 1, beta: 0.5},
		{m: 5, n: 4100, k: 20, transB: true, alpha: 1},
		{m: 1, n: 2305, k: 771, alpha: 1},
		{m: 1, n: 2305, k: 771, alpha: 0.5, beta: -1, padC: 3},
		{m: 1, n: 2305, k: 771, transB: true, alpha: 0.5, beta: -1},
		{m: 1, n: 1031, k: 1030, transA: true, alpha: 1, padA: 4},
		{m: 1, n: 1031, k: 1030, transA: true, transB: true, alpha: 1, beta: 1, padA: 4},
		{m: 3, n: 5000, k: 100, alpha: 1, beta: 0.25, padB: 3},
		{m: 4, n: 777, k: 1024, transB: true, alpha: 1, padB: 1},
		{m: 8, n: 2305, k: 771, alpha: 1, beta: 1, padA: 2, padC: 1},
		{m: 6, n: 1029, k: 515, transA: true, transB: true, alpha: 2, padA: 3, padB: 1},
		{m: 9, n: 1029, k: 515, transA: true, alpha: 1},
		{m: 5, n: 3000, k: 400, transA: true, alpha: 1, beta: 0.5, padA: 2, padC: 4},
		{m: 1, n: 1, k: 1023, alpha: 1},
		{m: 1, n: 1023, k: 1, transB: true, alpha: 1},
		// Last column panels at most half used (AVX-512's 6×16 tail
		// kernel): attention heads of 40 and 80 values, 77 text tokens.
		{m: 100, n: 40, k: 300, alpha: 1},
		{m: 61, n: 80, k: 77, alpha: 0.5, beta: 1, padC: 3},
		{m: 64, n: 77, k: 40, transB: true, alpha: 0.125},
		{m: 13, n: 48, k: 9, transA: true, alpha: 1, beta: -0.5, padB: 2},
		{m: 2, n: 3, k: 0, alpha: 1, beta: 0.5},
		{m: 2, n: 3, k: 4, alpha: 0, beta: 0},
	}
	return append(cases, big...)
}

func TestSgemm(t *testing.T) {
	cases := gemmCases()
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, tc := range cases {
			runGemmCase(t, rng, tc)
		}
	})
}

func TestSgemmPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"short A", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"short C", func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}},
		{"small ldb", func() {
			Sgemm(false, true, 2, 3, 2, 1, make([]float32, 4), 2, make([]float32, 6), 1, 0, make([]float32, 6), 3)
		}},
		{"negative", func() { Sgemm(false, false, 2, -1, 2, 1, nil, 2, nil, 2, 0, nil, 2) }},
		{"short x", func() { Dot(make([]float32, 3), make([]float32, 2)) }},
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Errorf("%s: no panic", tc.name)
					return
				}
				if s, ok := r.(string); !ok || len(s) < 9 || s[:9] != "kernels: " {
					t.Errorf("%s: panic %v, want a \"kernels: \" message", tc.name, r)
				}
			}()
			tc.fn()
		}()
	}
}

func TestSgemmZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, s := range []struct {
			m, n, k int
			tB      bool
		}{{256, 256, 256, false}, {96, 300, 64, true}, {1, 2304, 768, false}, {1, 4096, 768, true}, {3, 512, 128, false}, {1, 64, 64, true}} {
			a := randMatrix(rng, s.m, s.k)
			b := randMatrix(rng, s.k, s.n)
			c := make([]float32, s.m*s.n)
			ldb := s.n
			if s.tB {
				ldb = s.k
			}
			allocs := testing.AllocsPerRun(20, func() {
				Sgemm(false, s.tB, s.m, s.n, s.k, 1, a, s.k, b, ldb, 0, c, s.n)
			})
			if allocs != 0 {
				t.Errorf("Sgemm %dx%dx%d transB=%v: %v allocations per call, want 0", s.m, s.n, s.k, s.tB, allocs)
			}
		}
	})
}

// TestGemvSplitKUnevenParts runs the split-K GEMV (one and three rows of x,
// padded strides) with every chunk taken by one part (as when a thread
// starts late and the others finish the work): y must still be scaled by
// beta exactly once and every partial sum added.
func TestGemvSplitKUnevenParts(t *testing.T) {
	if Threads() < 2 {
		t.Skip("needs two threads")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	const n, k = 1024, 300 // 64-row chunks: 5 of them
	b := randMatrix(rng, k, n)
	for _, m := range []int{1, 3} {
		ldx, ldy := k+5, n+3
		x := randMatrix(rng, m, ldx)
		for _, beta := range []float32{0, 1, 0.5} {
			for _, only := range []int{0, 1} {
				y := randMatrix(rng, m, ldy)
				y0 := append([]float32(nil), y...)
				want := append([]float32(nil), y...)
				for i := 0; i < m; i++ {
					for jj := 0; jj < n; jj++ {
						var s float64
						for p := 0; p < k; p++ {
							s += float64(x[i*ldx+p]) * float64(b[p*n+jj])
						}
						want[i*ldy+jj] = float32(2*s) + beta*y[i*ldy+jj]
					}
				}
				j, parts := newSplitKJob(level, m, n, k, 2, x, ldx, b, n, beta, y, ldy)
				j.do(only, only+1)
				for p := 0; p < parts; p++ {
					if p != only {
						j.do(p, p+1) // finds no chunk left
					}
				}
				j.finishSplitK()
				j.release()
				for i := 0; i < m; i++ {
					for jj := 0; jj < ldy; jj++ {
						idx := i*ldy + jj
						if jj >= n {
							if y[idx] != y0[idx] {
								t.Fatalf("m %d: padding y[%d] changed", m, idx)
							}
							continue
						}
						if d := math.Abs(float64(y[idx] - want[idx])); d > 1e-4*(1+math.Abs(float64(want[idx]))) {
							t.Fatalf("m %d, beta %g, all chunks in part %d: y[%d][%d] = %g, want %g", m, beta, only, i, jj, y[idx], want[idx])
						}
					}
				}
			}
		}
	}
}

// TestSgemmSerial checks the single-goroutine Sgemm against the float64
// reference on every kernel set, including the m <= 8 shapes Sgemm would
// run as GEMVs.
func TestSgemmSerial(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, s := range []struct {
			m, n, k    int
			tA, tB     bool
			alpha, bet float32
		}{{1, 300, 77, false, true, 1, 0}, {3, 65, 17, false, false, 2, 0.5}, {200, 130, 300, false, true, -1, 1}, {64, 1025, 63, true, false, 1, 0}, {9, 7, 0, false, false, 1, 0.5}} {
			ar, ac := s.m, s.k
			if s.tA {
				ar, ac = s.k, s.m
			}
			br, bc := s.k, s.n
			if s.tB {
				br, bc = s.n, s.k
			}
			a := randMatrix(rng, ar, ac)
			b := randMatrix(rng, br, bc)
			c := randMatrix(rng, s.m, s.n)
			want := append([]float32(nil), c...)
			sgemmNaive(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, ac, b, bc, s.bet, want, s.n)
			SgemmSerial(s.tA, s.tB, s.m, s.n, s.k, s.alpha, a, ac, b, bc, s.bet, c, s.n)
			for i := range want {
				if d := math.Abs(float64(c[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("%+v: c[%d] = %g, want %g", s, i, c[i], want[i])
				}
			}
		}
	})
}
