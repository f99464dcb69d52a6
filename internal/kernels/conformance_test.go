package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// The conformance suite is written once and run over every kernel set this
// CPU can execute (generic, avx2, and avx512 when present), in the same
// process: forEachLevel switches the package's level for each subtest.

func forEachLevel(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	saved := level
	defer func() { level = saved }()
	for _, l := range availableLevels() {
		level = l
		t.Run(levelNames[l], fn)
	}
}

var testSizes = []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025}

const guardVal = float32(-7777.25)

// guarded returns a slice of n random values with guard values on both
// sides inside one allocation, shifted by off elements (to test unaligned
// starts), and a function that fails the test if a guard changed.
func guarded(rng *rand.Rand, n, off int) ([]float32, func(t *testing.T, what string)) {
	const pad = 19
	buf := make([]float32, off+pad+n+pad)
	for i := range buf {
		buf[i] = guardVal
	}
	x := buf[off+pad : off+pad+n : off+pad+n]
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	check := func(t *testing.T, what string) {
		t.Helper()
		for i, v := range buf[:off+pad] {
			if v != guardVal {
				t.Fatalf("%s: guard before the slice at %d overwritten: %g", what, i-off-pad, v)
			}
		}
		for i, v := range buf[off+pad+n:] {
			if v != guardVal {
				t.Fatalf("%s: guard after the slice at +%d overwritten: %g", what, i, v)
			}
		}
	}
	return x, check
}

func near(got, want, scale float64, rel float64) bool {
	return math.Abs(got-want) <= rel*(scale+1e-30) || (math.IsNaN(got) && math.IsNaN(want))
}

func TestDotSqDist(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, n := range testSizes {
			for _, off := range []int{0, 1, 3} {
				x, cx := guarded(rng, n, off)
				y, cy := guarded(rng, n+2, off) // y may be longer than x
				var dot, dist, scale float64
				for i := range x {
					dot += float64(x[i]) * float64(y[i])
					d := float64(x[i]) - float64(y[i])
					dist += d * d
					scale += math.Abs(float64(x[i]) * float64(y[i]))
				}
				if got := Dot(x, y); !near(float64(got), dot, scale, 1e-5) {
					t.Errorf("Dot n=%d off=%d = %g, want %g", n, off, got, dot)
				}
				if got := SqDist(x, y); !near(float64(got), dist, dist, 1e-5) {
					t.Errorf("SqDist n=%d off=%d = %g, want %g", n, off, got, dist)
				}
				cx(t, "Dot x")
				cy(t, "Dot y")
			}
		}
	})
}

func TestElementwise(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, n := range testSizes {
			for _, off := range []int{0, 1} {
				x, _ := guarded(rng, n, off)
				y, cy := guarded(rng, n, off)
				want := make([]float64, n)
				for i := range y {
					want[i] = float64(y[i]) + 0.625*float64(x[i])
				}
				Axpy(0.625, x, y)
				for i := range y {
					if !near(float64(y[i]), want[i], math.Abs(want[i])+1, 1e-6) {
						t.Fatalf("Axpy n=%d [%d] = %g, want %g", n, i, y[i], want[i])
					}
				}
				cy(t, fmt.Sprintf("Axpy n=%d", n))

				// Axpy2: acc += a*y (y's old value), then y += a*x; y and
				// acc may be longer than x and must keep their tails.
				x2, _ := guarded(rng, n, off)
				y2, cy2 := guarded(rng, n+3, off)
				acc, cacc := guarded(rng, n+3, off)
				wantY := make([]float64, n+3)
				wantAcc := make([]float64, n+3)
				for i := range y2 {
					wantY[i], wantAcc[i] = float64(y2[i]), float64(acc[i])
					if i < n {
						wantAcc[i] += -0.375 * float64(y2[i])
						wantY[i] += -0.375 * float64(x2[i])
					}
				}
				Axpy2(-0.375, x2, y2, acc)
				for i := range y2 {
					if !near(float64(y2[i]), wantY[i], math.Abs(wantY[i])+1, 1e-6) {
						t.Fatalf("Axpy2 n=%d y[%d] = %g, want %g", n, i, y2[i], wantY[i])
					}
					if !near(float64(acc[i]), wantAcc[i], math.Abs(wantAcc[i])+1, 1e-6) {
						t.Fatalf("Axpy2 n=%d acc[%d] = %g, want %g", n, i, acc[i], wantAcc[i])
					}
				}
				cy2(t, fmt.Sprintf("Axpy2 y n=%d", n))
				cacc(t, fmt.Sprintf("Axpy2 acc n=%d", n))

				s, cs := guarded(rng, n, off)
				orig := append([]float32(nil), s...)
				Scale(-1.5, s)
				for i := range s {
					if s[i] != -1.5*orig[i] {
						t.Fatalf("Scale n=%d [%d] = %g, want %g", n, i, s[i], -1.5*orig[i])
					}
				}
				cs(t, "Scale")

				a, _ := guarded(rng, n, off)
				b, _ := guarded(rng, n, off)
				dst, cd := guarded(rng, n, off)
				Add(dst, a, b)
				for i := range dst {
					if dst[i] != a[i]+b[i] {
						t.Fatalf("Add n=%d [%d] = %g, want %g", n, i, dst[i], a[i]+b[i])
					}
				}
				Mul(dst, a, b)
				for i := range dst {
					if dst[i] != a[i]*b[i] {
						t.Fatalf("Mul n=%d [%d] = %g, want %g", n, i, dst[i], a[i]*b[i])
					}
				}
				cd(t, "Add/Mul dst")
			}
		}
	})
}

