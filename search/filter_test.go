package search

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/index"
)

// decodeEachVisit is the filter loupe search used before this package: it
// decodes the candidate's JSON metadata on every visit. It is the oracle
// the compiled filter must agree with, and the baseline of the benchmark.
func decodeEachVisit(conds []Condition) func(uint64, json.RawMessage) bool {
	return func(_ uint64, meta json.RawMessage) bool {
		if meta == nil {
			return false
		}
		var m map[string]any
		if json.Unmarshal(meta, &m) != nil {
			return false
		}
		for _, c := range conds {
			v, ok := m[c.Key]
			if !ok {
				return false
			}
			s, isStr := v.(string)
			if !isStr {
				b, _ := json.Marshal(v)
				s = string(b)
			}
			if s != c.Value {
				return false
			}
		}
		return true
	}
}

// metaIndex returns a flat 2-d index holding one vector per metadata
// object (nil for none) with ids ids (nil: 0, 1, …).
func metaIndex(t testing.TB, metas []string, ids []uint64) *index.Index {
	t.Helper()
	x, err := index.New(testIndexOptions(index.Options{Kind: index.Flat, Metric: index.L2, Dim: 2}))
	if err != nil {
		t.Fatal(err)
	}
	b := index.Batch{IDs: ids, Meta: make([]json.RawMessage, len(metas))}
	for i, m := range metas {
		b.Vectors = append(b.Vectors, float32(i), 1)
		if m != "" {
			b.Meta[i] = json.RawMessage(m)
		}
	}
	if err := x.Add(b); err != nil {
		t.Fatal(err)
	}
	return x
}

var filterMetas = []string{
	`{"lang": "en", "n": 3, "ok": true, "tags": ["a", "b"], "text": "x"}`,
	`{"lang": "fr", "n": 3.0, "ok": false, "nested": {"b": 1, "a": 2}}`,
	`{"lang": "en", "n": 1e3, "v": null, "empty": ""}`,
	``,
	`{"lang": "en=fr", "n": -0.5, "uni": "caf\u00e9"}`,
	`{}`,
}

func TestFilterAgreesWithDecoding(t *testing.T) {
	for _, ids := range [][]uint64{nil, {5, 9000000, 7, 1 << 40, 2, 3}} {
		x := metaIndex(t, filterMetas, ids)
		all := x.IDs()
		for _, cs := range []string{
			"lang=en", "lang=fr", "lang=de", "n=3", "n=1000", "n=-0.5", "ok=true", "ok=false", "v=null",
			`tags=["a","b"]`, `nested={"a":2,"b":1}`, "empty=", "lang=en=fr", "uni=café", "missing=x", "text=x",
			"lang=en;n=3", "lang=en;n=1000", "lang=en;lang=fr",
		} {
			var conds []Condition
			for _, s := range strings.Split(cs, ";") {
				c, err := ParseCondition(s)
				if err != nil {
					t.Fatal(err)
				}
				conds = append(conds, c)
			}
			f := CompileFilter(x, conds)
			want := decodeEachVisit(conds)
			n := 0
			for _, id := range all {
				m, _ := x.Metadata(id)
				if got := f.Match(id, m); got != want(id, m) {
					t.Errorf("ids %v, %s: id %d (%s): compiled %v, decoding %v", ids != nil, cs, id, m, got, !got)
				}
				if f.Match(id, m) {
					n++
				}
			}
			if f.Match(123456, nil) {
				t.Errorf("%s: an id not in the index matched", cs)
			}
			if cs == "lang=en" && n != 2 {
				t.Errorf("lang=en matched %d documents, want 2", n)
			}
		}
	}
}

func TestParseCondition(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Condition
		ok   bool
	}{
		{"lang=en", Condition{"lang", "en"}, true},
		{"a==b", Condition{"a", "=b"}, true},
		{"k=", Condition{"k", ""}, true},
		{"=v", Condition{}, false},
		{"nokey", Condition{}, false},
		{"", Condition{}, false},
	} {
		c, err := ParseCondition(tc.in)
		if (err == nil) != tc.ok || c != tc.want {
			t.Errorf("%q: %+v, %v", tc.in, c, err)
		}
		var oe *OptionError
		if err != nil && (!asOptionError(err, &oe) || oe.Field != "Filter") {
			t.Errorf("%q: error %v is not an OptionError for Filter", tc.in, err)
		}
	}
}

func asOptionError(err error, oe **OptionError) bool {
	e, ok := err.(*OptionError)
	*oe = e
	return ok
}

// FuzzFilter: for any condition and metadata, parsing never panics and the
// compiled filter agrees with decoding the metadata.
func FuzzFilter(f *testing.F) {
	f.Add("lang=en", `{"lang": "en"}`)
	f.Add("n=3", `{"n": 3.0}`)
	f.Add(`t=["a"]`, `{"t": ["a"]}`)
	f.Add("v=null", `{"v": null}`)
	f.Add("k=", `{"k": ""}`)
	f.Add("=x", `{"": "x"}`)
	f.Add("x", `not json`)
	f.Fuzz(func(t *testing.T, cond, meta string) {
		c, err := ParseCondition(cond)
		if err != nil {
			return
		}
		var obj map[string]any
		if json.Unmarshal([]byte(meta), &obj) != nil || obj == nil {
			meta = ""
		}
		x := metaIndex(t, []string{meta, `{"other": 1}`}, nil)
		f := CompileFilter(x, []Condition{c})
		want := decodeEachVisit([]Condition{c})
		for _, id := range []uint64{0, 1} {
			m, _ := x.Metadata(id)
			if got := f.Match(id, m); got != want(id, m) {
				t.Fatalf("%q over %s: compiled %v, decoding %v", cond, m, got, !got)
			}
		}
	})
}

