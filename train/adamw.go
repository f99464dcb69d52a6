package train

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// AdamW is torch.optim.AdamW's algorithm (without amsgrad) over a model's
// parameters: for each parameter p with gradient g, at step t (from 1),
//
//	p ← p·(1 − lr·wd)                         (decoupled decay, decayed tensors only)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
//
// in float32 with the scalars computed in float64, as PyTorch's
// single-tensor implementation does.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Step is the number of steps taken.
	Step int
	// M and V are the first and second moments, one per parameter, in the
	// order of gpt2.Config.Params.
	M, V [][]float32
}

// NewAdamW returns an optimizer with zero moments for params.
func NewAdamW(params []gpt2.Param, o Options) *AdamW {
	a := &AdamW{Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps, WeightDecay: o.WeightDecay}
	for _, p := range params {
		a.M = append(a.M, make([]float32, len(p.Data)))
		a.V = append(a.V, make([]float32, len(p.Data)))
	}
	return a
}

// Decays reports whether weight decay applies to a parameter: tensors of two
// or more dimensions (nanoGPT's rule).
func Decays(p gpt2.Param) bool { return len(p.Shape) >= 2 }

// Update takes one step at learning rate lr with grads (aligned with params).
func (a *AdamW) Update(params, grads []gpt2.Param, lr float64) {
	a.Step++
	t := float64(a.Step)
	bc1 := 1 - math.Pow(a.Beta1, t)
	bc2 := 1 - math.Pow(a.Beta2, t)
	base := kernels.AdamWStep{
		Decay: 1, Beta1: float32(a.Beta1), OneMinusBeta1: float32(1 - a.Beta1),
		Beta2: float32(a.Beta2), OneMinusBeta2: float32(1 - a.Beta2),
		StepSize: float32(lr / bc1), BC2Sqrt: float32(math.Sqrt(bc2)), Eps: float32(a.Eps),
	}
	for i, p := range params {
		s := base
		if Decays(p) {
			s.Decay = float32(1 - lr*a.WeightDecay)
		}
		w, g, m, v := p.Data, grads[i].Data, a.M[i], a.V[i]
		kernels.Parallel(len(w), 1<<15, func(lo, hi int) {
			kernels.AdamW(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], &s)
		})
	}
}

// ClipGradNorm scales grads so that their global L2 norm is at most max
// (torch.nn.utils.clip_grad_norm_: the coefficient max/(norm+1e-6), applied
// only when below 1) and returns the norm before clipping. max 0 only
// measures.
func ClipGradNorm(grads []gpt2.Param, max float64) float64 {
	var sum float64
	for _, g := range grads {
		n := float64(float32(math.Sqrt(sumSquares(g.Data)))) // torch takes each tensor's norm in float32
		sum += n * n
	}
	norm := float64(float32(math.Sqrt(sum)))
	if max > 0 {
		coef := max / (norm + 1e-6)
		if coef < 1 {
			c := float32(coef)
			for _, g := range grads {
				kernels.Parallel(len(g.Data), 1<<15, func(lo, hi int) { kernels.Scale(c, g.Data[lo:hi]) })
			}
		}
	}
	return norm
}

// sumSquares returns Σx², summed in float32 over blocks of 1024 (the
// kernels' dot product) and in float64 across blocks, in parallel.
func sumSquares(x []float32) float64 {
	const block = 1024
	nb := (len(x) + block - 1) / block
	parts := make([]float64, nb)
	kernels.Parallel(nb, 64, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			s := x[b*block : min(len(x), (b+1)*block)]
			parts[b] = float64(kernels.Dot(s, s))
		}
	})
	var sum float64
	for _, p := range parts {
		sum += p
	}
	return sum
}
