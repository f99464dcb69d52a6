package index

import (
	"strings"
	"testing"
)

func TestStatsWriteText(t *testing.T) {
	var sb strings.Builder
	st := Stats{Kind: HNSW, Metric: Cosine, Dim: 4, Count: 3, Deleted: 1, Model: "m", M: 16, MaxM0: 32, EfConstruction: 200, Ef: 10,
		VectorBytes: 64, StructBytes: 2048, Bytes: 2136, FileBytes: 3 << 20}
	if err := st.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	want := "kind      hnsw\nmetric    cosine\ndim       4\ncount     3 (1 deleted)\nmodel     m\n" +
		"M         16 (max_m0 32)\nef_construction 200\nef        10\nmax level 0\n" +
		"memory    2.1 KiB (vectors 64 B, structure 2.0 KiB), metadata 0 B, file 3.0 MiB\n"
	if sb.String() != want {
		t.Errorf("hnsw:\n%s\nwant\n%s", sb.String(), want)
	}
	sb.Reset()
	Stats{Kind: Forest, Metric: L2, NTrees: 5, LeafSize: 8, ForestNodes: 9}.WriteText(&sb)
	if !strings.Contains(sb.String(), "n_trees   5\nleaf size 8\nnodes     9\n") || strings.Contains(sb.String(), "model") {
		t.Errorf("forest:\n%s", sb.String())
	}
}

func TestAddResultWriteText(t *testing.T) {
	for _, c := range []struct {
		r    AddResult
		want string
	}{
		{AddResult{Added: 3, Seconds: 0.5}, "added 3 vectors, index now holds 9 (0.50s)\n"},
		{AddResult{Added: 1, Replaced: 2, Seconds: 1}, "added 1 vector and replaced 2, index now holds 9 (1.00s)\n"},
	} {
		var sb strings.Builder
		if err := c.r.WriteText(&sb, "vectors", 9); err != nil || sb.String() != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.r, sb.String(), err, c.want)
		}
	}
}
