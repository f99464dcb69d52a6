package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/generate"
)

// testKNN is a small, exact kNN-LM for tests: the keys are the tiny
// model's ln_f outputs over a corpus, searched by brute force.
type testKNN struct {
	tokens  []int
	keys    [][]float32 // keys[p]: the hidden state after tokens[..p]; value tokens[p+1]
	lambda  float64
	k       int
	temp    float64
	adjusts int
}

func newTestKNN(t *testing.T, e *Explainer, corpus string, lambda float64, k int) *testKNN {
	t.Helper()
	ids := e.Tok.Encode(corpus)
	n := e.Model.Config.NPositions
	kn := &testKNN{tokens: ids, lambda: lambda, k: k, temp: 1}
	// Windows of n tokens; each position's key comes from the first window
	// that holds it.
	for start := 0; start < len(ids)-1; start += n - 1 {
		w := ids[start:min(start+n, len(ids))]
		hs, _, err := finalStates(e.Model, w, 0)
		if err != nil {
			t.Fatal(err)
		}
		for p := range hs {
			if start+p >= len(kn.keys) {
				kn.keys = append(kn.keys, slices.Clone(hs[p]))
			}
		}
	}
	return kn
}

func (k *testKNN) Settings() KNNSettings {
	return KNNSettings{Datastore: "test", Lambda: k.lambda, K: k.k, Temperature: k.temp}
}

func (k *testKNN) Context(pos, n int) []int {
	return slices.Clone(k.tokens[max(0, pos+1-n) : pos+1])
}

func (k *testKNN) Step(hidden, logits []float32) (*KNNStep, error) {
	type cand struct {
		pos int
		d   float64
	}
	var cs []cand
	for p, key := range k.keys {
		var d float64
		for j := range key {
			x := float64(key[j] - hidden[j])
			d += x * x
		}
		cs = append(cs, cand{p, d})
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].d < cs[b].d })
	cs = cs[:min(k.k, len(cs))]
	var z float64
	for _, c := range cs {
		z += math.Exp(-(c.d - cs[0].d) / k.temp)
	}
	st := &KNNStep{}
	pk := make([]float64, len(logits))
	for _, c := range cs {
		w := math.Exp(-(c.d-cs[0].d)/k.temp) / z
		st.Neighbors = append(st.Neighbors, Neighbor{Pos: c.pos, Token: k.tokens[c.pos+1], Distance: float32(c.d), Weight: float32(w)})
		pk[k.tokens[c.pos+1]] += w
	}
	var lz float64
	m := slices.Max(logits)
	for _, v := range logits {
		lz += math.Exp(float64(v - m))
	}
	for v, x := range logits {
		lp := float64(x-m) - math.Log(lz)
		st.LMLogprobs = append(st.LMLogprobs, float32(lp))
		st.MixLogprobs = append(st.MixLogprobs, float32(math.Log(k.lambda*pk[v]+(1-k.lambda)*math.Exp(lp))))
	}
	return st, nil
}

func (k *testKNN) Adjust(row int, hidden, logits []float32) error {
	k.adjusts++
	st, err := k.Step(hidden, logits)
	if err != nil {
		return err
	}
	copy(logits, st.MixLogprobs)
	return nil
}

const testCorpus = "the hat sat on the mat. the cat sat at the hat. a hat on a cat. the mat at the hat."

