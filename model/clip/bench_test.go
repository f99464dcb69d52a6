package clip

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

type shapedSource struct {
	data   map[string][]float32
	shapes map[string][]int
}

func (s shapedSource) Shape(name string) ([]int, bool) { sh, ok := s.shapes[name]; return sh, ok }
func (s shapedSource) Float32(name string) ([]float32, error) {
	d, ok := s.data[name]
	if !ok {
		return nil, fmt.Errorf("no %s", name)
	}
	return d, nil
}

// syntheticModel builds a model of cfg's shape with deterministic,
// cheaply made weights (for timing, not accuracy).
func syntheticModel(tb testing.TB, cfg Config) *Model {
	tb.Helper()
	src := shapedSource{data: map[string][]float32{}, shapes: map[string][]int{}}
	k := 0
	for _, e := range weightSpec(cfg) {
		n := 1
		for _, d := range e.shape {
			n *= d
		}
		x := make([]float32, n)
		for i := range x {
			k++
			v := float32(math.Sin(float64(k)*0.7311)) * e.scale
			if e.gain {
				v += 1
			}
			x[i] = v
		}
		src.data[e.name] = x
		src.shapes[e.name] = e.shape
	}
	m, err := FromSource(cfg, src)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkEncodeSD15 times Stable Diffusion 1.x's text encoding at its
// real size (12 layers, width 768, MLP 3072; the vocabulary is cut to 1000
// rows, which does not change the compute): a prompt and the empty
// negative prompt, 2 × 77 tokens, as one classifier-free-guidance step
// needs. bench/clip_text.sh runs it next to PyTorch.
func BenchmarkEncodeSD15(b *testing.B) {
	cfg := Config{VocabSize: 1000, HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12,
		NumAttentionHeads: 12, MaxPositionEmbeddings: 77, LayerNormEps: 1e-5, HiddenAct: "quick_gelu",
		BOSTokenID: 998, EOSTokenID: 999}
	m := syntheticModel(b, cfg)
	ids := make([][]int, 2)
	for s := range ids {
		ids[s] = make([]int, 77)
		for t := range ids[s] {
			ids[s][t] = (s*31 + t*17) % 998
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Encode(ids, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// halfShapedSource serves the big matrices as F16 bytes.
type halfShapedSource struct {
	shapedSource
	half map[string][]byte
}

func (s halfShapedSource) Half(name string) (string, []byte, bool) {
	b, ok := s.half[name]
	return "F16", b, ok
}

// BenchmarkEncodeSD15F16 is BenchmarkEncodeSD15 with the matrices kept in
// F16 and converted per layer, as an fp16 checkpoint runs.
func BenchmarkEncodeSD15F16(b *testing.B) {
	cfg := Config{VocabSize: 1000, HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12,
		NumAttentionHeads: 12, MaxPositionEmbeddings: 77, LayerNormEps: 1e-5, HiddenAct: "quick_gelu",
		BOSTokenID: 998, EOSTokenID: 999}
	src := halfShapedSource{shapedSource{data: map[string][]float32{}, shapes: map[string][]int{}}, map[string][]byte{}}
	for _, e := range weightSpec(cfg) {
		n := 1
		for _, d := range e.shape {
			n *= d
		}
		x := make([]float32, n)
		src.data[e.name] = x
		src.shapes[e.name] = e.shape
		if len(e.shape) == 2 && !strings.Contains(e.name, "position") {
			src.half[e.name] = make([]byte, 2*n)
		}
	}
	m, err := FromSource(cfg, src)
	if err != nil {
		b.Fatal(err)
	}
	if m.Precision() != "F16" {
		b.Fatalf("precision %s", m.Precision())
	}
	ids := [][]int{make([]int, 77), make([]int, 77)}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Encode(ids, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
