package gpt2

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Compute precisions for Model.Quantize and LoadOptions.Quantize.
const (
	// Float32 is the default: every product in float32.
	Float32 = ""
	// Int8 runs the inference pass (State.Forward, Model.Forward) with int8
	// weights: every block's attn.c_attn, attn.c_proj, mlp.c_fc and
	// mlp.c_proj, and the LM head, go through kernels.QLinear, dynamic int8
	// quantization as torch.ao.quantization.quantize_dynamic does for
	// nn.Linear: weights quantized once, per output channel and symmetric
	// (one float32 scale per output feature, values in [-127, 127]); each
	// token's activations quantized at run time, per row, to 7-bit
	// unsigned values with a zero point; sums in int32, dequantized with
	// the bias added in float32. The token embedding lookup reads the
	// dequantized row of the (tied) quantized head, scale·q in float32, so
	// that a model loaded from a loupe quantize directory, which keeps no
	// float32 wte, computes the same; an untied head leaves the lookup
	// float32. The position embeddings, the LayerNorms, the biases,
	// attention (scores, softmax, the key/value cache) and GELU stay
	// float32.
	Int8 = "int8"
	// BF16 runs the inference pass with bfloat16 weights for the same
	// tensors as Int8 (every block's attn.c_attn, attn.c_proj, mlp.c_fc and
	// mlp.c_proj, transposed to nn.Linear's [out, in], and the LM head)
	// through kernels.BF16Linear: each weight rounded once to bf16 (round
	// to nearest even, as PyTorch's .to(torch.bfloat16)) and widened back
	// to float32 in the kernel, so the products are exact float32 products
	// of the bf16 weights and the activations, sums and biases stay
	// float32 (no activation rounding). The token embedding lookup reads
	// the (tied) head's bf16 row, widened, as Int8 does; everything Int8
	// keeps in float32 stays float32 here too: the position embeddings,
	// the LayerNorms, the biases, attention and its key/value cache, GELU.
	BF16 = "bf16"
	// F16 runs the inference pass with IEEE float16 weights for the same
	// tensors as BF16, through kernels.F16Linear, with BF16's contract:
	// each weight rounded once to half precision (round to nearest even,
	// as PyTorch's .half()) and widened back to float32 exactly in the
	// kernel; activations, sums, biases and everything BF16 keeps in
	// float32 stay float32. float16 keeps three more significant bits
	// than bf16 but only reaches ±65504: Quantize refuses a weight beyond
	// that (its error names the tensor) rather than make it infinite.
	F16 = "f16"
)

// ErrQuantizedTraining is returned by ForwardPass with PassOptions.Train on
// a quantized model: the int8 copies would not follow the weight updates.
var ErrQuantizedTraining = errors.New("gpt2: the model is quantized (int8, bf16 or f16 inference weights): train the float32 model (load it without quantization)")

// linearLayer is a quantized nn.Linear: *kernels.QLinear or
// *kernels.BF16Linear. Apply computes c = a·Wᵀ + bias for m rows.
type linearLayer interface {
	Apply(m int, a []float32, lda int, c []float32, ldc int)
}

// quantized holds a model's int8, bf16 or f16 inference weights.
type quantized struct {
	precision string
	blocks    []qBlock
	head      []linearLayer // the LM head [V, C] in parts of headRows rows: logits = h·LMHeadᵀ
	tied      bool          // the head is the token embedding: the lookup reads its rows (embedRow)
	stored    bool          // loaded from a loupe quantize directory: no float32 weights behind it
	deq       *deqCache     // stored: the dequantized float32 model (float32Model)
}

// headRows is the number of LM head rows (vocabulary entries) per QLinear:
// the head is quantized part by part, so that only one part's float32
// rows need be resident at a time (12.6 MB for GPT-2 small, whose whole
// head is 154 MB), at the cost of one QLinear call per part. A variable so
// that tests can split a small vocabulary.
var headRows = 4096

