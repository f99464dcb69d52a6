package gpt2

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

// The golden values come from testdata/reference.py (PyTorch, written as
// Hugging Face's modeling_gpt2.py computes GPT-2). Regenerate with
//
//	/usr/bin/python3 model/gpt2/testdata/reference.py golden

// tol is the largest absolute difference accepted against PyTorch.
const tol = 1e-4

type golden struct{ f *safetensors.File }

func openGolden(t testing.TB) golden {
	t.Helper()
	f, err := safetensors.Open(filepath.Join("testdata", "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return golden{f}
}

func (g golden) get(t testing.TB, name string) []float32 {
	t.Helper()
	v, err := g.f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (g golden) ids(t testing.TB, name string) []int {
	v := g.get(t, name)
	ids := make([]int, len(v))
	for i, x := range v {
		ids[i] = int(x)
	}
	return ids
}

// compare reports the largest absolute difference between got and want
// (like llm.c's test_gpt2.c) and fails above tol.
func compare(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	worst, at := 0.0, 0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				worst = math.Inf(1)
				break
			}
		}
	}
	t.Logf("%-28s max |diff| %.3g (at %d)", name, worst, at)
	if worst > tol {
		t.Errorf("%s: max |diff| %.3g at %d (got %v, want %v) > %g", name, worst, at, got[at], want[at], tol)
	}
}

func loadTiny(t testing.TB, dir string) *Model {
	t.Helper()
	m, err := Load(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// hookCapture copies selected hook values.
func hookCapture(want map[string]bool, got map[string][]float32) Hook {
	return func(a *Activation) {
		key := a.Name
		if a.Layer >= 0 {
			key = "l" + string(rune('0'+a.Layer)) + "." + a.Name
		}
		if want[key] {
			got[key] = append(got[key], a.Data...)
		}
	}
}

func TestParityTiny(t *testing.T) {
	g := openGolden(t)
	m := loadTiny(t, "tiny")
	a := g.ids(t, "seq.a")
	want := map[string]bool{"l0.attn_probs": true, "l1.attn_probs": true, "l0.mlp_act": true,
		"l1.resid_pre": true, "l1.resid_post": true, "ln_f": true}
	got := map[string][]float32{}
	logits, err := m.Forward(a, hookCapture(want, got))
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "tiny.a.logits", logits, g.get(t, "tiny.a.logits"))
	for k := range want {
		compare(t, "tiny.a."+k, got[k], g.get(t, "tiny.a."+k))
	}
	lb, err := m.Forward(g.ids(t, "seq.b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "tiny.b.logits", lb, g.get(t, "tiny.b.logits"))
}

func TestParityF16NoPrefix(t *testing.T) {
	g := openGolden(t)
	m := loadTiny(t, "tiny_f16")
	logits, err := m.Forward(g.ids(t, "seq.a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "tiny_f16.a.logits", logits, g.get(t, "tiny_f16.a.logits"))
}

// TestParityErfGelu loads the tiny weights under a config asking for the
// exact erf GELU and checks both that it matches and that it differs from
// the tanh form by more than the tolerance (so the test can fail).
func TestParityErfGelu(t *testing.T) {
	g := openGolden(t)
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join("testdata", "tiny", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg = []byte(replaceOnce(string(cfg), `"gelu_new"`, `"gelu"`))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(filepath.Join("testdata", "tiny", "model.safetensors"))
	if err := os.Symlink(abs, filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Config.Activation != "gelu" {
		t.Fatalf("activation %q", m.Config.Activation)
	}
	logits, err := m.Forward(g.ids(t, "seq.a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "tiny_erf.a.logits", logits, g.get(t, "tiny_erf.a.logits"))
	if d := maxAbsDiff(logits, g.get(t, "tiny.a.logits")); d <= tol {
		t.Errorf("erf and tanh GELU logits differ by only %g: the test cannot tell them apart", d)
	}
}

func TestParityWide(t *testing.T) {
	g := openGolden(t)
	cfg := Config{NLayer: 2, NHead: 12, NEmbd: 768, NPositions: 64, VocabSize: 1024, LayerNormEps: 1e-5, Activation: "gelu_new"}
	m, err := Random(cfg, 2, 0.0625)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"l1.attn_probs": true, "l1.mlp_act": true}
	got := map[string][]float32{}
	logits, err := m.Forward(g.ids(t, "seq.w"), hookCapture(want, got))
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "wide.w.logits", logits, g.get(t, "wide.w.logits"))
	compare(t, "wide.w.l1.attn_probs", got["l1.attn_probs"], g.get(t, "wide.w.l1.attn_probs"))
	compare(t, "wide.w.l1.mlp_act", got["l1.mlp_act"], g.get(t, "wide.w.l1.mlp_act"))
}

// TestParityXLShape runs one layer of gpt2-xl's geometry (1600 wide, 25
// heads of 64; vocab shrunk to 512) against PyTorch, over the whole
// sequence and then token by token with the KV cache: the decode steps are
// matrix-vector products whose 4800 and 6400 output columns pass the
// kernels' 4096-column sweep.
func TestParityXLShape(t *testing.T) {
	g := openGolden(t)
	cfg := Config{NLayer: 1, NHead: 25, NEmbd: 1600, NPositions: 64, VocabSize: 512, LayerNormEps: 1e-5, Activation: "gelu_new"}
	m, err := Random(cfg, 4, 0.04)
	if err != nil {
		t.Fatal(err)
	}
	ids, want := g.ids(t, "seq.x"), g.get(t, "xl.x.logits")
	logits, err := m.Forward(ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, "xl.x.logits", logits, want)

	const prefix = 4
	s := m.NewState(StateOptions{MaxSeq: len(ids)})
	if err := s.Forward([][]int{ids[:prefix]}, ForwardOptions{}); err != nil {
		t.Fatal(err)
	}
	V := cfg.VocabSize
	var steps []float32
	for i := prefix; ; i++ {
		steps = append(steps, s.Logits(0)...)
		if i == len(ids) {
			break
		}
		if err := s.Forward([][]int{{ids[i]}}, ForwardOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	compare(t, "xl.x.logits (KV-cache decode)", steps, want[(prefix-1)*V:])
}

// TestRandomMatchesCheckpoint checks that Random builds the very weights
// reference.py wrote into testdata/tiny.
func TestRandomMatchesCheckpoint(t *testing.T) {
	m := loadTiny(t, "tiny")
	r, err := Random(m.Config, 1, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	ms, rs := specsOf(m), specsOf(r)
	for i := range ms {
		x, y := *rs[i].dst, *ms[i].dst
		if len(x) != len(y) || len(x) == 0 {
			t.Fatalf("%s: lengths %d, %d", ms[i].name, len(x), len(y))
		}
		for j := range x {
			if x[j] != y[j] {
				t.Fatalf("%s[%d]: Random %v, checkpoint %v", ms[i].name, j, x[j], y[j])
			}
		}
	}
}

// specsOf lists m's tensors without touching its weights.
func specsOf(m *Model) []tensorSpec {
	w := m.Weights
	blocks := w.Blocks
	s := specs(m.Config, &w) // points into a fresh Blocks array...
	copy(w.Blocks, blocks)   // ...which now holds m's slices
	return s
}

func maxAbsDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i])-float64(b[i])))
	}
	return worst
}

func replaceOnce(s, old, new string) string {
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	return s
}