// benchIndex holds n documents with a text of about 200 bytes, a language
// (a third "fr") and a number, like the metadata index build --input
// writes.
func benchIndex(b *testing.B, n int) *index.Index {
	r := rand.New(rand.NewPCG(1, 2))
	x, err := index.New(testIndexOptions(index.Options{Kind: index.Flat, Metric: index.Cosine, Dim: 32}))
	if err != nil {
		b.Fatal(err)
	}
	batch := index.Batch{Meta: make([]json.RawMessage, n)}
	words := strings.Fields("the cat sat on a mat while a quick brown fox ran past a lazy dog near the river bank at dusk")
	for i := range n {
		for range 32 {
			batch.Vectors = append(batch.Vectors, r.Float32()-0.5)
		}
		var sb strings.Builder
		for sb.Len() < 200 {
			sb.WriteString(words[r.IntN(len(words))] + " ")
		}
		lang := "en"
		if i%3 == 0 {
			lang = "fr"
		}
		batch.Meta[i], _ = json.Marshal(map[string]any{"text": sb.String(), "lang": lang, "n": i, "source": fmt.Sprintf("doc-%d.txt", i)})
	}
	if err := x.Add(batch); err != nil {
		b.Fatal(err)
	}
	return x
}

// BenchmarkFilterVisit is the cost of the filter per visited candidate:
// decoding the candidate's metadata (before) against the compiled filter.
func BenchmarkFilterVisit(b *testing.B) {
	const n = 10000
	x := benchIndex(b, n)
	conds := []Condition{{"lang", "fr"}}
	metas := make([]json.RawMessage, n)
	for i := range n {
		metas[i], _ = x.Metadata(uint64(i))
	}
	for _, bc := range []struct {
		name string
		f    func(uint64, json.RawMessage) bool
	}{
		{"decode-each-visit", decodeEachVisit(conds)},
		{"compiled-warm", CompileFilter(x, conds).Match},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			hits := 0
			for i := range b.N {
				id := uint64(i % n)
				if bc.f(id, metas[id]) {
					hits++
				}
			}
			if hits == 0 {
				b.Fatal("no hits")
			}
		})
	}
	// The first visit of each document decodes it once.
	b.Run("compiled-first-visit", func(b *testing.B) {
		b.ReportAllocs()
		var f *Filter
		for i := range b.N {
			id := uint64(i % n)
			if id == 0 {
				b.StopTimer()
				f = CompileFilter(x, conds)
				b.StartTimer()
			}
			f.Match(id, metas[id])
		}
	})
}

// BenchmarkFilteredSearch is one filtered HNSW query (k 10) over 10,000
// documents, a third of them allowed.
func BenchmarkFilteredSearch(b *testing.B) {
	const n = 10000
	x := benchIndex(b, n)
	hx, err := index.New(testIndexOptions(index.Options{Kind: index.HNSW, Metric: index.Cosine, Dim: 32}))
	if err != nil {
		b.Fatal(err)
	}
	batch := index.Batch{}
	for i := range n {
		v, _ := x.Vector(uint64(i))
		m, _ := x.Metadata(uint64(i))
		batch.Vectors = append(batch.Vectors, v...)
		batch.Meta = append(batch.Meta, m)
	}
	if err := hx.Add(batch); err != nil {
		b.Fatal(err)
	}
	conds := []Condition{{"lang", "fr"}}
	q, _ := hx.Vector(17)
	warm := CompileFilter(hx, conds)
	for _, bc := range []struct {
		name string
		f    func() func(uint64, json.RawMessage) bool
	}{
		{"decode-each-visit", func() func(uint64, json.RawMessage) bool { return decodeEachVisit(conds) }},
		// A filter compiled for this query alone (loupe index query, or the
		// first search of a store): each visited document decoded once.
		{"compiled-cold", func() func(uint64, json.RawMessage) bool { return CompileFilter(hx, conds).Match }},
		// Later searches of a store reuse the decoded columns.
		{"compiled-warm", func() func(uint64, json.RawMessage) bool { return warm.Match }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := hx.Search(q, 10, &index.SearchOptions{Ef: 64, Filter: bc.f()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFilterConcurrent: a cold filter used by SearchBatch's goroutines
// decodes each document once and gives the oracle's results (run with
// -race).
func TestFilterConcurrent(t *testing.T) {
	var metas []string
	for i := range 500 {
		metas = append(metas, fmt.Sprintf(`{"lang": %q, "n": %d}`, []string{"en", "fr", "de"}[i%3], i%7))
	}
	x := metaIndex(t, metas, nil)
	conds := []Condition{{"lang", "fr"}, {"n", "3"}}
	var qs []float32
	for i := range 64 {
		qs = append(qs, float32(i*7), 1)
	}
	want, err := x.SearchBatch(qs, 64, 5, &index.SearchOptions{Threads: 1, Filter: decodeEachVisit(conds)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := x.SearchBatch(qs, 64, 5, &index.SearchOptions{Threads: 4, Filter: CompileFilter(x, conds).Match})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) || len(got[i]) == 0 {
			t.Fatalf("query %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// testIndexOptions fills the zero fields of o (but Dim) from
// index.DefaultOptions.
func testIndexOptions(o index.Options) index.Options {
	d := index.DefaultOptions()
	d.Dim, d.Model, d.Threads = o.Dim, o.Model, o.Threads
	if o.Kind != "" {
		d.Kind = o.Kind
	}
	if o.Metric != "" {
		d.Metric = o.Metric
	}
	return d
}
