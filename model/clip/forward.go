package clip

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Options controls Encode.
type Options struct {
	// Skip is diffusers' clip_skip: 0 uses the last layer; k > 0 uses the
	// output of layer num_hidden_layers−k, passed through
	// final_layer_norm, and does not run the layers above it.
	Skip int
	// HiddenStates keeps the residual stream after the embeddings and after
	// every layer run (transformers' output_hidden_states).
	HiddenStates bool
}

// Output is the encoder's result for a batch of B sequences of T tokens.
type Output struct {
	Batch, SeqLen, HiddenSize int
	// LastHidden is last_hidden_state, [B·T, H] row-major (with Skip, the
	// chosen layer's output through final_layer_norm).
	LastHidden []float32
	// Pooled is [B, H]: LastHidden at each sequence's first eos (at its
	// largest id when eos_token_id is the legacy 2).
	Pooled []float32
	// Hidden holds, with Options.HiddenStates, the stream after the
	// embeddings and after each layer run, each [B·T, H].
	Hidden [][]float32
}

// Encode runs the text encoder on B sequences of equal length T ≤
// max_position_embeddings (Stable Diffusion's are padded to 77).
func (m *Model) Encode(ids [][]int, opt Options) (*Output, error) {
	cfg, w := m.Config, &m.Weights
	B := len(ids)
	if B == 0 {
		return nil, fmt.Errorf("clip: Encode: no sequences")
	}
	T := len(ids[0])
	if T == 0 || T > cfg.MaxPositionEmbeddings {
		return nil, fmt.Errorf("clip: Encode: sequence length %d, want 1..%d (max_position_embeddings)", T, cfg.MaxPositionEmbeddings)
	}
	for b, seq := range ids {
		if len(seq) != T {
			return nil, fmt.Errorf("clip: Encode: sequence %d has %d ids, sequence 0 has %d", b, len(seq), T)
		}
		for t, id := range seq {
			if id < 0 || id >= cfg.VocabSize {
				return nil, fmt.Errorf("clip: Encode: sequence %d position %d: id %d outside the vocabulary [0, %d)", b, t, id, cfg.VocabSize)
			}
		}
	}
	if opt.Skip < 0 || opt.Skip >= cfg.NumHiddenLayers {
		return nil, fmt.Errorf("clip: Encode: skip %d, want 0..%d", opt.Skip, cfg.NumHiddenLayers-1)
	}
	H, I, N := cfg.HiddenSize, cfg.IntermediateSize, B*T
	eps := float32(cfg.LayerNormEps)
	x := make([]float32, N*H)
	h := make([]float32, N*H)
	qkv := make([]float32, N*3*H)
	ctx := make([]float32, N*H)
	f := make([]float32, N*I)
	out := &Output{Batch: B, SeqLen: T, HiddenSize: H}

	// Embeddings: token + position.
	kernels.Parallel(N, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			id, t := ids[r/T][r%T], r%T
			row := x[r*H : (r+1)*H]
			if w.tokenHalf != nil {
				w.tokenHalf.rows(row, id, id+1, H)
				kernels.Add(row, row, w.PosEmb[t*H:(t+1)*H])
			} else {
				kernels.Add(row, w.TokenEmb[id*H:(id+1)*H], w.PosEmb[t*H:(t+1)*H])
			}
		}
	})
	keep := func() {
		if opt.HiddenStates {
			out.Hidden = append(out.Hidden, append([]float32(nil), x...))
		}
	}
	keep()
	var scratch Layer // one layer's matrices, converted, for 16-bit weights
	for l := range cfg.NumHiddenLayers - opt.Skip {
		L := m.layerWeights(l, &scratch)
		kernels.LayerNorm(h, x, L.LN1G, L.LN1B, N, H, eps)
		linear(qkv, h, N, H, 3*H, L.QKVW, L.QKVB)
		m.attention(qkv, ctx, B, T)
		linear(h, ctx, N, H, H, L.OutW, L.OutB)
		kernels.Add(x, x, h)

		kernels.LayerNorm(h, x, L.LN2G, L.LN2B, N, H, eps)
		linear(f, h, N, H, I, L.FC1W, L.FC1B)
		activate(cfg.HiddenAct, f)
		linear(h, f, N, I, H, L.FC2W, L.FC2B)
		kernels.Add(x, x, h)
		keep()
	}
	kernels.LayerNorm(x, x, w.FinalLNG, w.FinalLNB, N, H, eps)
	out.LastHidden = x
	out.Pooled = make([]float32, B*H)
	for b := range B {
		p := pooledPosition(ids[b], cfg.EOSTokenID)
		copy(out.Pooled[b*H:(b+1)*H], x[(b*T+p)*H:])
	}
	return out, nil
}

// pooledPosition is where transformers pools: the first eos, or the
// largest id when eos_token_id is 2 (configs written before the fix);
// position 0 if there is no eos.
func pooledPosition(seq []int, eos int) int {
	best := 0
	for t, id := range seq {
		if eos == 2 {
			if id > seq[best] {
				best = t
			}
		} else if id == eos {
			return t
		}
	}
	if eos == 2 {
		return best
	}
	return 0
}

// linear computes dst = src·Wᵀ + bias: src [rows, in], W nn.Linear's
// [out, in], dst [rows, out].
func linear(dst, src []float32, rows, in, out int, W, bias []float32) {
	kernels.Parallel(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(dst[r*out:(r+1)*out], bias)
		}
	})
	kernels.Sgemm(false, true, rows, out, in, 1, src, in, W, in, 1, dst, out)
}

// attention computes ctx = softmax(Q Kᵀ/√hs, causal) V for every sequence
// and head from the fused qkv buffer ([N, 3H]: q, k, v column blocks; head
// h uses columns h·hs..).
func (m *Model) attention(qkv, ctx []float32, B, T int) {
	cfg := m.Config
	H, nh, hs := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.HeadSize()
	scale := float32(1 / math.Sqrt(float64(hs)))
	ld := 3 * H
	kernels.Parallel(B*nh, 1, func(lo, hi int) {
		s := make([]float32, T*T)
		for bh := lo; bh < hi; bh++ {
			b, hd := bh/nh, bh%nh
			q := qkv[b*T*ld+hd*hs:]
			k := qkv[b*T*ld+H+hd*hs:]
			v := qkv[b*T*ld+2*H+hd*hs:]
			kernels.SgemmSerial(false, true, T, T, hs, scale, q, ld, k, ld, 0, s, T)
			for i := range T {
				kernels.Softmax(s[i*T : i*T+i+1]) // keys 0..i
				clear(s[i*T+i+1 : (i+1)*T])
			}
			kernels.SgemmSerial(false, false, T, hs, T, 1, s, T, v, ld, 0, ctx[b*T*H+hd*hs:], H)
		}
	})
}

// activate applies the configured activation in place.
func activate(act string, x []float32) {
	switch act {
	case "gelu":
		kernels.GeluErf(x, x)
	case "gelu_new", "gelu_pytorch_tanh":
		kernels.GeluTanh(x, x)
	default: // quick_gelu: x·σ(1.702x)
		kernels.Parallel(len(x), 4096, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := float64(x[i])
				x[i] = float32(v / (1 + math.Exp(-1.702*v)))
			}
		})
	}
}
