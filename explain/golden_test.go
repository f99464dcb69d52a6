package explain

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// testNet gives the tests short names for model/gpt2's differentiable pass
// and explain's functions over the tiny checkpoint written by
// testdata/reference.py.
type testNet struct{ *gpt2.Model }

func loadTestNet(t testing.TB) *testNet {
	t.Helper()
	m, err := gpt2.Load(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &testNet{m}
}

func (n *testNet) embed(ids []int) ([]float32, error) { return n.Embed(ids) }

func (n *testNet) forward(x []float32, B, T int, keepAct bool, iv []Intervention) *gpt2.Pass {
	p, err := n.ForwardPass(x, B, T, gpt2.PassOptions{KeepAct: keepAct, Interventions: iv})
	if err != nil {
		panic(err)
	}
	return p
}

func (n *testNet) targetValues(p *gpt2.Pass, segs []segment, tgt Target) ([]float64, []float32) {
	return targetValues(p, segs, tgt)
}

func (n *testNet) backward(p *gpt2.Pass, segs []segment, dl []float32) []float32 {
	g, err := inputGradients(p, segs, dl)
	if err != nil {
		panic(err)
	}
	return g
}

// Logits runs the differentiable pass on ids: the logits at every position.
func (n *testNet) Logits(ids []int) ([]float32, error) {
	x, err := n.embed(ids)
	if err != nil {
		return nil, err
	}
	p, err := n.ForwardPass(x, 1, len(ids), gpt2.PassOptions{})
	if err != nil {
		return nil, err
	}
	rows := make([]int, len(ids))
	for i := range rows {
		rows[i] = i
	}
	return p.Logits(rows), nil
}

// InputGradient is d target / d (token embedding of each position) for
// the model's output token after reading all of ids ([len(ids), C]).
func (n *testNet) InputGradient(ids []int, token int, tgt Target) ([]float32, float64, error) {
	x, err := n.embed(ids)
	if err != nil {
		return nil, 0, err
	}
	p, err := n.ForwardPass(x, 1, len(ids), gpt2.PassOptions{})
	if err != nil {
		return nil, 0, err
	}
	segs := []segment{{Seq: 0, Len: len(ids), Token: token, Weight: 1}}
	vals, dl := targetValues(p, segs, tgt)
	g, err := inputGradients(p, segs, dl)
	return g, vals[0], err
}

func (n *testNet) Attribute(ids []int, promptLen int, opt AttributionOptions) (*Attributions, error) {
	return Attribute(n.Model, ids, promptLen, opt)
}

func (n *testNet) Explain(ids []int, promptLen int, opt Options) (*Result, error) {
	return Explain(n.Model, ids, promptLen, opt)
}

// Greedy is a reference greedy decoder, independent of package generate:
// it reruns the whole sequence through Model.Forward at each step, with
// the interventions hooked in, and never stops early.
func (n *testNet) Greedy(ids []int, steps int, iv []Intervention) ([]int, error) {
	seq := append([]int(nil), ids...)
	V := n.Config.VocabSize
	var out []int
	for s := 0; s < steps && len(seq) < n.Config.NPositions; s++ {
		lg, err := n.Forward(seq, gpt2.InterventionHook(iv))
		if err != nil {
			return nil, err
		}
		next := argmaxf(lg[(len(seq)-1)*V:])
		seq = append(seq, next)
		out = append(out, next)
	}
	return out, nil
}

type goldenTarget struct {
	Position, Token int
	ValueProb       float64   `json:"value_prob"`
	ValueLogit      float64   `json:"value_logit"`
	GradProb        []float64 `json:"grad_prob"`
	GradLogit       []float64 `json:"grad_logit"`
	GradientProb    []float64 `json:"gradient_prob"`
	GradientLogit   []float64 `json:"gradient_logit"`
	GxIProb         []float64 `json:"grad_x_input_prob"`
	GxILogit        []float64 `json:"grad_x_input_logit"`
	IGProb          []float64 `json:"integrated_gradients_prob"`
	IGLogit         []float64 `json:"integrated_gradients_logit"`
	IGSumProb       float64   `json:"ig_sum_prob"`
	IGSumLogit      float64   `json:"ig_sum_logit"`
}

type golden struct {
	IDs          []int `json:"ids"`
	PromptLength int   `json:"prompt_length"`
	IGSteps      int   `json:"ig_steps"`
	Logits       []float64
	Targets      []goldenTarget
}

func loadGolden(t testing.TB) *golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// maxRelDiff returns max|got-want| / max|want|, the relative error used for
// whole tensors (as llm.c's test_gpt2 reports it).
func maxRelDiff[T float32 | float64](got []T, want []float64) float64 {
	var d, m float64
	for i, w := range want {
		d = math.Max(d, math.Abs(float64(got[i])-w))
		m = math.Max(m, math.Abs(w))
	}
	if m == 0 {
		return d
	}
	return d / m
}

func TestLogitsMatchPyTorch(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	logits, err := n.Logits(g.IDs)
	if err != nil {
		t.Fatal(err)
	}
	if len(logits) != len(g.Logits) {
		t.Fatalf("%d logits, golden has %d", len(logits), len(g.Logits))
	}
	if d := maxRelDiff(logits, g.Logits); d > 1e-5 {
		t.Fatalf("logits differ from PyTorch by %g (relative)", d)
	}
}

func TestInputGradientMatchesPyTorch(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	for _, tg := range g.Targets {
		for _, c := range []struct {
			name  string
			tgt   Target
			value float64
			grad  []float64
		}{{"prob", TargetProb, tg.ValueProb, tg.GradProb}, {"logit", TargetLogit, tg.ValueLogit, tg.GradLogit}} {
			grad, v, err := n.InputGradient(g.IDs[:tg.Position], tg.Token, c.tgt)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(v-c.value) > 1e-5*math.Max(1, math.Abs(c.value)) {
				t.Errorf("position %d %s: value %g, PyTorch %g", tg.Position, c.name, v, c.value)
			}
			if d := maxRelDiff(grad, c.grad); d > 1e-4 {
				t.Errorf("position %d %s: gradient differs from PyTorch by %g (relative)", tg.Position, c.name, d)
			}
		}
	}
}

func TestAttributionsMatchPyTorch(t *testing.T) {
	n, g := loadTestNet(t), loadGolden(t)
	for _, c := range []struct {
		name string
		tgt  Target
	}{{"prob", TargetProb}, {"logit", TargetLogit}} {
		// MaxRows 7 forces several backward chunks and one IG step per forward.
		for _, maxRows := range []int{0, 7} {
			a, err := n.Attribute(g.IDs, g.PromptLength, AttributionOptions{Methods: Methods, Target: c.tgt, IGSteps: g.IGSteps, MaxRows: maxRows})
			if err != nil {
				t.Fatal(err)
			}
			for i, tg := range g.Targets {
				want := map[string][]float64{MethodGradient: tg.GradientProb, MethodGradXInput: tg.GxIProb, MethodIntegrated: tg.IGProb}
				sum := tg.IGSumProb
				if c.tgt == TargetLogit {
					want = map[string][]float64{MethodGradient: tg.GradientLogit, MethodGradXInput: tg.GxILogit, MethodIntegrated: tg.IGLogit}
					sum = tg.IGSumLogit
				}
				for m, w := range want {
					got := a.Scores[m][i]
					if len(got) != len(w) {
						t.Fatalf("%s %s token %d: %d scores, want %d", c.name, m, i, len(got), len(w))
					}
					var s float64
					for _, v := range got {
						s += v
					}
					if math.Abs(s-1) > 1e-9 {
						t.Errorf("%s %s token %d: scores sum to %g", c.name, m, i, s)
					}
					if d := maxRelDiff(got, w); d > 1e-4 {
						t.Errorf("%s %s token %d (maxRows %d): scores differ from PyTorch by %g", c.name, m, i, maxRows, d)
					}
				}
				// The sum cancels heavily; compare on the scale of the target.
				if d := math.Abs(a.Completeness[i].Sum - sum); d > 1e-5*math.Max(math.Abs(a.Target[i]), 1e-2) {
					t.Errorf("%s IG token %d: attributions sum to %g, PyTorch %g", c.name, i, a.Completeness[i].Sum, sum)
				}
			}
		}
	}
}

func TestGaussLegendre(t *testing.T) {
	a, w := GaussLegendre(3)
	r := math.Sqrt(0.6)
	wantA := []float64{0.5 * (1 - r), 0.5, 0.5 * (1 + r)}
	wantW := []float64{5.0 / 18, 8.0 / 18, 5.0 / 18}
	for i := range a {
		if math.Abs(a[i]-wantA[i]) > 1e-12 || math.Abs(w[i]-wantW[i]) > 1e-12 {
			t.Fatalf("node %d: (%g, %g), want (%g, %g)", i, a[i], w[i], wantA[i], wantW[i])
		}
	}
	for _, n := range []int{1, 2, 5, 20, 50} {
		a, w := GaussLegendre(n)
		// exact for polynomials of degree 2n-1: ∫₀¹ x^(2n-1) = 1/(2n)
		var s, sw float64
		for i := range a {
			s += w[i] * math.Pow(a[i], float64(2*n-1))
			sw += w[i]
		}
		if math.Abs(s-1/float64(2*n)) > 1e-12 || math.Abs(sw-1) > 1e-12 {
			t.Errorf("n=%d: ∫x^%d = %g (want %g), Σw = %g", n, 2*n-1, s, 1/float64(2*n), sw)
		}
	}
}

func TestAttributeBadInput(t *testing.T) {
	n := loadTestNet(t)
	cases := []struct {
		name string
		ids  []int
		p    int
		opt  AttributionOptions
	}{
		{"prompt too long", []int{1, 2}, 3, AttributionOptions{}},
		{"prompt empty", []int{1, 2}, 0, AttributionOptions{}},
		{"bad id", []int{1, 999, 2}, 1, AttributionOptions{}},
		{"bad method", []int{1, 2}, 1, AttributionOptions{Methods: []string{"lime"}}},
		{"bad steps", []int{1, 2}, 1, AttributionOptions{Methods: []string{MethodIntegrated}, IGSteps: -1}},
		{"too long", make([]int, 40), 1, AttributionOptions{}},
	}
	for _, c := range cases {
		if _, err := n.Attribute(c.ids, c.p, c.opt); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}
