package search

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
)

// textStore returns a store of texts (document i has vector id i and the
// metadata metas[i] if given) with 2-dimensional vectors and no embedding
// model: enough for BM25, which never loads one.
func textStore(t testing.TB, texts []string, metas []map[string]any) *Store {
	t.Helper()
	x, err := index.New(testIndexOptions(index.Options{Kind: index.Flat, Dim: 2}))
	if err != nil {
		t.Fatal(err)
	}
	b := index.Batch{}
	for i, text := range texts {
		m := map[string]any{"text": text}
		if metas != nil {
			for k, v := range metas[i] {
				m[k] = v
			}
		}
		raw, _ := json.Marshal(m)
		b.Meta = append(b.Meta, raw)
		b.Vectors = append(b.Vectors, float32(i+1), 1)
	}
	if err := x.Add(b); err != nil {
		t.Fatal(err)
	}
	s := &Store{x: x}
	t.Cleanup(func() { s.Close() })
	return s
}

type bm25Golden struct {
	Docs      []string   `json:"docs"`
	DocTokens [][]string `json:"doc_tokens"`
	Results   []struct {
		K1, B  float64
		Query  string
		Tokens []string
		Hits   [][2]float64
	} `json:"results"`
}

// TestBM25Golden checks every BM25 score and ranking against
// testdata/bm25_golden.json, written by testdata/bm25_ref.py (the formula
// in plain Python). Regenerate with
//
//	/usr/bin/python3 search/testdata/bm25_ref.py > search/testdata/bm25_golden.json
func TestBM25Golden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "bm25_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g bm25Golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	for i, d := range g.Docs {
		if got := LexicalTokens(d); !slices.Equal(got, g.DocTokens[i]) {
			t.Errorf("LexicalTokens(%q) = %q, want %q", d, got, g.DocTokens[i])
		}
	}
	s := textStore(t, g.Docs, nil)
	lx, err := s.lexicon()
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for _, r := range g.Results {
		if got := LexicalTokens(r.Query); !slices.Equal(got, r.Tokens) && len(r.Tokens) > 0 {
			t.Errorf("LexicalTokens(%q) = %q, want %q", r.Query, got, r.Tokens)
		}
		name := func() string { return strings.Join([]string{r.Query, "k1", ftoa(r.K1), "b", ftoa(r.B)}, " ") }
		// Exact scores, from the lexicon.
		got := lx.search(r.Query, len(g.Docs), r.K1, r.B, nil, nil)
		if len(got) != len(r.Hits) {
			t.Errorf("%s: %d hits, want %d", name(), len(got), len(r.Hits))
			continue
		}
		for i, h := range got {
			want := r.Hits[i]
			if lx.ids[h.row] != uint64(want[0]) {
				t.Errorf("%s: rank %d is document %d, want %d", name(), i+1, lx.ids[h.row], int(want[0]))
			}
			d := math.Abs(h.score - want[1])
			worst = max(worst, d)
			if d > 1e-6 {
				t.Errorf("%s: document %d scores %.9g, want %.9g", name(), lx.ids[h.row], h.score, want[1])
			}
		}
		// The same through Store.Search, top 5.
		hits, err := s.Search(context.Background(), r.Query, SearchOptions{K: 5, Mode: ModeBM25, K1: new(r.K1), B: new(r.B)})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) != min(5, len(r.Hits)) {
			t.Errorf("%s: Search gave %d hits", name(), len(hits))
			continue
		}
		for i, h := range hits {
			want := r.Hits[i]
			if h.ID != uint64(want[0]) || h.Rank != i+1 || math.Abs(float64(h.Score)-want[1]) > 1e-5*want[1] || h.Distance != 0 || h.Text != g.Docs[h.ID] || h.Dense != nil || h.BM25 != nil {
				t.Errorf("%s: hit %d = %+v, want document %d score %g", name(), i, h, int(want[0]), want[1])
			}
		}
	}
	t.Logf("largest score difference from the reference: %.3g", worst)
}

func ftoa(f float64) string { b, _ := json.Marshal(f); return string(b) }