// TestExplainKNN: decoding with kNN-LM gives generate's tokens, and the
// explanation's numbers are the interpolation's, for a generated and a
// given continuation.
func TestExplainKNN(t *testing.T) {
	e := LoadTestExplainer(t)
	ctx := context.Background()
	greedy := generate.Options{MaxNewTokens: 5, Sampling: generate.Sampling{Greedy: true}}
	prompt, _ := e.Encode("the hat")
	plain, err := e.Generate(ctx, prompt, greedy)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		lambda float64
		k      int
	}{{"lambda 0.9", 0.9, 8}, {"lambda 0", 0, 4}, {"lambda 1, all keys", 1, 1000}} {
		t.Run(c.name, func(t *testing.T) {
			knn := newTestKNN(t, e, testCorpus, c.lambda, c.k)
			want, err := generate.Generate(ctx, e.Model, prompt, generate.Options{MaxNewTokens: 5, Sampling: generate.Sampling{Greedy: true}, Adjust: knn}, e.Tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.lambda == 0 && !slices.Equal(want.IDs, plain) {
				t.Fatalf("λ 0 decodes %v, the plain model %v", want.IDs, plain)
			}
			res, err := e.Explain(ctx, Request{Prompt: "the hat", Generate: greedy, KNN: knn, Neighbors: 3, NeighborContext: 4, Options: Options{NoAttention: true}})
			if err != nil {
				t.Fatal(err)
			}
			if got := res.IDs[res.PromptLength:]; !slices.Equal(got, want.IDs) {
				t.Fatalf("explain decoded %v, generate with the Adjuster %v", got, want.IDs)
			}
			x := checkKNN(t, e, knn, res, 3, 4)
			if x.Source != "decoding" {
				t.Errorf("source %q, want decoding", x.Source)
			}
			for _, tk := range x.Tokens {
				if tk.RankMix != 1 {
					t.Errorf("greedy output %q has rank %d under p_mix", tk.Token, tk.RankMix)
				}
				if c.lambda == 0 && (tk.PMix != tk.PLM || tk.Change != 0) {
					t.Errorf("λ 0: p_mix %g, p_LM %g", tk.PMix, tk.PLM)
				}
			}
			// The same text as a given continuation: one forward pass gives
			// the same numbers.
			cont := e.Tok.Decode(want.IDs)
			if !slices.Equal(e.Tok.Encode("the hat"+cont), res.IDs) {
				t.Logf("the continuation %q tokenizes differently: not compared", cont)
				return
			}
			forced, err := e.Explain(ctx, Request{Prompt: "the hat", Continuation: &cont, KNN: knn, Neighbors: 3, NeighborContext: 4, Options: Options{NoAttention: true}})
			if err != nil {
				t.Fatal(err)
			}
			y := checkKNN(t, e, knn, forced, 3, 4)
			if y.Source != "forward" {
				t.Errorf("source %q, want forward", y.Source)
			}
			for i := range x.Tokens {
				a, b := x.Tokens[i], y.Tokens[i]
				if math.Abs(a.PLM-b.PLM) > 1e-4 || math.Abs(a.PMix-b.PMix) > 1e-4 || math.Abs(a.PKNN-b.PKNN) > 1e-4 || a.RankMix != b.RankMix {
					t.Errorf("token %d: decoding %+v, forward %+v", i, a, b)
				}
			}
		})
	}
}