// qBlock holds one block's quantized linear layers, in nn.Linear layout
// ([out, in]).
type qBlock struct {
	attn, attnProj, fc, proj linearLayer
}

// ParsePrecision checks a compute precision: "", "none" and "float32" are
// Float32; "int8" is Int8; "bf16" is BF16; "f16" is F16. The error lists
// the values accepted.
func ParsePrecision(p string) (string, error) {
	switch p {
	case Float32, "none", "float32":
		return Float32, nil
	case Int8, BF16, F16:
		return p, nil
	}
	return "", fmt.Errorf("gpt2: unknown precision %q (want none, float32, int8, bf16 or f16)", p)
}

// Quantize sets the compute precision of the inference pass: Float32 (the
// default; "none" and "float32" too), Int8, BF16 or F16 (see their
// documentation). The weights are quantized now, in memory. The float32 Weights are kept, so
// that the differentiable pass (ForwardPass and Backward, which explain's
// saliency uses) stays float32 and Quantize can be called again to switch
// back; weights used in place from a float32 checkpoint's memory mapping
// are released from the resident set once quantized (read again from the
// file if the float32 pass touches them), so that the quantized model does not
// also hold the float32 weights in memory. A model loaded from a loupe
// quantize directory accepts only its stored precision (nothing to do);
// another is an error wrapping ErrStoredQuantized. Like Forward, it must
// not run concurrently with other calls on the Model or its States.
func (m *Model) Quantize(precision string) error {
	p, err := ParsePrecision(precision)
	if err != nil {
		return err
	}
	if m.storedQuantized() {
		if p != m.quant.precision {
			return fmt.Errorf("gpt2: precision %s asked for, but the model's weights are stored %s: %w", precisionName(p), m.quant.precision, ErrStoredQuantized)
		}
		return nil
	}
	if p == Float32 {
		m.quant = nil
		return nil
	}
	if p == F16 {
		if err := m.checkF16Range(); err != nil {
			return err
		}
	}
	c, w := m.Config, &m.Weights
	C := c.NEmbd
	q := &quantized{precision: p, blocks: make([]qBlock, c.NLayer)}
	var tmp []float32
	newLinear := func(w, b []float32, n, k int) linearLayer {
		if p == BF16 {
			return kernels.NewBF16Linear(w, b, n, k)
		}
		if p == F16 {
			return kernels.NewF16Linear(w, b, n, k)
		}
		return kernels.NewQLinear(w, b, n, k, kernels.QInt8)
	}
	// conv1D quantizes a Conv1D weight [in, out]: transposed to [out, in].
	conv1D := func(W, b []float32, in, out int) linearLayer {
		m.prefaultMapped(W)
		if cap(tmp) < in*out {
			tmp = make([]float32, in*out)
		}
		t := tmp[:in*out]
		for i := range in {
			row := W[i*out : (i+1)*out]
			for j, v := range row {
				t[j*in+i] = v
			}
		}
		ql := newLinear(t, b, out, in)
		m.releaseMapped(W)
		return ql
	}
	for l := range w.Blocks {
		blk := &w.Blocks[l]
		q.blocks[l] = qBlock{
			attn:     conv1D(blk.AttnW, blk.AttnB, C, 3*C),
			attnProj: conv1D(blk.AttnProjW, blk.AttnProjB, C, C),
			fc:       conv1D(blk.FCW, blk.FCB, C, 4*C),
			proj:     conv1D(blk.ProjW, blk.ProjB, 4*C, C),
		}
	}
	// The (tied) head's pages are released too: the embedding lookup
	// reads the quantized head's rows (embedRow).
	mapped := m.isMapped(w.LMHead)
	for r0 := 0; r0 < c.VocabSize; r0 += headRows {
		part := w.LMHead[r0*C : min(r0+headRows, c.VocabSize)*C]
		if mapped {
			prefault([][]float32{part})
		}
		q.head = append(q.head, newLinear(part, nil, len(part)/C, C))
		if mapped {
			releaseFloats(part)
		}
	}
	q.tied = w.Tied()
	for _, h := range q.head {
		if _, ok := h.(rowLayer); !ok {
			q.tied = false // the lookup stays float32
		}
	}
	m.quant = q
	return nil
}

