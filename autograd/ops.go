package autograd

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

func need(op, name string, have, want int) {
	if have < want {
		panic(fmt.Sprintf("autograd: %s: len(%s) = %d, need at least %d", op, name, have, want))
	}
}

// EmbeddingForward gathers rows of a table: out[i,:] = table[ids[i],:] for the
// n = len(ids) ids, each row c wide. An id outside the table panics.
func EmbeddingForward(out, table []float32, ids []int, c int) {
	need("EmbeddingForward", "out", len(out), len(ids)*c)
	rows := len(table) / c
	for i, id := range ids {
		if id < 0 || id >= rows {
			panic(fmt.Sprintf("autograd: EmbeddingForward: id %d at %d outside table of %d rows", id, i, rows))
		}
		copy(out[i*c:(i+1)*c], table[id*c:(id+1)*c])
	}
}

// EmbeddingBackward scatter-adds dout's rows into dtable: dtable[ids[i],:] += dout[i,:].
func EmbeddingBackward(dtable, dout []float32, ids []int, c int) {
	need("EmbeddingBackward", "dout", len(dout), len(ids)*c)
	for i, id := range ids {
		kernels.Axpy(1, dout[i*c:(i+1)*c], dtable[id*c:(id+1)*c])
	}
}

// AddForward computes out = a + b elementwise over len(out) elements.
func AddForward(out, a, b []float32) { kernels.Add(out, a, b) }

// AddBackward accumulates da += dout and db += dout; either may be nil.
func AddBackward(da, db, dout []float32) {
	if da != nil {
		kernels.Axpy(1, dout, da)
	}
	if db != nil {
		kernels.Axpy(1, dout, db)
	}
}

// MatmulForward computes out[n,oc] = inp[n,c]·w[c,oc] + bias[oc], the Hugging
// Face Conv1D layout. bias may be nil.
func MatmulForward(out, inp, w, bias []float32, n, c, oc int) {
	need("MatmulForward", "out", len(out), n*oc)
	need("MatmulForward", "inp", len(inp), n*c)
	need("MatmulForward", "w", len(w), c*oc)
	kernels.Sgemm(false, false, n, oc, c, 1, inp, c, w, oc, 0, out, oc)
	if bias != nil {
		need("MatmulForward", "bias", len(bias), oc)
		for i := 0; i < n; i++ {
			row := out[i*oc : (i+1)*oc]
			kernels.Add(row, row, bias)
		}
	}
}

// MatmulBackward accumulates the gradients of MatmulForward: dinp += dout·wᵀ,
// dw += inpᵀ·dout and dbias += the column sums of dout. Any of dinp, dw and
// dbias may be nil; inp is only read when dw is wanted.
func MatmulBackward(dinp, dw, dbias, dout, inp, w []float32, n, c, oc int) {
	need("MatmulBackward", "dout", len(dout), n*oc)
	if dinp != nil {
		need("MatmulBackward", "dinp", len(dinp), n*c)
		kernels.Sgemm(false, true, n, c, oc, 1, dout, oc, w, oc, 1, dinp, c)
	}
	if dw != nil {
		need("MatmulBackward", "dw", len(dw), c*oc)
		kernels.Sgemm(true, false, c, oc, n, 1, inp, c, dout, oc, 1, dw, oc)
	}
	if dbias != nil {
		for i := 0; i < n; i++ {
			kernels.Axpy(1, dout[i*oc:(i+1)*oc], dbias)
		}
	}
}

// LinearTForward computes out[n,oc] = inp[n,c]·wᵀ with w stored [oc, c]
// (nn.Linear's layout; GPT-2's LM head is wte [V, C] used this way).
func LinearTForward(out, inp, w []float32, n, c, oc int) {
	need("LinearTForward", "out", len(out), n*oc)
	need("LinearTForward", "inp", len(inp), n*c)
	need("LinearTForward", "w", len(w), oc*c)
	kernels.Sgemm(false, true, n, oc, c, 1, inp, c, w, c, 0, out, oc)
}