// checkKNN checks the kNN section of res against the kNN-LM's own numbers.
func checkKNN(t *testing.T, e *Explainer, knn *testKNN, res *Result, shown, width int) *KNNExplanation {
	t.Helper()
	if res.Retrieval == nil || res.Retrieval.KNN == nil || res.Retrieval.RALM != nil {
		t.Fatalf("retrieval section %+v", res.Retrieval)
	}
	x := res.Retrieval.KNN
	P, G := res.PromptLength, len(res.IDs)-res.PromptLength
	if len(x.Tokens) != G || x.Lambda != knn.lambda || x.K != knn.k || x.ContextTokens != width {
		t.Fatalf("%d tokens for %d outputs; settings %+v", len(x.Tokens), G, x.KNNSettings)
	}
	for i, tk := range x.Tokens {
		if tk.Position != P+i || tk.ID != res.IDs[P+i] || tk.Token != res.Tokens[P+i] {
			t.Fatalf("token %d: %+v", i, tk)
		}
		if mix := knn.lambda*tk.PKNN + (1-knn.lambda)*tk.PLM; math.Abs(mix-tk.PMix) > 1e-5 {
			t.Errorf("token %d: p_mix %g, λ·p_kNN + (1−λ)·p_LM = %g", i, tk.PMix, mix)
		}
		if math.Abs(tk.Change-(tk.PMix-tk.PLM)) > 1e-12 {
			t.Errorf("token %d: change %g", i, tk.Change)
		}
		if tk.Retrieved != min(knn.k, len(knn.keys)) || len(tk.Neighbors) != min(shown, tk.Retrieved) {
			t.Errorf("token %d: %d retrieved, %d shown", i, tk.Retrieved, len(tk.Neighbors))
		}
		if tk.Agreeing == 0 && tk.PKNN != 0 || tk.Agreeing > 0 && tk.PKNN <= 0 {
			t.Errorf("token %d: %d agreeing neighbours, p_kNN %g", i, tk.Agreeing, tk.PKNN)
		}
		var sum float64
		for j, p := range tk.KNNPredictions {
			sum += p.Prob
			if j > 0 && p.Prob > tk.KNNPredictions[j-1].Prob {
				t.Errorf("token %d: kNN predictions out of order", i)
			}
			if p.ID == tk.ID && math.Abs(p.Prob-tk.PKNN) > 1e-9 {
				t.Errorf("token %d: p_kNN %g and %g", i, tk.PKNN, p.Prob)
			}
		}
		if len(tk.KNNPredictions) < knnTopPredictions && math.Abs(sum-1) > 1e-5 {
			t.Errorf("token %d: every kNN prediction listed, summing to %g", i, sum)
		}
		for j, n := range tk.Neighbors {
			if j > 0 && n.Weight > tk.Neighbors[j-1].Weight {
				t.Errorf("token %d: neighbours not by weight", i)
			}
			if n.NextID != knn.tokens[n.Pos+1] || n.Match != (n.NextID == tk.ID) || n.Next != e.TokenText(n.NextID) {
				t.Errorf("token %d neighbour %+v: stored token %d", i, n, knn.tokens[n.Pos+1])
			}
			c := knn.tokens[max(0, n.Pos+1-width) : n.Pos+1]
			if len(n.Context) != len(c) || n.Context[len(c)-1] != e.TokenText(knn.tokens[n.Pos]) || n.ContextText != e.Tok.Decode(c) {
				t.Errorf("token %d neighbour %d: context %q (%q), want %q", i, j, n.Context, n.ContextText, e.Tok.Decode(c))
			}
		}
	}
	var text bytes.Buffer
	if err := WriteText(&text, res, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "kNN-LM (λ") || !strings.Contains(text.String(), "p_mix") {
		t.Errorf("text view lacks the kNN-LM section:\n%s", text.String())
	}
	b, _ := json.Marshal(res)
	if !bytes.Contains(b, []byte(`"retrieval":{"knn":{"datastore":"test"`)) {
		t.Errorf("JSON lacks retrieval.knn: %.300s", b)
	}
	return x
}

// testRALM puts a fixed passage and a separator before the text's tail.
type testRALM struct {
	passage, sep []int
	last         RALMRetrieval
	calls        int
}

func (r *testRALM) Context(_ context.Context, row int, text []int, budget int) ([]int, error) {
	r.calls++
	if row != 0 {
		return nil, errors.New("row")
	}
	tail := text[max(0, len(text)-(budget-len(r.passage)-len(r.sep))):]
	r.last = RALMRetrieval{Query: "q", QueryTokens: len(tail), Passages: []Passage{{Text: "the cat sat", Source: "s#0", Score: 0.5}}, PassageTokens: len(r.passage)}
	return slices.Concat(r.passage, r.sep, tail), nil
}

func (r *testRALM) Retrieved(int) RALMRetrieval { return r.last }

