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

func TestDescribe(t *testing.T) {
	m, _ := load(t, "testdata/st", Options{})
	if got, want := m.Describe(), "testdata/st (dim 32, mean pooling, normalized true)"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	q, _ := load(t, "testdata/st", Options{Quantize: "int8"})
	if got := q.Describe(); !strings.HasSuffix(got, "normalized true, int8)") {
		t.Errorf("int8: Describe = %q", got)
	}
}

func TestTextRecords(t *testing.T) {
	recs := TextRecords([]string{"a", "b"})
	if len(recs) != 2 || recs[1].Text != "b" || recs[1].ID != nil || Texts(recs)[0] != "a" {
		t.Errorf("TextRecords = %+v", recs)
	}
}
