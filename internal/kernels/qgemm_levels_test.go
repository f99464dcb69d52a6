package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"
)

// The int8 kernels of every level compute the same int32 sums, exactly;
// the assembly levels (AVX2 with VPMADDUBSW, AVX-512 with VPDPBUSD) then
// dequantize with the same float32 operations in the same order, so their
// outputs are bit-identical. The generic twin rounds s_a·z·(s_w·Σw_q)
// before subtracting it where the assembly fuses the multiply and the
// subtraction (VFNMADD231PS): it may differ from them by that one rounding.

// TestQGemvExact runs the one-row kernel of every level with unit scales
// (c is the int32 sum itself) against a naive sum, over several blocks, k
// with and without the 8-k tail of the VNNI kernel's 16-k loop, and the
// extreme products.
func TestQGemvExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, k := range []int{1, 4, 8, 9, 16, 17, 24, 40, 768, 3072} {
			for _, kind := range []string{"random", "max", "min"} {
				const nblk = 3
				n := nblk * qNR
				wq := make([]int, n*k)
				kp := (k + 7) &^ 7
				a := make([]uint8, kp)
				for i := range wq {
					switch kind {
					case "random":
						wq[i] = rng.IntN(255) - 127
					case "max":
						wq[i] = 127
					case "min":
						wq[i] = -127
					}
				}
				for p := 0; p < k; p++ {
					a[p] = 127
					if kind == "random" {
						a[p] = uint8(rng.IntN(128))
					}
				}
				b, _ := qPack(wq, n, k)
				rp := []float32{1, 0}
				cp := make([]float32, nblk*3*qNR)
				for bi := 0; bi < nblk; bi++ {
					for j := 0; j < qNR; j++ {
						cp[bi*3*qNR+j] = 1
					}
				}
				c := make([]float32, n+4)
				for i := range c {
					c[i] = guardVal
				}
				qgemvL(level, nblk, kp, a, b, rp, cp, c[:n])
				for j := 0; j < n+4; j++ {
					if j >= n {
						if c[j] != guardVal {
							t.Fatalf("k %d %s: c[%d] past the blocks overwritten", k, kind, j)
						}
						continue
					}
					want := 0
					for p := 0; p < k; p++ {
						want += int(a[p]) * wq[j*k+p]
					}
					if got := c[j]; float64(got) != float64(float32(want)) {
						t.Fatalf("k %d %s: c[%d] = %v, want %d", k, kind, j, got, want)
					}
				}
			}
		}
	})
}

