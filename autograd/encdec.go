package autograd

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// The operations encoder-decoder models add to GPT-2's: T5's RMS norm,
// the ReLU and SiLU activations, the elementwise product of a gated
// feed-forward, and multi-head attention with separate query, key and
// value buffers (bidirectional, causal or cross-attention) and an optional
// additive score bias (T5's relative positions).

// RMSNormForward computes T5LayerNorm over the n rows of inp (c wide):
// out = g·x·r with r = 1/√(mean(x²) + eps), the mean of squares summed in
// float64 and rounded to float32 before eps is added, as model/t5's
// inference pass does. It saves each row's r in rstd for the backward.
func RMSNormForward(out, rstd, inp, g []float32, n, c int, eps float32) {
	need("RMSNormForward", "inp", len(inp), n*c)
	need("RMSNormForward", "out", len(out), n*c)
	need("RMSNormForward", "rstd", len(rstd), n)
	for i := 0; i < n; i++ {
		x, o := inp[i*c:(i+1)*c], out[i*c:(i+1)*c]
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		r := float32(1 / math.Sqrt(float64(float32(s/float64(c))+eps)))
		for j, v := range x {
			o[j] = g[j] * (v * r)
		}
		rstd[i] = r
	}
}

// RMSNormBackward accumulates the gradients of RMSNormForward: with
// u = g⊙dout, dinp += r·u − r³·x·(Σ u⊙x)/c, and dg += dout⊙x·r. Either
// gradient may be nil.
func RMSNormBackward(dinp, dg, dout, inp, g, rstd []float32, n, c int) {
	need("RMSNormBackward", "dout", len(dout), n*c)
	need("RMSNormBackward", "inp", len(inp), n*c)
	for i := 0; i < n; i++ {
		x, d := inp[i*c:(i+1)*c], dout[i*c:(i+1)*c]
		r := rstd[i]
		if dinp != nil {
			var s float64
			for j := range x {
				s += float64(d[j]) * float64(g[j]) * float64(x[j])
			}
			k := float32(s/float64(c)) * r * r * r
			di := dinp[i*c : (i+1)*c]
			for j := range x {
				di[j] += r*g[j]*d[j] - k*x[j]
			}
		}
		if dg != nil {
			for j := range x {
				dg[j] += d[j] * x[j] * r
			}
		}
	}
}

// ReluForward computes out = max(inp, 0).
func ReluForward(out, inp []float32) {
	need("ReluForward", "inp", len(inp), len(out))
	for i := range out {
		out[i] = max(inp[i], 0)
	}
}

// ReluBackward accumulates dinp += dout where inp > 0.
func ReluBackward(dinp, inp, dout []float32) {
	need("ReluBackward", "inp", len(inp), len(dinp))
	need("ReluBackward", "dout", len(dout), len(dinp))
	for i := range dinp {
		if inp[i] > 0 {
			dinp[i] += dout[i]
		}
	}
}

// SiluForward computes out = x·σ(x) (swish, Marian's activation), in
// float64 and rounded, as model/bart's inference pass does.
func SiluForward(out, inp []float32) {
	need("SiluForward", "inp", len(inp), len(out))
	for i := range out {
		x := float64(inp[i])
		out[i] = float32(x / (1 + math.Exp(-x)))
	}
}

// SiluBackward accumulates dinp += σ(x)(1 + x(1 − σ(x)))·dout.
func SiluBackward(dinp, inp, dout []float32) {
	need("SiluBackward", "inp", len(inp), len(dinp))
	need("SiluBackward", "dout", len(dout), len(dinp))
	for i := range dinp {
		x := float64(inp[i])
		s := 1 / (1 + math.Exp(-x))
		dinp[i] += float32(s*(1+x*(1-s))) * dout[i]
	}
}

// MulForward computes out = a⊙b elementwise over len(out) elements (T5
// v1.1's gated feed-forward: act(wi_0·x) ⊙ wi_1·x).
func MulForward(out, a, b []float32) {
	need("MulForward", "a", len(a), len(out))
	need("MulForward", "b", len(b), len(out))
	kernels.Mul(out, a[:len(out)], b[:len(out)])
}

// MulBackward accumulates da += dout⊙b and db += dout⊙a; either may be nil.
func MulBackward(da, db, dout, a, b []float32) {
	for i, d := range dout {
		if da != nil {
			da[i] += d * b[i]
		}
		if db != nil {
			db[i] += d * a[i]
		}
	}
}

// MHA is the geometry of multi-head attention of Tq queries over Tk keys
// and values: head h of query row i is Q[i*LDQ+h*HeadDim:][:HeadDim], and
// likewise for K, V (LDK, LDV) and the output (LDO). The scores are
// Scale·q·kᵀ plus Bias[h, i, j] when Bias is not nil ([Heads, Tq, Tk]);
// with Causal, query i sees keys 0..i (Tq must equal Tk). The
// probabilities are kept as [Heads, Tq, Tk] with the entries a query does
// not see set to 0; LDA and HeadStride, when not 0, lay them out with rows
// LDA apart and heads HeadStride apart instead (so that a backward over the
// first Tq queries of a longer pass reads that pass's probabilities). An encoder's self-attention is MHA with Q, K and V
// the three column blocks of one fused buffer; a decoder's
// cross-attention has its queries from the decoder and its keys and values
// from the encoder's output.
type MHA struct {
	Tq, Tk, Heads, HeadDim int
	LDQ, LDK, LDV, LDO     int
	Scale                  float32
	Causal                 bool
	Bias                   []float32
	LDA, HeadStride        int
}

