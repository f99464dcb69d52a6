package autograd

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAttentionMatmul checks the matrix-multiply attention against the
// per-entry form, forward and backward, with and without dropout.
func TestAttentionMatmul(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fill := func(n int, s float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * s)
		}
		return x
	}
	for _, tc := range []struct{ t, c, nh int }{{1, 8, 2}, {5, 16, 4}, {33, 48, 3}} {
		for _, drop := range []bool{false, true} {
			T, C, nh := tc.t, tc.c, tc.nh
			qkv, dout := fill(T*3*C, 1), fill(T*C, 1)
			var keep []float32
			if drop {
				keep = make([]float32, nh*T*T)
				for i := range keep {
					if rng.Float64() > 0.2 {
						keep[i] = 1.25
					}
				}
			}
			out1, att1 := make([]float32, T*C), make([]float32, nh*T*T)
			out2, att2 := make([]float32, T*C), make([]float32, nh*T*T)
			AttentionDropoutForward(out1, att1, keep, qkv, T, T, C, nh)
			AttentionMatmulForward(out2, att2, keep, qkv, T, C, nh)
			d1, d2 := fill(T*3*C, 1), make([]float32, T*3*C)
			copy(d2, d1) // both accumulate onto the same start
			AttentionDropoutBackward(d1, dout, qkv, att1, keep, T, T, C, nh)
			AttentionMatmulBackward(d2, dout, qkv, att2, keep, T, C, nh)
			for name, p := range map[string][2][]float32{"out": {out1, out2}, "att": {att1, att2}, "dqkv": {d1, d2}} {
				worst := 0.0
				for i := range p[0] {
					worst = math.Max(worst, math.Abs(float64(p[0][i]-p[1][i])))
				}
				if worst > 1e-5 {
					t.Errorf("t=%d c=%d nh=%d dropout=%v: %s differs by %g", T, C, nh, drop, name, worst)
				}
			}
		}
	}
}
