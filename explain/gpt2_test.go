package explain

import (
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestMatchesModelForward checks the differentiable forward against
// model/gpt2's own inference forward: logits and attention probabilities.
func TestMatchesModelForward(t *testing.T) {
	m, err := gpt2.Load(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n := &testNet{m}
	ids := loadGolden(t).IDs
	att := map[int][]float32{}
	want, err := m.Forward(ids, func(a *gpt2.Activation) {
		if a.Name == "attn_probs" {
			att[a.Layer] = append([]float32(nil), a.Data...)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	w64 := make([]float64, len(want))
	for i, v := range want {
		w64[i] = float64(v)
	}
	if d := maxRelDiff(got, w64); d > 1e-4 {
		t.Fatalf("logits differ from gpt2.Forward by %g (relative)", d)
	}
	x, _ := n.embed(ids)
	p := n.forward(x, 1, len(ids), false, nil)
	for l, a := range att {
		if len(a) != len(p.Att[l]) {
			t.Fatalf("layer %d: gpt2 attn_probs has %d values, explain %d", l, len(a), len(p.Att[l]))
		}
		for i := range a {
			if d := a[i] - p.Att[l][i]; d > 1e-5 || d < -1e-5 {
				t.Fatalf("layer %d: attention probability %d: gpt2 %g, explain %g", l, i, a[i], p.Att[l][i])
			}
		}
	}
	if len(att) != n.Config.NLayer {
		t.Fatalf("hook saw %d layers of attn_probs", len(att))
	}
	if _, err := Explain(nil, ids, 1, Options{}); err == nil {
		t.Fatal("Explain(nil model): no error")
	}
}