// LinearTBackward accumulates the gradients of LinearTForward: dinp +=
// dout·w and dw += doutᵀ·inp. Either may be nil.
func LinearTBackward(dinp, dw, dout, inp, w []float32, n, c, oc int) {
	need("LinearTBackward", "dout", len(dout), n*oc)
	if dinp != nil {
		need("LinearTBackward", "dinp", len(dinp), n*c)
		kernels.Sgemm(false, false, n, c, oc, 1, dout, oc, w, c, 1, dinp, c)
	}
	if dw != nil {
		need("LinearTBackward", "dw", len(dw), oc*c)
		kernels.Sgemm(true, false, oc, c, n, 1, dout, oc, inp, c, 1, dw, c)
	}
}

// LayerNormForward normalises each of the n rows of inp (c wide) and applies
// gain g and bias b. It saves each row's mean and reciprocal standard
// deviation (biased variance, eps inside the square root) for the backward.
func LayerNormForward(out, mean, rstd, inp, g, b []float32, n, c int, eps float32) {
	need("LayerNormForward", "inp", len(inp), n*c)
	need("LayerNormForward", "out", len(out), n*c)
	need("LayerNormForward", "mean", len(mean), n)
	need("LayerNormForward", "rstd", len(rstd), n)
	kernels.Parallel(n, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := inp[i*c : (i+1)*c]
			var s float64
			for _, v := range x {
				s += float64(v)
			}
			m := s / float64(c)
			var v2 float64
			for _, v := range x {
				d := float64(v) - m
				v2 += d * d
			}
			r := 1 / math.Sqrt(v2/float64(c)+float64(eps))
			mf, rf := float32(m), float32(r)
			o := out[i*c : (i+1)*c]
			for j, v := range x {
				o[j] = (v-mf)*rf*g[j] + b[j]
			}
			mean[i], rstd[i] = mf, rf
		}
	})
}

// LayerNormBackward accumulates the gradients of LayerNormForward into dinp,
// dg and db (any may be nil), given the forward's input and saved statistics.
func LayerNormBackward(dinp, dg, db, dout, inp, g, mean, rstd []float32, n, c int) {
	need("LayerNormBackward", "dout", len(dout), n*c)
	need("LayerNormBackward", "inp", len(inp), n*c)
	if dinp != nil {
		kernels.Parallel(n, 4, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x, d := inp[i*c:(i+1)*c], dout[i*c:(i+1)*c]
				m, r := mean[i], rstd[i]
				var sumD, sumDN float32
				for j := range x {
					dn := d[j] * g[j]
					sumD += dn
					sumDN += dn * (x[j] - m) * r
				}
				sumD /= float32(c)
				sumDN /= float32(c)
				di := dinp[i*c : (i+1)*c]
				for j := range x {
					norm := (x[j] - m) * r
					di[j] += (d[j]*g[j] - sumD - norm*sumDN) * r
				}
			}
		})
	}
	if dg != nil || db != nil {
		for i := 0; i < n; i++ {
			x, d := inp[i*c:(i+1)*c], dout[i*c:(i+1)*c]
			m, r := mean[i], rstd[i]
			for j := range x {
				if dg != nil {
					dg[j] += d[j] * (x[j] - m) * r
				}
				if db != nil {
					db[j] += d[j]
				}
			}
		}
	}
}

// GeluTanhForward computes out = 0.5x(1+tanh(√(2/π)(x+0.044715x³))).
func GeluTanhForward(out, inp []float32) {
	need("GeluTanhForward", "inp", len(inp), len(out))
	kernels.GeluTanh(out, inp)
}

// GeluTanhBackward accumulates dinp += gelu'(inp)·dout.
func GeluTanhBackward(dinp, inp, dout []float32) {
	need("GeluTanhBackward", "inp", len(inp), len(dinp))
	need("GeluTanhBackward", "dout", len(dout), len(dinp))
	kernels.GeluTanhBackward(dinp, inp, dout)
}

