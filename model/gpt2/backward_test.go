package gpt2

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

func tinyRandom(t testing.TB, act string) *Model {
	t.Helper()
	cfg := Config{NLayer: 2, NHead: 2, NEmbd: 8, NPositions: 8, VocabSize: 13, LayerNormEps: 1e-5, Activation: act, EOSTokenID: -1, BOSTokenID: -1}
	m, err := Random(cfg, 5, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPassMatchesForward: the differentiable pass and the KV-cache forward
// compute the same logits and attention probabilities, with and without
// interventions (applied by the pass itself and by InterventionHook).
func TestPassMatchesForward(t *testing.T) {
	for _, act := range []string{"gelu_new", "gelu"} {
		m := tinyRandom(t, act)
		ids := []int{3, 1, 4, 1, 5, 9, 2}
		T := len(ids)
		ivs := []Intervention{{Layer: 0, Neuron: 3, Scale: 2.5}, {Layer: 1, Neuron: 10, Positions: []int{6, 2}, Scale: 0}}
		for _, iv := range [][]Intervention{nil, ivs} {
			att := map[int][]float32{}
			hook := InterventionHook(iv)
			want, err := m.Forward(ids, func(a *Activation) {
				if hook != nil {
					hook(a)
				}
				if a.Name == "attn_probs" {
					att[a.Layer] = append([]float32(nil), a.Data...)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			x, err := m.Embed(ids)
			if err != nil {
				t.Fatal(err)
			}
			p, err := m.ForwardPass(x, 1, T, PassOptions{Interventions: iv})
			if err != nil {
				t.Fatal(err)
			}
			rows := make([]int, T)
			for i := range rows {
				rows[i] = i
			}
			got := p.Logits(rows)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-5 {
					t.Fatalf("%s, %d interventions: logit %d: pass %g, Forward %g", act, len(iv), i, got[i], want[i])
				}
			}
			for l, a := range att {
				for i := range a {
					if d := math.Abs(float64(a[i] - p.Att[l][i])); d > 1e-5 {
						t.Fatalf("%s: layer %d attention probability %d: pass %g, Forward %g", act, l, i, p.Att[l][i], a[i])
					}
				}
			}
			if len(att) != m.Config.NLayer {
				t.Fatalf("hook saw %d layers of attn_probs", len(att))
			}
		}
	}
}

func TestPassErrors(t *testing.T) {
	m := tinyRandom(t, "gelu_new")
	C := m.Config.NEmbd
	for _, c := range []struct {
		x    []float32
		B, T int
		iv   []Intervention
	}{
		{make([]float32, 3*C), 1, 2, nil},
		{make([]float32, 9*C), 1, 9, nil},
		{nil, 0, 1, nil},
		{make([]float32, 2*C), 1, 2, []Intervention{{Layer: 2}}},
		{make([]float32, 2*C), 1, 2, []Intervention{{Neuron: 4 * C}}},
		{make([]float32, 2*C), 1, 2, []Intervention{{Positions: []int{-1}}}},
	} {
		if _, err := m.ForwardPass(c.x, c.B, c.T, PassOptions{Interventions: c.iv}); err == nil {
			t.Errorf("ForwardPass(%d values, %d, %d, %v): no error", len(c.x), c.B, c.T, c.iv)
		}
	}
	if _, err := m.Embed([]int{13}); err == nil {
		t.Error("Embed of an id outside the vocabulary: no error")
	}
	p, err := m.ForwardPass(make([]float32, 2*C), 1, 2, PassOptions{})
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	for _, s := range [][]Seed{nil, {{Seq: 1, Len: 1}}, {{Seq: 0, Len: 3}}, {{Seq: 0, Len: 0}}} {
		if _, err := p.Backward(s, make([]float32, len(s)*V), nil); err == nil {
			t.Errorf("Backward(%v): no error", s)
		}
	}
	if _, err := p.Backward([]Seed{{0, 2}}, make([]float32, V+1), nil); err == nil {
		t.Error("Backward with a wrong dlogits length: no error")
	}
}

// TestBackwardFiniteDifferences checks the input and weight gradients
// against central differences of L = Σ_i r_i · logits(seed i), for seeds of
// two sequences of different lengths, with interventions, on both GELUs.
func TestBackwardFiniteDifferences(t *testing.T) {
	for _, act := range []string{"gelu_new", "gelu"} {
		m := tinyRandom(t, act)
		c := m.Config
		C, V := c.NEmbd, c.VocabSize
		untied := act == "gelu" // one run with an LM head of its own
		if untied {
			m.Weights.LMHead = append([]float32(nil), m.Weights.LMHead...)
		}
		B, T := 2, 6
		r := rand.New(rand.NewSource(1))
		x := make([]float32, B*T*C)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		seeds := []Seed{{Seq: 0, Len: 6}, {Seq: 1, Len: 4}, {Seq: 0, Len: 2}}
		dl := make([]float32, len(seeds)*V)
		for i := range dl {
			dl[i] = float32(r.NormFloat64())
		}
		ivs := []Intervention{{Layer: 0, Neuron: 3, Scale: 2.5}, {Layer: 1, Neuron: 10, Positions: []int{1, 3}, Scale: 0.5}}
		loss := func() float64 {
			p, err := m.ForwardPass(x, B, T, PassOptions{Interventions: ivs})
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for i, sd := range seeds {
				lg := p.Logits([]int{sd.Seq*T + sd.Len - 1})
				for j, v := range lg {
					s += float64(v) * float64(dl[i*V+j])
				}
			}
			return s
		}
		p, err := m.ForwardPass(x, B, T, PassOptions{Interventions: ivs})
		if err != nil {
			t.Fatal(err)
		}
		g := c.NewGrads()
		if untied {
			g.LMHead = make([]float32, V*C)
		}
		dx, err := p.Backward(seeds, dl, g)
		if err != nil {
			t.Fatal(err)
		}
		// Without weight gradients the input gradient is the same.
		dx0, err := p.Backward(seeds, dl, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range dx {
			if dx[i] != dx0[i] {
				t.Fatalf("%s: input gradient %d: %g with weight gradients, %g without", act, i, dx[i], dx0[i])
			}
		}
		check := func(name string, v []float32, grad func(k int) float64, n int) {
			t.Helper()
			var worst float64
			for _, k := range r.Perm(len(v))[:min(n, len(v))] {
				const h = 1e-2
				old := v[k]
				v[k] = old + h
				up := loss()
				v[k] = old - h
				down := loss()
				v[k] = old
				num, ana := (up-down)/(2*h), grad(k)
				if d := math.Abs(num-ana) / math.Max(1, math.Abs(num)); d > worst {
					worst = d
				}
				if d := math.Abs(num - ana); d > 1e-3*math.Max(1, math.Abs(num)) {
					t.Errorf("%s: %s[%d]: backward %g, finite differences %g", act, name, k, ana, num)
				}
			}
			t.Logf("%s: %s: worst relative difference %.2g", act, name, worst)
		}
		// Each seed's input rows: a sum over the seeds that read them.
		check("x0", x, func(k int) float64 {
			b, row, col := k/(T*C), (k/C)%T, k%C
			var s float64
			off := 0
			for _, sd := range seeds {
				if sd.Seq == b && row < sd.Len {
					s += float64(dx[(off+row)*C+col])
				}
				off += sd.Len
			}
			return s
		}, 40)
		w := &m.Weights
		grads := func(gs []float32) func(int) float64 { return func(k int) float64 { return float64(gs[k]) } }
		if untied {
			check("lm_head", w.LMHead, grads(g.LMHead), 20)
		} else {
			check("wte (tied head)", w.WTE, grads(g.WTE), 20)
		}
		check("wpe", w.WPE, grads(g.WPE), 20)
		check("ln_f.weight", w.LNFG, grads(g.LNFG), 8)
		check("ln_f.bias", w.LNFB, grads(g.LNFB), 8)
		for l := range w.Blocks {
			b, gb := &w.Blocks[l], &g.Blocks[l]
			for _, f := range []struct {
				name string
				v, g []float32
			}{
				{"ln_1.weight", b.LN1G, gb.LN1G}, {"ln_1.bias", b.LN1B, gb.LN1B},
				{"attn.c_attn.weight", b.AttnW, gb.AttnW}, {"attn.c_attn.bias", b.AttnB, gb.AttnB},
				{"attn.c_proj.weight", b.AttnProjW, gb.AttnProjW}, {"attn.c_proj.bias", b.AttnProjB, gb.AttnProjB},
				{"ln_2.weight", b.LN2G, gb.LN2G}, {"ln_2.bias", b.LN2B, gb.LN2B},
				{"mlp.c_fc.weight", b.FCW, gb.FCW}, {"mlp.c_fc.bias", b.FCB, gb.FCB},
				{"mlp.c_proj.weight", b.ProjW, gb.ProjW}, {"mlp.c_proj.bias", b.ProjB, gb.ProjB},
			} {
				check(fmt.Sprintf("h.%d.%s", l, f.name), f.v, grads(f.g), 12)
			}
		}
	}
}