func TestAliasing(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, n := range testSizes {
			a, _ := guarded(rng, n, 0)
			b, _ := guarded(rng, n, 0)
			want := make([]float32, n)
			for i := range a {
				want[i] = a[i] + b[i]
			}
			Add(a, a, b) // dst aliases a
			for i := range a {
				if a[i] != want[i] {
					t.Fatalf("Add aliased n=%d [%d] = %g, want %g", n, i, a[i], want[i])
				}
			}
			for i := range a {
				want[i] = a[i] * b[i]
			}
			Mul(b, a, b) // dst aliases b
			for i := range b {
				if b[i] != want[i] {
					t.Fatalf("Mul aliased n=%d [%d] = %g, want %g", n, i, b[i], want[i])
				}
			}
			x, _ := guarded(rng, n, 0)
			want64 := make([]float64, n)
			for i := range x {
				want64[i] = 1.5 * float64(x[i])
			}
			Axpy(0.5, x, x) // x == y: each element is read before it is written
			for i := range x {
				if !near(float64(x[i]), want64[i], math.Abs(want64[i]), 1e-6) {
					t.Fatalf("Axpy aliased n=%d [%d] = %g, want %g", n, i, x[i], want64[i])
				}
			}
		}
	})
}

func TestImpl(t *testing.T) {
	got := Impl()
	ok := false
	for _, n := range levelNames {
		if len(got) >= len(n) && got[:len(n)] == n && (len(got) == len(n) || got[len(n)] == ' ') {
			ok = true
		}
	}
	if !ok {
		t.Fatalf("Impl() = %q, want a kernel set name", got)
	}
	if forceGeneric && level != levelGeneric {
		t.Fatalf("LOUPE_KERNELS=generic but level %s", levelNames[level])
	}
	t.Logf("kernel set: %s (threads %d)", got, Threads())
}

func TestChooseLevel(t *testing.T) {
	saved, savedNote, savedForce, savedVNNI := level, implNote, forceGeneric, qVNNI
	defer func() { level, implNote, forceGeneric, qVNNI = saved, savedNote, savedForce, savedVNNI }()
	if l := chooseLevel("generic"); l != levelGeneric {
		t.Errorf("chooseLevel(generic) = %s", levelNames[l])
	}
	if l := chooseLevel("avx2"); cpuHasAVX2 && l != levelAVX2 || !cpuHasAVX2 && l != levelGeneric {
		t.Errorf("chooseLevel(avx2) = %s with cpuHasAVX2=%v", levelNames[l], cpuHasAVX2)
	}
	want := levelGeneric
	if cpuHasAVX2 {
		want = levelAVX2
	}
	if cpuHasAVX512 {
		want = levelAVX512
	}
	if l := chooseLevel(""); l != want && !(want == levelAVX512 && l == levelAVX2 && implNote != "") {
		t.Errorf("chooseLevel(\"\") = %s, want %s", levelNames[l], levelNames[want])
	}
	if l := chooseLevel(""); l == levelAVX512 && cpuHasVNNI != qVNNI {
		t.Errorf("chooseLevel(\"\"): int8 VNNI kernels %v with cpuHasVNNI=%v (%s)", qVNNI, cpuHasVNNI, implNote)
	}
	if chooseLevel("avx2"); qVNNI {
		t.Errorf("chooseLevel(avx2) kept the AVX-512 VNNI int8 kernels")
	}
	if cpuHasVNNI {
		if err := qSelfCheckVNNI(); err != nil {
			t.Errorf("qSelfCheckVNNI: %v", err)
		}
	}
	for _, l := range availableLevels() {
		if err := selfCheck(l); err != nil {
			t.Errorf("selfCheck(%s): %v", levelNames[l], err)
		}
	}
}
