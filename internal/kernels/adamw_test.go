package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamW checks every level against a float64-free scalar statement of
// the update, bit for bit, over lengths that exercise the vector body and
// the tails.
func TestAdamW(t *testing.T) {
	s := &AdamWStep{Decay: 1 - 1e-3*0.1, Beta1: 0.9, OneMinusBeta1: 0.1, Beta2: 0.95, OneMinusBeta2: 0.050000012,
		StepSize: 1e-3 / 0.19, BC2Sqrt: float32(math.Sqrt(1 - 0.95*0.95)), Eps: 1e-8}
	rng := rand.New(rand.NewPCG(1, 2))
	forEachLevel(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 64, 1000} {
			w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*1e-2)
				m[i], v[i] = float32(rng.NormFloat64()*1e-3), float32(rng.Float64()*1e-4)
			}
			ww, wm, wv := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
			for i := range ww {
				mi := float32(wm[i]*s.Beta1) + float32(g[i]*s.OneMinusBeta1)
				vi := float32(wv[i]*s.Beta2) + float32(float32(g[i]*g[i])*s.OneMinusBeta2)
				wm[i], wv[i] = mi, vi
				d := float32(float32(math.Sqrt(float64(vi)))/s.BC2Sqrt) + s.Eps
				ww[i] = float32(ww[i]*s.Decay) - float32(s.StepSize*float32(mi/d))
			}
			AdamW(w, g, m, v, s)
			for i := range w {
				if math.Float32bits(w[i]) != math.Float32bits(ww[i]) || m[i] != wm[i] || v[i] != wv[i] {
					t.Fatalf("n=%d i=%d: w %v m %v v %v, want %v %v %v", n, i, w[i], m[i], v[i], ww[i], wm[i], wv[i])
				}
			}
		}
	})
}
