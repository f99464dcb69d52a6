package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRepeatable checks that the multiplies split across threads give the
// same bits on every call: however the threads happen to share the work
// out, the sums are added in the same order. (With one thread this holds
// trivially; CI machines have two cores or more.)
func TestRepeatable(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	type op struct {
		name string
		run  func(c []float32)
		size int
	}
	var ops []op
	for _, s := range [][3]int{{1, 256, 256}, {5, 768, 256}, {1, 3072, 768}, {4, 768, 3072}, {8, 256, 8192}, {5, 8192, 256}, {64, 256, 256}, {9, 1024, 300}, {4, 4096, 2880}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randMatrix(rng, m, k), randMatrix(rng, k, n)
		for _, transB := range []bool{false, true} {
			ldb := n
			if transB {
				ldb = k
			}
			ops = append(ops, op{fmt.Sprintf("Sgemm m%d n%d k%d transB=%v", m, n, k, transB), func(c []float32) {
				Sgemm(false, transB, m, n, k, 1, a, k, b, ldb, 0, c, n)
			}, m * n})
		}
		w := randMatrix(rng, n, k)
		bias := randMatrix(rng, 1, n)
		q := NewQLinear(w, bias, n, k, 8)
		bf := NewBF16Linear(w, bias, n, k)
		h := NewF16Linear(w, bias, n, k)
		ops = append(ops,
			op{fmt.Sprintf("QLinear m%d n%d k%d", m, n, k), func(c []float32) { q.Apply(m, a, k, c, n) }, m * n},
			op{fmt.Sprintf("BF16Linear m%d n%d k%d", m, n, k), func(c []float32) { bf.Apply(m, a, k, c, n) }, m * n},
			op{fmt.Sprintf("F16Linear m%d n%d k%d", m, n, k), func(c []float32) { h.Apply(m, a, k, c, n) }, m * n})
	}
	// Conv2D: column chunks claimed by whichever thread is free (3×3 and
	// stride 2 at 24×24), output channels split (4×4), and the direct
	// path's rows (4 output channels).
	for _, c := range []convCase{
		{2, 24, 24, ConvGeom{InC: 16, OutC: 24, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{2, 24, 24, ConvGeom{InC: 16, OutC: 24, KH: 3, KW: 3, Stride: 2, Pad: 1}, true},
		{2, 4, 4, ConvGeom{InC: 96, OutC: 200, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{2, 24, 24, ConvGeom{InC: 32, OutC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
	} {
		src, wt, bias := convInputs(rng, c)
		oh, ow := c.g.OutSize(c.h, c.w)
		ops = append(ops, op{"Conv2D " + c.String(), func(dst []float32) {
			Conv2D(dst, src, wt, bias, c.batch, c.h, c.w, c.g)
		}, c.batch * c.g.OutC * oh * ow})
	}
	for _, o := range ops {
		ref := make([]float32, o.size)
		o.run(ref)
		c := make([]float32, o.size)
		for rep := 0; rep < 40; rep++ {
			o.run(c)
			for i := range c {
				if c[i] != ref[i] {
					t.Fatalf("%s: call %d gives c[%d] = %v, the first call %v", o.name, rep+2, i, c[i], ref[i])
				}
			}
		}
	}
}
