package embed

import (
	"strings"
	"testing"
)

func TestFormatVector(t *testing.T) {
	if got := FormatVector([]float32{1, -0.5, 0.123456789}); got != "1 -0.5 0.12345679" {
		t.Errorf("FormatVector = %q", got)
	}
}

func TestWriteSimilarity(t *testing.T) {
	var sb strings.Builder
	if err := WriteSimilarity(&sb, []string{"a\nb", "c"}, [][]float64{{1, 0.5}, {0.5, 1}}); err != nil {
		t.Fatal(err)
	}
	want := "[0] a b\n[1] c\n\n         [0]    [1]\n  [0]  1.000  0.500\n  [1]  0.500  1.000\n"
	if sb.String() != want {
		t.Errorf("WriteSimilarity =\n%q\nwant\n%q", sb.String(), want)
	}
}
