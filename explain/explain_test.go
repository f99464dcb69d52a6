package explain

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand"
	"testing"
)

func TestNMFRecoversLowRank(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	const rows, cols, k = 12, 40, 3
	w0, h0 := make([]float32, rows*k), make([]float32, k*cols)
	for i := range w0 {
		w0[i] = r.Float32()
	}
	for i := range h0 {
		h0[i] = r.Float32()
	}
	x := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			for a := 0; a < k; a++ {
				x[i*cols+j] += w0[i*k+a] * h0[a*cols+j]
			}
		}
	}
	_, _, _, e1, err := NMF(x, rows, cols, 1, 1, 300)
	if err != nil {
		t.Fatal(err)
	}
	w, h, _, e3, err := NMF(x, rows, cols, k, 1, 500)
	if err != nil {
		t.Fatal(err)
	}
	if e3 > 0.02 || e3 >= e1 {
		t.Fatalf("rank-3 data: error with 3 factors %g, with 1 factor %g", e3, e1)
	}
	for _, v := range append(w, h...) {
		if v < 0 || math.IsNaN(float64(v)) {
			t.Fatalf("factor value %g", v)
		}
	}
	w2, _, _, e3b, _ := NMF(x, rows, cols, k, 1, 500)
	if e3b != e3 || w2[0] != w[0] {
		t.Fatal("same seed gave a different factorisation")
	}
	for _, bad := range []struct {
		x          []float32
		rows, cols int
		k          int
	}{{x, rows, cols, 0}, {x[:5], rows, cols, 2}, {[]float32{-1, 1}, 1, 2, 1}, {[]float32{float32(math.NaN()), 1}, 1, 2, 1}} {
		if _, _, _, _, err := NMF(bad.x, bad.rows, bad.cols, bad.k, 1, 10); err == nil {
			t.Errorf("NMF(%d×%d, k=%d) with bad input: no error", bad.rows, bad.cols, bad.k)
		}
	}
}

func TestExplainHiddenStates(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	logits, _ := n.Logits(g.IDs)
	V := n.Config.VocabSize
	L := n.Config.NLayer
	for _, raw := range []bool{false, true} {
		res, err := n.Explain(g.IDs, g.PromptLength, Options{Raw: raw, Watch: []int{1, 2, 3}, NMFComponents: 3, ToLayer: -1})
		if err != nil {
			t.Fatal(err)
		}
		G := len(g.IDs) - g.PromptLength
		if len(res.Rankings) != L || len(res.Rankings[0]) != G {
			t.Fatalf("rankings %d×%d, want %d×%d", len(res.Rankings), len(res.Rankings[0]), L, G)
		}
		// After the last block both views are the model's own output.
		for i := 0; i < G; i++ {
			pos := g.PromptLength + i - 1
			lg := logits[pos*V : (pos+1)*V]
			if want := rankOf(lg, g.IDs[pos+1]); res.Rankings[L-1][i] != want {
				t.Errorf("raw=%v token %d: last-layer rank %d, model rank %d", raw, i, res.Rankings[L-1][i], want)
			}
			top := res.LayerPredictions[i][L-1][0]
			if math.Abs(top.Prob-softmaxProb(lg, top.ID)) > 1e-5 {
				t.Errorf("top prediction prob %g, model %g", top.Prob, softmaxProb(lg, top.ID))
			}
		}
		if w := res.RankingsWatch; w == nil || len(w.Ranks) != L || len(w.Ranks[0]) != 3 || w.Position != g.PromptLength-1 {
			t.Fatalf("rankings_watch %+v", w)
		}
		if res.NMF == nil || len(res.NMF.Factors) != 3 || len(res.NMF.Factors[0]) != len(g.IDs) || res.NMF.RelError <= 0 || res.NMF.RelError >= 1 {
			t.Fatalf("nmf %+v", res.NMF)
		}
		a := res.Attention
		if a == nil || len(a.Probs) != L || len(a.Probs[0]) != n.Config.NHead || len(a.Probs[0][0][3]) != 4 {
			t.Fatal("attention has the wrong shape")
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatal(err)
		}
	}
	// The raw and lens views differ before the last layer.
	r1, _ := n.Explain(g.IDs, g.PromptLength, Options{})
	r2, _ := n.Explain(g.IDs, g.PromptLength, Options{Raw: true})
	if r1.LayerPredictions[0][0][0].Prob == r2.LayerPredictions[0][0][0].Prob {
		t.Error("raw and ln_f views agree at layer 1")
	}
}

