package gpt2

import (
	"slices"
	"testing"
)

// TestUnembedQuantized: on a quantized model, Unembed (the logit lens of
// explain's layer predictions) uses the inference pass's head, so the final
// LayerNorm's rows give Forward's logits exactly, while the differentiable
// pass's Pass.Logits stay those of the float32 head.
func TestUnembedQuantized(t *testing.T) {
	for _, p := range []string{Int8, BF16} {
		t.Run(p, func(t *testing.T) {
			m := loadTiny(t, "tiny")
			c := m.Config
			ids := teacherIDs(12, c.VocabSize)
			T := len(ids)
			rows := make([]int, T)
			for i := range rows {
				rows[i] = i
			}
			x, err := m.Embed(ids)
			if err != nil {
				t.Fatal(err)
			}
			pass, err := m.ForwardPass(x, 1, T, PassOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want32 := pass.Logits(rows)

			if err := m.Quantize(p); err != nil {
				t.Fatal(err)
			}
			var lnf []float32
			logits, err := m.Forward(ids, func(a *Activation) {
				if a.Name == "ln_f" {
					lnf = append(lnf, a.Data...)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Unembed(lnf, T, false); !slices.Equal(got, logits) {
				t.Errorf("Unembed of ln_f differs from the %s Forward's logits (max |Δ| %g)", p, maxDiff(got, logits))
			}
			if d := maxDiff(m.Unembed(lnf, T, false), m.unembed32(lnf, T)); d == 0 {
				t.Errorf("Unembed on the %s model gave the float32 head's logits", p)
			}
			pass, err = m.ForwardPass(x, 1, T, PassOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := pass.Logits(rows); !slices.Equal(got, want32) {
				t.Errorf("Pass.Logits changed after Quantize(%s) (max |Δ| %g)", p, maxDiff(got, want32))
			}
		})
	}
}
