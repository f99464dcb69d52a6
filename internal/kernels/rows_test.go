package kernels

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestSoftmaxRows(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, cols := range []int{1, 3, 7, 8, 17, 63, 65, 1023, 50257} {
			for _, tc := range []struct {
				rows   int
				causal bool
				offset int
			}{{1, false, 0}, {3, false, 0}, {5, true, 0}, {4, true, 2}, {20, true, cols - 3}} {
				rows := tc.rows
				if cols > 2000 && rows > 3 {
					rows = 3
				}
				x, check := guarded(rng, rows*cols, 1)
				for i := range x {
					x[i] *= 8 // a spread that exercises exp's range
				}
				if cols > 5 {
					x[2] = -1e30 // far below the max: exp underflows to 0
				}
				orig := append([]float32(nil), x...)
				SoftmaxRows(x, rows, cols, tc.causal, tc.offset)
				check(t, "SoftmaxRows")
				for i := 0; i < rows; i++ {
					n := cols
					if tc.causal {
						n = min(max(i+tc.offset+1, 1), cols)
					}
					row, in := x[i*cols:(i+1)*cols], orig[i*cols:(i+1)*cols]
					m := math.Inf(-1)
					for _, v := range in[:n] {
						m = math.Max(m, float64(v))
					}
					var z float64
					for _, v := range in[:n] {
						z += math.Exp(float64(v) - m)
					}
					var sum float64
					for j, v := range row {
						if j >= n {
							if v != 0 {
								t.Fatalf("cols=%d row %d: masked entry %d = %g, want exactly 0", cols, i, j, v)
							}
							continue
						}
						want := math.Exp(float64(in[j])-m) / z
						// float32 rounding of x-max costs up to 6e-8*|x-max| relative.
						tol := want*(1e-6+1.2e-7*math.Abs(float64(in[j])-m)) + 1e-37
						if math.Abs(float64(v)-want) > tol {
							t.Fatalf("cols=%d row %d [%d] = %g, want %g", cols, i, j, v, want)
						}
						sum += float64(v)
					}
					if math.Abs(sum-1) > 1e-5 {
						t.Fatalf("cols=%d row %d sums to %g", cols, i, sum)
					}
				}
			}
		}
		x := []float32{1, 2, 3}
		Softmax(x)
		if s := x[0] + x[1] + x[2]; math.Abs(float64(s)-1) > 1e-6 || !(x[2] > x[1] && x[1] > x[0]) {
			t.Fatalf("Softmax(1,2,3) = %v", x)
		}
		Softmax(nil)
	})
}

func TestLayerNorm(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, cols := range []int{1, 2, 3, 7, 17, 64, 65, 768, 1023} {
			rows := 3
			x, _ := guarded(rng, rows*cols, 0)
			for i := range x {
				x[i] = x[i]*3 + 100 // a large mean
			}
			ones := make([]float32, cols)
			zeros := make([]float32, cols)
			for i := range ones {
				ones[i] = 1
			}
			dst, check := guarded(rng, rows*cols, 2)
			LayerNorm(dst, x, ones, zeros, rows, cols, 1e-5)
			check(t, "LayerNorm")
			for i := 0; i < rows; i++ {
				row := dst[i*cols : (i+1)*cols]
				var mean, sq float64
				for _, v := range row {
					mean += float64(v)
				}
				mean /= float64(cols)
				for _, v := range row {
					sq += (float64(v) - mean) * (float64(v) - mean)
				}
				variance := sq / float64(cols)
				if math.Abs(mean) > 1e-4 {
					t.Fatalf("cols=%d row %d: mean %g, want 0", cols, i, mean)
				}
				if cols > 1 && math.Abs(variance-1) > 1e-3 {
					t.Fatalf("cols=%d row %d: variance %g, want 1", cols, i, variance)
				}
			}
			// Affine step and aliasing (dst == x) against float64.
			gamma, _ := guarded(rng, cols, 0)
			beta, _ := guarded(rng, cols, 0)
			in := append([]float32(nil), x...)
			LayerNorm(x, x, gamma, beta, rows, cols, 1e-5)
			for i := 0; i < rows; i++ {
				r := in[i*cols : (i+1)*cols]
				var mean, sq float64
				for _, v := range r {
					mean += float64(v)
				}
				mean /= float64(cols)
				for _, v := range r {
					sq += (float64(v) - mean) * (float64(v) - mean)
				}
				rstd := 1 / math.Sqrt(sq/float64(cols)+1e-5)
				for j, v := range r {
					want := (float64(v)-mean)*rstd*float64(gamma[j]) + float64(beta[j])
					if math.Abs(float64(x[i*cols+j])-want) > 1e-4*(math.Abs(want)+1) {
						t.Fatalf("cols=%d [%d,%d] = %g, want %g", cols, i, j, x[i*cols+j], want)
					}
				}
			}
		}
	})
}