// layout returns the row and head strides of the probabilities.
func (a *MHA) layout() (lda, hstride int) {
	lda, hstride = a.LDA, a.HeadStride
	if lda == 0 {
		lda = a.Tk
	}
	if hstride == 0 {
		hstride = a.Tq * lda
	}
	return lda, hstride
}

func (a *MHA) check(op string, out, att, q, k, v []float32) {
	hs, nh := a.HeadDim, a.Heads
	need(op, "q", len(q), (a.Tq-1)*a.LDQ+nh*hs)
	need(op, "k", len(k), (a.Tk-1)*a.LDK+nh*hs)
	need(op, "v", len(v), (a.Tk-1)*a.LDV+nh*hs)
	need(op, "out", len(out), (a.Tq-1)*a.LDO+nh*hs)
	lda, hstride := a.layout()
	need(op, "att", len(att), (nh-1)*hstride+(a.Tq-1)*lda+a.Tk)
	if a.Bias != nil {
		need(op, "Bias", len(a.Bias), nh*a.Tq*a.Tk)
	}
	if a.Causal && a.Tq != a.Tk {
		panic("autograd: " + op + ": causal attention needs Tq == Tk")
	}
}

// seen is the number of keys query i attends to.
func (a *MHA) seen(i int) int {
	if a.Causal {
		return i + 1
	}
	return a.Tk
}

// Forward writes the attention output to out and the probabilities to
// att.
func (a *MHA) Forward(out, att, q, k, v []float32) {
	a.check("MHA.Forward", out, att, q, k, v)
	hs, Tq, Tk := a.HeadDim, a.Tq, a.Tk
	lda, hstride := a.layout()
	kernels.Parallel(a.Heads, 1, func(lo, hi int) {
		for h := lo; h < hi; h++ {
			P := att[h*hstride:]
			kernels.SgemmSerial(false, true, Tq, Tk, hs, a.Scale, q[h*hs:], a.LDQ, k[h*hs:], a.LDK, 0, P, lda)
			for i := 0; i < Tq; i++ {
				row := P[i*lda : i*lda+Tk]
				n := a.seen(i)
				if a.Bias != nil {
					kernels.Add(row[:n], row[:n], a.Bias[h*Tq*Tk+i*Tk:h*Tq*Tk+i*Tk+n])
				}
				kernels.Softmax(row[:n])
				clear(row[n:])
			}
			for i := 0; i < Tq; i++ {
				clear(out[i*a.LDO+h*hs : i*a.LDO+(h+1)*hs])
			}
			kernels.SgemmSerial(false, false, Tq, hs, Tk, 1, P, lda, v[h*hs:], a.LDV, 0, out[h*hs:], a.LDO)
		}
	})
}

// Backward accumulates into dq, dk and dv (laid out like q, k and v; any
// may be nil) the gradient of Forward given dout (laid out like out), the
// forward's inputs and its probabilities att. The bias gets no gradient.
func (a *MHA) Backward(dq, dk, dv, dout, q, k, v, att []float32) {
	a.check("MHA.Backward", dout, att, q, k, v)
	hs, Tq, Tk := a.HeadDim, a.Tq, a.Tk
	lda, hstride := a.layout()
	kernels.Parallel(a.Heads, 1, func(lo, hi int) {
		dp := make([]float32, Tq*Tk)
		for h := lo; h < hi; h++ {
			P := att[h*hstride:]
			// dP = dout_h V_hᵀ; dV_h += Pᵀ dout_h
			kernels.SgemmSerial(false, true, Tq, Tk, hs, 1, dout[h*hs:], a.LDO, v[h*hs:], a.LDV, 0, dp, Tk)
			if dv != nil {
				kernels.SgemmSerial(true, false, Tk, hs, Tq, 1, P, lda, dout[h*hs:], a.LDO, 1, dv[h*hs:], a.LDV)
			}
			// Through the softmax: dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik).
			for i := 0; i < Tq; i++ {
				row, prow := dp[i*Tk:(i+1)*Tk], P[i*lda:i*lda+Tk]
				n := a.seen(i)
				s := kernels.Dot(row[:n], prow[:n])
				for j := 0; j < n; j++ {
					row[j] = prow[j] * (row[j] - s)
				}
				clear(row[n:])
			}
			// dQ_h += scale · dS K_h; dK_h += scale · dSᵀ Q_h
			if dq != nil {
				kernels.SgemmSerial(false, false, Tq, hs, Tk, a.Scale, dp, Tk, k[h*hs:], a.LDK, 1, dq[h*hs:], a.LDQ)
			}
			if dk != nil {
				kernels.SgemmSerial(true, false, Tk, hs, Tq, a.Scale, dp, Tk, q[h*hs:], a.LDQ, 1, dk[h*hs:], a.LDK)
			}
		}
	})
}
