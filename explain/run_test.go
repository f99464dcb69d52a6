package explain

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// TestExplainer loads the tiny checkpoint with its tokenizer and runs the
// whole path: generation, forced decoding and watch-token checks.
func TestExplainer(t *testing.T) {
	e := LoadTestExplainer(t)
	ctx := context.Background()
	prompt, _ := e.Encode("the hat")
	out, err := e.Generate(ctx, prompt, 5, generate.Sampling{Greedy: true})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := e.Net.Greedy(prompt, len(out), nil)
	for i := range out {
		if out[i] != ref[i] {
			t.Fatalf("KV-cache generation %v differs from the differentiable forward's %v", out, ref)
		}
	}
	res, err := e.Explain(ctx, Request{Prompt: "the hat", MaxNewTokens: 4, Sampling: generate.Sampling{Greedy: true},
		Options: Options{Methods: Methods, IGSteps: 5, NMFComponents: 2, ToLayer: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.PromptLength != len(prompt) || len(res.Tokens) != len(res.IDs) || len(res.Attributions[MethodIntegrated]) != len(res.IDs)-len(prompt) {
		t.Fatalf("result shape: %d prompt, %d tokens, %d ids", res.PromptLength, len(res.Tokens), len(res.IDs))
	}
	cont := " at the"
	res, err = e.Explain(ctx, Request{Prompt: "the hat", Continuation: &cont})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Tok.Decode(res.IDs[res.PromptLength:]); got != cont {
		t.Fatalf("forced continuation decodes to %q", got)
	}
	if _, err := e.WatchIDs([]string{" a", " the"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WatchIDs([]string{" hat"}); err == nil {
		t.Fatal("multi-token watch accepted")
	}
	empty := ""
	if _, err := e.Explain(ctx, Request{Prompt: "x", Continuation: &empty}); err == nil {
		t.Fatal("empty continuation accepted")
	}
	if _, err := e.Explain(ctx, Request{Prompt: ""}); err == nil {
		t.Fatal("empty prompt accepted")
	}
	if _, err := e.Explain(ctx, Request{Prompt: "x", MaxNewTokens: 2, Sampling: generate.Sampling{TopK: -1}}); err == nil {
		t.Fatal("bad sampling accepted")
	}
}

// LoadTestExplainer loads explain/testdata/tiny (used by other packages' tests
// through testdata paths of their own).
func LoadTestExplainer(t testing.TB) *Explainer {
	t.Helper()
	dir := filepath.Join("testdata", "tiny")
	m, err := gpt2.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := tokenizer.LoadBPE(dir)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewExplainer("tiny", m, tok)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
