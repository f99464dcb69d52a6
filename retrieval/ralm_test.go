package retrieval

import (
	"context"
	"reflect"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/search"
)

// counting counts a Contexter's calls.
type counting struct {
	*RALM
	calls []int // the text length of each call
}

func (c *counting) Context(ctx context.Context, row int, text []int, budget int) ([]int, error) {
	c.calls = append(c.calls, len(text))
	return c.RALM.Context(ctx, row, text, budget)
}

// TestRALMGenerate runs the default GPT-2 with a RALM: the context is
// rebuilt every Stride tokens, and the first Stride tokens are those the
// model generates from the first context as a plain prompt.
func TestRALMGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the default GPT-2")
	}
	s, _, _ := buildStore(t, 16)
	ctx := context.Background()
	p, err := generate.Load(ctx, defaults.GPT2, generate.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	r, err := NewRALM(s, RALMOptions{Stride: 3, QueryTokens: 8})
	if err != nil {
		t.Fatal(err)
	}
	prompt := p.Tokenizer.Encode("And God said, Let there be")
	cx := &counting{RALM: r}
	opt := generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 10, IgnoreEOS: true, Context: cx}
	res, err := generate.Generate(ctx, p.Model, prompt, opt, p.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != 10 || !reflect.DeepEqual(res.PromptIDs, prompt) {
		t.Fatalf("result %+v", res)
	}
	if want := []int{len(prompt), len(prompt) + 3, len(prompt) + 6, len(prompt) + 9}; !reflect.DeepEqual(cx.calls, want) {
		t.Errorf("contexts asked for texts of %v tokens, want %v", cx.calls, want)
	}
	last, ok := r.Last(0)
	if !ok || len(last.Passages) != 1 || last.TextTokens != len(prompt)+9 {
		t.Errorf("last retrieval %+v", last)
	}
	first, err := r.Context(ctx, 0, prompt, p.Model.Config.NPositions-3)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := generate.Generate(ctx, p.Model, first, generate.Options{Sampling: generate.Sampling{Greedy: true}, MaxNewTokens: 3, IgnoreEOS: true}, p.Tokenizer)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(plain.IDs, res.IDs[:3]) {
		t.Errorf("first %d tokens %v, from the first context as a prompt %v", 3, res.IDs[:3], plain.IDs)
	}
}

