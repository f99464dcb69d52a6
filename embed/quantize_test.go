package embed

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuantizeInt8 embeds the golden texts of testdata/st (a small
// sentence-transformers repo: 2 layers, hidden 32) at int8 and int7
// precision: the normalised embeddings must have cosine similarity ≥ 0.999
// with PyTorch's float32 ones. (model/bert's TestQuantizedMiniLM checks the
// same on the all-MiniLM-L6-v2 shape.)
func TestQuantizeInt8(t *testing.T) {
	g := readGoldenST(t)
	dir := filepath.Join("testdata", "st")
	for _, p := range []string{"int8", "int7"} {
		m, _ := load(t, dir, Options{Quantize: p})
		if m.Precision() != p {
			t.Fatalf("Precision() = %q, want %q", m.Precision(), p)
		}
		got, err := m.Embed(g.Texts)
		if err != nil {
			t.Fatal(err)
		}
		lo, exact := 1.0, true
		for i, v := range got {
			c := 0.0
			for j := range v {
				c += float64(v[j]) * float64(g.NormalizedMean[i][j])
				exact = exact && v[j] == g.NormalizedMean[i][j]
			}
			lo = math.Min(lo, c)
		}
		t.Logf("%s: min cosine to PyTorch float32 embeddings %.6f over %d texts", p, lo, len(got))
		if lo < 0.999 {
			t.Errorf("%s: min cosine to float32 embeddings %.6f < 0.999", p, lo)
		}
		if exact {
			t.Errorf("%s: embeddings identical to float32: the quantized path did not run", p)
		}
	}
	m, _ := load(t, dir, Options{})
	if m.Precision() != "float32" {
		t.Errorf("default Precision() = %q, want float32", m.Precision())
	}
}

func TestQuantizeBadValue(t *testing.T) {
	for _, p := range []string{"int4", "fp16", "INT8", "ubinary"} {
		_, err := LoadWith(context.Background(), filepath.Join("testdata", "st"), Options{Client: offline(), Quantize: p, Warn: func(string) {}})
		// A structured error naming the field (surfaces map it to --quantize
		// or a JSON name); it used to be a lower-case "quantize" string.
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Field != "Quantize" || !strings.Contains(err.Error(), `Quantize "`+p+`": want float32, int8 or int7`) {
			t.Errorf("Quantize %q: error %v", p, err)
		}
	}
}