// GeluErfForward computes out = 0.5x(1+erf(x/√2)).
func GeluErfForward(out, inp []float32) {
	need("GeluErfForward", "inp", len(inp), len(out))
	kernels.GeluErf(out, inp)
}

// GeluErfBackward accumulates dinp += (Φ(x) + xφ(x))·dout.
func GeluErfBackward(dinp, inp, dout []float32) {
	need("GeluErfBackward", "inp", len(inp), len(dinp))
	need("GeluErfBackward", "dout", len(dout), len(dinp))
	const invSqrt2Pi = 0.3989422804014327
	kernels.Parallel(len(dinp), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := float64(inp[i])
			d := 0.5*(1+math.Erf(x/math.Sqrt2)) + x*invSqrt2Pi*math.Exp(-0.5*x*x)
			dinp[i] += float32(d) * dout[i]
		}
	})
}

// SoftmaxForward writes the softmax of each of the rows of inp (rows×cols) to
// out. With causal set, row i sees only columns j <= i+offset; the others are
// set to 0.
func SoftmaxForward(out, inp []float32, rows, cols int, causal bool, offset int) {
	need("SoftmaxForward", "inp", len(inp), rows*cols)
	need("SoftmaxForward", "out", len(out), rows*cols)
	copy(out[:rows*cols], inp[:rows*cols])
	kernels.SoftmaxRows(out, rows, cols, causal, offset)
}

// SoftmaxBackward accumulates dinp += y⊙(dout − Σ dout⊙y) row by row, where y
// is the forward's output. Masked entries (y = 0) receive nothing.
func SoftmaxBackward(dinp, out, dout []float32, rows, cols int) {
	need("SoftmaxBackward", "out", len(out), rows*cols)
	need("SoftmaxBackward", "dout", len(dout), rows*cols)
	need("SoftmaxBackward", "dinp", len(dinp), rows*cols)
	for i := 0; i < rows; i++ {
		y, d := out[i*cols:(i+1)*cols], dout[i*cols:(i+1)*cols]
		s := kernels.Dot(y, d)
		di := dinp[i*cols : (i+1)*cols]
		for j := range y {
			di[j] += y[j] * (d[j] - s)
		}
	}
}

// SliceColsForward copies columns [off, off+w) of inp (n rows, c wide) to out (n×w).
func SliceColsForward(out, inp []float32, n, c, off, w int) {
	need("SliceColsForward", "inp", len(inp), n*c)
	need("SliceColsForward", "out", len(out), n*w)
	for i := 0; i < n; i++ {
		copy(out[i*w:(i+1)*w], inp[i*c+off:i*c+off+w])
	}
}

// SliceColsBackward accumulates dout (n×w) into columns [off, off+w) of dinp (n×c).
func SliceColsBackward(dinp, dout []float32, n, c, off, w int) {
	need("SliceColsBackward", "dinp", len(dinp), n*c)
	need("SliceColsBackward", "dout", len(dout), n*w)
	for i := 0; i < n; i++ {
		kernels.Axpy(1, dout[i*w:(i+1)*w], dinp[i*c+off:i*c+off+w])
	}
}

// AttentionForward runs causal multi-head attention for one sequence of t
// positions. qkv is [t, 3c] with q, k and v side by side (c = nh·hs); att
// receives the probabilities [nh, stride, stride] (stride >= t; a sequence
// shorter than stride fills the top-left t×t corner of each head's block, and
// entries j > i are 0);
// out is [t, c]. Scores are scaled by 1/√hs.
func AttentionForward(out, att, qkv []float32, t, stride, c, nh int) {
	AttentionDropoutForward(out, att, nil, qkv, t, stride, c, nh)
}

