package word2vec

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// golden is testdata/golden.json, written by testdata/gen_golden.py with
// gensim from the same vectors.
type golden struct {
	MostSimilar         []goldenQuery `json:"most_similar"`
	MostSimilarRestrict []goldenQuery `json:"most_similar_restrict"`
	MostSimilarCosmul   []goldenQuery `json:"most_similar_cosmul"`
	Similarity          []struct {
		A, B   string
		Result float64
	} `json:"similarity"`
	DoesntMatch []struct {
		Words  []string
		Result string
	} `json:"doesnt_match"`
	Analogies []struct {
		Restrict        int     `json:"restrict"`
		CaseInsensitive bool    `json:"case_insensitive"`
		Score           float64 `json:"score"`
		Sections        []struct {
			Section            string
			Correct, Incorrect int
		} `json:"sections"`
	} `json:"analogies"`
	Pairs struct {
		Pearson, Spearman float64
		OOVRatio          float64 `json:"oov_ratio"`
	} `json:"pairs"`
}

type goldenQuery struct {
	Positive []string `json:"positive"`
	Negative []string `json:"negative"`
	TopN     int      `json:"topn"`
	Restrict int      `json:"restrict"`
	Result   [][2]any `json:"result"`
}

func loadGolden(t *testing.T) (*Vectors, *golden) {
	t.Helper()
	v, err := Load("testdata/vectors.txt", FormatText, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return v, &g
}

func checkNeighbors(t *testing.T, name string, got []Neighbor, want [][2]any) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d", name, len(got), len(want))
	}
	for i, w := range want {
		ws, wf := w[0].(string), w[1].(float64)
		if got[i].Word != ws || math.Abs(got[i].Score-wf) > 2e-5 {
			t.Errorf("%s: result %d = %s %.6f, gensim %s %.6f", name, i, got[i].Word, got[i].Score, ws, wf)
		}
	}
}

func TestQueriesMatchGensim(t *testing.T) {
	v, g := loadGolden(t)
	for _, q := range g.MostSimilar {
		got, err := v.MostSimilar(q.Positive, q.Negative, QueryOptions{TopN: q.TopN})
		if err != nil {
			t.Fatal(err)
		}
		checkNeighbors(t, "most_similar "+strings.Join(q.Positive, "+")+"-"+strings.Join(q.Negative, "-"), got, q.Result)
	}
	for _, q := range g.MostSimilarRestrict {
		got, err := v.MostSimilar(q.Positive, q.Negative, QueryOptions{TopN: q.TopN, Restrict: q.Restrict})
		if err != nil {
			t.Fatal(err)
		}
		checkNeighbors(t, "most_similar restricted "+strings.Join(q.Positive, "+"), got, q.Result)
	}
	for _, q := range g.MostSimilarCosmul {
		got, err := v.MostSimilarCosmul(q.Positive, q.Negative, QueryOptions{TopN: q.TopN})
		if err != nil {
			t.Fatal(err)
		}
		checkNeighbors(t, "most_similar_cosmul "+strings.Join(q.Positive, "+")+"-"+strings.Join(q.Negative, "-"), got, q.Result)
	}
	for _, s := range g.Similarity {
		got, err := v.Similarity(s.A, s.B)
		if err != nil || math.Abs(got-s.Result) > 1e-5 {
			t.Errorf("similarity(%s, %s) = %v, %v; gensim %v", s.A, s.B, got, err, s.Result)
		}
	}
	for _, d := range g.DoesntMatch {
		got, err := v.DoesntMatch(d.Words)
		if err != nil || got != d.Result {
			t.Errorf("doesnt_match(%v) = %q, %v; gensim %q", d.Words, got, err, d.Result)
		}
	}
}

func TestEvaluateAnalogiesMatchesGensim(t *testing.T) {
	v, g := loadGolden(t)
	for _, a := range g.Analogies {
		res, err := v.EvaluateAnalogies("testdata/questions.txt", AnalogyOptions{Restrict: a.Restrict, CaseSensitive: !a.CaseInsensitive})
		if err != nil {
			t.Fatal(err)
		}
		secs := append(res.Sections, res.Total)
		if len(secs) != len(a.Sections) {
			t.Fatalf("restrict %d: %d sections, gensim %d", a.Restrict, len(secs), len(a.Sections))
		}
		for i, s := range a.Sections {
			if secs[i].Section != s.Section || secs[i].Correct != s.Correct || secs[i].Seen != s.Correct+s.Incorrect {
				t.Errorf("restrict %d case-insensitive %v: section %q correct %d seen %d; gensim %q %d of %d",
					a.Restrict, a.CaseInsensitive, secs[i].Section, secs[i].Correct, secs[i].Seen, s.Section, s.Correct, s.Correct+s.Incorrect)
			}
		}
		if math.Abs(res.Total.Accuracy-a.Score) > 1e-12 {
			t.Errorf("restrict %d: accuracy %v, gensim %v", a.Restrict, res.Total.Accuracy, a.Score)
		}
	}
}

