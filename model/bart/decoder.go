package bart

import (
	"errors"
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/encdec"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// DecoderOptions size a Decoder. The zero value means one row of up to
// max_position_embeddings target and source tokens.
type DecoderOptions struct {
	Batch     int // rows (default 1)
	MaxLen    int // target positions per row (default and maximum max_position_embeddings)
	MaxSource int // source positions per row (default and maximum max_position_embeddings)
	// MaxRows is the number of new tokens one pass computes, all rows
	// together; longer inputs are split into passes (default
	// min(512, Batch*MaxLen)).
	MaxRows int
	// AllLogits computes the logits at every new position, read with
	// AllLogits; by default only each row's last position gets logits.
	AllLogits bool
	// CaptureCross keeps every cross-attention probability (per layer,
	// head, target position and source position), read with
	// CrossAttention. It costs 4·L·nh·MaxLen·MaxSource bytes per row.
	CaptureCross bool
	// CaptureHidden keeps every layer's output at every target position,
	// read with LayerHidden (for the logit lens: LayerLogits). It costs
	// 4·L·MaxLen·d_model bytes per row.
	CaptureHidden bool
	// CaptureSelf keeps every causal self-attention probability (per
	// layer, head and target position, over the positions up to it), read
	// with SelfAttention. It costs 4·L·nh·MaxLen² bytes per row.
	CaptureSelf bool
}

// Decoder holds, for a batch of rows, the decoder's self-attention
// key/value cache, the cross-attention keys and values computed once from
// each row's encoder output, and every buffer a pass needs, allocated once
// (like gpt2.State). A Decoder is not safe for concurrent use.
type Decoder struct {
	m   *Model
	opt DecoderOptions
	s   *encdec.Decoder // the rows' caches and buffers; runs d.pass
}

// NewDecoder allocates a Decoder for m. Rows get their source with
// SetSource before their first Forward.
func (m *Model) NewDecoder(opt DecoderOptions) *Decoder {
	c := m.Config
	if opt.Batch <= 0 {
		opt.Batch = 1
	}
	if opt.MaxLen <= 0 || opt.MaxLen > c.MaxPositions {
		opt.MaxLen = c.MaxPositions
	}
	if opt.MaxSource <= 0 || opt.MaxSource > c.MaxPositions {
		opt.MaxSource = c.MaxPositions
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = min(512, opt.Batch*opt.MaxLen)
	}
	C, nh := c.DModel, c.DecoderHeads
	d := &Decoder{m: m, opt: opt}
	d.s = encdec.NewDecoder("bart", ErrContext, encdec.Sizes{
		Batch: opt.Batch, MaxLen: opt.MaxLen, MaxSource: opt.MaxSource, MaxRows: opt.MaxRows,
		AllLogits: opt.AllLogits, CaptureCross: opt.CaptureCross, CaptureHidden: opt.CaptureHidden,
		CaptureSelf: opt.CaptureSelf,
		Layers:      c.DecoderLayers, Heads: nh, HeadDim: C / nh, Width: C, FFN: c.DecoderFFN, Vocab: c.DecoderVocab,
		Scale:      float32(1 / math.Sqrt(float64(C/nh))),
		MaxLenNote: fmt.Sprintf(" (max_position_embeddings %d)", c.MaxPositions),
	}, d.pass)
	return d
}

// NewDecoderFor allocates a Decoder sized for enc and gives each row its
// source: row b takes source b when enc has Batch rows (the default Batch
// is enc.Rows()), or source 0 when enc has one (beams of one source).
// MaxSource defaults to the longest source.
func (m *Model) NewDecoderFor(enc *Encoded, opt DecoderOptions) (*Decoder, error) {
	var err error
	if opt.Batch, opt.MaxSource, err = encdec.SourceSizes("bart", enc, opt.Batch, opt.MaxSource); err != nil {
		return nil, err
	}
	d := m.NewDecoder(opt)
	if err := d.s.SetSources(enc, func(row, src int) error { return d.SetSource(row, enc, src) }); err != nil {
		return nil, err
	}
	return d, nil
}

// Model returns the model the Decoder runs.
func (d *Decoder) Model() *Model { return d.m }

// Options returns the sizes the Decoder was made with (defaults filled in).
func (d *Decoder) Options() DecoderOptions { return d.opt }

// Len returns the number of target tokens cached for row.
func (d *Decoder) Len(row int) int { return d.s.Len(row) }

// SourceLen returns the number of source tokens of row (0 before
// SetSource).
func (d *Decoder) SourceLen(row int) int { return d.s.SourceLen(row) }

// SetSource empties row's target cache and computes its cross-attention
// keys and values at every layer from source encRow of enc.
func (d *Decoder) SetSource(row int, enc *Encoded, encRow int) error {
	C := d.m.Config.DModel
	return d.s.SetSource(row, enc, enc.C, encRow, func(l int, states []float32, n int, k, v []float32) {
		a := &d.m.Weights.Decoder[l].CrossAttn
		encdec.Linear(k, states, n, C, C, a.KW, a.KB)
		encdec.Linear(v, states, n, C, C, a.VW, a.VB)
	})
}

// Reset empties every row's target cache (sources are kept).
func (d *Decoder) Reset() { d.s.Reset() }

// Truncate drops row's cached target tokens from position n on, so that
// the next Forward continues from there (n must not exceed Len(row)).
func (d *Decoder) Truncate(row, n int) { d.s.Truncate(row, n) }

// Logits returns the logits [Vt] after the last token given for row (by
// this or an earlier Forward), or nil if it has none. The slice is the
// Decoder's buffer, overwritten by the next Forward that includes row.
func (d *Decoder) Logits(row int) []float32 { return d.s.Logits(row) }

// Hidden returns the decoder's final hidden state [C] that row's logits
// were computed from (the input of lm_head at its last position), or nil
// if it has none. The slice is the Decoder's buffer, overwritten by the
// next Forward that includes row.
func (d *Decoder) Hidden(row int) []float32 { return d.s.Hidden(row) }

// AllLogits returns the logits [T, Vt] at each of the T tokens given for
// row in the last Forward, which needs DecoderOptions.AllLogits. The slice
// is the Decoder's buffer.
func (d *Decoder) AllLogits(row int) []float32 { return d.s.AllLogits(row) }

// CrossAttention returns the cross-attention probabilities over row's
// source tokens [SourceLen(row)] of target position pos at layer and head;
// nil without DecoderOptions.CaptureCross or for a position not cached.
// The slice is the Decoder's buffer.
func (d *Decoder) CrossAttention(row, layer, head, pos int) []float32 {
	return d.s.CrossAttention(row, layer, head, pos)
}

// SelfAttention returns the causal self-attention probabilities of row's
// target position pos at layer and head over positions 0..pos ([pos+1]);
// nil without DecoderOptions.CaptureSelf or for a position not cached. The
// slice is the Decoder's buffer.
func (d *Decoder) SelfAttention(row, layer, head, pos int) []float32 {
	return d.s.SelfAttention(row, layer, head, pos)
}

// LayerHidden returns the output of decoder layer layer at row's target
// position pos ([d_model], before mBART's final layer_norm); nil without
// DecoderOptions.CaptureHidden or for a position not cached. The slice is
// the Decoder's buffer.
func (d *Decoder) LayerHidden(row, layer, pos int) []float32 {
	return d.s.LayerHidden(row, layer, pos)
}

// LayerLogits writes to dst ([decoder vocab]) the logits the model would
// give if the decoder ended with hidden state h ([d_model], a
// LayerHidden): mBART's final layer_norm, then lm_head and
// final_logits_bias (the logit lens). For the last layer they are the
// model's logits.
func (m *Model) LayerLogits(dst, h []float32) {
	c, w := m.Config, &m.Weights
	C := c.DModel
	x := h
	if c.PreLayerNorm {
		x = make([]float32, C)
		kernels.LayerNorm(x, h, w.DecFinalLNG, w.DecFinalLNB, 1, C, c.LayerNormEps)
	}
	encdec.Linear(dst[:c.DecoderVocab], x, 1, C, c.DecoderVocab, w.LMHead, w.FinalLogitsBias)
}

// Forward appends tokens[b] to row b's target (for b < len(tokens); an
// empty or missing entry leaves the row as it is) and computes the logits
// after each row's last new token. Ids are checked against the target
// vocabulary and lengths against MaxLen (ErrContext); on error nothing has
// changed. The first token of a target is usually
// Config.DecoderStartTokenID.
func (d *Decoder) Forward(tokens [][]int) error { return d.s.Forward(tokens) }

// pass runs the decoder layers over the rows d.s.Segs packed; first is the
// index of its first row among all rows of the Forward call (for
// AllLogits).
func (d *Decoder) pass(rows, first int) {
	m, s := d.m, d.s
	c, w := m.Config, &m.Weights
	C, F := c.DModel, c.DecoderFFN
	x, h, qkv, q, att, ff := s.X[:rows*C], s.H[:rows*C], s.QKV[:rows*3*C], s.Q[:rows*C], s.Att[:rows*C], s.FF[:rows*F]
	m.embed(x, s.Segs, w.DecEmbed, w.DecPos, w.DecEmbLNG, w.DecEmbLNB)
	for l := range w.Decoder {
		L := &w.Decoder[l]
		// Self-attention over the cached target, causal.
		encdec.Linear(qkv, m.preNorm(h, x, L.SelfLNG, L.SelfLNB, rows), rows, C, 3*C, m.selfQKV[l], m.selfQKVB[l])
		s.AttendSelf(l, qkv, encdec.Bias{})
		encdec.Linear(h, att, rows, C, C, L.SelfAttn.OW, L.SelfAttn.OB)
		m.residual(x, h, L.SelfLNG, L.SelfLNB, rows)

		// Cross-attention over the row's source.
		encdec.Linear(q, m.preNorm(h, x, L.CrossLNG, L.CrossLNB, rows), rows, C, C, L.CrossAttn.QW, L.CrossAttn.QB)
		s.AttendCross(l, q)
		encdec.Linear(h, att, rows, C, C, L.CrossAttn.OW, L.CrossAttn.OB)
		m.residual(x, h, L.CrossLNG, L.CrossLNB, rows)

		// Feed-forward.
		encdec.Linear(ff, m.preNorm(h, x, L.FinalLNG, L.FinalLNB, rows), rows, C, F, L.FC1W, L.FC1B)
		encdec.Activate(c.Activation, ff)
		encdec.Linear(h, ff, rows, F, C, L.FC2W, L.FC2B)
		m.residual(x, h, L.FinalLNG, L.FinalLNB, rows)
		s.CaptureLayer(l, x)
	}
	if c.PreLayerNorm {
		kernels.LayerNorm(x, x, w.DecFinalLNG, w.DecFinalLNB, rows, C, c.LayerNormEps)
	}
	// logits = h·LMHeadᵀ + final_logits_bias.
	s.LMHead(rows, first, w.LMHead, w.FinalLogitsBias)
}

// CopySeq makes row dst a copy of row src: its self-attention cache, its
// source's cross-attention keys and values, captured probabilities, length
// and last logits. Copying a row to itself does nothing.
func (d *Decoder) CopySeq(dst, src int) { d.s.CopySeq(dst, src) }

// Reorder makes row b a copy of what row from[b] holds now, for every
// b < len(from), as CopySeq would if each copy read the rows as they were
// before the call (transformers' reorder_cache; cross-attention keys and
// values move too). Several rows may take the same source; a row whose
// source is itself is left alone. A cycle (a permutation) goes through row
// spare, which must lie outside [0, len(from)) and is then lost; spare -1
// uses the Decoder's own spare row. It allocates nothing for up to 64
// rows.
func (d *Decoder) Reorder(from []int, spare int) { d.s.Reorder(from, spare) }

// Forward is the teacher-forced pass: it encodes src and returns the
// logits at every position of tgt, [len(tgt), Vt] row-major (the target
// usually starts with Config.DecoderStartTokenID).
func (m *Model) Forward(src, tgt []int) ([]float32, error) {
	if len(tgt) == 0 {
		return nil, errors.New("bart: Forward: empty target")
	}
	if len(tgt) > m.Config.MaxPositions {
		return nil, fmt.Errorf("bart: Forward: %d target tokens, more than max_position_embeddings %d: %w", len(tgt), m.Config.MaxPositions, ErrContext)
	}
	enc, err := m.Encode([][]int{src})
	if err != nil {
		return nil, err
	}
	d, err := m.NewDecoderFor(enc, DecoderOptions{Batch: 1, MaxLen: len(tgt), AllLogits: true})
	if err != nil {
		return nil, err
	}
	if err := d.Forward([][]int{tgt}); err != nil {
		return nil, err
	}
	return d.AllLogits(0), nil
}
