package t5

import (
	"errors"
	"fmt"

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
}

// Rows returns the number of sources.
func (e *Encoded) Rows() int { return len(e.rows) }

// Len returns the number of tokens of source row.
func (e *Encoded) Len(row int) int { return len(e.rows[row]) / e.C }

// States returns the encoder output of source row, [Len(row), C]
// row-major.
func (e *Encoded) States(row int) []float32 { return e.rows[row] }

func checkIDs(what string, b int, ids []int, vocab int) error {
	for _, id := range ids {
		if id < 0 || id >= vocab {
			return fmt.Errorf("t5: %s %d: token id %d out of range [0, %d)", what, b, id, vocab)
		}
	}
	return nil
}

// embed copies the token embeddings of segs into x (T5 adds no positions
// and does not scale).
func (m *Model) embed(x []float32, segs []segment) {
	C := m.Config.DModel
	for _, g := range segs {
		for i, id := range g.toks {
			r := g.row + i
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
	c := m.Config
	C, I, F, nh := c.DModel, c.Inner(), c.DFF, c.Heads
	if len(src) == 0 {
		return nil, errors.New("t5: Encode: no sources")
	}
	segs := make([]segment, len(src))
	R, probs, span := 0, 0, 0
	for b, ids := range src {
		if len(ids) == 0 {
			return nil, fmt.Errorf("t5: Encode: source %d is empty", b)
		}
		if err := checkIDs("source", b, ids, c.VocabSize); err != nil {
			return nil, err
		}
		segs[b] = segment{seq: b, toks: ids, row: R, ctx: len(ids)}
		R += len(ids)
		probs += nh * len(ids) * len(ids)
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
	j := &attnJob{segs: segs, nh: nh, hs: c.DKV, I: I, q: qkv, ldq: 3 * I, probs: make([]float32, probs), out: att,
		bias: biasTable(m.Weights.EncRelBias, nh, span, true, c.Buckets, c.MaxDistance), biasW: 2*span - 1, bctr: span - 1}
	j.run = j.tasks
	for i := range segs {
		g := &segs[i]
		g.k, g.v = k[g.row*I:], v[g.row*I:]
	}
	w := &m.Weights
	m.embed(x, segs)
	for l := range w.Encoder {
		L := &w.Encoder[l]
		rmsNorm(h, x, L.SelfLN, R, C, c.LayerNormEps)
		linear(qkv, h, R, C, 3*I, m.encQKV[l])
		for r := range R {
			copy(k[r*I:(r+1)*I], qkv[r*3*I+I:r*3*I+2*I])
			copy(v[r*I:(r+1)*I], qkv[r*3*I+2*I:r*3*I+3*I])
		}
		j.layout()
		j.attend()
		linear(h, att, R, I, C, L.SelfAttn.OW)
		kernels.Add(x, x, h)
		rmsNorm(h, x, L.FFLN, R, C, c.LayerNormEps)
		m.feedForward(h, h, ff, ff2, R, m.encWI[l], L.FF.WO)
		kernels.Add(x, x, h)
	}
	rmsNorm(x, x, w.EncFinalLN, R, C, c.LayerNormEps)
	e := &Encoded{C: C, rows: make([][]float32, len(src))}
	for b, g := range segs {
		e.rows[b] = x[g.row*C : (g.row+len(g.toks))*C : (g.row+len(g.toks))*C]
	}
	return e, nil
}
