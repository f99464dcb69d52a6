package bert

import (
	"fmt"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Compute precisions for Model.Quantize.
const (
	// Float32 is the default: every product in float32, as in PyTorch.
	Float32 = ""
	// Int8 runs the encoder's nn.Linear layers (query/key/value,
	// attention.output.dense, intermediate.dense, output.dense) with dynamic
	// int8 quantization, as torch.ao.quantization.quantize_dynamic(model,
	// {nn.Linear}, dtype=torch.qint8) does: weights quantized once, per
	// output channel and symmetric, to int8; each token's activations
	// quantized at run time to 7-bit unsigned values with a zero point;
	// int32 sums, dequantized with the bias added in float32. Embeddings,
	// attention scores, softmax, LayerNorm, GELU and the pooler stay
	// float32.
	Int8 = "int8"
	// Int7 is Int8 with weights limited to ±63 (one bit less), which lets
	// the AVX2 kernel add two multiply results in int16 before widening:
	// faster, slightly less precise.
	Int7 = "int7"
)

// qLayer holds one encoder layer's quantized linear layers.
type qLayer struct {
	qkv, attnOut, inter, out *kernels.QLinear
}

// Quantize sets the compute precision of the linear layers: Float32 (the
// default), Int8 or Int7 (see their documentation). The weights are
// quantized now, in memory (the float32 weights are kept, so Quantize can
// be called again to switch back). Like Forward, it must not run
// concurrently with other calls on the Model.
func (m *Model) Quantize(precision string) error {
	var bits int
	switch precision {
	case Float32, "float32":
		m.quant, m.precision = nil, Float32
		return nil
	case Int8:
		bits = kernels.QInt8
	case Int7:
		bits = kernels.QInt7
	default:
		return fmt.Errorf("bert: unknown precision %q (want float32, int8 or int7)", precision)
	}
	H, I := m.Config.HiddenSize, m.Config.IntermediateSize
	q := make([]qLayer, len(m.Weights.Layers))
	for l := range m.Weights.Layers {
		L := &m.Weights.Layers[l]
		q[l] = qLayer{
			qkv:     kernels.NewQLinear(L.QKVW, L.QKVB, 3*H, H, bits),
			attnOut: kernels.NewQLinear(L.AttnOutW, L.AttnOutB, H, H, bits),
			inter:   kernels.NewQLinear(L.InterW, L.InterB, I, H, bits),
			out:     kernels.NewQLinear(L.OutW, L.OutB, H, I, bits),
		}
	}
	m.quant, m.precision = q, precision
	return nil
}

// Precision returns the compute precision set by Quantize: Float32 (""),
// Int8 or Int7.
func (m *Model) Precision() string { return m.precision }

// qlinear is linear through the quantized layer q when there is one.
func qlinear(q *kernels.QLinear, dst, src []float32, rows, in, out int, W, bias []float32) {
	if q == nil {
		linear(dst, src, rows, in, out, W, bias)
		return
	}
	q.Apply(rows, src, in, dst, out)
}