func TestGelu(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		var xs []float32
		for v := -12.0; v <= 12; v += 0.01 {
			xs = append(xs, float32(v))
		}
		xs = append(xs, 0, 1e-20, -1e-20, 30, -30, 100, -100, 1e-3, -1e-3)
		for _, n := range []int{1, 3, 7, 17, 65, len(xs)} {
			x := xs[len(xs)-n:]
			for _, form := range []string{"tanh", "erf"} {
				dst, check := guarded(rand.New(rand.NewPCG(1, 1)), n, 1)
				if form == "tanh" {
					GeluTanh(dst, x)
				} else {
					GeluErf(dst, x)
				}
				check(t, "Gelu"+form)
				for i, v := range x {
					f := float64(v)
					var want float64
					if form == "tanh" {
						want = 0.5 * f * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(f+0.044715*f*f*f)))
						if f < -5 {
							// 1+tanh cancels in float64 too; use the exact equal form.
							u := math.Sqrt(2/math.Pi) * (f + 0.044715*f*f*f)
							want = f / (1 + math.Exp(-2*u))
						}
					} else {
						want = 0.5 * f * math.Erfc(-f/math.Sqrt2)
					}
					got := float64(dst[i])
					// Relative error 1e-6, plus the float32 rounding of exp's
					// argument in the vector path: 6e-8 of |2u| (tanh form).
					u := math.Sqrt(2/math.Pi) * (f + 0.044715*f*f*f)
					tol := math.Abs(want)*(1e-6+1.2e-7*math.Abs(2*u)) + 1e-30
					if math.Abs(got-want) > tol {
						t.Fatalf("Gelu%s(%g) = %g, want %g (rel %g)", form, v, got, want, math.Abs(got-want)/math.Abs(want))
					}
				}
			}
		}
		// Aliasing: dst == x.
		x := []float32{-3, -1, 0, 0.5, 2, 4, 6, 8, 10}
		y := append([]float32(nil), x...)
		GeluTanh(y, y)
		for i, v := range x {
			f := float64(v)
			want := 0.5 * f * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(f+0.044715*f*f*f)))
			if math.Abs(float64(y[i])-want) > 1e-6*math.Abs(want)+1e-30 {
				t.Fatalf("GeluTanh aliased (%g) = %g, want %g", v, y[i], want)
			}
		}
	})
}

