package explain

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/retrieval"
)

// TestRALMAdapter: Explain with NewRALM over a real chunk store reports
// what the RALM retrieved.
func TestRALMAdapter(t *testing.T) {
	e := LoadTestExplainer(t)
	ctx := context.Background()
	dir := t.TempDir()
	greedy := generate.Options{MaxNewTokens: 4, Sampling: generate.Sampling{Greedy: true}}
	// RALM over a chunk store cut with the tiny model's tokenizer.
	corpus := filepath.Join(dir, "c.txt")
	if err := os.WriteFile(corpus, []byte(testCorpus), 0o644); err != nil {
		t.Fatal(err)
	}
	rdir := filepath.Join(dir, "t.rag")
	if _, err := retrieval.Build(ctx, rdir, []string{corpus}, retrieval.BuildOptions{LM: "tiny", Tokenizer: e.Tok, EmbedModel: defaults.Embed, ChunkTokens: 4}); err != nil {
		t.Fatal(err)
	}
	rs, err := retrieval.Open(ctx, rdir, retrieval.OpenOptions{LM: "tiny", Tokenizer: e.Tok})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	ralm, err := retrieval.NewRALM(rs, retrieval.RALMOptions{QueryTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Explain(ctx, Request{Prompt: "the hat", Generate: greedy, RALM: NewRALM(ralm), Options: Options{NoAttention: true}})
	if err != nil {
		t.Fatal(err)
	}
	if want, err := e.Generate(ctx, res.IDs[:res.PromptLength], greedy); err != nil || !slices.Equal(want, res.IDs[res.PromptLength:]) {
		t.Errorf("explained %v, generated from the same input %v (%v)", res.IDs[res.PromptLength:], want, err)
	}
	x := res.Retrieval.RALM
	got, _ := ralm.Last(0)
	if x.PassageTokens != got.PassageTokens || x.PassageTokens == 0 || len(x.Passages) != len(got.Passages) || x.QueryTokens != 4 || x.Query != got.Query {
		t.Errorf("RALM section %+v, the RALM's last retrieval %+v", x, got)
	}
}
