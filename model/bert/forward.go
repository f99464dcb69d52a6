package bert

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// embed fills x with LayerNorm(word[id] + position[t] + token_type[tt]) for
// every position of the padded batch (padding uses id 0, type 0).
func (m *Model) embed(in Input, B, T int) {
	cfg, w, x := m.Config, m.Weights, m.buf.x
	H := cfg.HiddenSize
	kernels.Parallel(B*T, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, t := r/T, r%T
			id, tt := 0, 0
			if t < len(in.IDs[b]) {
				id = in.IDs[b][t]
				if in.TypeIDs != nil {
					tt = in.TypeIDs[b][t]
				}
			}
			row := x[r*H : (r+1)*H]
			kernels.Add(row, w.WordEmb[id*H:(id+1)*H], w.PosEmb[t*H:(t+1)*H])
			kernels.Add(row, row, w.TypeEmb[tt*H:(tt+1)*H])
		}
	})
	kernels.LayerNorm(x, x, w.EmbLNG, w.EmbLNB, B*T, H, float32(cfg.LayerNormEps))
}

// linear computes dst = src·Wᵀ + bias for rows rows: src is [rows, in], W is
// nn.Linear's [out, in], dst is [rows, out].
func linear(dst, src []float32, rows, in, out int, W, bias []float32) {
	kernels.Parallel(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(dst[r*out:(r+1)*out], bias)
		}
	})
	kernels.Sgemm(false, true, rows, out, in, 1, src, in, W, in, 1, dst, out)
}

// layer runs one post-LayerNorm encoder layer on the residual stream x.
func (m *Model) layer(L *Layer, in *Input, l, B, T int) {
	cfg, bf := m.Config, &m.buf
	H, I, N := cfg.HiddenSize, cfg.IntermediateSize, B*T
	eps := float32(cfg.LayerNormEps)
	var q qLayer // nil layers: float32
	if m.quant != nil {
		q = m.quant[l]
	}

	// Self-attention: q, k, v in one product, then per (sequence, head).
	qlinear(q.qkv, bf.qkv, bf.x, N, H, 3*H, L.QKVW, L.QKVB)
	if in.Hook != nil {
		m.hookedAttention(in.Hook, in, l, B, T)
	} else {
		m.attention(B, T)
	}
	qlinear(q.attnOut, bf.tmp, bf.ctx, N, H, H, L.AttnOutW, L.AttnOutB)
	kernels.Add(bf.tmp, bf.tmp, bf.x)
	kernels.LayerNorm(bf.x, bf.tmp, L.AttnLNG, L.AttnLNB, N, H, eps)

	// Feed-forward.
	qlinear(q.inter, bf.inter, bf.x, N, H, I, L.InterW, L.InterB)
	activate(cfg.HiddenAct, bf.inter[:N*I])
	if in.Hook != nil {
		m.callHook(in.Hook, in, "mlp_act", l, bf.inter, B, T, I)
	}
	qlinear(q.out, bf.tmp, bf.inter, N, I, H, L.OutW, L.OutB)
	kernels.Add(bf.tmp, bf.tmp, bf.x)
	kernels.LayerNorm(bf.x, bf.tmp, L.OutLNG, L.OutLNB, N, H, eps)
	if in.Hook != nil {
		m.callHook(in.Hook, in, "resid_post", l, bf.x, B, T, H)
	}
}

// activate applies the configured activation in place.
func activate(act string, x []float32) {
	switch act {
	case "gelu":
		kernels.GeluErf(x, x)
	case "gelu_new", "gelu_pytorch_tanh":
		kernels.GeluTanh(x, x)
	case "relu":
		kernels.Parallel(len(x), 4096, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x[i] = max(x[i], 0)
			}
		})
	}
}

// perKeyAttention forces the per-key attention path (tests compare the two).
var perKeyAttention = false

// attention computes ctx = softmax(Q Kᵀ/√hs + mask) V for every sequence and
// head, reading q, k and v from the fused qkv buffer ([N, 3H]: q columns
// 0..H, k columns H..2H, v columns 2H..3H; head h uses columns h*hs..).
// Keys with mask 0 get probability exactly 0, as Hugging Face's finfo.min
// additive mask gives after exp underflow; a row whose every key is masked
// attends uniformly to all T keys, as it does in Hugging Face.
//
// When the attended keys of a sequence are a prefix (right padding, the
// usual case) the scores and the weighted sum are two matrix products per
// head over those keys; other masks take a per-key path.
func (m *Model) attention(B, T int) {
	cfg, bf := m.Config, &m.buf
	H, nh, hs := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.HeadSize()
	scale := float32(1 / math.Sqrt(float64(hs)))
	ld := 3 * H
	qkv, ctx, mask := bf.qkv, bf.ctx, bf.mask
	kernels.Parallel(B*nh, 1, func(lo, hi int) {
		scores := make([]float32, T*T)
		keys := make([]int, 0, T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/nh, bh%nh
			// The attended keys; all T when none is.
			keys = keys[:0]
			prefix := true
			for j, v := range mask[b*T : (b+1)*T] {
				if v != 0 {
					prefix = prefix && len(keys) == j
					keys = append(keys, j)
				}
			}
			// No attended key: HF's scores all become finfo.min, so the
			// softmax is uniform over all T keys.
			uniform := len(keys) == 0
			if uniform {
				for j := 0; j < T; j++ {
					keys = append(keys, j)
				}
			}
			n := len(keys)
			q := qkv[b*T*ld+h*hs:]
			k := qkv[b*T*ld+H+h*hs:]
			v := qkv[b*T*ld+2*H+h*hs:]
			out := ctx[b*T*H+h*hs:]
			if prefix && !perKeyAttention {
				s := scores[:T*n]
				if uniform {
					clear(s)
				} else {
					kernels.Sgemm(false, true, T, n, hs, scale, q, ld, k, ld, 0, s, n)
				}
				for i := 0; i < T; i++ {
					kernels.Softmax(s[i*n : (i+1)*n])
				}
				kernels.Sgemm(false, false, T, hs, n, 1, s, n, v, ld, 0, out, H)
				continue
			}
			p := scores[:n]
			for i := 0; i < T; i++ {
				qi := q[i*ld : i*ld+hs]
				for jj, j := range keys {
					if uniform {
						p[jj] = 0
						continue
					}
					p[jj] = kernels.Dot(qi, k[j*ld:j*ld+hs]) * scale
				}
				kernels.Softmax(p)
				oi := out[i*H : i*H+hs]
				clear(oi)
				for jj, j := range keys {
					kernels.Axpy(p[jj], v[j*ld:j*ld+hs], oi)
				}
			}
		}
	})
}

// finish gathers the pooler output and packages the result.
func (m *Model) finish(B, T int) *Output {
	cfg, w, bf := m.Config, m.Weights, &m.buf
	H := cfg.HiddenSize
	out := &Output{Batch: B, SeqLen: T, HiddenSize: H, LastHidden: bf.x[:B*T*H], Mask: bf.mask[:B*T]}
	if w.PoolerW != nil {
		bf.first = grow(bf.first, B*H)
		bf.pooled = grow(bf.pooled, B*H)
		for b := 0; b < B; b++ {
			copy(bf.first[b*H:(b+1)*H], bf.x[b*T*H:])
		}
		linear(bf.pooled, bf.first, B, H, H, w.PoolerW, w.PoolerB)
		for i, v := range bf.pooled {
			bf.pooled[i] = float32(math.Tanh(float64(v)))
		}
		out.Pooled = bf.pooled
	}
	return out
}
