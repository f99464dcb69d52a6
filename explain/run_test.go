package explain

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
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
	out, err := e.Generate(ctx, prompt, generate.Options{MaxNewTokens: 5, Sampling: generate.Sampling{Greedy: true}})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := (&testNet{e.Model}).Greedy(prompt, len(out), nil)
	for i := range out {
		if out[i] != ref[i] {
			t.Fatalf("KV-cache generation %v differs from the differentiable forward's %v", out, ref)
		}
	}
	res, err := e.Explain(ctx, Request{Prompt: "the hat", Generate: generate.Options{MaxNewTokens: 4, Sampling: generate.Sampling{Greedy: true}},
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
	// Interventions through the gpt2 hook match the differentiable forward's.
	ivs := []Intervention{{Layer: 1, Neuron: 3, Scale: 0}, {Layer: 0, Neuron: 17, Positions: []int{1, 6}, Scale: 4}}
	for j := 0; j < 4*e.Model.Config.NEmbd; j += 3 {
		ivs = append(ivs, Intervention{Layer: 1, Neuron: j, Scale: -1})
	}
	hooked, err := e.GenerateWith(ctx, prompt, generate.Options{MaxNewTokens: 5, Sampling: generate.Sampling{Greedy: true}}, ivs)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := (&testNet{e.Model}).Greedy(prompt, 5, ivs)
	same := true
	for i := range hooked {
		same = same && hooked[i] == plain[i]
	}
	if !same {
		t.Fatalf("hooked generation %v, differentiable forward %v", hooked, plain)
	}
	if equalInts(hooked, out) {
		t.Fatal("interventions left the generation unchanged")
	}
	if _, err := e.GenerateWith(ctx, prompt, generate.Options{MaxNewTokens: 2, Sampling: generate.Sampling{Greedy: true}}, []Intervention{{Layer: 9}}); err == nil {
		t.Fatal("intervention on a missing layer accepted")
	}
	res, err = e.Explain(ctx, Request{Prompt: "the hat", Generate: generate.Options{MaxNewTokens: 3, Sampling: generate.Sampling{Greedy: true}}, Options: Options{Interventions: ivs}})
	if err != nil || res.Intervention == nil || !equalInts(res.Intervention.Changed, hooked[:3]) {
		t.Fatalf("Explain's intervention result %+v, %v", res.Intervention, err)
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
	if _, err := e.Explain(ctx, Request{Prompt: "x", Generate: generate.Options{MaxNewTokens: 2, Sampling: generate.Sampling{TopK: -1}}}); err == nil {
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

// TestHookedAnalysisMatchesPass checks that the views read through
// model/gpt2's KV-cache hooks (hookedPass) equal those of its
// differentiable pass.
func TestHookedAnalysisMatchesPass(t *testing.T) {
	e := LoadTestExplainer(t)
	ids := []int{3, 17, 42, 8, 49, 5, 31, 23, 0, 27}
	hooked, err := hookedPass(e.Model, ids, true)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := e.Model.Embed(ids)
	p, err := e.Model.ForwardPass(x, 1, len(ids), gpt2.PassOptions{KeepAct: true})
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, l int, a, b []float32) {
		t.Helper()
		if len(a) != len(b) {
			t.Fatalf("%s layer %d: %d values vs %d", what, l, len(a), len(b))
		}
		for i := range a {
			if d := a[i] - b[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%s layer %d value %d: hooks %g, pass %g", what, l, i, a[i], b[i])
			}
		}
	}
	for l := 0; l < e.Model.Config.NLayer; l++ {
		near("resid", l+1, hooked.resid[l+1], p.Resid[l+1])
		near("attention", l, hooked.att[l], p.Att[l])
		near("mlp_act", l, hooked.act[l], p.Act[l])
	}
}

// TestExplainRejectsBadText: an empty or invalid UTF-8 prompt is refused
// as loupe generate refuses it (generate.CheckText's errors).
func TestExplainRejectsBadText(t *testing.T) {
	e := LoadTestExplainer(t)
	greedy := generate.Options{MaxNewTokens: 1, Sampling: generate.Sampling{Greedy: true}}
	for _, c := range []struct {
		prompt string
		want   error
	}{{"", generate.ErrEmptyPrompt}, {"the \xff", generate.ErrNotUTF8}} {
		if _, err := e.Explain(context.Background(), Request{Prompt: c.prompt, Generate: greedy}); !errors.Is(err, c.want) {
			t.Errorf("%q: %v, want %v", c.prompt, err, c.want)
		}
	}
	bad := "\xff"
	if _, err := e.Explain(context.Background(), Request{Prompt: "the", Continuation: &bad}); err == nil {
		t.Error("a continuation that is not UTF-8 was accepted")
	}
}

// TestExplainDecodesAsPipeline: with the options Pipeline.Resolve gives,
// Explainer.Explain generates the ids Pipeline.Run does (sampling with a
// seed, a minimum length), and the intervention's baseline is the same
// text again.
func TestExplainDecodesAsPipeline(t *testing.T) {
	ctx := context.Background()
	p, err := generate.Load(ctx, "testdata/tiny", generate.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	e, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	prompt := "the hat"
	ids, err := p.Encode(prompt)
	if err != nil {
		t.Fatal(err)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		var set generate.Settings
		set.Seed, set.MaxNewTokens, set.MinNewTokens, set.Temperature = &seed, new(5), new(2), new(1.3)
		opt, beams, err := p.Resolve(set, len(ids))
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(ctx, ids, opt, beams)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Explain(ctx, Request{Prompt: prompt, Generate: opt,
			Options: Options{NoAttention: true, Interventions: []Intervention{{Layer: 0, Neuron: 3, Scale: 0}}}})
		if err != nil {
			t.Fatal(err)
		}
		want := out.Sequences[0].IDs
		if got := res.IDs[res.PromptLength:]; !slices.Equal(got, want) {
			t.Errorf("seed %d: explained %v, Run generated %v", seed, got, want)
		}
		if !slices.Equal(res.Intervention.Baseline, want) {
			t.Errorf("seed %d: baseline %v, want the generated %v", seed, res.Intervention.Baseline, want)
		}
		if res.Finish != out.Sequences[0].Finish {
			t.Errorf("seed %d: finish %q, Run's %q", seed, res.Finish, out.Sequences[0].Finish)
		}
	}
}
