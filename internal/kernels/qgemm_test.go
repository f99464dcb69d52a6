package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
)

// The int8 linear layer is tested three ways, on every kernel set: the
// micro kernels against a naive int32 reference on raw quantized values
// (exact, saturation edge cases included), Apply against a naive
// re-implementation of the quantization scheme in float64 (same integer
// sums, so only the float rounding of the dequantization differs), and
// Apply against the float32 product (the quantization error itself).

var qShapes = []int{1, 3, 7, 17, 63, 65}

// qPack packs w_q ([n, k] ints) like NewQLinear: blocks of 16 columns, kp
// padded to a multiple of 8.
func qPack(wq []int, n, k int) ([]int8, int) {
	kp := (k + 7) &^ 7
	nb := (n + 15) / 16
	b := make([]int8, nb*kp*16)
	for j := 0; j < n; j++ {
		panel := b[(j/16)*kp*16:]
		off := ((j%16)/8)*32 + (j%8)*4
		for p := 0; p < k; p++ {
			panel[(p/4)*64+off+p%4] = int8(wq[j*k+p])
		}
	}
	return b, kp
}

// TestQMicroExact runs the micro kernels with unit scales, zero points and
// biases, so that c is the int32 sum itself, against a naive int sum. The
// extreme cases put every product at the largest magnitude the kernel's
// contract allows: a VPMADDUBSW pair sum at 2·127·127 (8-bit weights) and
// two of them added in int16 at 4·127·63 (7-bit weights).
func TestQMicroExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, bits := range []int{QInt8, QInt7} {
			wmax := 127
			if bits == QInt7 {
				wmax = 63
			}
			for _, k := range []int{1, 3, 4, 7, 8, 9, 17, 63, 65, 384, 1536} {
				for _, kind := range []string{"random", "max", "min", "alternating"} {
					const n = 16
					wq := make([]int, n*k)
					kp := (k + 7) &^ 7
					a := make([]uint8, 4*kp)
					for i := range wq {
						switch kind {
						case "random":
							wq[i] = rng.IntN(2*wmax+1) - wmax
						case "max":
							wq[i] = wmax
						case "min":
							wq[i] = -wmax
						case "alternating":
							wq[i] = wmax * (1 - 2*(i%2))
						}
					}
					for i := 0; i < 4; i++ {
						for p := 0; p < k; p++ {
							if kind == "random" {
								a[i*kp+p] = uint8(rng.IntN(128))
							} else {
								a[i*kp+p] = 127
							}
						}
					}
					b, _ := qPack(wq, n, k)
					rp := []float32{1, 0, 1, 0, 1, 0, 1, 0}
					cp := make([]float32, 48)
					for j := 0; j < 16; j++ {
						cp[j] = 1
					}
					c := make([]float32, 4*20)
					for i := range c {
						c[i] = guardVal
					}
					qmicroL(level, bits, 1, kp, a, kp, b, rp, cp, c, 20)
					for i := 0; i < 4; i++ {
						for j := 0; j < 20; j++ {
							if j >= 16 {
								if c[i*20+j] != guardVal {
									t.Fatalf("bits %d k %d %s: c[%d][%d] past the tile overwritten", bits, k, kind, i, j)
								}
								continue
							}
							want := 0
							for p := 0; p < k; p++ {
								want += int(a[i*kp+p]) * wq[j*k+p]
							}
							if got := c[i*20+j]; float64(got) != float64(float32(want)) {
								t.Fatalf("bits %d k %d %s: c[%d][%d] = %v, want %d", bits, k, kind, i, j, got, want)
							}
						}
					}
				}
			}
		}
	})
}

