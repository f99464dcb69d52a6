package explain

import (
	"context"
	"math"
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
	// Interventions through the gpt2 hook match the differentiable forward's.
	ivs := []Intervention{{Layer: 1, Neuron: 3, Scale: 0}, {Layer: 0, Neuron: 17, Positions: []int{1, 6}, Scale: 4}}
	for j := 0; j < 4*e.Model.Config.NEmbd; j += 3 {
		ivs = append(ivs, Intervention{Layer: 1, Neuron: j, Scale: -1})
	}
	hooked, err := e.GenerateWith(ctx, prompt, 5, generate.Sampling{Greedy: true}, ivs)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := e.Net.Greedy(prompt, 5, ivs)
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
	if _, err := e.GenerateWith(ctx, prompt, 2, generate.Sampling{Greedy: true}, []Intervention{{Layer: 9}}); err == nil {
		t.Fatal("intervention on a missing layer accepted")
	}
	res, err = e.Explain(ctx, Request{Prompt: "the hat", MaxNewTokens: 3, Sampling: generate.Sampling{Greedy: true}, Options: Options{Interventions: ivs}})
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

// TestHookedAnalysisMatchesNet checks that the views read through
// model/gpt2's hooks equal those of the differentiable forward.
func TestHookedAnalysisMatchesNet(t *testing.T) {
	e := LoadTestExplainer(t)
	ids := []int{3, 17, 42, 8, 49, 5, 31, 23, 0, 27}
	o := Options{NMFComponents: 3, ToLayer: -1, Watch: []int{1, 2}}
	own, err := e.Net.Explain(ids, 6, o)
	if err != nil {
		t.Fatal(err)
	}
	o.model = e.Model
	hooked, err := e.Net.Explain(ids, 6, o)
	if err != nil {
		t.Fatal(err)
	}
	for l := range own.Rankings {
		for i := range own.Rankings[l] {
			if own.Rankings[l][i] != hooked.Rankings[l][i] {
				t.Fatalf("rankings differ at layer %d token %d: %d vs %d", l, i, own.Rankings[l][i], hooked.Rankings[l][i])
			}
		}
	}
	for i := range own.LayerPredictions {
		for l := range own.LayerPredictions[i] {
			a, b := own.LayerPredictions[i][l][0], hooked.LayerPredictions[i][l][0]
			if a.ID != b.ID || math.Abs(a.Prob-b.Prob) > 1e-5 {
				t.Fatalf("layer predictions differ: %+v vs %+v", a, b)
			}
		}
	}
	for l := range own.Attention.Probs {
		for h := range own.Attention.Probs[l] {
			for i := range own.Attention.Probs[l][h] {
				for j := range own.Attention.Probs[l][h][i] {
					if d := own.Attention.Probs[l][h][i][j] - hooked.Attention.Probs[l][h][i][j]; d > 1e-4 || d < -1e-4 {
						t.Fatalf("attention differs at %d,%d,%d,%d", l, h, i, j)
					}
				}
			}
		}
	}
	if math.Abs(own.NMF.RelError-hooked.NMF.RelError) > 1e-3 {
		t.Fatalf("NMF error %g vs %g", own.NMF.RelError, hooked.NMF.RelError)
	}
}
