package goldentest

import (
	"errors"
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

// TestDrop: Drop removes the named tensor only, and nothing when absent.
func TestDrop(t *testing.T) {
	ts := []safetensors.Tensor{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	for _, c := range []struct {
		drop string
		want string
	}{{"b", "ac"}, {"a", "bc"}, {"z", "abc"}} {
		got := ""
		for _, x := range Drop(append([]safetensors.Tensor(nil), ts...), c.drop) {
			got += x.Name
		}
		if got != c.want {
			t.Errorf("Drop(%q): %q, want %q", c.drop, got, c.want)
		}
	}
}

// nilDecoder is a Decoder type whose nil pointer AsDecoder must not wrap.
type nilDecoder struct{ Decoder }

// TestAsDecoder: an error gives a nil interface, not one holding a nil
// pointer.
func TestAsDecoder(t *testing.T) {
	var p *nilDecoder
	if d, err := AsDecoder(p, errors.New("no")); d != nil || err == nil {
		t.Errorf("AsDecoder with an error: %v, %v", d, err)
	}
	if d, err := AsDecoder(&nilDecoder{}, nil); d == nil || err != nil {
		t.Errorf("AsDecoder without an error: %v, %v", d, err)
	}
}
