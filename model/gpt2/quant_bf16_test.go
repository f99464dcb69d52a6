package gpt2

import (
	"path/filepath"
	"testing"
)

// TestQuantizeBF16Logits compares bf16 logits with float32 ones on the test
// checkpoints over a teacher-forced sequence. A bf16 weight carries a
// relative error of at most 2⁻⁹ (round to nearest with 8 significant
// bits), random in sign, while activations, products and sums stay
// float32: the log-softmax rows keep a cosine of at least 0.9999 and the
// argmax agrees everywhere except between tokens whose float32 logits are
// within 0.1 of each other.
func TestQuantizeBF16Logits(t *testing.T) {
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
		if err := m.Quantize(BF16); err != nil {
			t.Fatal(err)
		}
		if m.Precision() != BF16 {
			t.Errorf("%s: Precision() = %q after Quantize(bf16)", c.name, m.Precision())
		}
		got, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := compareLogits(ref, got, m.Config.VocabSize)
		t.Logf("%s: %d positions: log-softmax cosine ≥ %.7f (centred %.7f), mean KL %.2e, top-1 agreement %.3f (%d swaps within 0.1 logits, %d beyond), largest |Δ log p(top-1)| %.5f",
			c.name, len(ids), st.cos, st.cosC, st.kl, st.top1, st.unclear, st.clearBad, st.maxLPErr)
		if st.cos < 0.9999 || st.cosC < 0.999 || st.top1 < 0.95 || st.kl > 1e-4 || st.clearBad > 0 {
			t.Errorf("%s: bf16 too far from float32: %+v", c.name, st)
		}
		if maxAbsDiff(ref, got) == 0 {
			t.Errorf("%s: bf16 logits identical to float32: the bf16 path did not run", c.name)
		}
		// bf16 must be closer to float32 than int8 is.
		if err := m.Quantize(Int8); err != nil {
			t.Fatal(err)
		}
		q8, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d8, d16 := maxAbsDiff(ref, q8), maxAbsDiff(ref, got); d16 >= d8 {
			t.Errorf("%s: bf16 logits %g from float32, int8 %g: want bf16 closer", c.name, d16, d8)
		}
		if err := m.Quantize("none"); err != nil {
			t.Fatal(err)
		}
		back, err := m.Forward(ids, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(ref, back); d != 0 {
			t.Errorf("%s: float32 logits differ by %g after Quantize(bf16) and back", c.name, d)
		}
	}
}

// TestQuantizeHalfDecode checks that the bf16 and f16 models decode with
// the key/value cache as they compute a whole sequence at once (BF16Linear
// and F16Linear compute every row the same way however rows are grouped).
func TestQuantizeHalfDecode(t *testing.T) {
	for _, p := range []string{BF16, F16} {
		t.Run(p, func(t *testing.T) {
			m, err := LoadWith(filepath.Join("testdata", "tiny"), LoadOptions{Quantize: p})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.Precision() != p || m.QuantizedBytes() == 0 {
				t.Fatalf("Precision %q, QuantizedBytes %d", m.Precision(), m.QuantizedBytes())
			}
			V := m.Config.VocabSize
			a := teacherIDs(20, V)
			want, err := m.Forward(a, nil)
			if err != nil {
				t.Fatal(err)
			}
			s := m.NewState(StateOptions{Batch: 1, MaxSeq: 32})
			if err := s.Forward([][]int{a[:5]}, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
			compare(t, "prefill", s.Logits(0), want[4*V:5*V])
			for i := 5; i < len(a); i++ {
				if err := s.Forward([][]int{{a[i]}}, ForwardOptions{}); err != nil {
					t.Fatal(err)
				}
				compare(t, "decode", s.Logits(0), want[i*V:(i+1)*V])
			}
		})
	}
}

// TestDecodeAllocsHalf checks that a bf16 or f16 decoding step allocates
// nothing in gpt2 or the kernel (BF16Linear and F16Linear pool their jobs).
func TestDecodeAllocsHalf(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, p := range []string{BF16, F16} {
		m, err := LoadWith(filepath.Join("testdata", "tiny"), LoadOptions{Quantize: p})
		if err != nil {
			t.Fatal(err)
		}
		s := m.NewState(StateOptions{})
		if err := s.Forward([][]int{{3, 4, 5}}, ForwardOptions{}); err != nil {
			t.Fatal(err)
		}
		tok := [][]int{{1}}
		n := testing.AllocsPerRun(50, func() {
			s.Truncate(0, 3)
			if err := s.Forward(tok, ForwardOptions{}); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%s decode step allocates %v times, want 0", p, n)
		}
		m.Close()
	}
}
