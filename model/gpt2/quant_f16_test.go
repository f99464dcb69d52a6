package gpt2

import (
	"strings"
	"testing"
)

// TestQuantizeF16Checkpoint: a float16 checkpoint's weights are already
// halves, so F16 reproduces them exactly and only the summation order
// differs from float32's.
func TestQuantizeF16Checkpoint(t *testing.T) {
	m := loadTiny(t, "tiny_f16")
	ids := teacherIDs(m.Config.NPositions, m.Config.VocabSize)
	ref, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Quantize(F16); err != nil {
		t.Fatal(err)
	}
	got, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(ref, got); d > 1e-4 {
		t.Errorf("f16 on a float16 checkpoint: logits %g from float32's, want only rounding-order differences", d)
	}
}

// TestQuantizeF16Range: a weight beyond float16's range is refused with an
// error naming the tensor and the position, in a block and in the head,
// and the model stays float32.
func TestQuantizeF16Range(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(m *Model)
		want string
	}{
		{"block", func(m *Model) { m.Weights.Blocks[1].FCW[2*4*m.Config.NEmbd+5] = -70000 }, `tensor "h.1.mlp.c_fc.weight": value -70000 at [2, 5]`},
		{"head", func(m *Model) { m.Weights.LMHead[3*m.Config.NEmbd+1] = 1e9 }, `tensor "wte.weight": value 1e+09 at [3, 1]`},
		{"edge", func(m *Model) { m.Weights.Blocks[0].AttnW[0] = 65520 }, `tensor "h.0.attn.c_attn.weight": value 65520 at [0, 0]`},
	} {
		m := loadTiny(t, "tiny")
		// Heap copies: the test checkpoint's weights are mapped read-only.
		w := &m.Weights
		for l := range w.Blocks {
			b := &w.Blocks[l]
			b.AttnW = append([]float32(nil), b.AttnW...)
			b.FCW = append([]float32(nil), b.FCW...)
		}
		w.LMHead = append([]float32(nil), w.LMHead...)
		w.WTE = w.LMHead // tied, as the checkpoint
		c.set(m)
		err := m.Quantize(F16)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Quantize(f16) error %v, want %q", c.name, err, c.want)
		}
		if m.Precision() != Float32 {
			t.Errorf("%s: precision %q after a refused Quantize", c.name, m.Precision())
		}
	}
	// 65504 itself fits.
	m := loadTiny(t, "tiny")
	m.Weights.Blocks[0].ProjW = append([]float32(nil), m.Weights.Blocks[0].ProjW...)
	m.Weights.Blocks[0].ProjW[0] = -65504
	if err := m.Quantize(F16); err != nil {
		t.Errorf("Quantize(f16) with a weight of -65504: %v", err)
	}
}

// BenchmarkDecodeF16 is BenchmarkDecode with float16 weights.
func BenchmarkDecodeF16(b *testing.B) { benchDecode(b, benchQuantized(b, F16)) }

// BenchmarkPrefillF16 is BenchmarkPrefill with float16 weights.
func BenchmarkPrefillF16(b *testing.B) { benchPrefill(b, benchQuantized(b, F16)) }