// precisionName spells a precision for messages (Float32 is "").
func precisionName(p string) string {
	if p == Float32 {
		return "float32"
	}
	return p
}

// Precision returns the compute precision of the inference pass set by
// Quantize: Float32 (""), Int8, BF16 or F16; for a model loaded from a
// loupe quantize directory, the precision its weights are stored in.
func (m *Model) Precision() string {
	if m.quant == nil {
		return Float32
	}
	return m.quant.precision
}

// QuantizedBytes is the memory the quantized weights take (int8 values,
// scales and biases, or bf16 values and biases), 0 for a float32 model.
func (m *Model) QuantizedBytes() int64 {
	if m.quant == nil {
		return 0
	}
	var n int64
	for _, h := range m.quant.head {
		n += qBytes(h)
	}
	for _, b := range m.quant.blocks {
		n += qBytes(b.attn) + qBytes(b.attnProj) + qBytes(b.fc) + qBytes(b.proj)
	}
	return n
}

// qBytes is the size of a quantized layer: for a QLinear, its packed
// weights (int8, rounded up to whole blocks of 16 outputs and 8 inputs) and
// its 3 floats per output; for a BF16Linear, its bf16 weights and bias.
func qBytes(l linearLayer) int64 {
	switch q := l.(type) {
	case *kernels.QLinear:
		n, k := int64((q.N+15)&^15), int64((q.K+7)&^7)
		return n*k + 12*n
	case *kernels.BF16Linear:
		return q.Bytes()
	case *kernels.F16Linear:
		return q.Bytes()
	}
	return 0
}

// isMapped reports whether w lies in place in the float32 checkpoint's
// memory mapping (not a heap copy).
func (m *Model) isMapped(w []float32) bool {
	return len(w) > 0 && m.mapped[&w[0]]
}

// prefaultMapped reads w's pages in ahead if w is mapped from the file.
func (m *Model) prefaultMapped(w []float32) {
	if m.isMapped(w) {
		prefault([][]float32{w})
	}
}

// releaseMapped drops w's pages from the resident set if w is mapped from
// the file (they are read again if touched).
func (m *Model) releaseMapped(w []float32) {
	if m.isMapped(w) {
		releaseFloats(w)
	}
}

// releaseFloats drops the whole pages inside w, a part of a file-backed
// mapping, from the resident set.
func releaseFloats(w []float32) {
	releaseBytes(unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), 4*len(w)))
}

// qlinear computes out = in·W + b (or out += in·W + b when acc is set, a
// residual add, with scratch [rows, nout] as a temporary) through the
// quantized layer q, or in float32 through linear when q is nil.
func qlinear(q linearLayer, out, in, scratch []float32, rows, nin, nout int, W, b []float32, acc bool) {
	switch {
	case q == nil:
		linear(out, in, rows, nin, nout, W, b, acc)
	case acc:
		q.Apply(rows, in, nin, scratch, nout)
		kernels.Add(out[:rows*nout], out[:rows*nout], scratch[:rows*nout])
	default:
		q.Apply(rows, in, nin, out, nout)
	}
}

// head computes the logits of rows rows of h [rows, C] into out [rows, V].
func (s *State) head(rows int, h, out []float32) {
	c := s.m.Config
	C, V := c.NEmbd, c.VocabSize
	if q := s.m.quant; q != nil && q.head != nil {
		for i, part := range q.head {
			part.Apply(rows, h, C, out[i*headRows:], V)
		}
		return
	}
	kernels.Sgemm(false, true, rows, V, C, 1, h, C, s.m.Weights.LMHead, C, 0, out, V)
}