// TestExplainRALM: the passage comes before the prompt in the explained
// sequence, and each output token's share of attribution on it is the sum
// of its attributions there.
func TestExplainRALM(t *testing.T) {
	e := LoadTestExplainer(t)
	ctx := context.Background()
	r := &testRALM{passage: e.Tok.Encode("cat"), sep: e.Tok.Encode("\n")}
	prompt := e.Tok.Encode("the hat")
	for _, c := range []struct {
		name      string
		maxNew    int
		cont      string
		wantTail  int // prompt tokens kept
		wantError string
	}{
		{"whole prompt", 3, "", len(prompt), ""},
		{"prompt tail", 16 - len(r.passage) - len(r.sep) - 2, "", 2, ""},
		{"continuation", 0, " at", len(prompt), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := Request{Prompt: "the hat", RALM: r, Generate: generate.Options{MaxNewTokens: c.maxNew, Sampling: generate.Sampling{Greedy: true}},
				Options: Options{Methods: []string{MethodGradXInput, MethodGradient}, NoAttention: true}}
			if c.cont != "" {
				req.Continuation = &c.cont
			}
			res, err := e.Explain(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			input := slices.Concat(r.passage, r.sep, prompt[len(prompt)-c.wantTail:])
			if res.PromptLength != len(input) || !slices.Equal(res.IDs[:len(input)], input) {
				t.Fatalf("input %v (prompt length %d), want %v", res.IDs, res.PromptLength, input)
			}
			if c.cont == "" {
				want, err := e.Generate(ctx, input, req.Generate)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(res.IDs[len(input):], want) {
					t.Errorf("output %v, generate from the same input %v", res.IDs[len(input):], want)
				}
			}
			x := res.Retrieval.RALM
			if x == nil || res.Retrieval.KNN != nil || x.PassageTokens != len(r.passage) || x.PromptStart != len(r.passage)+len(r.sep) || len(x.Passages) != 1 || x.Method != MethodGradXInput {
				t.Fatalf("RALM section %+v", x)
			}
			if x.PassageText != e.Tok.Decode(r.passage) {
				t.Errorf("passage text %q, want %q", x.PassageText, e.Tok.Decode(r.passage))
			}
			G := len(res.IDs) - res.PromptLength
			if len(x.Tokens) != G {
				t.Fatalf("%d tokens for %d outputs", len(x.Tokens), G)
			}
			for i, tk := range x.Tokens {
				for m, a := range res.Attributions {
					var s float64
					for _, v := range a[i][:x.PassageTokens] {
						s += v
					}
					if math.Abs(s-tk.Share[m]) > 1e-12 || !(s > 0 && s < 1) {
						t.Errorf("token %d %s: share %g, sum %g", i, m, tk.Share[m], s)
					}
				}
				if len(tk.Top) != min(ralmTopTokens, x.PassageTokens) {
					t.Errorf("token %d: %d top tokens", i, len(tk.Top))
				}
				for j, s := range tk.Top {
					if s.Position >= x.PassageTokens || s.Score != res.Attributions[x.Method][i][s.Position] || j > 0 && s.Score > tk.Top[j-1].Score {
						t.Errorf("token %d: top %+v", i, tk.Top)
					}
				}
			}
			var text bytes.Buffer
			if err := WriteText(&text, res, false); err != nil || !strings.Contains(text.String(), "in-context RALM") {
				t.Errorf("text view: %v\n%s", err, text.String())
			}
		})
	}
	// A retriever breaking the contract is an error, not a panic.
	for _, bad := range []RALM{badRALM{ctx: []int{}}, badRALM{ctx: []int{1, 2}}, badRALM{ctx: prompt, n: len(prompt)}} {
		if _, err := e.Explain(ctx, Request{Prompt: "the hat", RALM: bad, Generate: generate.Options{MaxNewTokens: 2}}); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

type badRALM struct {
	ctx []int
	n   int
}

func (b badRALM) Context(context.Context, int, []int, int) ([]int, error) { return b.ctx, nil }
func (b badRALM) Retrieved(int) RALMRetrieval                             { return RALMRetrieval{PassageTokens: b.n} }

func TestPromptStartIn(t *testing.T) {
	for _, c := range []struct {
		ctx, text []int
		passage   int
		want      int
	}{
		{[]int{9, 9, 0, 1, 2}, []int{1, 2}, 2, 3},
		{[]int{9, 9, 0, 1, 2}, []int{5, 0, 1, 2}, 2, 2},
		{[]int{1, 2, 1, 2}, []int{1, 2, 1, 2}, 2, 2}, // never inside the passage
		{[]int{9, 3}, []int{3}, 0, 1},
	} {
		if got := promptStartIn(c.ctx, c.text, c.passage); got != c.want {
			t.Errorf("promptStartIn(%v, %v, %d) = %d, want %d", c.ctx, c.text, c.passage, got, c.want)
		}
	}
}

func TestRetrievalOptions(t *testing.T) {
	e := LoadTestExplainer(t)
	for _, req := range []Request{{Neighbors: -1}, {Neighbors: MaxNeighbors + 1}, {NeighborContext: -2}, {NeighborContext: MaxNeighborContext + 1}} {
		req.Prompt = "the hat"
		var oe *OptionError
		if _, err := e.Explain(context.Background(), req); !errors.As(err, &oe) {
			t.Errorf("%+v: %v, want an OptionError", req, err)
		}
	}
}