func TestLexicalTokens(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  ,;: ", nil},
		{"The LORD's", []string{"the", "lord", "s"}},
		{"Ge1:1 In", []string{"ge1", "1", "in"}},
		{"café-au-lait", []string{"café", "au", "lait"}},
		{"e\u0301t\u00e9", []string{"e", "t\u00e9"}}, // a combining mark separates
		{"ΣΟΦΙΑ σοφία", []string{"σοφια", "σοφία"}},
		{"日本語のテキスト", []string{"日本語のテキスト"}},
		{"٣٤ and ３４", []string{"٣٤", "and", "３４"}},
		{"under_score x²", []string{"under", "score", "x"}},
	} {
		if got := LexicalTokens(c.in); !slices.Equal(got, c.want) {
			t.Errorf("LexicalTokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzLexicalTokens: tokens are non-empty, lower-cased runs of letters and
// digits, found in order in the lower-cased text, and BM25 searches of any
// text return well-formed results.
func FuzzLexicalTokens(f *testing.F) {
	for _, s := range []string{"", "The LORD's house", "café CAFÉ", "日本語 x1 ３", "\xff\xfe", "a  b\tc\n", "ǅ ǈ İ ẞ"} {
		f.Add(s)
	}
	docs := []string{"the light of the world", "light light", "café", "日本語", "x1 x2", ""}
	s := textStore(f, docs, nil)
	f.Fuzz(func(t *testing.T, text string) {
		lower := strings.ToLower(text)
		rest := lower
		for _, tok := range LexicalTokens(text) {
			if tok == "" {
				t.Fatalf("empty token from %q", text)
			}
			for _, r := range tok {
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					t.Fatalf("token %q of %q holds %q", tok, text, r)
				}
			}
			i := strings.Index(rest, tok)
			if i < 0 {
				t.Fatalf("token %q not found in order in %q", tok, lower)
			}
			rest = rest[i+len(tok):]
		}
		if !utf8.ValidString(text) {
			return
		}
		hits, err := s.Search(context.Background(), text, SearchOptions{K: 3, Mode: ModeBM25})
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range hits {
			if h.Rank != i+1 || !(h.Score > 0) || i > 0 && h.Score > hits[i-1].Score {
				t.Fatalf("%q: hits %+v", text, hits)
			}
		}
	})
}

// TestBM25FilterDeleteConcurrent: filters apply, deleted documents are
// neither found nor counted (N, df, avgdl are those of the live
// documents), Add drops the inverted index, and concurrent first searches
// build it once.
func TestBM25FilterDeleteConcurrent(t *testing.T) {
	texts := []string{"apple banana", "apple", "banana cherry", "apple apple cherry", "durian"}
	metas := []map[string]any{{"lang": "en"}, {"lang": "fr"}, {"lang": "en"}, {"lang": "fr"}, {"lang": "en"}}
	s := textStore(t, texts, metas)
	ctx := context.Background()
	var wg sync.WaitGroup
	lexicons := make([]*lexicon, 8)
	for i := range lexicons {
		wg.Go(func() {
			if _, err := s.Search(ctx, "apple", SearchOptions{K: 2, Mode: ModeBM25}); err != nil {
				t.Error(err)
			}
			lexicons[i], _ = s.lexicon()
		})
	}
	wg.Wait()
	for _, lx := range lexicons {
		if lx != lexicons[0] {
			t.Fatal("concurrent searches built more than one inverted index")
		}
	}
	ids := func(hits []Hit) []uint64 {
		var out []uint64
		for _, h := range hits {
			out = append(out, h.ID)
		}
		return out
	}
	bm := SearchOptions{K: 10, Mode: ModeBM25}
	hits, _ := s.Search(ctx, "apple", bm)
	// "apple" alone (1 token) outranks "apple apple cherry" (3 tokens,
	// avgdl 1.8) under the default b.
	if got := ids(hits); !slices.Equal(got, []uint64{1, 3, 0}) {
		t.Errorf("apple: %v", got)
	}
	fr := bm
	fr.Filter = []Condition{{"lang", "fr"}}
	hits, _ = s.Search(ctx, "apple cherry", fr)
	if got := ids(hits); !slices.Equal(got, []uint64{3, 1}) {
		t.Errorf("apple cherry, lang=fr: %v", got)
	}
	// K smaller than the matches and the best document (3) filtered out:
	// the best matching one, "banana cherry" (cherry is rarer than apple).
	fr.K = 1
	fr.Filter = []Condition{{"lang", "en"}}
	if hits, _ = s.Search(ctx, "apple cherry", fr); !slices.Equal(ids(hits), []uint64{2}) {
		t.Errorf("apple cherry, lang=en, k=1: %v", ids(hits))
	}
	before, _ := s.lexicon()
	if err := s.Delete(3); err != nil {
		t.Fatal(err)
	}
	hits, _ = s.Search(ctx, "apple", bm)
	if got := ids(hits); !slices.Equal(got, []uint64{1, 0}) {
		t.Errorf("apple after deleting 3: %v", got)
	}
	after, _ := s.lexicon()
	if after == before || len(after.ids) != 4 {
		t.Fatalf("the inverted index was not rebuilt after Delete (%d documents)", len(after.ids))
	}
	// Scores after the delete are those of a store that never held it.
	fresh := textStore(t, []string{"apple banana", "apple", "banana cherry", "durian"}, nil)
	want, _ := fresh.Search(ctx, "apple banana cherry", bm)
	got, _ := s.Search(ctx, "apple banana cherry", bm)
	if len(got) != len(want) {
		t.Fatalf("%v vs %v", got, want)
	}
	for i := range got {
		if got[i].Score != want[i].Score || got[i].Text != want[i].Text {
			t.Errorf("hit %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// No term known, and an index without texts.
	if hits, err := s.Search(ctx, "zebra", bm); err != nil || len(hits) != 0 {
		t.Errorf("unknown term: %v, %v", hits, err)
	}
	x, _ := index.New(testIndexOptions(index.Options{Kind: index.Flat, Dim: 2}))
	x.Add(index.Batch{Vectors: []float32{1, 2}})
	bare := &Store{x: x}
	defer bare.Close()
	if _, err := bare.Search(ctx, "apple", bm); !errors.Is(err, ErrNoText) {
		t.Errorf("index without texts: %v", err)
	}
}

func TestSearchOptionsValidate(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		o     SearchOptions
		field string // "" for valid
	}{
		{SearchOptions{K: 1}, ""},
		{SearchOptions{K: 1, Mode: ModeBM25, K1: f(0), B: f(0)}, ""},
		{SearchOptions{K: 1, Mode: ModeHybrid, Fusion: FusionWeighted, Alpha: f(1), Candidates: 5}, ""},
		{SearchOptions{K: 1, Mode: ModeHybrid, RRFK: 1}, ""},
		{SearchOptions{K: 1, Mode: "sparse"}, "Mode"},
		{SearchOptions{K: 1, K1: f(1)}, "K1"},
		{SearchOptions{K: 1, Mode: ModeDense, B: f(0.5)}, "B"},
		{SearchOptions{K: 1, Mode: ModeBM25, K1: f(-1)}, "K1"},
		{SearchOptions{K: 1, Mode: ModeBM25, K1: f(math.Inf(1))}, "K1"},
		{SearchOptions{K: 1, Mode: ModeBM25, B: f(1.5)}, "B"},
		{SearchOptions{K: 1, Mode: ModeBM25, B: f(math.NaN())}, "B"},
		{SearchOptions{K: 1, Mode: ModeBM25, Fusion: FusionRRF}, "Fusion"},
		{SearchOptions{K: 1, Mode: ModeHybrid, Fusion: "max"}, "Fusion"},
		{SearchOptions{K: 1, Mode: ModeHybrid, Alpha: f(0.5)}, "Alpha"},
		{SearchOptions{K: 1, Mode: ModeHybrid, Fusion: FusionWeighted, Alpha: f(-0.1)}, "Alpha"},
		{SearchOptions{K: 1, Mode: ModeHybrid, RRFK: -1}, "RRFK"},
		{SearchOptions{K: 1, Mode: ModeHybrid, Fusion: FusionWeighted, RRFK: 10}, "RRFK"},
		{SearchOptions{K: 1, Mode: ModeHybrid, Candidates: -1}, "Candidates"},
		{SearchOptions{K: 1, Mode: ModeBM25, Candidates: 10}, "Candidates"},
	} {
		err := c.o.Validate()
		var oe *OptionError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%+v: %v", c.o, err)
		case c.field != "" && (!errors.As(err, &oe) || oe.Field != c.field):
			t.Errorf("%+v: %v, want an OptionError for %s", c.o, err, c.field)
		}
	}
}

// BenchmarkBM25 ranks the held-in KJV verses (defaults/kjv/verses.jsonl.gz)
// by BM25 for the first halves of held-out verses, one question per
// iteration, top 10; BenchmarkBM25Build builds the inverted index.
func BenchmarkBM25(b *testing.B) {
	s, questions := kjvStore(b)
	lx, err := s.lexicon()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		lx.search(questions[i%len(questions)], 10, DefaultK1, DefaultB, nil, nil)
	}
}

func BenchmarkBM25Build(b *testing.B) {
	s, _ := kjvStore(b)
	b.ReportAllocs()
	for b.Loop() {
		buildLexicon(s.x)
	}
}

func kjvStore(b *testing.B) (*Store, []string) {
	read := func(name string) []string {
		recs, err := embed.ReadRecordsFile(filepath.Join("..", "defaults", "kjv", name), embed.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		return embed.Texts(recs)
	}
	docs := read("verses.jsonl.gz")
	var questions []string
	for _, v := range read("heldout-verses.jsonl.gz") {
		w := strings.Fields(v)
		questions = append(questions, strings.Join(w[:len(w)/2], " "))
	}
	return textStore(b, docs, nil), questions
}

// TestLexicalStatsSum: two stores holding halves of a collection, each
// scoring with the summed statistics of both, give every document the
// score (bit for bit) that one store of the whole collection gives it.
func TestLexicalStatsSum(t *testing.T) {
	texts := []string{"the cat sat on the mat", "a dog and a cat", "the dog barked at the mailman all day long",
		"cats and dogs", "a mat of grass", "the the the cat", "nothing here matches", "mat mat cat dog"}
	build := func(ids []int) *Store {
		x, err := index.New(index.Options{Kind: index.Flat, Metric: index.Cosine, Dim: 2, M: 16, EfConstruction: 200, Ef: 10, NTrees: 10, LeafSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		var b index.Batch
		for _, i := range ids {
			meta, _ := DocumentMeta(Document{Text: texts[i]})
			b.IDs, b.Vectors, b.Meta = append(b.IDs, uint64(i)), append(b.Vectors, 1, float32(i)), append(b.Meta, meta)
		}
		if err := x.Add(b); err != nil {
			t.Fatal(err)
		}
		return &Store{x: x}
	}
	whole, a, b := build([]int{0, 1, 2, 3, 4, 5, 6, 7}), build([]int{0, 2, 4, 6}), build([]int{1, 3, 5, 7})
	for _, q := range []string{"cat", "the cat on the mat", "dog dog", "mailman"} {
		sa, err := a.LexicalStats([]string{q})
		if err != nil {
			t.Fatal(err)
		}
		sb, _ := b.LexicalStats([]string{q})
		sum := LexicalStats{}
		sum.Add(sa)
		sum.Add(sb)
		opts := SearchOptions{K: 8, Mode: ModeBM25}
		want, err := whole.Search(context.Background(), q, opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.Stats = &sum
		got := map[uint64]float64{}
		for _, s := range []*Store{a, b} {
			hits, err := s.Search(context.Background(), q, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hits {
				got[h.ID] = h.ExactScore()
			}
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d hits over the halves, %d in the whole", q, len(got), len(want))
		}
		for _, h := range want {
			if got[h.ID] != h.ExactScore() {
				t.Errorf("%q: document %d scores %v over the halves, %v in the whole", q, h.ID, got[h.ID], h.ExactScore())
			}
		}
		// Without the sums the halves score differently.
		if q == "the cat on the mat" {
			own, _ := a.Search(context.Background(), q, SearchOptions{K: 8, Mode: ModeBM25})
			if len(own) > 0 && own[0].ExactScore() == got[own[0].ID] {
				t.Errorf("%q: the half's own statistics give the same score as the sums", q)
			}
		}
	}
}
