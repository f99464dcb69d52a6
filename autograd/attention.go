package autograd

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Causal attention as matrix multiplies, head by head (training's form:
// every position is a query, so the T×T score matrix is worth computing as
// one product, upper triangle included, instead of a dot product per
// entry). Layouts are those of AttentionDropoutForward with stride t: qkv
// [t, 3c], out [t, c], att and keep [nh, t, t].

// AttentionMatmulForward computes what AttentionDropoutForward computes
// with stride t. keep may be nil.
func AttentionMatmulForward(out, att, keep, qkv []float32, t, c, nh int) {
	need("AttentionMatmulForward", "qkv", len(qkv), t*3*c)
	need("AttentionMatmulForward", "out", len(out), t*c)
	need("AttentionMatmulForward", "att", len(att), nh*t*t)
	hs := c / nh
	scale := float32(1 / math.Sqrt(float64(hs)))
	kernels.Parallel(nh, 1, func(lo, hi int) {
		var dropped []float32
		if keep != nil {
			dropped = make([]float32, t*t)
		}
		for h := lo; h < hi; h++ {
			a := att[h*t*t : (h+1)*t*t]
			// scores = scale · Q_h K_hᵀ
			kernels.SgemmSerial(false, true, t, t, hs, scale, qkv[h*hs:], 3*c, qkv[c+h*hs:], 3*c, 0, a, t)
			for i := 0; i < t; i++ {
				row := a[i*t : (i+1)*t]
				kernels.Softmax(row[:i+1])
				clear(row[i+1:])
			}
			p := a
			if keep != nil {
				kernels.Mul(dropped, a, keep[h*t*t:(h+1)*t*t])
				p = dropped
			}
			// out_h = P V_h
			kernels.SgemmSerial(false, false, t, hs, t, 1, p, t, qkv[2*c+h*hs:], 3*c, 0, out[h*hs:], c)
		}
	})
}

// AttentionMatmulBackward accumulates into dqkv the gradient of
// AttentionMatmulForward given dout, qkv, att and keep (nil: no dropout).
func AttentionMatmulBackward(dqkv, dout, qkv, att, keep []float32, t, c, nh int) {
	need("AttentionMatmulBackward", "dqkv", len(dqkv), t*3*c)
	need("AttentionMatmulBackward", "dout", len(dout), t*c)
	need("AttentionMatmulBackward", "att", len(att), nh*t*t)
	hs := c / nh
	scale := float32(1 / math.Sqrt(float64(hs)))
	kernels.Parallel(nh, 1, func(lo, hi int) {
		dp := make([]float32, t*t)
		var dropped []float32
		if keep != nil {
			dropped = make([]float32, t*t)
		}
		for h := lo; h < hi; h++ {
			a := att[h*t*t : (h+1)*t*t]
			p := a
			if keep != nil {
				kernels.Mul(dropped, a, keep[h*t*t:(h+1)*t*t])
				p = dropped
			}
			// dP = dout_h V_hᵀ; dV_h += Pᵀ dout_h
			kernels.SgemmSerial(false, true, t, t, hs, 1, dout[h*hs:], c, qkv[2*c+h*hs:], 3*c, 0, dp, t)
			kernels.SgemmSerial(true, false, t, hs, t, 1, p, t, dout[h*hs:], c, 1, dqkv[2*c+h*hs:], 3*c)
			// Through dropout and the softmax: dS_ij = A_ij (dA_ij − Σ_k A_ik dA_ik).
			for i := 0; i < t; i++ {
				row, arow := dp[i*t:(i+1)*t], a[i*t:(i+1)*t]
				if keep != nil {
					kernels.Mul(row[:i+1], row[:i+1], keep[h*t*t+i*t:h*t*t+i*t+i+1])
				}
				s := kernels.Dot(row[:i+1], arow[:i+1])
				for j := 0; j <= i; j++ {
					row[j] = arow[j] * (row[j] - s)
				}
				clear(row[i+1:])
			}
			// dQ_h += scale · dS K_h; dK_h += scale · dSᵀ Q_h
			kernels.SgemmSerial(false, false, t, hs, t, scale, dp, t, qkv[c+h*hs:], 3*c, 1, dqkv[h*hs:], 3*c)
			kernels.SgemmSerial(true, false, t, hs, t, scale, dp, t, qkv[h*hs:], 3*c, 1, dqkv[c+h*hs:], 3*c)
		}
	})
}
