package bert

import (
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Activation is what a Hook sees: one named intermediate value of one
// sequence of the batch at one layer. The struct is reused between calls.
type Activation struct {
	// Name is the hook point: "embeddings", "attn_probs", "mlp_act" or
	// "resid_post" (see the package documentation).
	Name  string
	Layer int // encoder layer, -1 for "embeddings"
	Seq   int // index of the sequence in the batch
	Len   int // the sequence's own length; rows past it are padding
	// Shape is [T, H], [nh, T, T] or [T, I], T being the padded batch length.
	Shape []int
	// Data is the model's buffer itself, row-major: valid during the call;
	// changes made to it are used by the rest of the forward pass.
	Data []float32

	shape [3]int
}

// Hook observes (and may modify) intermediate values during Forward. It is
// called synchronously, in forward order: for each hook point and layer,
// once per sequence.
type Hook func(a *Activation)

// callHook hands the rows of every sequence of a [B, T, cols] buffer to
// hook.
func (m *Model) callHook(hook Hook, in *Input, name string, layer int, buf []float32, B, T, cols int) {
	a := &m.act
	for b := 0; b < B; b++ {
		*a = Activation{Name: name, Layer: layer, Seq: b, Len: len(in.IDs[b])}
		a.shape = [3]int{T, cols}
		a.Shape = a.shape[:2]
		a.Data = buf[b*T*cols : (b+1)*T*cols]
		hook(a)
	}
}

// hookedAttention is attention when a hook wants attn_probs: the
// probabilities of all sequences and heads are materialised as [B, nh, T, T]
// (masked keys exactly 0), shown to the hook, then multiplied by V.
func (m *Model) hookedAttention(hook Hook, in *Input, layer, B, T int) {
	cfg, bf := m.Config, &m.buf
	H, nh, hs := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.HeadSize()
	ld := 3 * H
	bf.probs = grow(bf.probs, B*nh*T*T)
	m.attentionProbs(B, T, bf.probs)
	a := &m.act
	for b := 0; b < B; b++ {
		*a = Activation{Name: "attn_probs", Layer: layer, Seq: b, Len: len(in.IDs[b])}
		a.shape = [3]int{nh, T, T}
		a.Shape = a.shape[:]
		a.Data = bf.probs[b*nh*T*T : (b+1)*nh*T*T]
		hook(a)
	}
	kernels.Parallel(B*nh, 1, func(lo, hi int) {
		for bh := lo; bh < hi; bh++ {
			b, h := bh/nh, bh%nh
			v := bf.qkv[b*T*ld+2*H+h*hs:]
			out := bf.ctx[b*T*H+h*hs:]
			kernels.Sgemm(false, false, T, hs, T, 1, bf.probs[bh*T*T:(bh+1)*T*T], T, v, ld, 0, out, H)
		}
	})
}

// attentionProbs writes softmax(Q Kᵀ/√hs + mask) for every sequence and
// head into probs ([B, nh, T, T]); masked keys get exactly 0 and a row with
// no attended key is uniform over all T keys, as in Hugging Face.
func (m *Model) attentionProbs(B, T int, probs []float32) {
	cfg, bf := m.Config, &m.buf
	H, nh, hs := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.HeadSize()
	scale := float32(1 / math.Sqrt(float64(hs)))
	ld := 3 * H
	kernels.Parallel(B*nh, 1, func(lo, hi int) {
		keys := make([]int, 0, T)
		tmp := make([]float32, T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/nh, bh%nh
			keys = keys[:0]
			for j, v := range bf.mask[b*T : (b+1)*T] {
				if v != 0 {
					keys = append(keys, j)
				}
			}
			P := probs[bh*T*T : (bh+1)*T*T]
			if len(keys) == 0 {
				for i := range P {
					P[i] = 1 / float32(T)
				}
				continue
			}
			q := bf.qkv[b*T*ld+h*hs:]
			k := bf.qkv[b*T*ld+H+h*hs:]
			kernels.Sgemm(false, true, T, T, hs, scale, q, ld, k, ld, 0, P, T)
			n := len(keys)
			for i := 0; i < T; i++ {
				row := P[i*T : (i+1)*T]
				for jj, j := range keys {
					tmp[jj] = row[j]
				}
				kernels.Softmax(tmp[:n])
				clear(row)
				for jj, j := range keys {
					row[j] = tmp[jj]
				}
			}
		}
	})
}
