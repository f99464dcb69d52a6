package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// randomData returns n uniform vectors of dimension d.
func randomData(n, d int, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	v := make([]float32, n*d)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// clusteredData returns n vectors around 20 Gaussian centres.
func clusteredData(n, d int, seed int64) []float32 {
	r := rand.New(rand.NewSource(seed))
	const nc = 20
	c := make([]float32, nc*d)
	for i := range c {
		c[i] = float32(r.NormFloat64()) * 3
	}
	v := make([]float32, n*d)
	for i := 0; i < n; i++ {
		k := r.Intn(nc)
		for j := 0; j < d; j++ {
			v[i*d+j] = c[k*d+j] + float32(r.NormFloat64())
		}
	}
	return v
}

func build(t testing.TB, o Options, data []float32) *Index {
	t.Helper()
	x, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add(Batch{Vectors: data}); err != nil {
		t.Fatal(err)
	}
	return x
}

// recall compares x's answers with exact (Flat) ones.
func recall(t *testing.T, x, exact *Index, qs []float32, nq, k int, so *SearchOptions) float64 {
	t.Helper()
	got, err := x.SearchBatch(qs, nq, k, so)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exact.SearchBatch(qs, nq, k, &SearchOptions{Allow: so.Allow, Filter: so.Filter})
	if err != nil {
		t.Fatal(err)
	}
	hit, total := 0, 0
	for i := range want {
		set := map[uint64]bool{}
		for _, r := range want[i] {
			set[r.ID] = true
		}
		for _, r := range got[i] {
			if set[r.ID] {
				hit++
			}
		}
		total += len(want[i])
	}
	return float64(hit) / float64(total)
}

func TestRecall(t *testing.T) {
	const n, d, nq, k = 3000, 24, 100, 10
	for _, data := range []struct {
		name string
		gen  func(n, d int, seed int64) []float32
	}{{"random", randomData}, {"clustered", clusteredData}} {
		base := data.gen(n, d, 1)
		qs := data.gen(nq, d, 2)
		for _, m := range []Metric{L2, Cosine, Dot} {
			exact := build(t, testOptions(Options{Kind: Flat, Metric: m, Dim: d}), base)
			minHNSW := 0.95
			if m == Dot && data.name == "clustered" {
				// Inner product is not a metric: points with large norms
				// attract everything; hnswlib's 'ip' behaves alike.
				minHNSW = 0.85
			}
			for _, tc := range []struct {
				kind Kind
				so   SearchOptions
				min  float64
			}{
				{HNSW, SearchOptions{Ef: 100}, minHNSW},
				{Forest, SearchOptions{SearchK: 3000}, 0.90},
			} {
				name := fmt.Sprintf("%s/%s/%s", data.name, m, tc.kind)
				t.Run(name, func(t *testing.T) {
					x := build(t, testOptions(Options{Kind: tc.kind, Metric: m, Dim: d, NTrees: 20, LeafSize: 32}), base)
					r := recall(t, x, exact, qs, nq, k, &tc.so)
					t.Logf("recall@%d = %.3f", k, r)
					if r < tc.min {
						t.Errorf("recall@%d = %.3f, want >= %.2f", k, r, tc.min)
					}
					if err := x.CheckIntegrity(); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}
}

func TestFlatExact(t *testing.T) {
	const n, d = 500, 8
	base := randomData(n, d, 3)
	q := randomData(20, d, 4)
	for _, m := range []Metric{L2, Dot, Cosine} {
		x := build(t, testOptions(Options{Kind: Flat, Metric: m, Dim: d}), base)
		// Batched (Sgemm) and one-at-a-time paths agree with a naive scan.
		batch, err := x.SearchBatch(q, 20, 5, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			one, err := x.Search(q[i*d:(i+1)*d], 5, &SearchOptions{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			for j := range one {
				if one[j].ID != batch[i][j].ID {
					t.Fatalf("%s query %d rank %d: single %v, batch %v", m, i, j, one[j], batch[i][j])
				}
			}
			if one[0].Distance > one[4].Distance {
				t.Fatalf("%s: results not nearest first: %v", m, one)
			}
		}
	}
}

func TestIntegrityAndParallelBuild(t *testing.T) {
	base := clusteredData(2000, 16, 5)
	for _, threads := range []int{1, 2, 4} {
		x := build(t, testOptions(Options{Dim: 16, Metric: L2, M: 8, Threads: threads}), base)
		if err := x.CheckIntegrity(); err != nil {
			t.Fatalf("threads=%d: %v", threads, err)
		}
		h := x.algo.(*hnsw)
		if h.maxM0 != 16 || x.opts.EfConstruction != 200 || x.opts.Ef != 10 {
			t.Fatalf("defaults: maxM0=%d efC=%d ef=%d", h.maxM0, x.opts.EfConstruction, x.opts.Ef)
		}
	}
	// The checker finds planted faults.
	x := build(t, testOptions(Options{Dim: 16, Metric: L2, M: 8}), base[:200*16])
	lk := x.algo.(*hnsw).links(5, 0)
	lk[1] = 5
	if err := x.CheckIntegrity(); err == nil || !strings.Contains(err.Error(), "itself") {
		t.Errorf("self link: %v", err)
	}
	lk[1], lk[2] = 7, 7
	if err := x.CheckIntegrity(); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("duplicate link: %v", err)
	}
}

func TestSaveOpenRoundTrip(t *testing.T) {
	const n, d = 1500, 12
	base := clusteredData(n, d, 6)
	qs := randomData(30, d, 7)
	for _, kind := range []Kind{HNSW, Flat, Forest} {
		t.Run(string(kind), func(t *testing.T) {
			x, err := New(testOptions(Options{Kind: kind, Dim: d, Metric: Cosine, Model: "sentence-transformers/all-MiniLM-L6-v2"}))
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]uint64, n)
			meta := make([]json.RawMessage, n)
			for i := range ids {
				ids[i] = uint64(1000 + 3*i)
				meta[i] = json.RawMessage(fmt.Sprintf(`{"text":"doc %d","lang":"%s"}`, i, []string{"en", "fr"}[i%2]))
			}
			if err := x.Add(Batch{Vectors: base, IDs: ids, Meta: meta}); err != nil {
				t.Fatal(err)
			}
			if err := x.Delete(1003, 1006); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := x.Save(dir); err != nil {
				t.Fatal(err)
			}
			y, err := Open(dir, OpenOptions{Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			if !y.Stats().Mapped || y.Model() != x.Model() || y.Len() != n-2 {
				t.Fatalf("opened: %+v", y.Stats())
			}
			a, err := x.SearchBatch(qs, 30, 10, &SearchOptions{Ef: 40})
			if err != nil {
				t.Fatal(err)
			}
			b, err := y.SearchBatch(qs, 30, 10, &SearchOptions{Ef: 40})
			if err != nil {
				t.Fatal(err)
			}
			for i := range a {
				for j := range a[i] {
					if a[i][j] != b[i][j] {
						t.Fatalf("query %d rank %d: in memory %v, opened %v", i, j, a[i][j], b[i][j])
					}
				}
			}
			if y.Text(1009) != "doc 3" {
				t.Errorf("Text(1009) = %q", y.Text(1009))
			}
			if !y.Deleted(1003) || y.Deleted(1009) {
				t.Error("deletion marks lost")
			}
			if err := y.CheckIntegrity(); err != nil {
				t.Error(err)
			}
			// Mutation after Open copies on write and leaves the file alone.
			before, _ := os.ReadFile(filepath.Join(dir, FileName))
			if err := y.Add(Batch{Vectors: randomData(50, d, 8)}); err != nil {
				t.Fatal(err)
			}
			if y.Stats().Mapped {
				t.Error("still mapped after Add")
			}
			after, _ := os.ReadFile(filepath.Join(dir, FileName))
			if string(before) != string(after) {
				t.Error("Add changed the file")
			}
			if err := y.CheckIntegrity(); err != nil {
				t.Error(err)
			}
			// Default ids continue after the largest id.
			if _, ok := y.Vector(uint64(1000 + 3*(n-1) + 1)); !ok {
				t.Error("default id after explicit ids not assigned as expected")
			}
		})
	}
}

func TestDeleteFilterReplace(t *testing.T) {
	const n, d = 1000, 8
	base := clusteredData(n, d, 9)
	for _, kind := range []Kind{HNSW, Flat, Forest} {
		t.Run(string(kind), func(t *testing.T) {
			meta := make([]json.RawMessage, n)
			for i := range meta {
				meta[i] = json.RawMessage(fmt.Sprintf(`{"even":%v}`, i%2 == 0))
			}
			x, _ := New(testOptions(Options{Kind: kind, Dim: d, Metric: L2, AllowReplaceDeleted: true}))
			if err := x.Add(Batch{Vectors: base, Meta: meta}); err != nil {
				t.Fatal(err)
			}
			q := base[10*d : 11*d]
			res, _ := x.Search(q, 1, &SearchOptions{Ef: 50, SearchK: 1000})
			if res[0].ID != 10 || res[0].Distance != 0 {
				t.Fatalf("self query: %v", res)
			}
			if err := x.Delete(10); err != nil {
				t.Fatal(err)
			}
			res, _ = x.Search(q, 5, &SearchOptions{Ef: 50, SearchK: 1000})
			for _, r := range res {
				if r.ID == 10 {
					t.Fatal("deleted id returned")
				}
			}
			if err := x.Delete(123456); !errors.Is(err, ErrNotFound) {
				t.Errorf("delete unknown id: %v", err)
			}
			// Allow-list.
			allow := []uint64{3, 500, 999}
			res, _ = x.Search(q, 3, &SearchOptions{Allow: allow, Ef: 10, SearchK: 10})
			if len(res) != 3 {
				t.Fatalf("allow-list of 3: got %d results %v", len(res), res)
			}
			for _, r := range res {
				if r.ID != 3 && r.ID != 500 && r.ID != 999 {
					t.Fatalf("id %d not in the allow-list", r.ID)
				}
			}
			// Metadata predicate: only odd ids.
			odd := func(id uint64, m json.RawMessage) bool {
				var v struct{ Even bool }
				json.Unmarshal(m, &v)
				return !v.Even
			}
			res, _ = x.Search(q, 10, &SearchOptions{Filter: odd, Ef: 10})
			if len(res) != 10 {
				t.Fatalf("odd filter: %d results", len(res))
			}
			for _, r := range res {
				if r.ID%2 == 0 {
					t.Fatalf("filter let even id %d through", r.ID)
				}
			}
			// A new id reuses the deleted slot; a re-added id is undeleted.
			if err := x.Add(Batch{Vectors: q, IDs: []uint64{5000}}); err != nil {
				t.Fatal(err)
			}
			if st := x.Stats(); st.Deleted != 0 || st.Count != n {
				t.Fatalf("after replace: %+v", st)
			}
			res, _ = x.Search(q, 1, &SearchOptions{Ef: 50, SearchK: 1000})
			if res[0].ID != 5000 {
				t.Fatalf("replaced slot not found: %v", res)
			}
			x.Delete(20)
			if err := x.Add(Batch{Vectors: base[20*d : 21*d], IDs: []uint64{20}}); err != nil {
				t.Fatal(err)
			}
			if x.Deleted(20) {
				t.Fatal("re-added id still deleted")
			}
			if err := x.CheckIntegrity(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	if _, err := New(testOptions(Options{Dim: 4, Metric: "hamming"})); err == nil || !strings.Contains(err.Error(), `unknown metric "hamming"`) {
		t.Errorf("unknown metric: %v", err)
	}
	if _, err := New(testOptions(Options{Dim: 4, Kind: "lsh"})); err == nil || !strings.Contains(err.Error(), `unknown kind "lsh"`) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := New(testOptions(Options{})); err == nil {
		t.Error("dimension 0: no error")
	}
	x, _ := New(testOptions(Options{Dim: 4}))
	if _, err := x.Search([]float32{1, 2, 3, 4}, 1, nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty index: %v", err)
	}
	nan := float32(0)
	nan = nan / nan
	tests := []struct {
		name string
		b    Batch
		want string
	}{
		{"shape", Batch{Vectors: make([]float32, 6)}, "not a whole number of 4-dimensional"},
		{"nan", Batch{Vectors: []float32{1, 2, 3, 4, 1, nan, 0, 0}}, "vector 1 has NaN at column 1"},
		{"ids", Batch{Vectors: []float32{1, 2, 3, 4}, IDs: []uint64{1, 2}}, "2 ids for 1 vectors"},
		{"dup ids", Batch{Vectors: []float32{1, 2, 3, 4, 5, 6, 7, 8}, IDs: []uint64{7, 7}}, "id 7 given twice"},
		{"meta", Batch{Vectors: []float32{1, 2, 3, 4}, Meta: []json.RawMessage{json.RawMessage(`[1]`)}}, "not a JSON object"},
	}
	for _, tc := range tests {
		if err := x.Add(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	if x.Len() != 0 {
		t.Fatalf("a bad batch added %d vectors", x.Len())
	}
	x.Add(Batch{Vectors: []float32{1, 2, 3, 4, 4, 3, 2, 1}})
	if _, err := x.Search([]float32{1, 2, 3}, 1, nil); !errors.Is(err, ErrDim) {
		t.Errorf("query dimension: %v", err)
	}
	if _, err := x.Search([]float32{1, 2, 3, 4}, 3, nil); !errors.Is(err, ErrKTooLarge) {
		t.Errorf("k > size: %v", err)
	}
	if _, err := x.Search([]float32{1, nan, 3, 4}, 1, nil); err == nil || !strings.Contains(err.Error(), "query 0 has NaN") {
		t.Errorf("NaN query: %v", err)
	}
}

func TestConcurrentAddSearch(t *testing.T) {
	const d = 8
	n := 1200
	if raceEnabled {
		n = 400
	}
	base := clusteredData(n, d, 10)
	x := build(t, testOptions(Options{Dim: d, Metric: L2, M: 8, EfConstruction: 40, Threads: 2}), base[:100*d])
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			q := randomData(1, d, int64(w))
			for i := 0; i < 200; i++ {
				res, err := x.Search(q, 5, &SearchOptions{Ef: 20})
				if err != nil || len(res) != 5 {
					t.Errorf("search during add: %v %v", res, err)
					return
				}
				if i%50 == 0 {
					x.Delete(uint64(i))
				}
			}
		}(w)
	}
	for lo := 100; lo < n; lo += 100 {
		if err := x.Add(Batch{Vectors: base[lo*d : (lo+100)*d]}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := x.CheckIntegrity(); err != nil {
		t.Fatal(err)
	}
	if x.Stats().Count+x.Stats().Deleted != n {
		t.Fatalf("count %d + deleted %d != %d", x.Stats().Count, x.Stats().Deleted, n)
	}
}

func TestCorruptFile(t *testing.T) {
	x := build(t, testOptions(Options{Dim: 4, Metric: L2}), randomData(50, 4, 11))
	dir := t.TempDir()
	if err := x.Save(dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	good, _ := os.ReadFile(path)
	for _, tc := range []struct {
		name string
		mut  func([]byte) []byte
		want string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }, "truncated"},
		{"empty", func(b []byte) []byte { return nil }, "truncated"},
		{"magic", func(b []byte) []byte { b[0] = 'X'; return b }, "not a loupe index"},
		{"version", func(b []byte) []byte { b[8] = 9; return b }, "version 9"},
		{"header", func(b []byte) []byte { b[70]++; return b }, "header checksum"},
		{"vectors", func(b []byte) []byte { b[len(b)-1]++; return b }, "checksum mismatch"},
	} {
		b := tc.mut(append([]byte(nil), good...))
		os.WriteFile(path, b, 0o644)
		_, err := Open(dir, OpenOptions{Verify: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A link past the last element (found by FuzzOpen) opens, since opening does
// not read the graph, and searches skip it; Verify and the first Add reject it.
func TestOpenBadLink(t *testing.T) {
	x := build(t, testOptions(Options{Dim: 3, Metric: L2, M: 2}), randomData(12, 3, 12))
	lk := x.algo.(*hnsw).links(4, 0)
	lk[0], lk[1] = 1, 1000
	dir := t.TempDir()
	if err := x.Save(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, OpenOptions{Verify: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with Verify: %v, want ErrCorrupt", err)
	}
	y, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if _, err := y.Search([]float32{1, 2, 3}, 3, nil); err != nil {
		t.Fatal(err)
	}
	if err := y.Verify(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Verify: %v, want ErrCorrupt", err)
	}
	if err := y.Add(Batch{Vectors: []float32{1, 2, 3}}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "links to 1000") {
		t.Fatalf("Add: %v, want ErrCorrupt naming the link", err)
	}
}

func FuzzOpen(f *testing.F) {
	for _, kind := range []Kind{HNSW, Forest, Flat} {
		x := build(f, testOptions(Options{Kind: kind, Dim: 3, Metric: L2, M: 2, LeafSize: 2, NTrees: 2}), randomData(12, 3, 12))
		x.Delete(4)
		dir := f.TempDir()
		if err := x.Save(dir); err != nil {
			f.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, FileName))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := openBytes(append([]byte(nil), b...), false)
		if err != nil {
			return
		}
		x.Stats()
		x.CheckIntegrity()
		if x.Len() > 0 {
			x.Search([]float32{0.5, -1, 2}, 1, &SearchOptions{Ef: 5})
			x.Search([]float32{0.5, -1, 2}, 1, &SearchOptions{Allow: []uint64{1, 2, 3}})
		}
		x.Metadata(1)
		x.Verify()
		// Whatever opened must also survive changes: an insert (links read
		// from the file are followed and rewritten), a replacement of an
		// existing id (re-linking), deletes, and searches after them.
		if x.Dim() != 3 {
			return
		}
		q := []float32{0.5, -1, 2}
		if err := x.Add(Batch{Vectors: []float32{1, 2, 3}}); err != nil {
			return
		}
		if ids := x.IDs(); len(ids) > 0 {
			x.Add(Batch{Vectors: []float32{-1, 0.5, 2}, IDs: ids[:1]})
			x.Delete(ids[len(ids)-1])
		}
		x.Add(Batch{Vectors: []float32{3, 1, -2, 0, 1, 1}})
		if x.Len() > 0 {
			x.Search(q, 1, &SearchOptions{Ef: 5})
			x.Search(q, min(3, x.Len()), nil)
		}
		x.CheckIntegrity()
	})
}

// TestZeroVectorCosine checks that a zero vector is accepted under cosine
// and is at distance 1 from every query, as in hnswlib.
func TestZeroVectorCosine(t *testing.T) {
	for _, kind := range []Kind{Flat, HNSW} {
		o := DefaultOptions()
		o.Kind, o.Metric, o.Dim = kind, Cosine, 2
		x, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Add(Batch{Vectors: []float32{0, 0, 1, 0}, IDs: []uint64{7, 8}}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		res, err := x.Search([]float32{0, 1}, 2, nil)
		if err != nil || len(res) != 2 {
			t.Fatalf("%s: %v, %v", kind, res, err)
		}
		for _, r := range res {
			if r.Distance != 1 {
				t.Errorf("%s: id %d at distance %v, want 1", kind, r.ID, r.Distance)
			}
		}
	}
}
