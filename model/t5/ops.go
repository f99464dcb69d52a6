package t5

import (
	"math"

	"github.com/loupe-ml/loupe/internal/encdec"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// linear computes dst = src·Wᵀ for rows rows: src is [rows, in], W is
// nn.Linear's [out, in] (T5 has no biases), dst is [rows, out].
func linear(dst, src []float32, rows, in, out int, W []float32) {
	encdec.Linear(dst, src, rows, in, out, W, nil)
}

// rmsNormSerial is the size from which rmsNorm splits rows across threads.
const rmsNormSerial = 1 << 15

// rmsNorm is T5LayerNorm: dst = g · x / sqrt(mean(x²) + eps) per row of
// width C, without mean subtraction or bias (the mean of squares is
// accumulated in float64, transformers computes it in float32).
func rmsNorm(dst, x, g []float32, rows, C int, eps float32) {
	if rows*C < rmsNormSerial {
		rmsRows(dst, x, g, 0, rows, C, eps)
		return
	}
	kernels.Parallel(rows, 1, func(lo, hi int) { rmsRows(dst, x, g, lo, hi, C, eps) })
}

func rmsRows(dst, x, g []float32, lo, hi, C int, eps float32) {
	for r := lo; r < hi; r++ {
		xr, dr := x[r*C:(r+1)*C], dst[r*C:(r+1)*C]
		s := 0.0
		for _, v := range xr {
			s += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(float64(float32(s/float64(C))+eps)))
		for j, v := range xr {
			dr[j] = g[j] * (v * inv)
		}
	}
}

// feedForward computes T5's DenseReluDense (or its gated form) of the
// normed rows h [rows, C] into out [rows, C]; ff is [rows, F] scratch and,
// for gated models, ff2 [rows, 2F] holds act(wi_0·h) and wi_1·h side by side
// (one matrix multiply with the stacked [2F, C] matrix).
func (m *Model) feedForward(out, h, ff, ff2 []float32, rows int, wi, wo []float32) {
	c := m.Config
	C, F := c.DModel, c.DFF
	if !c.Gated {
		linear(ff, h, rows, C, F, wi)
		encdec.Activate(c.Activation, ff)
		linear(out, ff, rows, F, C, wo)
		return
	}
	linear(ff2, h, rows, C, 2*F, wi)
	for r := range rows {
		a, b := ff2[r*2*F:r*2*F+F], ff2[r*2*F+F:(r+1)*2*F]
		encdec.Activate(c.Activation, a)
		kernels.Mul(ff[r*F:(r+1)*F], a, b)
	}
	linear(out, ff, rows, F, C, wo)
}

// bucket is transformers' T5Attention._relative_position_bucket for one
// relative position rel = key position − query position: bidirectional
// (encoder) splits the buckets between the two directions; causal
// (decoder) sees rel ≤ 0 only. Half of a direction's buckets are exact
// distances, the rest logarithmic up to maxDistance. The logarithm is
// computed in float32 as torch does.
func bucket(rel int, bidirectional bool, buckets, maxDistance int) int {
	b := 0
	n := buckets
	if bidirectional {
		n /= 2
		if rel > 0 {
			b += n
		}
		if rel < 0 {
			rel = -rel
		}
	} else {
		rel = -min(rel, 0)
	}
	exact := n / 2
	if rel < exact {
		return b + rel
	}
	l := float32(math.Log(float64(float32(rel) / float32(exact))))
	large := exact + int(l/float32(math.Log(float64(maxDistance)/float64(exact)))*float32(n-exact))
	return b + min(large, n-1)
}

// biasTable returns the relative position bias of every head for relative
// positions −(span−1) … span−1 (bidirectional) or 0 … −(span−1) (causal):
// out[h*W + i] with W = 2·span−1 and i = rel + span − 1, or W = span and
// i = −rel. table is relative_attention_bias.weight [buckets, heads].
func biasTable(table []float32, heads, span int, bidirectional bool, buckets, maxDistance int) []float32 {
	W := span
	if bidirectional {
		W = 2*span - 1
	}
	out := make([]float32, heads*W)
	for i := range W {
		rel := -i
		if bidirectional {
			rel = i - (span - 1)
		}
		bk := bucket(rel, bidirectional, buckets, maxDistance)
		for h := range heads {
			out[h*W+i] = table[bk*heads+h]
		}
	}
	return out
}
