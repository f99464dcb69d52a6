package kernels

import "math"

// AdamWStep holds the scalars of one AdamW update of a tensor (PyTorch's
// torch.optim.AdamW, single-tensor form): the decoupled decay factor
// 1 − lr·wd, β1 and 1 − β1, β2 and 1 − β2, the step size lr / (1 − β1ᵗ),
// √(1 − β2ᵗ) and ε.
type AdamWStep struct {
	Decay, Beta1, OneMinusBeta1, Beta2, OneMinusBeta2, StepSize, BC2Sqrt, Eps float32
}

// AdamW updates a parameter w and its moments m and v in place from its
// gradient g, element by element:
//
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g·g
//	w ← w·decay − stepSize · m / (√v / bc2Sqrt + ε)
//
// with every operation rounded to float32 in that order (no fused
// multiply-adds), so that every level gives the same bits.
func AdamW(w, g, m, v []float32, s *AdamWStep) {
	checkLen("AdamW", "g", len(g), len(w))
	checkLen("AdamW", "m", len(m), len(w))
	checkLen("AdamW", "v", len(v), len(w))
	adamwL(level, w, g, m, v, s)
}

func adamwL(lvl int, w, g, m, v []float32, s *AdamWStep) {
	if lvl >= levelAVX2 {
		n := len(w) &^ 7
		adamwAVX2(w[:n], g[:n], m[:n], v[:n], s)
		w, g, m, v = w[n:], g[n:], m[n:], v[n:]
	}
	adamwGeneric(w, g, m, v, s)
}

func adamwGeneric(w, g, m, v []float32, s *AdamWStep) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for j := range w {
		gj := g[j]
		mj := float32(m[j]*s.Beta1) + float32(gj*s.OneMinusBeta1)
		vj := float32(v[j]*s.Beta2) + float32(float32(gj*gj)*s.OneMinusBeta2)
		m[j], v[j] = mj, vj
		denom := float32(sqrt32(vj)/s.BC2Sqrt) + s.Eps
		w[j] = float32(w[j]*s.Decay) - float32(s.StepSize*float32(mj/denom))
	}
}

// sqrt32 is the correctly rounded float32 square root (the float64 root
// of a float32, rounded once more, is exact to float32).
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