func TestEvaluateWordPairsMatchesGensim(t *testing.T) {
	v, g := loadGolden(t)
	res, err := v.EvaluateWordPairs("testdata/pairs.tsv", DefaultPairsOptions())
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(res.Pearson-g.Pairs.Pearson) > 1e-5 || math.Abs(res.Spearman-g.Pairs.Spearman) > 1e-5 || math.Abs(res.OOVRatio-g.Pairs.OOVRatio) > 1e-9 {
		t.Errorf("got pearson %v spearman %v oov %v; gensim %v %v %v", res.Pearson, res.Spearman, res.OOVRatio, g.Pairs.Pearson, g.Pairs.Spearman, g.Pairs.OOVRatio)
	}
}

func TestUnknownWords(t *testing.T) {
	v, _ := loadGolden(t)
	_, err := v.MostSimilar([]string{"king", "qqq"}, []string{"zzz"}, DefaultQueryOptions())
	var uw *UnknownWordsError
	if !errors.As(err, &uw) || len(uw.Words) != 2 || uw.Words[0] != "qqq" || uw.Words[1] != "zzz" || !strings.Contains(err.Error(), `"qqq", "zzz"`) {
		t.Fatalf("error %v, want one naming qqq and zzz", err)
	}
	for name, fn := range map[string]func() error{
		"analogy":      func() error { _, err := v.Analogy("aaa1", "king", "bbb2", true, DefaultQueryOptions()); return err },
		"cosmul":       func() error { _, err := v.MostSimilarCosmul([]string{"aaa1"}, nil, DefaultQueryOptions()); return err },
		"similarity":   func() error { _, err := v.Similarity("king", "aaa1"); return err },
		"doesnt_match": func() error { _, err := v.DoesntMatch([]string{"king", "aaa1", "bbb2"}); return err },
	} {
		err := fn()
		if err == nil || !strings.Contains(err.Error(), "aaa1") {
			t.Errorf("%s: error %v, want one naming aaa1", name, err)
		}
	}
}

func TestTopK(t *testing.T) {
	scores := []float32{0.5, 0.9, float32(math.NaN()), 0.9, -1, 0.7}
	got := topK(scores, 3, map[int]bool{5: true})
	want := []int{1, 3, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("topK = %v, want %v", got, want)
		}
	}
	if r := ranks([]float64{3, 1, 3, 2}); r[0] != 3.5 || r[1] != 1 || r[2] != 3.5 || r[3] != 2 {
		t.Fatalf("ranks = %v", r)
	}
}

// TestEvaluateAnalogiesEmpty: a file without questions is an error, not
// "0 questions".
func TestEvaluateAnalogiesEmpty(t *testing.T) {
	v, err := Load("testdata/vectors.bin", FormatAuto, 100)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string]string{"empty.txt": "", "headers.txt": ": capital\n: family\n", "bad.txt": ": s\na b c\n"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(data), 0o644)
		_, err := v.EvaluateAnalogies(p, DefaultAnalogyOptions())
		if err == nil || !strings.Contains(err.Error(), "no analogy questions") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want \"no analogy questions\" naming the file", name, err)
		}
	}
}

// TestQueryOptionErrors: limits that mean nothing (TopN 0, a negative
// Restrict, an evaluation over no words) are *OptionErrors naming the
// field, not silently a default.
func TestQueryOptionErrors(t *testing.T) {
	v, err := Load("testdata/vectors.bin", FormatAuto, 100)
	if err != nil {
		t.Fatal(err)
	}
	q := func(topn, restrict int) QueryOptions { return QueryOptions{TopN: topn, Restrict: restrict} }
	for name, c := range map[string]struct {
		err   error
		field string
	}{
		"topn0":       {errOf(v.MostSimilar([]string{"king"}, nil, QueryOptions{})), "TopN"},
		"restrict":    {errOf(v.MostSimilar([]string{"king"}, nil, q(3, -1))), "Restrict"},
		"cosmul":      {errOf(v.MostSimilarCosmul([]string{"king"}, nil, q(-1, 0))), "TopN"},
		"analogy":     {errOf(v.Analogy("king", "man", "woman", false, q(0, 0))), "TopN"},
		"analogies":   {errOf(v.EvaluateAnalogies("testdata/questions.txt", AnalogyOptions{})), "Restrict"},
		"pairs":       {errOf(v.EvaluateWordPairs("testdata/pairs.tsv", PairsOptions{Restrict: 10})), "Delimiter"},
		"eval":        {errOf(v.Evaluate(EvalOptions{Pairs: "testdata/pairs.tsv"})), "Restrict"},
		"eval-nofile": {errOf(v.Evaluate(DefaultEvalOptions())), ""},
	} {
		var oe *OptionError
		switch {
		case c.err == nil:
			t.Errorf("%s: no error", name)
		case c.field == "" && errors.As(c.err, &oe):
			t.Errorf("%s: %v, want a plain error", name, c.err)
		case c.field != "" && (!errors.As(c.err, &oe) || oe.Field != c.field):
			t.Errorf("%s: %v, want an OptionError for %s", name, c.err, c.field)
		}
	}
	o := DefaultEvalOptions()
	o.Pairs = "testdata/pairs.tsv"
	res, err := v.Evaluate(o)
	if err != nil || res.Pairs == nil || res.Analogies != nil {
		t.Fatalf("Evaluate(pairs) = %+v, %v", res, err)
	}
}

func errOf[A any](_ A, err error) error { return err }