// AttentionDropoutForward is AttentionForward with dropout on the
// probabilities: the values are weighted by att[i]·keep[i], where keep (laid
// out like att) holds 0 for a dropped entry and 1/(1-p) for a kept one.
// att still receives the probabilities before dropout. keep may be nil (no
// dropout).
func AttentionDropoutForward(out, att, keep, qkv []float32, t, stride, c, nh int) {
	need("AttentionForward", "qkv", len(qkv), t*3*c)
	need("AttentionForward", "out", len(out), t*c)
	need("AttentionForward", "att", len(att), (nh-1)*stride*stride+(t-1)*stride+t)
	if keep != nil {
		need("AttentionForward", "keep", len(keep), len(att))
	}
	hs := c / nh
	scale := float32(1 / math.Sqrt(float64(hs)))
	kernels.Parallel(nh*t, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			h, i := r/t, r%t
			q := qkv[i*3*c+h*hs : i*3*c+h*hs+hs]
			row := h*stride*stride + i*stride
			a := att[row : row+t]
			for j := 0; j <= i; j++ {
				a[j] = scale * kernels.Dot(q, qkv[j*3*c+c+h*hs:j*3*c+c+h*hs+hs])
			}
			for j := i + 1; j < t; j++ {
				a[j] = 0
			}
			kernels.Softmax(a[:i+1])
			o := out[i*c+h*hs : i*c+h*hs+hs]
			clear(o)
			for j := 0; j <= i; j++ {
				w := a[j]
				if keep != nil {
					w *= keep[row+j]
				}
				kernels.Axpy(w, qkv[j*3*c+2*c+h*hs:j*3*c+2*c+h*hs+hs], o)
			}
		}
	})
}

// AttentionBackward accumulates into dqkv ([t, 3c]) the gradient of
// AttentionForward given dout ([t, c]), the forward's qkv and att.
func AttentionBackward(dqkv, dout, qkv, att []float32, t, stride, c, nh int) {
	AttentionDropoutBackward(dqkv, dout, qkv, att, nil, t, stride, c, nh)
}

// AttentionDropoutBackward accumulates into dqkv the gradient of
// AttentionDropoutForward with the same keep (nil: no dropout).
func AttentionDropoutBackward(dqkv, dout, qkv, att, keep []float32, t, stride, c, nh int) {
	need("AttentionBackward", "dqkv", len(dqkv), t*3*c)
	need("AttentionBackward", "dout", len(dout), t*c)
	need("AttentionBackward", "qkv", len(qkv), t*3*c)
	hs := c / nh
	scale := float32(1 / math.Sqrt(float64(hs)))
	// Heads touch disjoint columns of dqkv, so they run in parallel.
	kernels.Parallel(nh, 1, func(lo, hi int) {
		dpre := make([]float32, t)
		for h := lo; h < hi; h++ {
			for i := 0; i < t; i++ {
				row := h*stride*stride + i*stride
				a := att[row : row+i+1]
				do := dout[i*c+h*hs : i*c+h*hs+hs]
				if allZero(do) {
					continue // common when only some rows carry a gradient
				}
				// With w_ij = att_ij·keep_ij: dw_ij = dout_i·v_j, dv_j +=
				// w_ij dout_i, and the probabilities' gradient is
				// datt_ij = dw_ij·keep_ij.
				var s float32
				for j := 0; j <= i; j++ {
					v := qkv[j*3*c+2*c+h*hs : j*3*c+2*c+h*hs+hs]
					w := a[j]
					dpre[j] = kernels.Dot(do, v)
					if keep != nil {
						w *= keep[row+j]
						dpre[j] *= keep[row+j]
					}
					s += dpre[j] * a[j]
					kernels.Axpy(w, do, dqkv[j*3*c+2*c+h*hs:j*3*c+2*c+h*hs+hs])
				}
				q := qkv[i*3*c+h*hs : i*3*c+h*hs+hs]
				dq := dqkv[i*3*c+h*hs : i*3*c+h*hs+hs]
				for j := 0; j <= i; j++ {
					g := a[j] * (dpre[j] - s) * scale
					if g == 0 {
						continue
					}
					kernels.Axpy(g, qkv[j*3*c+c+h*hs:j*3*c+c+h*hs+hs], dq)
					kernels.Axpy(g, q, dqkv[j*3*c+c+h*hs:j*3*c+c+h*hs+hs])
				}
			}
		}
	})
}

func allZero(x []float32) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}
