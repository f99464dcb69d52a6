package bart

import (
	"errors"
	"math"

	"github.com/loupe-ml/loupe/internal/encdec"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// ErrContext is wrapped by errors about a source or target longer than the
// model's max_position_embeddings (or a Decoder's MaxLen / MaxSource).
var ErrContext = errors.New("context length exceeded")

// Encoded is the encoder's output for a batch of sources: per row, the
// final hidden states [n, C] of its n tokens.
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

// embed fills x's rows for segs: token embedding (times sqrt(C) with
// scale_embedding) plus position embedding, then layernorm_embedding.
func (m *Model) embed(x []float32, segs []encdec.Segment, tok, pos, lnG, lnB []float32) {
	c := m.Config
	C := c.DModel
	scale := float32(1)
	if c.ScaleEmbedding {
		scale = float32(math.Sqrt(float64(C)))
	}
	off := c.posOffset()
	rows := 0
	for _, g := range segs {
		for i, id := range g.Toks {
			r := g.Row + i
			p := g.Pos0 + i + off
			row := x[r*C : (r+1)*C]
			e, pe := tok[id*C:(id+1)*C], pos[p*C:(p+1)*C]
			for j := range row {
				row[j] = e[j]*scale + pe[j]
			}
		}
		rows += len(g.Toks)
	}
	if c.LayerNormEmbedding {
		kernels.LayerNorm(x[:rows*C], x[:rows*C], lnG, lnB, rows, C, c.LayerNormEps)
	}
}

// Encode runs the encoder over a batch of sources, each row its own length
// (no padding: the result equals Hugging Face's for a right-padded batch
// with an attention mask, at the unpadded positions). It allocates its
// buffers per call.
func (m *Model) Encode(src [][]int) (*Encoded, error) {
	return m.EncodeWith(src, EncodeOptions{})
}

// EncodeWith is Encode with options (the attention probabilities kept).
func (m *Model) EncodeWith(src [][]int, opt EncodeOptions) (*Encoded, error) {
	c := m.Config
	C, F, nh := c.DModel, c.EncoderFFN, c.EncoderHeads
	segs, R, probs, err := encdec.PackSources("bart", ErrContext, src, c.MaxPositions, c.VocabSize, nh)
	if err != nil {
		return nil, err
	}
	x := make([]float32, R*C)
	h := make([]float32, R*C)
	qkv := make([]float32, R*3*C)
	k := make([]float32, R*C)
	v := make([]float32, R*C)
	att := make([]float32, R*C)
	ff := make([]float32, R*F)
	j := &encdec.Attention{Segs: segs, Heads: nh, HeadDim: C / nh, Stride: C, Scale: float32(1 / math.Sqrt(float64(C/nh))),
		Probs: make([]float32, probs), Out: att}
	w := &m.Weights
	var attn *encdec.EncoderAttention
	if opt.CaptureAttention {
		attn = encdec.NewEncoderAttention(segs, nh, len(w.Encoder))
	}
	m.embed(x, segs, w.EncEmbed, w.EncPos, w.EncEmbLNG, w.EncEmbLNB)
	for l := range w.Encoder {
		L := &w.Encoder[l]
		encdec.Linear(qkv, m.preNorm(h, x, L.SelfLNG, L.SelfLNB, R), R, C, 3*C, m.encQKV[l], m.encQKVB[l])
		j.RunFused(k, v, qkv, R)
		if attn != nil {
			attn.Capture(l, j.Probs)
		}
		encdec.Linear(h, att, R, C, C, L.SelfAttn.OW, L.SelfAttn.OB)
		m.residual(x, h, L.SelfLNG, L.SelfLNB, R)
		encdec.Linear(ff, m.preNorm(h, x, L.FinalLNG, L.FinalLNB, R), R, C, F, L.FC1W, L.FC1B)
		encdec.Activate(c.Activation, ff)
		encdec.Linear(h, ff, R, F, C, L.FC2W, L.FC2B)
		m.residual(x, h, L.FinalLNG, L.FinalLNB, R)
	}
	if c.PreLayerNorm {
		kernels.LayerNorm(x, x, w.EncFinalLNG, w.EncFinalLNB, R, C, c.LayerNormEps)
	}
	return &Encoded{C: C, rows: encdec.SplitRows(x, segs, C), attn: attn}, nil
}

// preNorm returns the input of a sublayer: x itself (post-LayerNorm
// models) or LN(x) written to h (pre-LayerNorm, mBART).
func (m *Model) preNorm(h, x, g, b []float32, rows int) []float32 {
	c := m.Config
	if !c.PreLayerNorm {
		return x
	}
	kernels.LayerNorm(h[:rows*c.DModel], x[:rows*c.DModel], g, b, rows, c.DModel, c.LayerNormEps)
	return h
}

// residual adds a sublayer's output f to the residual stream x: x = LN(x +
// f) for post-LayerNorm models, x += f for pre-LayerNorm ones (f is
// overwritten).
func (m *Model) residual(x, f, g, b []float32, rows int) {
	c := m.Config
	n := rows * c.DModel
	if c.PreLayerNorm {
		kernels.Add(x[:n], x[:n], f[:n])
		return
	}
	kernels.Add(f[:n], f[:n], x[:n])
	kernels.LayerNorm(x[:n], f[:n], g, b, rows, c.DModel, c.LayerNormEps)
}