// TestGeluTanhBackward checks the accumulated derivative against the
// float64 derivative of the tanh form, on a grid, at the extremes and past
// both ends of the exp range, with dy of both signs.
func TestGeluTanhBackward(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		var xs []float32
		for v := -12.0; v <= 12; v += 0.01 {
			xs = append(xs, float32(v))
		}
		xs = append(xs, 0, 1e-20, -1e-20, 30, -30, 100, -100, 1e-3, -1e-3, 1e30, -1e30)
		const s = 0.7978845608028654 // sqrt(2/pi)
		rng := rand.New(rand.NewPCG(5, 6))
		nan := float32(math.NaN())
		nanX := []float32{1, nan, 2, 3, 4, 5, 6, 7, nan}
		nanDX := make([]float32, len(nanX))
		GeluTanhBackward(nanDX, nanX, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1})
		for i, v := range nanX {
			if (v != v) != (nanDX[i] != nanDX[i]) {
				t.Fatalf("x = %g gave dx %g: a NaN in x must give NaN, and only there", v, nanDX[i])
			}
		}
		for _, n := range []int{1, 3, 7, 8, 17, 65, len(xs)} {
			x := xs[len(xs)-n:]
			dy := randMatrix(rng, 1, n)
			dx, check := guarded(rng, n, 1)
			dx0 := append([]float32(nil), dx...)
			GeluTanhBackward(dx, x, dy)
			check(t, "GeluTanhBackward")
			for i, v := range x {
				f := float64(v)
				u := s * (f + 0.044715*f*f*f)
				th := math.Tanh(u)
				d := 0.5*(1+th) + 0.5*f*(1-th*th)*s*(1+3*0.044715*f*f)
				if math.Abs(u) > 20 {
					d = 0.5 * (1 + th) // 1-th² underflows; the second term is 0
				}
				want := float64(dx0[i]) + d*float64(dy[i])
				// float32 rounding of exp's argument: 6e-8 of |2u| in s,
				// magnified by x in the second term.
				tol := 1e-6*(math.Abs(want)+math.Abs(d*float64(dy[i]))) + 1.2e-7*math.Min(math.Abs(2*u), 100)*math.Abs(float64(dy[i]))*(1+math.Abs(f)) + 1e-30
				if got := float64(dx[i]); math.Abs(got-want) > tol || got != got {
					t.Fatalf("n=%d: dx at x=%g: %g, want %g (%g + %g·%g)", n, v, got, want, dx0[i], d, dy[i])
				}
			}
		}
	})
}

func TestArgmaxTopK(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(15, 16))
		if Argmax(nil) != -1 {
			t.Fatal("Argmax(nil) != -1")
		}
		for _, n := range []int{1, 2, 3, 7, 17, 63, 64, 65, 1023, 50257} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.IntN(50)) // many ties
			}
			want := 0
			for i, v := range x {
				if v > x[want] {
					want = i
				}
			}
			if got := Argmax(x); got != want {
				t.Fatalf("Argmax n=%d = %d, want %d (first of ties)", n, got, want)
			}
			ref := make([]int, n)
			for i := range ref {
				ref[i] = i
			}
			sort.SliceStable(ref, func(a, b int) bool { return x[ref[a]] > x[ref[b]] })
			for _, k := range []int{0, 1, 2, 5, 40, n, n + 3} {
				got := TopK(x, k, nil)
				kk := min(max(k, 0), n)
				if len(got) != kk {
					t.Fatalf("TopK n=%d k=%d: %d results", n, k, len(got))
				}
				for i := range got {
					if got[i] != ref[i] {
						t.Fatalf("TopK n=%d k=%d: [%d] = %d (%g), want %d (%g)", n, k, i, got[i], x[got[i]], ref[i], x[ref[i]])
					}
				}
			}
		}
		buf := make([]int, 0, 10)
		x := []float32{3, 1, 4, 1, 5, 9, 2, 6}
		got := TopK(x, 3, buf)
		if &got[0] != &buf[:1][0] || got[0] != 5 || got[1] != 7 || got[2] != 4 {
			t.Fatalf("TopK reuse: %v", got)
		}
	})
}

func TestRowKernelsZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	forEachLevel(t, func(t *testing.T) {
		x := make([]float32, 64*768)
		g := make([]float32, 768)
		idx := make([]int, 0, 50)
		for name, fn := range map[string]func(){
			"SoftmaxRows":      func() { SoftmaxRows(x, 64, 768, true, 0) },
			"LayerNorm":        func() { LayerNorm(x, x, g, g, 64, 768, 1e-5) },
			"GeluTanh":         func() { GeluTanh(x, x) },
			"GeluErf":          func() { GeluErf(x, x) },
			"GeluTanhBackward": func() { GeluTanhBackward(x[:768], g, g) },
			"TopK":             func() { idx = TopK(x, 50, idx) },
			"Dot":              func() { Dot(x, x) },
		} {
			if a := testing.AllocsPerRun(10, fn); a != 0 {
				t.Errorf("%s: %v allocations per call, want 0", name, a)
			}
		}
	})
}