func TestInterventions(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	prompt := g.IDs[:g.PromptLength]
	base, err := n.Greedy(prompt, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := n.Greedy(prompt, 4, []Intervention{{Layer: 0, Neuron: 5, Scale: 1}})
	for i := range base {
		if base[i] != same[i] {
			t.Fatal("scale 1 changed the output")
		}
	}
	// Scaling every neuron of the last layer by a large factor changes the logits.
	x, _ := n.embed(prompt)
	var iv []Intervention
	for j := 0; j < 4*n.Config.NEmbd; j++ {
		iv = append(iv, Intervention{Layer: 1, Neuron: j, Scale: 0})
	}
	p0 := n.forward(x, 1, len(prompt), false, nil)
	p1 := n.forward(x, 1, len(prompt), false, iv)
	if p0.LNF[0] == p1.LNF[0] {
		t.Fatal("zeroing layer-1 neurons left the output unchanged")
	}
	res, err := n.Explain(g.IDs, g.PromptLength, Options{Interventions: iv[:3]})
	if err != nil || res.Intervention == nil || len(res.Intervention.Changed) != len(g.IDs)-g.PromptLength {
		t.Fatalf("intervention result %+v, %v", res.Intervention, err)
	}
}

func TestExplainBadInput(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	for _, o := range []Options{
		{NMFComponents: 2, FromLayer: 5, ToLayer: -1},
		{NMFComponents: 2, FromLayer: 1, ToLayer: 0},
		{NMFComponents: -1},
		{Methods: []string{"lrp"}},
		{Watch: []int{1000}},
		{WatchPosition: 99},
		{Interventions: []Intervention{{Layer: 9}}},
		{Interventions: []Intervention{{Neuron: 1 << 20}}},
	} {
		if _, err := n.Explain(g.IDs, g.PromptLength, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if _, err := Explain(nil, g.IDs, g.PromptLength, Options{}); err == nil {
		t.Error("Explain(nil model): no error")
	}
}

func TestTopIndices(t *testing.T) {
	x := []float32{1, 5, 3, 5, -1, 4}
	got := topIndices(x, 3)
	if len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 5 {
		t.Fatalf("topIndices = %v, want [1 3 5]", got)
	}
	if got := topIndices(x, 10); len(got) != 6 || got[5] != 4 {
		t.Fatalf("topIndices(k > len) = %v", got)
	}
	if argmaxf(x) != 1 {
		t.Fatal("argmaxf")
	}
}

func TestParseMethods(t *testing.T) {
	m, err := ParseMethods("ig, grad_x_input,saliency,ig")
	if err != nil || len(m) != 3 || m[0] != MethodIntegrated || m[2] != MethodGradient {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := ParseMethods("grad_x_input,shap"); err == nil {
		t.Fatal("unknown method accepted")
	}
}

// TestBackwardWithIntervention checks the gradient through scaled neurons
// against finite differences of the intervened forward.
func TestBackwardWithIntervention(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	ids := g.IDs[:7]
	iv := []Intervention{{Layer: 0, Neuron: 3, Scale: 2.5}, {Layer: 1, Neuron: 10, Positions: []int{6, 2}, Scale: 0}}
	x, _ := n.embed(ids)
	T, C := len(ids), n.Config.NEmbd
	segs := []segment{{Seq: 0, Len: T, Token: 5, Weight: 1}, {Seq: 0, Len: 4, Token: 9, Weight: 1}}
	value := func(k int) float64 {
		p := n.forward(x, 1, T, false, iv)
		v, _ := n.targetValues(p, segs[k:k+1], TargetLogit)
		return v[0]
	}
	p := n.forward(x, 1, T, false, iv)
	_, dl := n.targetValues(p, segs, TargetLogit)
	grad := n.backward(p, segs, dl)
	off := 0
	for k, s := range segs {
		for _, j := range []int{0, 5, C + 1, (s.Len-1)*C + 7} {
			orig := x[j]
			x[j] = orig + 1e-2
			vp := value(k)
			x[j] = orig - 1e-2
			vm := value(k)
			x[j] = orig
			num := (vp - vm) / 2e-2
			if got := float64(grad[off*C+j]); math.Abs(got-num) > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("segment %d, element %d: gradient %g, finite difference %g", k, j, got, num)
			}
		}
		off += s.Len
	}
}

// BenchmarkNMFGPT2Small factorises a GPT-2-small-sized activation matrix
// (64 positions × 12·3072 neurons) into 10 factors.
func BenchmarkNMFGPT2Small(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	const rows, cols = 64, 12 * 3072
	x := make([]float32, rows*cols)
	for i := range x {
		if v := r.NormFloat64(); v > 0 {
			x[i] = float32(v)
		}
	}
	for i := 0; i < b.N; i++ {
		if _, _, _, _, err := NMF(x, rows, cols, 10, 0, 200); err != nil {
			b.Fatal(err)
		}
	}
}

// TestIGConverges checks that the completeness error of integrated
// gradients falls as Gauss-Legendre steps are added.
func TestIGConverges(t *testing.T) {
	n := loadTestNet(t)
	ids := []int{3, 17, 42, 8, 49, 5, 31, 23}
	errAt := func(steps int) float64 {
		a, err := n.Attribute(ids, 6, AttributionOptions{Methods: []string{MethodIntegrated}, IGSteps: steps})
		if err != nil {
			t.Fatal(err)
		}
		w := 0.0
		for _, c := range a.Completeness {
			w = math.Max(w, c.RelErr)
		}
		return w
	}
	e5, e20, e50 := errAt(5), errAt(20), errAt(50)
	if !(e5 > e20 && e20 > e50 && e50 < 1e-5) {
		t.Fatalf("completeness errors with 5, 20, 50 steps: %g, %g, %g", e5, e20, e50)
	}
}

func TestExplainCancelled(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := n.Explain(g.IDs, g.PromptLength, Options{Methods: Methods, Context: ctx}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled explanation: %v", err)
	}
	if _, err := n.Attribute(g.IDs, g.PromptLength, AttributionOptions{Methods: []string{MethodIntegrated}, Context: ctx}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled attribution: %v", err)
	}
}