func TestRALMContext(t *testing.T) {
	s, _, _ := buildStore(t, 16)
	tok := s.Tokenizer()
	ctx := context.Background()
	text := tok.Encode("And God saw the light, that it was good: and God divided the light from the darkness. The LORD is my shepherd; I shall not want.")
	sep := tok.Encode("\n")

	r, err := NewRALM(s, RALMOptions{QueryTokens: 12, MaxPassageTokens: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stride() != DefaultStride || r.Options().K != 1 || r.Options().Separator != "\n" {
		t.Fatalf("defaults %+v", r.Options())
	}
	// The query is the text of the last QueryTokens tokens; the passage the
	// nearest chunk's text and continuation.
	query := tok.Decode(text[len(text)-12:])
	best, err := s.Retrieve(ctx, query, 1, search.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	passage := tok.Encode(best[0].Text + best[0].Continuation)
	want := append(append(append([]int(nil), passage...), sep...), text...)

	got, err := r.Context(ctx, 0, text, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("context %q\nwant %q", tok.Decode(got), tok.Decode(want))
	}
	last, ok := r.Last(0)
	if !ok || last.Query != query || len(last.Passages) != 1 || last.Passages[0].ID != best[0].ID ||
		last.PassageTokens != len(passage)+len(sep) || last.TextTokens != len(text) || last.CutTokens != 0 || last.Cached {
		t.Errorf("last %+v", last)
	}
	if _, ok := r.Last(1); ok {
		t.Error("row 1 has a retrieval before any call")
	}

	P := len(passage) + len(sep)
	for _, tc := range []struct {
		name          string
		budget        int
		passage, kept int // passage tokens kept (without the separator), text tokens kept
	}{
		{"all fits exactly", P + len(text), len(passage), len(text)},
		{"older text cut from the left", P + 10, len(passage), 10},
		{"passage cut to keep the last Stride text tokens", P + 1, len(passage) - 3, 4},
		{"passage cut at its end", 4 + len(sep) + 5, 5, 4},
		{"no room for a passage: the text takes it", 4 + len(sep), 0, 4 + len(sep)},
		{"budget below the stride", 2, 0, 2},
		{"budget 1", 1, 0, 1},
	} {
		got, err := r.Context(ctx, 3, text, tc.budget)
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		if tc.passage > 0 {
			want = append(append(want, passage[:tc.passage]...), sep...)
		}
		want = append(want, text[len(text)-tc.kept:]...)
		if !reflect.DeepEqual(got, want) || len(got) > tc.budget {
			t.Errorf("%s (budget %d): context %q\nwant %q", tc.name, tc.budget, tok.Decode(got), tok.Decode(want))
		}
		last, _ := r.Last(3)
		wantP := 0
		if tc.passage > 0 {
			wantP = tc.passage + len(sep)
		}
		if last.PassageTokens != wantP || last.TextTokens != tc.kept || last.CutTokens != P-wantP || !last.Cached ||
			(len(last.Passages) == 1) != (tc.passage > 0) {
			t.Errorf("%s: last %+v", tc.name, last)
		}
	}
	// Rows keep their own record.
	if l0, _ := r.Last(0); l0.TextTokens != len(text) {
		t.Errorf("row 0 changed by row 3: %+v", l0)
	}
	// A short text is kept whole.
	short := text[:3]
	got, err = r.Context(ctx, 0, short, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got[len(got)-3:], short) || len(got) > 100 {
		t.Errorf("short text: %v", got)
	}
	r.Reset()
	if _, ok := r.Last(0); ok {
		t.Error("Reset kept row 0's record")
	}
	if _, err := r.Context(ctx, 0, nil, 10); err == nil {
		t.Error("empty text: no error")
	}
	if _, err := r.Context(ctx, 0, text, 0); err == nil {
		t.Error("budget 0: no error")
	}
}

func TestRALMPassages(t *testing.T) {
	s, _, _ := buildStore(t, 16)
	tok := s.Tokenizer()
	ctx := context.Background()
	text := tok.Encode("In the beginning was the Word, and the Word was with God")
	r, err := NewRALM(s, RALMOptions{K: 2, Stride: 2, QueryTokens: 64, Separator: "\n\n", MaxPassageTokens: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	hits, err := s.Retrieve(ctx, tok.Decode(text), 2, search.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sep := tok.Encode("\n\n")
	p1 := tok.Encode(hits[0].Text + hits[0].Continuation)
	p2 := tok.Encode(hits[1].Text + hits[1].Continuation)
	// The best passage last, next to the text.
	got, err := r.Context(ctx, 0, text, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append(append(append([]int(nil), p2...), sep...), p1...), sep...), text...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("context %q\nwant %q", tok.Decode(got), tok.Decode(want))
	}
	// With room for the best passage and a bit, the second is cut to the
	// bit and the text to its last Stride tokens; with room for the best
	// alone (and its separator), the second is left out.
	for _, extra := range []int{len(sep) + 3, len(sep)} {
		budget := len(p1) + len(sep) + extra + 2
		got, err = r.Context(ctx, 0, text, budget)
		if err != nil {
			t.Fatal(err)
		}
		want = nil
		keepText, cut := 2, len(p2)-(extra-len(sep))
		if extra > len(sep) {
			want = append(append(want, p2[:extra-len(sep)]...), sep...)
		} else { // no room for more than the separator: the text takes it
			keepText, cut = 2+extra, len(p2)+len(sep)
		}
		want = append(append(append(want, p1...), sep...), text[len(text)-keepText:]...)
		last, _ := r.Last(0)
		if !reflect.DeepEqual(got, want) || len(got) != budget || len(last.Passages) != map[bool]int{true: 2, false: 1}[extra > len(sep)] ||
			last.Passages[0].ID != hits[0].ID || last.CutTokens != cut {
			t.Errorf("budget %d: %q, last %+v", budget, tok.Decode(got), last)
		}
	}
	// By default the passages take at most half the budget.
	rh, err := NewRALM(s, RALMOptions{K: 2, Stride: 2, QueryTokens: 64, Separator: "\n\n"})
	if err != nil {
		t.Fatal(err)
	}
	got, err = rh.Context(ctx, 0, text, 21)
	if err != nil {
		t.Fatal(err)
	}
	want = append(append(append([]int(nil), p1[:10-len(sep)]...), sep...), text[len(text)-11:]...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("default share, budget 21: %q", tok.Decode(got))
	}
	// MaxPassageTokens caps the passages whatever the budget.
	r2, err := NewRALM(s, RALMOptions{K: 2, Stride: 2, QueryTokens: 64, Separator: "\n\n", MaxPassageTokens: 7})
	if err != nil {
		t.Fatal(err)
	}
	got, err = r2.Context(ctx, 0, text, 1000)
	if err != nil {
		t.Fatal(err)
	}
	want = append(append(append([]int(nil), p1[:7-len(sep)]...), sep...), text...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MaxPassageTokens 7: %q", tok.Decode(got))
	}
	for _, bad := range []RALMOptions{{Stride: -1}, {QueryTokens: -1}, {K: -1}, {MaxPassageTokens: -1}, {Search: search.SearchOptions{Ef: -1}}} {
		if _, err := NewRALM(s, bad); err == nil {
			t.Errorf("options %+v: no error", bad)
		}
	}
}
