package main

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/npy"
	"github.com/loupe-ml/loupe/search"
)

// runIndex runs a loupe command line with the index flags reset.
func runIndex(args ...string) (string, error) {
	var out bytes.Buffer
	rootCmd.SetOut(&out)
	resetFlags()
	rootCmd.SetArgs(args)
	outputFormat = "text"
	ixFlags = ixFlagSet{}
	// Flag defaults are only applied on definition; restore them.
	for _, c := range indexCmd.Commands() {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if t := f.Value.Type(); t != "stringSlice" && t != "stringArray" {
				f.Value.Set(f.DefValue)
			}
			f.Changed = false
		})
	}
	err := rootCmd.Execute()
	return out.String(), err
}

func writeVectors(t *testing.T, path string, n, d int, seed int64) []float32 {
	t.Helper()
	r := rand.New(rand.NewSource(seed))
	v := make([]float32, n*d)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	if err := npy.WriteFloat32(path, v, n, d); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestIndexCommands(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.npy")
	writeVectors(t, base, 300, 16, 1)
	q := filepath.Join(dir, "q.npy")
	writeVectors(t, q, 5, 16, 2)
	ids := filepath.Join(dir, "ids.txt")
	meta := filepath.Join(dir, "meta.jsonl")
	var idb, mb strings.Builder
	for i := 0; i < 300; i++ {
		idb.WriteString(strings.Repeat(" ", i%2) + itoa(10+i) + "\n")
		if i%2 == 0 {
			mb.WriteString(`{"lang":"en"}` + "\n")
		} else {
			mb.WriteString(`{"lang":"fr"}` + "\n")
		}
	}
	os.WriteFile(ids, []byte(idb.String()), 0o644)
	os.WriteFile(meta, []byte(mb.String()), 0o644)

	for _, kind := range []string{"hnsw", "flat", "forest"} {
		out := filepath.Join(dir, kind)
		s, err := runIndex("index", "build", "--vectors", base, "--metric", "l2", "--kind", kind, "--ids", ids, "--metadata", meta, "--out", out, "--format", "json")
		if err != nil {
			t.Fatalf("%s build: %v", kind, err)
		}
		var b struct {
			Seconds float64 `json:"seconds"`
			Bytes   int64   `json:"bytes"`
		}
		if err := json.Unmarshal([]byte(s), &b); err != nil || b.Bytes < 300*16*4 {
			t.Fatalf("%s build output %q: %v", kind, s, err)
		}
		s, err = runIndex("index", "query", "--index", out, "--queries", q, "--k", "3", "--ef", "50", "--filter", "lang=fr", "--format", "json")
		if err != nil {
			t.Fatalf("%s query: %v", kind, err)
		}
		var r struct {
			IDs       [][]uint64  `json:"ids"`
			Distances [][]float32 `json:"distances"`
			Seconds   float64     `json:"seconds"`
		}
		if err := json.Unmarshal([]byte(s), &r); err != nil || len(r.IDs) != 5 || len(r.Distances) != 5 {
			t.Fatalf("%s query output %q: %v", kind, s, err)
		}
		for _, row := range r.IDs {
			if len(row) != 3 {
				t.Fatalf("%s: %d results, want 3", kind, len(row))
			}
			for _, id := range row {
				if (id-10)%2 != 1 {
					t.Fatalf("%s: filter lang=fr let id %d through", kind, id)
				}
			}
		}
		if _, err := runIndex("index", "delete", "--index", out, "--ids", "10,11"); err != nil {
			t.Fatalf("%s delete: %v", kind, err)
		}
		if _, err := runIndex("index", "add", "--index", out, "--vectors", q); err != nil {
			t.Fatalf("%s add: %v", kind, err)
		}
		s, err = runIndex("index", "stats", "--index", out, "--verify", "--format", "json")
		if err != nil {
			t.Fatalf("%s stats: %v", kind, err)
		}
		var st struct {
			Stats    index.Stats `json:"stats"`
			Verified bool        `json:"verified"`
		}
		if err := json.Unmarshal([]byte(s), &st); err != nil || !st.Verified || st.Stats.Count != 303 || st.Stats.Deleted != 2 {
			t.Fatalf("%s stats %q: %v", kind, s, err)
		}
		if s, err := runIndex("index", "stats", "--index", out); err != nil || !strings.Contains(s, "count     303 (2 deleted)") {
			t.Fatalf("%s text stats %q: %v", kind, s, err)
		}
	}

	// Bad input names the problem.
	q8 := filepath.Join(dir, "q8.npy")
	writeVectors(t, q8, 2, 8, 3)
	hn := filepath.Join(dir, "hnsw")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"index", "build", "--vectors", base, "--metric", "hamming", "--out", filepath.Join(dir, "x")}, `unknown metric "hamming"`},
		{[]string{"index", "build", "--vectors", base, "--kind", "lsh", "--out", filepath.Join(dir, "x")}, `unknown kind "lsh"`},
		{[]string{"index", "build", "--vectors", base}, "--out DIR is required"},
		{[]string{"index", "build", "--vectors", base, "--ids", meta, "--out", filepath.Join(dir, "x")}, "is not an unsigned integer"},
		{[]string{"index", "query", "--index", hn, "--queries", q8}, "8-dimensional queries but the index is 16-dimensional"},
		{[]string{"index", "query", "--index", hn, "--queries", q, "--k", "100000"}, "k = 100000 but the index holds 303 vectors"},
		{[]string{"index", "query", "--index", filepath.Join(dir, "nope"), "--queries", q}, "no such file"},
		{[]string{"index", "delete", "--index", hn, "--ids", "99999"}, "id 99999: id not found"},
	} {
		_, err := runIndex(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestIndexBuildInput embeds documents with the tiny sentence-transformers
// test model and searches them with loupe search.
func TestIndexBuildInput(t *testing.T) {
	model, _ := filepath.Abs(filepath.Join("..", "..", "embed", "testdata", "st"))
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs.jsonl")
	os.WriteFile(docs, []byte(`{"id": 7, "text": "the cat sat on the mat", "lang": "en"}
{"id": 8, "text": "run a bert model fast on a cpu", "lang": "en"}
{"id": 9, "text": "le chat est sur le tapis", "lang": "fr"}
`), 0o644)
	out := filepath.Join(dir, "docs.idx")
	if _, err := runIndex("index", "build", "--input", docs, "--model", model, "--kind", "flat", "--out", out); err != nil {
		t.Fatal(err)
	}
	x, err := index.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if x.Model() != model || x.Text(8) != "run a bert model fast on a cpu" || x.Len() != 3 {
		t.Fatalf("model %q, text %q, len %d", x.Model(), x.Text(8), x.Len())
	}
	m, _ := x.Metadata(9)
	if !strings.Contains(string(m), `"lang":"fr"`) {
		t.Fatalf("metadata %s", m)
	}
	var sout bytes.Buffer
	rootCmd.SetOut(&sout)
	resetFlags()
	rootCmd.SetArgs([]string{"search", "--index", out, "--k", "1", "--format", "json", "run a bert model fast on a cpu"})
	searchFlags.filter, searchFlags.where, searchFlags.model, searchFlags.opts = nil, nil, "", search.DefaultSearchOptions()
	if err := rootCmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sout.String(), `"id":8`) {
		t.Fatalf("loupe search did not find the document itself: %s", sout.String())
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