// TestPrefetch runs the prefetch hint over empty, short, unaligned and
// long slices on every kernel set: it must neither fault nor change x.
func TestPrefetch(t *testing.T) {
	x := make([]float32, 4099)
	for i := range x {
		x[i] = float32(i)
	}
	for _, lvl := range availableLevels() {
		old := level
		level = lvl
		for _, r := range [][2]int{{0, 0}, {5, 5}, {0, 1}, {3, 4}, {1, 17}, {15, 16}, {16, 32}, {7, 4099}, {0, 4099}} {
			Prefetch(x[r[0]:r[1]])
		}
		level = old
	}
	for i, v := range x {
		if v != float32(i) {
			t.Fatalf("x[%d] = %g after Prefetch", i, v)
		}
	}
}

// TestSumExp compares SumExp with a float64 sum of math.Exp on every kernel
// set, at lengths around the vector width and the internal block size, and
// checks that x is left as it was.
func TestSumExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, lvl := range availableLevels() {
		old := level
		level = lvl
		for _, n := range []int{0, 1, 7, 8, 9, 1023, 1024, 1025, 50257} {
			x := make([]float32, n)
			m := float32(math.Inf(-1))
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 8)
				m = max(m, x[i])
			}
			x0 := append([]float32(nil), x...)
			var want float64
			for _, v := range x {
				want += math.Exp(float64(v - m))
			}
			got := SumExp(x, m)
			if d := math.Abs(got-want) / math.Max(want, 1e-30); d > 1e-6 || (n == 0 && got != 0) {
				t.Errorf("%s n=%d: SumExp = %g, want %g (rel %g)", levelNames[lvl], n, got, want, d)
			}
			for i := range x {
				if x[i] != x0[i] {
					t.Fatalf("%s n=%d: SumExp changed x[%d]", levelNames[lvl], n, i)
				}
			}
		}
		level = old
	}
}

// TestExpSumAVX512 checks that the AVX-512 exp kernel gives every element
// the bits the AVX2 one gives it (same operations, same constants), over
// exp's whole range and past both ends, and a sum within float64 rounding
// of theirs.
func TestExpSumAVX512(t *testing.T) {
	if !cpuHasAVX512 || !cpuHasAVX2 {
		t.Skip("needs AVX-512 and AVX2")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{0, 15, 16, 17, 31, 48, 1000, 4096} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Float64()*220 - 120) // [-120, 100): past both ends
		}
		for i := 0; i < n; i += 7 {
			x[i] = float32(rng.NormFloat64())
		}
		shift := float32(-3)
		if n == 0 || n&^15 == 0 {
			shift = 0
		}
		d512 := make([]float32, n)
		d2 := make([]float32, n)
		n16 := n &^ 15
		s512 := expSumAVX512(d512, x, shift)
		s2 := expSumAVX2(d2[:n16], x, shift)
		for i := 0; i < n16; i++ {
			if math.Float32bits(d512[i]) != math.Float32bits(d2[i]) {
				t.Fatalf("n=%d: exp(%g) = %g (avx512), %g (avx2)", n, x[i]-shift, d512[i], d2[i])
			}
		}
		for i := n16; i < n; i++ {
			if d512[i] != 0 {
				t.Fatalf("n=%d: dst[%d] = %g written past the 16-lane blocks", n, i, d512[i])
			}
		}
		if math.Abs(s512-s2) > 1e-12*math.Abs(s2) {
			t.Fatalf("n=%d: sum %g (avx512), %g (avx2)", n, s512, s2)
		}
	}
}
