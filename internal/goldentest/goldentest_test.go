package goldentest

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "golden.safetensors")
	err := safetensors.WriteFile(path, []safetensors.Tensor{
		{Name: "x", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}, DType: "F32"},
		{Name: "ids", Shape: []int{3}, Data: []float32{7, 0, 2}, DType: "F32"},
	}, map[string]string{"m.config": `{"a":1}`, "m.seed": "42"})
	if err != nil {
		t.Fatal(err)
	}
	g := Open(t, path)
	if ids := g.IDs(t, "ids"); !slices.Equal(ids, []int{7, 0, 2}) {
		t.Errorf("IDs %v", ids)
	}
	if cfg, seed := g.Model(t, "m"); string(cfg) != `{"a":1}` || seed != 42 {
		t.Errorf("Model: %s %d", cfg, seed)
	}
	x := g.Get(t, "x")
	if c := Cols(x, 3, 2); !slices.Equal(c, []float32{1, 2, 4, 5}) {
		t.Errorf("Cols %v", c)
	}
	if d := MaxAbsDiff(x, []float32{1, 2, 3.5, 4, 5, 6}); d != 0.5 {
		t.Errorf("MaxAbsDiff %g, want 0.5", d)
	}
	if d := MaxAbsDiff([]float32{1, float32(math.NaN())}, []float32{1, 2}); !math.IsInf(d, 1) {
		t.Errorf("MaxAbsDiff with a NaN %g, want +Inf", d)
	}
	if d := MaxAbsDiff(x, x[:2]); !math.IsInf(d, 1) {
		t.Errorf("MaxAbsDiff of different lengths %g", d)
	}
}
