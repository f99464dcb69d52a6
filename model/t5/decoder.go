package t5

import (
	"errors"
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/internal/encdec"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// ErrEncoderOnly is wrapped by the errors of NewDecoderFor, Forward and
// Decoder.Forward for an encoder-only model (Config.EncoderOnly): it has
// no decoder to run.
var ErrEncoderOnly = errors.New("encoder-only T5 checkpoint (T5EncoderModel): it has no decoder; use Encode, or package embed for sentence-T5")

// DefaultMaxLen is a Decoder's target and source capacity when
// DecoderOptions leave them unset (T5's relative positions have no limit;
// its n_positions is 512).
const DefaultMaxLen = 512

// DecoderOptions size a Decoder. The zero value means one row of up to
// DefaultMaxLen target and source tokens.
type DecoderOptions struct {
	Batch     int // rows (default 1)
	MaxLen    int // target positions per row (default DefaultMaxLen)
	MaxSource int // source positions per row (default DefaultMaxLen)
	// MaxRows is the number of new tokens one pass computes, all rows
	// together; longer inputs are split into passes (default
	// min(512, Batch*MaxLen)).
	MaxRows int
	// AllLogits computes the logits at every new position, read with
	// AllLogits; by default only each row's last position gets logits.
	AllLogits bool
	// CaptureCross keeps every cross-attention probability, read with
	// CrossAttention. It costs 4·L·nh·MaxLen·MaxSource bytes per row.
	CaptureCross bool
	// CaptureHidden keeps every block's output at every target position,
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
// each row's encoder output, the causal relative position bias of every
// distance up to MaxLen, and every buffer a pass needs, allocated once. A
// Decoder is not safe for concurrent use.
type Decoder struct {
	m    *Model
	opt  DecoderOptions
	s    *encdec.Decoder // the rows' caches and buffers; runs d.pass
	ff2  []float32       // [MaxRows, 2·DFF] for gated models
	bias encdec.Bias     // causal biasTable [nh, MaxLen]
}

// NewDecoder allocates a Decoder for m. Rows get their source with
// SetSource before their first Forward.
func (m *Model) NewDecoder(opt DecoderOptions) *Decoder {
	c := m.Config
	if opt.Batch <= 0 {
		opt.Batch = 1
	}
	if opt.MaxLen <= 0 {
		opt.MaxLen = DefaultMaxLen
	}
	if opt.MaxSource <= 0 {
		opt.MaxSource = DefaultMaxLen
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = min(512, opt.Batch*opt.MaxLen)
	}
	d := &Decoder{m: m, opt: opt}
	if !c.EncoderOnly {
		d.bias = encdec.Bias{Table: biasTable(m.Weights.DecRelBias, c.Heads, opt.MaxLen, false, c.Buckets, c.MaxDistance), Width: opt.MaxLen}
	}
	if c.Gated {
		d.ff2 = make([]float32, opt.MaxRows*2*c.DFF)
	}
	d.s = encdec.NewDecoder("t5", ErrContext, encdec.Sizes{
		Batch: opt.Batch, MaxLen: opt.MaxLen, MaxSource: opt.MaxSource, MaxRows: opt.MaxRows,
		AllLogits: opt.AllLogits, CaptureCross: opt.CaptureCross, CaptureHidden: opt.CaptureHidden,
		CaptureSelf: opt.CaptureSelf,
		Layers:      c.DecoderLayers, Heads: c.Heads, HeadDim: c.DKV, Width: c.DModel, FFN: c.DFF, Vocab: c.VocabSize,
		Scale: 1, // T5 does not scale its attention scores
	}, d.pass)
	return d
}

// NewDecoderFor allocates a Decoder sized for enc and gives each row its
// source: row b takes source b when enc has Batch rows (the default Batch
// is enc.Rows()), or source 0 when enc has one (beams of one source).
// MaxSource defaults to the longest source.
func (m *Model) NewDecoderFor(enc *Encoded, opt DecoderOptions) (*Decoder, error) {
	if m.Config.EncoderOnly {
		return nil, fmt.Errorf("t5: %w", ErrEncoderOnly)
	}
	var err error
	if opt.Batch, opt.MaxSource, err = encdec.SourceSizes("t5", enc, opt.Batch, opt.MaxSource); err != nil {
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
	C, I := d.m.Config.DModel, d.m.Config.Inner()
	return d.s.SetSource(row, enc, enc.C, encRow, func(l int, states []float32, n int, k, v []float32) {
		a := &d.m.Weights.Decoder[l].CrossAttn
		linear(k, states, n, C, I, a.KW)
		linear(v, states, n, C, I, a.VW)
	})
}

// Reset empties every row's target cache (sources are kept).
func (d *Decoder) Reset() { d.s.Reset() }

// Truncate drops row's cached target tokens from position n on, so that
// the next Forward continues from there (n must not exceed Len(row)).
func (d *Decoder) Truncate(row, n int) { d.s.Truncate(row, n) }

// Logits returns the logits [V] after the last token given for row (by
// this or an earlier Forward), or nil if it has none. The slice is the
// Decoder's buffer, overwritten by the next Forward that includes row.
func (d *Decoder) Logits(row int) []float32 { return d.s.Logits(row) }

// Hidden returns the input of lm_head [C] that row's logits were computed
// from (the decoder output after final_layer_norm, times d_model^-0.5 when
// the head is tied), or nil if it has none. The slice is the Decoder's
// buffer, overwritten by the next Forward that includes row.
func (d *Decoder) Hidden(row int) []float32 { return d.s.Hidden(row) }

// AllLogits returns the logits [T, V] at each of the T tokens given for
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

// LayerHidden returns the output of decoder block layer at row's target
// position pos ([d_model], before final_layer_norm); nil without
// DecoderOptions.CaptureHidden or for a position not cached. The slice is
// the Decoder's buffer.
func (d *Decoder) LayerHidden(row, layer, pos int) []float32 {
	return d.s.LayerHidden(row, layer, pos)
}

// LayerLogits writes to dst ([vocab]) the logits the model would give if
// the decoder ended with hidden state h ([d_model], a LayerHidden):
// final_layer_norm, the d_model^-0.5 scaling of a tied head, then lm_head
// (the logit lens). For the last block they are the model's logits.
func (m *Model) LayerLogits(dst, h []float32) {
	c, w := m.Config, &m.Weights
	C := c.DModel
	x := make([]float32, C)
	rmsNorm(x, h, w.DecFinalLN, 1, C, c.LayerNormEps)
	if c.TieWordEmbeddings {
		kernels.Scale(float32(1/math.Sqrt(float64(C))), x)
	}
	linear(dst[:c.VocabSize], x, 1, C, c.VocabSize, w.LMHead)
}

// Forward appends tokens[b] to row b's target (for b < len(tokens); an
// empty or missing entry leaves the row as it is) and computes the logits
// after each row's last new token. Ids are checked against the vocabulary
// and lengths against MaxLen (ErrContext); on error nothing has changed.
// The first token of a target is usually Config.DecoderStartTokenID.
func (d *Decoder) Forward(tokens [][]int) error {
	if d.m.Config.EncoderOnly {
		return fmt.Errorf("t5: %w", ErrEncoderOnly)
	}
	return d.s.Forward(tokens)
}

// pass runs the decoder blocks over the rows d.s.Segs packed; first is the
// index of its first row among all rows of the Forward call (for
// AllLogits).
func (d *Decoder) pass(rows, first int) {
	m, s := d.m, d.s
	c, w := m.Config, &m.Weights
	C, I, F, eps := c.DModel, c.Inner(), c.DFF, c.LayerNormEps
	x, h, qkv, q, att := s.X[:rows*C], s.H[:rows*C], s.QKV[:rows*3*I], s.Q[:rows*I], s.Att[:rows*I]
	ff, ff2 := s.FF[:rows*F], d.ff2
	if ff2 != nil {
		ff2 = ff2[:rows*2*F]
	}
	m.embed(x, s.Segs)
	for l := range w.Decoder {
		L := &w.Decoder[l]
		// Self-attention over the cached target: causal, with the relative
		// position bias of block 0.
		rmsNorm(h, x, L.SelfLN, rows, C, eps)
		linear(qkv, h, rows, C, 3*I, m.selfQKV[l])
		s.AttendSelf(l, qkv, d.bias)
		linear(h, att, rows, I, C, L.SelfAttn.OW)
		kernels.Add(x, x, h)

		// Cross-attention over the row's source, no position bias.
		rmsNorm(h, x, L.CrossLN, rows, C, eps)
		linear(q, h, rows, C, I, L.CrossAttn.QW)
		s.AttendCross(l, q)
		linear(h, att, rows, I, C, L.CrossAttn.OW)
		kernels.Add(x, x, h)

		// Feed-forward.
		rmsNorm(h, x, L.FFLN, rows, C, eps)
		m.feedForward(h, h, ff, ff2, rows, m.decWI[l], L.FF.WO)
		kernels.Add(x, x, h)
		s.CaptureLayer(l, x)
	}
	rmsNorm(x, x, w.DecFinalLN, rows, C, eps)
	if c.TieWordEmbeddings {
		kernels.Scale(float32(1/math.Sqrt(float64(C))), x)
	}
	s.LMHead(rows, first, w.LMHead, nil)
}

// CopySeq makes row dst a copy of row src: its self-attention cache, its
// source's cross-attention keys and values, captured probabilities, length
// and last logits. Copying a row to itself does nothing.
func (d *Decoder) CopySeq(dst, src int) { d.s.CopySeq(dst, src) }

// Reorder makes row b a copy of what row from[b] holds now, for every
// b < len(from), as CopySeq would if each copy read the rows as they were
// before the call (transformers' reorder_cache; cross-attention keys and
// values move too). A cycle goes through row spare, which must lie outside
// [0, len(from)) and is then lost; spare -1 uses the Decoder's own spare
// row. It allocates nothing for up to 64 rows.
func (d *Decoder) Reorder(from []int, spare int) { d.s.Reorder(from, spare) }

// Forward is the teacher-forced pass: it encodes src and returns the
// logits at every position of tgt, [len(tgt), V] row-major (the target
// usually starts with Config.DecoderStartTokenID).
func (m *Model) Forward(src, tgt []int) ([]float32, error) {
	if len(tgt) == 0 {
		return nil, errors.New("t5: Forward: empty target")
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
