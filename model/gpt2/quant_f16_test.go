package gpt2

import (
	"os"
	"strings"
	"sync"
	"testing"
)

// TestQuantizeF16Logits compares f16 logits with float32 and bf16 ones on
// the test checkpoints over a teacher-forced sequence. A float16 weight
// carries a relative error of at most 2⁻¹² (round to nearest with 11
// significant bits; these weights are far from the subnormals), eight
// times less than bf16's, while activations, products and sums stay
// float32: the log-softmax rows keep a cosine of at least 0.99999, the
// argmax agrees everywhere except between tokens whose float32 logits are
// within 0.1 of each other, and the logits are closer to float32's than
// bf16's are.
func TestQuantizeF16Logits(t *testing.T) {
	wide, err := Random(Config{NLayer: 2, NHead: 12, NEmbd: 768, NPositions: 64, VocabSize: 1024, LayerNormEps: 1e-5, Activation: "gelu_new"}, 2, 0.0625)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		m    *Model
	}{
		{"tiny", loadTiny(t, "tiny")},
		{"tiny_f16", loadTiny(t, "tiny_f16")},
		{"wide", wide},
	} {
		m := c.m
		ids := teacherIDs(m.Config.NPositions, m.Config.VocabSize)
		ref, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Quantize(F16); err != nil {
			t.Fatal(err)
		}
		if m.Precision() != F16 {
			t.Errorf("%s: Precision() = %q after Quantize(f16)", c.name, m.Precision())
		}
		got, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := compareLogits(ref, got, m.Config.VocabSize)
		t.Logf("%s: %d positions: log-softmax cosine ≥ %.8f (centred %.8f), mean KL %.2e, top-1 agreement %.3f (%d swaps within 0.1 logits, %d beyond), largest |Δ log p(top-1)| %.6f",
			c.name, len(ids), st.cos, st.cosC, st.kl, st.top1, st.unclear, st.clearBad, st.maxLPErr)
		if st.cos < 0.99999 || st.cosC < 0.9999 || st.top1 < 0.95 || st.kl > 1e-5 || st.clearBad > 0 {
			t.Errorf("%s: f16 too far from float32: %+v", c.name, st)
		}
		d16 := maxAbsDiff(ref, got)
		if d16 == 0 && c.name != "tiny_f16" {
			t.Errorf("%s: f16 logits identical to float32: the f16 path did not run", c.name)
		}
		if err := m.Quantize(BF16); err != nil {
			t.Fatal(err)
		}
		bf, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if dbf := maxAbsDiff(ref, bf); d16 >= dbf {
			t.Errorf("%s: f16 logits %g from float32, bf16 %g: want f16 closer", c.name, d16, dbf)
		}
		if err := m.Quantize("none"); err != nil {
			t.Fatal(err)
		}
		back, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(ref, back); d != 0 {
			t.Errorf("%s: float32 logits differ by %g after Quantize(f16) and back", c.name, d)
		}
	}
}

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

// TestQuantizeSmallQualityF16 is TestQuantizeSmallQuality for f16 (and bf16
// beside it): GPT-2 small's geometry with random weights, teacher-forced
// next-token log-probabilities over 1,000 positions against float32. The
// issue's target: cosine ≥ 0.999 and top-1 agreement ≥ 98 %. Slow on a
// small machine: set LOUPE_QUANT_SMALL=1.
func TestQuantizeSmallQualityF16(t *testing.T) {
	if os.Getenv("LOUPE_QUANT_SMALL") == "" {
		t.Skip("set LOUPE_QUANT_SMALL=1 (builds a GPT-2 small sized model)")
	}
	m, err := Random(gpt2Small, 3, 0.0625)
	if err != nil {
		t.Fatal(err)
	}
	ids := teacherIDs(1000, m.Config.VocabSize)
	ref, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{F16, BF16} {
		if err := m.Quantize(p); err != nil {
			t.Fatal(err)
		}
		got, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := compareLogits(ref, got, m.Config.VocabSize)
		t.Logf("%s, GPT-2 small geometry, %d teacher-forced positions: log-softmax cosine ≥ %.7f (centred %.7f), mean KL %.2e nats, top-1 agreement %.4f (%d swaps within 0.1 logits, %d beyond), largest |Δ log p(top-1)| %.5f; weights %.1f MB of %.1f MB float32",
			p, len(ids), st.cos, st.cosC, st.kl, st.top1, st.unclear, st.clearBad, st.maxLPErr, float64(m.QuantizedBytes())/1e6, float64(m.WeightBytes())/1e6)
		if st.cos < 0.999 || st.clearBad > 0 || st.top1 < 0.98 {
			t.Errorf("%s too far from float32: %+v", p, st)
		}
	}
}

// smallF16 is smallModel's weights in float16 (a model of its own, as
// smallBF16).
var smallF16 = sync.OnceValues(func() (*Model, error) {
	m, err := Random(gpt2Small, 3, 0.0625)
	if err == nil {
		err = m.Quantize(F16)
	}
	return m, err
})

func benchF16(b *testing.B) *Model {
	m, err := smallF16()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkDecodeF16 is BenchmarkDecode with float16 weights.
func BenchmarkDecodeF16(b *testing.B) { benchDecode(b, benchF16(b)) }

// BenchmarkPrefillF16 is BenchmarkPrefill with float16 weights.
func BenchmarkPrefillF16(b *testing.B) { benchPrefill(b, benchF16(b)) }
