package t5

import (
	"errors"

	"github.com/loupe-ml/loupe/internal/encdec"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// ErrContext is wrapped by errors about a target or source longer than a
// Decoder's MaxLen or MaxSource.
var ErrContext = errors.New("context length exceeded")

// Encoded is the encoder's output for a batch of sources: per row, the
// final hidden states [n, C] of its n tokens (after final_layer_norm).
type Encoded struct {
	C    int // the model width, d_model
	rows [][]float32
	attn *encdec.EncoderAttention // with EncodeOptions.CaptureAttention
}

// EncodeOptions control EncodeWith. The zero value encodes as Encode does.
type EncodeOptions struct {
	// CaptureAttention keeps every self-attention probability of every
	// layer, read with Encoded.Attention. It costs 4·L·nh·n² bytes per
	// source of n tokens.
	CaptureAttention bool
}

// Attention returns the self-attention probabilities of source row at
// layer and head, [n, n] row-major (query × key) for its n tokens; nil
// without EncodeOptions.CaptureAttention.
func (e *Encoded) Attention(row, layer, head int) []float32 {
	return e.attn.Probs(row, layer, head)
}

// Rows returns the number of sources.
func (e *Encoded) Rows() int { return len(e.rows) }

// Len returns the number of tokens of source row.
func (e *Encoded) Len(row int) int { return len(e.rows[row]) / e.C }

// States returns the encoder output of source row, [Len(row), C]
// row-major.
func (e *Encoded) States(row int) []float32 { return e.rows[row] }

// embed copies the token embeddings of segs into x (T5 adds no positions
// and does not scale).
func (m *Model) embed(x []float32, segs []encdec.Segment) {
	C := m.Config.DModel
	for _, g := range segs {
		for i, id := range g.Toks {
			r := g.Row + i
			copy(x[r*C:(r+1)*C], m.Weights.Embed[id*C:(id+1)*C])
		}
	}
}

// Encode runs the encoder over a batch of sources, each row its own length
// (no padding: the result equals transformers' for a right-padded batch
// with an attention mask, at the unpadded positions). The relative
// position bias is computed once per call for the longest source. It
// allocates its buffers per call.
func (m *Model) Encode(src [][]int) (*Encoded, error) {
	return m.EncodeWith(src, EncodeOptions{})
}

// EncodeWith is Encode with options (the attention probabilities kept).
func (m *Model) EncodeWith(src [][]int, opt EncodeOptions) (*Encoded, error) {
	c := m.Config
	C, I, F, nh := c.DModel, c.Inner(), c.DFF, c.Heads
	segs, R, probs, err := encdec.PackSources("t5", ErrContext, src, 0, c.VocabSize, nh)
	if err != nil {
		return nil, err
	}
	span := 0
	for _, ids := range src {
		span = max(span, len(ids))
	}
	x := make([]float32, R*C)
	h := make([]float32, R*C)
	qkv := make([]float32, R*3*I)
	k := make([]float32, R*I)
	v := make([]float32, R*I)
	att := make([]float32, R*I)
	ff := make([]float32, R*F)
	var ff2 []float32
	if c.Gated {
		ff2 = make([]float32, R*2*F)
	}
	j := &encdec.Attention{Segs: segs, Heads: nh, HeadDim: c.DKV, Stride: I, Scale: 1, Probs: make([]float32, probs), Out: att,
		Bias: encdec.Bias{Table: biasTable(m.Weights.EncRelBias, nh, span, true, c.Buckets, c.MaxDistance), Width: 2*span - 1, Center: span - 1}}
	w := &m.Weights
	var attn *encdec.EncoderAttention
	if opt.CaptureAttention {
		attn = encdec.NewEncoderAttention(segs, nh, len(w.Encoder))
	}
	m.embed(x, segs)
	for l := range w.Encoder {
		L := &w.Encoder[l]
		rmsNorm(h, x, L.SelfLN, R, C, c.LayerNormEps)
		linear(qkv, h, R, C, 3*I, m.encQKV[l])
		j.RunFused(k, v, qkv, R)
		if attn != nil {
			attn.Capture(l, j.Probs)
		}
		linear(h, att, R, I, C, L.SelfAttn.OW)
		kernels.Add(x, x, h)
		rmsNorm(h, x, L.FFLN, R, C, c.LayerNormEps)
		m.feedForward(h, h, ff, ff2, R, m.encWI[l], L.FF.WO)
		kernels.Add(x, x, h)
	}
	rmsNorm(x, x, w.EncFinalLN, R, C, c.LayerNormEps)
	return &Encoded{C: C, rows: encdec.SplitRows(x, segs, C), attn: attn}, nil
}