// qRef computes Apply's result the slow way: the same quantization in
// float32 arithmetic, exact integer sums, dequantization in float64. It
// also returns, per element, the magnitude the float32 rounding of the
// dequantization scales with.
func qRef(m, n, k, bits int, a, w, bias []float32) (ref, mag []float64) {
	qmax := 127.0
	if bits == QInt7 {
		qmax = 63
	}
	sw := make([]float32, n)
	wq := make([]int, n*k)
	for j := 0; j < n; j++ {
		amax := 0.0
		for p := 0; p < k; p++ {
			amax = math.Max(amax, math.Abs(float64(w[j*k+p])))
		}
		sw[j] = float32(amax / qmax)
		for p := 0; p < k; p++ {
			if sw[j] > 0 {
				wq[j*k+p] = int(math.Max(-qmax, math.Min(qmax, math.RoundToEven(float64(w[j*k+p])/float64(sw[j])))))
			}
		}
	}
	ref, mag = make([]float64, m*n), make([]float64, m*n)
	for i := 0; i < m; i++ {
		row := a[i*k : (i+1)*k]
		lo, hi := float32(0), float32(0)
		for _, v := range row {
			lo, hi = min(lo, v), max(hi, v)
		}
		s := (hi - lo) / 127
		aq := make([]int, k)
		z := float32(0)
		if s > 0 {
			z = float32(math.RoundToEven(float64(-lo / s)))
			inv := 1 / s
			for p, v := range row {
				t := float32(v*inv) + z
				aq[p] = int(math.Max(0, math.Min(127, math.RoundToEven(float64(t)))))
			}
		}
		for j := 0; j < n; j++ {
			acc, sum, absAcc := 0, 0, 0
			for p := 0; p < k; p++ {
				acc += aq[p] * wq[j*k+p]
				sum += wq[j*k+p]
				absAcc += abs(aq[p] * wq[j*k+p])
			}
			b := 0.0
			if bias != nil {
				b = float64(bias[j])
			}
			sa, sz, swj := float64(s), float64(s)*float64(z), float64(sw[j])
			ref[i*n+j] = sa*swj*float64(acc) - sz*swj*float64(sum) + b
			mag[i*n+j] = sa*swj*float64(absAcc) + math.Abs(sz*swj*float64(sum)) + math.Abs(b)
		}
	}
	return ref, mag
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestQLinearParity checks Apply on many shapes (tiles cut by every edge,
// k not a multiple of the vector width), with padded leading dimensions
// whose padding must stay untouched and inputs that must stay unchanged,
// against the naive reference (relative tolerance 1e-5 of the magnitude of
// the sum) and against the float32 product (the quantization error: at
// most 6% of the largest |c| for 8-bit weights, 10% for 7-bit ones, on
// Gaussian data).
func TestQLinearParity(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		ms := append([]int{4, 16, 130}, qShapes...)
		ns := append([]int{16, 48}, qShapes...)
		ks := append([]int{8, 384}, qShapes...)
		worst := map[int]float64{}
		for _, bits := range []int{QInt8, QInt7} {
			for _, m := range ms {
				for _, n := range ns {
					for _, k := range ks {
						if m*n*k > 4e5 && !(m == 130 && n == 48 && k == 384) {
							continue
						}
						name := fmt.Sprintf("bits=%d m=%d n=%d k=%d", bits, m, n, k)
						lda, ldc := k+3, n+5
						a := make([]float32, m*lda)
						ac := make([]float32, m*k)
						for i := 0; i < m; i++ {
							shift := float32(rng.NormFloat64()) // asymmetric rows
							for p := 0; p < lda; p++ {
								a[i*lda+p] = float32(rng.NormFloat64()) + shift
								if p < k {
									ac[i*k+p] = a[i*lda+p]
								}
							}
						}
						a0 := append([]float32(nil), a...)
						w := randMatrix(rng, n, k)
						var bias []float32
						if n%2 == 1 {
							bias = randMatrix(rng, 1, n)
						}
						q := NewQLinear(w, bias, n, k, bits)
						c := make([]float32, m*ldc)
						for i := range c {
							c[i] = guardVal
						}
						q.Apply(m, a, lda, c, ldc)
						ref, mag := qRef(m, n, k, bits, ac, w, bias)
						maxC, maxErr := 0.0, 0.0
						for i := 0; i < m; i++ {
							for j := 0; j < ldc; j++ {
								got := c[i*ldc+j]
								if j >= n {
									if got != guardVal {
										t.Fatalf("%s: padding c[%d][%d] overwritten", name, i, j)
									}
									continue
								}
								r := ref[i*n+j]
								if math.Abs(float64(got)-r) > 1e-5*mag[i*n+j]+1e-30 {
									t.Fatalf("%s: c[%d][%d] = %g, reference %g (magnitude %g)", name, i, j, got, r, mag[i*n+j])
								}
								f := 0.0
								for p := 0; p < k; p++ {
									f += float64(ac[i*k+p]) * float64(w[j*k+p])
								}
								if bias != nil {
									f += float64(bias[j])
								}
								maxC = math.Max(maxC, math.Abs(f))
								maxErr = math.Max(maxErr, math.Abs(float64(got)-f))
							}
						}
						for i := range a {
							if a[i] != a0[i] {
								t.Fatalf("%s: input a changed at %d", name, i)
							}
						}
						rel := maxErr / maxC
						worst[bits] = math.Max(worst[bits], rel)
						lim := 0.06
						if bits == QInt7 {
							lim = 0.10
						}
						if rel > lim {
							t.Errorf("%s: max error vs float32 %.3g of max |c| (limit %g)", name, rel, lim)
						}
					}
				}
			}
		}
		t.Logf("worst max error vs float32, relative to max |c|: 8-bit %.3g, 7-bit %.3g", worst[QInt8], worst[QInt7])
	})
}

