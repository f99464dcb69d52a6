package explain

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
)

// TestKNNAdapter: NewKNN's Step is what its Adjuster does to the logits,
// and Explain with the real kNN-LM decodes as generate does.
func TestKNNAdapter(t *testing.T) {
	e := LoadTestExplainer(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := knnlm.Build(ctx, e.Model, e.Tok, e.Tok.Encode(testCorpus), filepath.Join(dir, "t.knn"), knnlm.BuildOptions{Model: "tiny"}); err != nil {
		t.Fatal(err)
	}
	store, err := knnlm.Open(filepath.Join(dir, "t.knn"), e.Model, e.Tok)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a, err := store.NewAdjuster(knnlm.Options{Lambda: 0.5, K: 6, Temperature: 2})
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKNN(a)
	if err != nil {
		t.Fatal(err)
	}
	if s := k.Settings(); s.Lambda != 0.5 || s.K != 6 || s.Temperature != 2 || s.Datastore != filepath.Join(dir, "t.knn") {
		t.Errorf("settings %+v", s)
	}
	ids := e.Tok.Encode("the cat sat on")
	hs, ls, err := finalStates(e.Model, ids, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range hs {
		before := slices.Clone(ls[i])
		st, err := k.Step(hs[i], ls[i])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(before, ls[i]) {
			t.Fatal("Step changed the logits")
		}
		if err := k.Adjust(0, hs[i], ls[i]); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(st.MixLogprobs, ls[i]) || len(st.Neighbors) != 6 {
			t.Fatalf("position %d: Step's p_mix differs from Adjust's, or %d neighbours", i, len(st.Neighbors))
		}
		if c := k.Context(st.Neighbors[0].Pos, 3); len(c) == 0 || c[len(c)-1] != store.Token(st.Neighbors[0].Pos) {
			t.Errorf("context %v", c)
		}
	}
	greedy := generate.Options{MaxNewTokens: 4, Sampling: generate.Sampling{Greedy: true}}
	res, err := e.Explain(ctx, Request{Prompt: "the hat", Generate: greedy, KNN: k, Options: Options{NoAttention: true}})
	if err != nil {
		t.Fatal(err)
	}
	gen := greedy
	gen.Adjust = a
	want, err := generate.Generate(ctx, e.Model, res.IDs[:res.PromptLength], gen, e.Tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.IDs[res.PromptLength:]; !slices.Equal(got, want.IDs) || len(res.Retrieval.KNN.Tokens) != len(got) {
		t.Errorf("explained %v, generate --knn %v", got, want.IDs)
	}
}