// TestQLinearLevelsIdentical runs Apply at every level on many shapes (m 1
// to 9 covers the decoding path, a partial row group and several groups;
// odd n and k cut blocks and groups) and requires the assembly levels'
// outputs to be bit-identical to each other and within a float32 rounding
// of the dequantization's terms of the generic twin's.
func TestQLinearLevelsIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	levels := availableLevels()
	for _, bits := range []int{QInt8, QInt7} {
		for m := 1; m <= 9; m++ {
			for _, n := range []int{1, 15, 16, 33, 47, 100} {
				for _, k := range []int{1, 5, 8, 13, 31, 64, 77, 200} {
					name := fmt.Sprintf("bits=%d m=%d n=%d k=%d", bits, m, n, k)
					a := randMatrix(rng, m, k)
					w := randMatrix(rng, n, k)
					bias := randMatrix(rng, 1, n)
					q := NewQLinear(w, bias, n, k, bits)
					out := make([][]float32, len(levels))
					for li, l := range levels {
						out[li] = make([]float32, m*n)
						q.apply(l, m, a, k, out[li], n)
					}
					_, mag := qRef(m, n, k, bits, a, w, bias)
					for li := 1; li < len(levels); li++ {
						for i, v := range out[li] {
							g := out[0][i]
							if li > 1 && v != out[1][i] {
								t.Fatalf("%s: %s c[%d] = %g, %s %g (want bit-identical)", name, levelNames[levels[li]], i, v, levelNames[levels[1]], out[1][i])
							}
							if math.Abs(float64(v-g)) > 1e-6*mag[i] {
								t.Fatalf("%s: %s c[%d] = %g, generic %g", name, levelNames[levels[li]], i, v, g)
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkQLinearGemv times batch-1 decoding (m = 1) on the GPT-2-small
// shapes, n×k as nn.Linear [out, in]: the int8 layer and the float32 Sgemm
// GEMV (Conv1D [in, out] as GPT-2 stores it, the tied LM head transposed),
// both cold: the weights are cycled over 512 MiB of copies so that they
// come from memory, not from a large L3, as in real decoding. int8-warm
// reuses one copy. GB/s counts the weight bytes read per call (1 per
// weight for int8, 4 for float32).
func BenchmarkQLinearGemv(b *testing.B) {
	for _, s := range []struct{ n, k int }{{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}, {50257, 768}} {
		rng := rand.New(rand.NewPCG(4, 4))
		x := randMatrix(rng, 1, s.k)
		y := make([]float32, s.n)
		var q *QLinear
		for _, kind := range []string{"int8", "int8-warm", "f32"} {
			b.Run(fmt.Sprintf("%s/%dx%d", kind, s.n, s.k), func(b *testing.B) {
				if kind == "f32" {
					if coldBuf == nil {
						coldBuf = make([]float32, coldFloats)
						for i := range coldBuf {
							coldBuf[i] = float32(i%17) * 0.01
						}
					}
					size := s.n * s.k
					copies := coldFloats / size
					for b.Loop() {
						i := coldNext % copies
						coldNext++
						if s.n > 4*s.k {
							Sgemm(false, true, 1, s.n, s.k, 1, x, s.k, coldBuf[i*size:(i+1)*size], s.k, 0, y, s.n)
						} else {
							Sgemm(false, false, 1, s.n, s.k, 1, x, s.k, coldBuf[i*size:(i+1)*size], s.n, 0, y, s.n)
						}
					}
					b.ReportMetric(4*float64(size)/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
					return
				}
				if q == nil {
					q = NewQLinear(randMatrix(rng, s.n, s.k), randMatrix(rng, 1, s.n), s.n, s.k, QInt8)
				}
				copies := []*QLinear{q}
				if kind == "int8" {
					copies = qColdCopies(q)
				}
				for b.Loop() {
					c := copies[qColdNext%len(copies)]
					qColdNext++
					c.Apply(1, x, s.k, y, s.n)
				}
				b.ReportMetric(float64(len(q.b))/(b.Elapsed().Seconds()/float64(b.N))/1e9, "GB/s")
			})
		}
	}
}

// qColdCopies returns copies of q whose packed weights fill qColdBuf (512
// MiB).
func qColdCopies(q *QLinear) []*QLinear {
	if qColdBuf == nil {
		qColdBuf = make([]int8, 512<<20)
	}
	var out []*QLinear
	for off := 0; off+len(q.b) <= len(qColdBuf); off += len(q.b) {
		c := *q
		c.b = qColdBuf[off : off+len(q.b)]
		copy(c.b, q.b)
		out = append(out, &c)
	}
	return out
}

var (
	qColdBuf  []int8
	qColdNext int
)

// TestTuneQGemv (LOUPE_TUNE=1) times single decoding calls of the
// BenchmarkQLinearGemv shapes, weights cold, int8 against float32, and
// logs the fastest and the median call of several hundred: on a shared
// machine the fastest call is the one least disturbed by other processes.
func TestTuneQGemv(t *testing.T) {
	if os.Getenv("LOUPE_TUNE") == "" {
		t.Skip("set LOUPE_TUNE=1")
	}
	if coldBuf == nil {
		coldBuf = make([]float32, coldFloats)
		for i := range coldBuf {
			coldBuf[i] = float32(i%17) * 0.01
		}
	}
	const calls = 400
	times := make([]time.Duration, calls)
	stats := func() (best, med time.Duration) {
		slices.Sort(times)
		return times[0], times[calls/2]
	}
	for _, s := range []struct{ n, k int }{{2304, 768}, {768, 768}, {3072, 768}, {768, 3072}, {50257, 768}} {
		rng := rand.New(rand.NewPCG(4, 4))
		x := randMatrix(rng, 1, s.k)
		y := make([]float32, s.n)
		q := NewQLinear(randMatrix(rng, s.n, s.k), randMatrix(rng, 1, s.n), s.n, s.k, QInt8)
		copies := qColdCopies(q)
		size := s.n * s.k
		fcopies := coldFloats / size
		for i := range times {
			c := copies[qColdNext%len(copies)]
			qColdNext++
			t0 := time.Now()
			c.Apply(1, x, s.k, y, s.n)
			times[i] = time.Since(t0)
		}
		qb, qm := stats()
		for i := range times {
			f := coldBuf[(coldNext%fcopies)*size:][:size]
			coldNext++
			t0 := time.Now()
			if s.n > 4*s.k {
				Sgemm(false, true, 1, s.n, s.k, 1, x, s.k, f, s.k, 0, y, s.n)
			} else {
				Sgemm(false, false, 1, s.n, s.k, 1, x, s.k, f, s.n, 0, y, s.n)
			}
			times[i] = time.Since(t0)
		}
		fb, fm := stats()
		gb := func(bytes int, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e9 }
		t.Logf("%dx%d: int8 best %v (%.1f GB/s) median %v; float32 best %v (%.1f GB/s) median %v; time ratio best %.2f median %.2f",
			s.n, s.k, qb, gb(len(q.b), qb), qm, fb, gb(4*size, fb), fm, fb.Seconds()/qb.Seconds(), fm.Seconds()/qm.Seconds())
	}
}