// TestQLinearSaturation drives Apply to the largest sums: every activation
// and weight at its largest magnitude, so each quantized product is 127·127
// (or 127·63). Saturating int16 arithmetic anywhere would give a result far
// from ±k.
func TestQLinearSaturation(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		for _, bits := range []int{QInt8, QInt7} {
			for _, k := range []int{1, 7, 8, 65, 1536, 3072} {
				for _, sa := range []float32{1, -1} {
					for _, sw := range []float32{1, -1} {
						const m, n = 5, 17
						a := make([]float32, m*k)
						w := make([]float32, n*k)
						for i := range a {
							a[i] = sa
						}
						for i := range w {
							w[i] = sw
						}
						c := make([]float32, m*n)
						NewQLinear(w, nil, n, k, bits).Apply(m, a, k, c, n)
						want := float64(sa*sw) * float64(k)
						for i, v := range c {
							if math.Abs(float64(v)-want) > 1e-5*float64(k) {
								t.Fatalf("bits %d k %d a=%g w=%g: c[%d] = %g, want %g", bits, k, sa, sw, i, v, want)
							}
						}
					}
				}
			}
		}
	})
}

// TestQuantRowLevels checks that the AVX2 row quantization (min/max and
// rounding) gives the same bytes and scales as the generic one.
func TestQuantRowLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 2, 7, 8, 9, 15, 16, 17, 33, 64, 65, 384, 1536} {
		for trial := 0; trial < 20; trial++ {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64()) * float32(trial+1)
				if trial%4 == 0 {
					x[i] = float32(math.Abs(float64(x[i]))) // all positive: z = 0
				}
				if trial%4 == 1 {
					x[i] = -float32(math.Abs(float64(x[i]))) // all negative: z = 127
				}
			}
			q0, q1 := make([]uint8, n), make([]uint8, n)
			s0, z0 := quantRowL(levelGeneric, q0, x)
			for _, l := range availableLevels() {
				s1, z1 := quantRowL(l, q1, x)
				if s0 != s1 || z0 != z1 {
					t.Fatalf("n %d trial %d level %s: scale %g / %g, scaled zero %g / %g", n, trial, levelNames[l], s1, s0, z1, z0)
				}
				for i := range q0 {
					if q0[i] != q1[i] || q1[i] > 127 {
						t.Fatalf("n %d trial %d level %s: q[%d] = %d, generic %d", n, trial, levelNames[l], i, q1[i], q0[i])
					}
				}
			}
		}
	}
	// An all-zero row quantizes to zeros with scale 0.
	q := []uint8{9, 9, 9}
	if s, z := quantRowL(level, q, make([]float32, 3)); s != 0 || z != 0 || q[0]|q[1]|q[2] != 0 {
		t.Fatalf("zero row: scale %g, scaled zero %g, q %v", s, z, q)
	}
}

func TestQLinearAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop buffers")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, m := range []int{1, 7, 256} {
		const n, k = 96, 64
		q := NewQLinear(randMatrix(rng, n, k), randMatrix(rng, 1, n), n, k, QInt8)
		a := randMatrix(rng, m, k)
		c := make([]float32, m*n)
		q.Apply(m, a, k, c, n)
		if got := testing.AllocsPerRun(20, func() { q.Apply(m, a, k, c, n) }); got != 0 {
			t.Errorf("m = %d: %v allocations per Apply, want 0", m, got)
		}
	}
}

func TestQLinearPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"bits":  func() { NewQLinear(make([]float32, 4), nil, 2, 2, 4) },
		"short": func() { NewQLinear(make([]float32, 3), nil, 2, 2, QInt8) },
		"lda": func() {
			NewQLinear(make([]float32, 4), nil, 2, 2, QInt8).Apply(2, make([]float32, 4), 1, make([]float32, 4), 2)
		},
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				} else if s, ok := r.(string); !ok || len(s) < 9 || s[:9] != "kernels: " {
					t.Errorf("%s: panic %v, want a kernels: message", name, r)
				}
			}()
			f()
		}()
	}
}

// BenchmarkQLinear compares the int8 layer with Sgemm (transB, as
// model/bert runs nn.Linear) on the all-MiniLM-L6-v2 shapes of a batch of
// 32×32 tokens. GOP/s counts 2·M·N·K for both.
func BenchmarkQLinear(b *testing.B) {
	for _, s := range [][3]int{{1024, 384, 1152}, {1024, 384, 1536}, {1024, 1536, 384}, {1024, 384, 384}} {
		m, k, n := s[0], s[1], s[2]
		rng := rand.New(rand.NewPCG(1, 1))
		a := randMatrix(rng, m, k)
		w := randMatrix(rng, n, k)
		bias := randMatrix(rng, 1, n)
		c := make([]float32, m*n)
		ops := 2 * float64(m) * float64(n) * float64(k)
		for _, kind := range []string{"sgemm", "int8", "int7"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", kind, m, k, n), func(b *testing.B) {
				var q *QLinear
				switch kind {
				case "int8":
					q = NewQLinear(w, bias, n, k, QInt8)
				case "int7":
					q = NewQLinear(w, bias, n, k, QInt7)
				}
				b.ReportAllocs()
				for b.Loop() {
					if q == nil {
						Sgemm(false, true, m, n, k, 1, a, k, w, k, 0, c, n)
					} else {
						q.Apply(m, a, k, c, n)
					}
				}
				b.ReportMetric(ops/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GOP/s")
			})
		}
	}
}

// TestTuneQMicro (LOUPE_TUNE=1) times the int8 and int7 micro kernels, the
// VNNI one where the CPU has it, and the float32 6×16 FMA micro kernel on
// one thread, data in L1 (k = 384), in thread CPU time, which a shared
// machine disturbs less than wall time.
func TestTuneQMicro(t *testing.T) {
	if os.Getenv("LOUPE_TUNE") == "" {
		t.Skip("set LOUPE_TUNE=1")
	}
	if !cpuHasAVX2 {
		t.Skip("no AVX2")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const kp, groups, reps = 384, 16, 20000
	a := make([]uint8, groups*qMR*kp)
	w := make([]int8, kp*qNR)
	rp := make([]float32, groups*qMR*2)
	cp := make([]float32, 3*qNR)
	c := make([]float32, groups*qMR*qNR)
	af, bf, cf := make([]float32, 6*kp), make([]float32, 16*kp), make([]float32, 6*16)
	for round := 0; round < 3; round++ {
		for _, bits := range []int{QInt8, QInt7} {
			t0 := threadCPU()
			for i := 0; i < reps; i++ {
				qmicroL(levelAVX2, bits, groups, kp, a, kp, w, rp, cp, c, qNR)
			}
			s := (threadCPU() - t0).Seconds()
			t.Logf("int%d micro kernel: %.1f GMAC/s", bits, reps*groups*qMR*qNR*kp/s/1e9)
		}
		if cpuHasVNNI {
			t0 := threadCPU()
			for i := 0; i < reps; i++ {
				qgemm4x16VNNI(groups, kp, a, kp, w, rp, cp, c, qNR)
			}
			s := (threadCPU() - t0).Seconds()
			t.Logf("VNNI micro kernel: %.1f GMAC/s", reps*groups*qMR*qNR*kp/s/1e9)
		}
		t0 := threadCPU()
		for i := 0; i < 10*reps; i++ {
			gemm6x16AVX2(kp, af, bf, cf, 16, 1, 0)
		}
		s := (threadCPU() - t0).Seconds()
		t.Logf("float32 6x16 micro kernel: %.1f GMAC/s", 10*reps*6*16*kp/s/1e9)
	}
}
