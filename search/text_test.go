package search

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/index"
)

func TestVectorResultText(t *testing.T) {
	r := &VectorResult{Hits: [][]index.Result{{{ID: 4, Distance: 0.5}, {ID: 7, Distance: 1}}, {}}, Seconds: 0.5}
	var sb strings.Builder
	if err := r.WriteText(&sb); err != nil {
		t.Fatal(err)
	}
	if want := "query 0: 4 (0.5) 7 (1)\nquery 1:\n2 queries in 0.500s (4 queries/s)\n"; sb.String() != want {
		t.Errorf("WriteText = %q, want %q", sb.String(), want)
	}
	b, err := json.Marshal(r)
	if want := `{"distances":[[0.5,1],[]],"ids":[[4,7],[]],"seconds":0.5}`; err != nil || string(b) != want {
		t.Errorf("JSON = %s, %v; want %s", b, err, want)
	}
}

func TestResultText(t *testing.T) {
	r := &Result{Hits: [][]Hit{{{Rank: 1, ID: 3, Score: 0.25, Text: "a\n b"}, {Rank: 2, ID: 12, Score: 0.125, Metadata: json.RawMessage(`{"k":1}`)}}, nil}}
	var sb strings.Builder
	if err := r.WriteText(&sb, []string{"q1", "q2"}, index.L2); err != nil {
		t.Fatal(err)
	}
	want := "query: q1\n 1  l2² 0.2500  id 3       a b\n 2  l2² 0.1250  id 12      {\"k\":1}\n\nquery: q2\nno documents match\n"
	if sb.String() != want {
		t.Errorf("WriteText =\n%q\nwant\n%q", sb.String(), want)
	}
	sb.Reset()
	(&Result{Hits: r.Hits[:1]}).WriteText(&sb, []string{"q1"}, index.Cosine)
	if !strings.HasPrefix(sb.String(), " 1  score 0.2500") {
		t.Errorf("one question, cosine: %q", sb.String())
	}
}

func TestResultJSON(t *testing.T) {
	r := &Result{Hits: [][]Hit{{{Rank: 1, ID: 3, Score: 0.5, Text: "a<b"}}, nil}, EmbedSeconds: 1, SearchSeconds: 2}
	var sb strings.Builder
	if err := r.WriteJSON(&sb, []string{"q1", "q2"}, "m", index.Dot); err != nil {
		t.Fatal(err)
	}
	want := `{"embed_seconds":1,"metric":"dot","mode":"dense","model":"m","query":"q1","results":[{"rank":1,"id":3,"score":0.5,"distance":0,"text":"a<b"}],"search_seconds":2}` + "\n" +
		`{"embed_seconds":1,"metric":"dot","mode":"dense","model":"m","query":"q2","results":null,"search_seconds":2}` + "\n"
	if sb.String() != want {
		t.Errorf("WriteJSON =\n%s\nwant\n%s", sb.String(), want)
	}
}
