package seq2seq

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/goldentest"
	"github.com/loupe-ml/loupe/model/bart"
	"github.com/loupe-ml/loupe/model/t5"
)

// The golden values come from testdata/saliency_reference.py (PyTorch
// autograd through model/bart's and model/t5's reference networks),
// regenerated with
//
//	/usr/bin/python3 seq2seq/testdata/saliency_reference.py

// saliencyModel rebuilds golden model name (Random, from the config and
// seed in the file's metadata) and returns its differentiable pass and
// decoder start token.
func saliencyModel(t *testing.T, g goldentest.File, name string) (diffModel, int) {
	t.Helper()
	js, seed := g.Model(t, name)
	if name == "t5" || name == "t5v11" {
		cfg, err := t5.ParseConfig(js)
		if err != nil {
			t.Fatal(err)
		}
		m, err := t5.Random(cfg, seed)
		if err != nil {
			t.Fatal(err)
		}
		return t5Diff(m), cfg.DecoderStartTokenID
	}
	cfg, err := bart.ParseConfig(js)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bart.Random(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return bartDiff(m), cfg.DecoderStartTokenID
}

// relDiff is max|a−b| / max|b|.
func relDiff(a, b []float32) float64 {
	scale := 0.0
	for _, v := range b {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	return goldentest.MaxAbsDiff(a, b) / math.Max(scale, 1e-30)
}

// padded lays out per-token rows of scores [T][S+i+1] as the golden's
// [T, S+T] with zeros past each prefix.
func padded(src, prefix [][]float64, S, T int) []float32 {
	out := make([]float32, T*(S+T))
	for i := range T {
		for j, v := range src[i] {
			out[i*(S+T)+j] = float32(v)
		}
		for k, v := range prefix[i] {
			out[i*(S+T)+S+k] = float32(v)
		}
	}
	return out
}

// TestSaliencyParity compares the input gradients, the three attributions
// (probability target) and grad×input on the logit target with PyTorch
// autograd's, for BART, mBART, Marian, T5 v1.0 and v1.1.
func TestSaliencyParity(t *testing.T) {
	const tol = 1e-4
	g := goldentest.Open(t, filepath.Join("testdata", "saliency.safetensors"))
	for _, name := range []string{"bart", "mbart", "marian", "t5", "t5v11"} {
		t.Run(name, func(t *testing.T) {
			dm, start := saliencyModel(t, g, name)
			src, tgt := g.IDs(t, name+".src"), g.IDs(t, name+".tgt")
			S, T, C := len(src), len(tgt), dm.width
			ctx := context.Background()

			// Raw gradients.
			input := append([]int{start}, tgt[:T-1]...)
			xs, err := dm.embedSource(src)
			if err != nil {
				t.Fatal(err)
			}
			xt, err := dm.embedTarget(input)
			if err != nil {
				t.Fatal(err)
			}
			grads, vals, err := dm.inputGradients(ctx, xs, xt, tgt, explain.TargetProb, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, T*(S+T)*C)
			for i, gr := range grads {
				copy(got[i*(S+T)*C:], gr)
			}
			if d := relDiff(got, g.Get(t, name+".grad.prob")); d > tol {
				t.Errorf("input gradients: max |diff| / max |grad| = %g > %g", d, tol)
			}
			gotVals := make([]float32, T)
			for i, v := range vals {
				gotVals[i] = float32(v)
			}
			if d := relDiff(gotVals, g.Get(t, name+".value.prob")); d > tol {
				t.Errorf("target probabilities differ by %g (relative)", d)
			}

			// Attributions.
			for _, tc := range []struct {
				target  explain.Target
				methods []string
			}{
				{explain.TargetProb, []string{explain.MethodGradient, explain.MethodGradXInput, explain.MethodIntegrated}},
				{explain.TargetLogit, []string{explain.MethodGradXInput}},
			} {
				res, err := saliency(ctx, dm, src, start, tgt, SaliencyOptions{Methods: tc.methods, Target: tc.target, IGSteps: 8})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range tc.methods {
					key := name + ".attr." + m + "." + res.Target
					if d := goldentest.MaxAbsDiff(padded(res.Source[m], res.Prefix[m], S, T), g.Get(t, key)); d > tol {
						t.Errorf("%s: max |diff| %g > %g", key, d, tol)
					}
				}
				if tc.target != explain.TargetProb {
					continue
				}
				sums, deltas := g.Get(t, name+".ig.sum"), g.Get(t, name+".ig.delta")
				for i, c := range res.Completeness {
					if math.Abs(c.Sum-float64(sums[i])) > tol*(1+math.Abs(float64(sums[i]))) || math.Abs(c.Delta-float64(deltas[i])) > tol {
						t.Errorf("token %d: IG sum %g, delta %g; PyTorch %g, %g", i, c.Sum, c.Delta, sums[i], deltas[i])
					}
				}
			}
		})
	}
}

// TestExplainSaliency: Explain with methods attaches a saliency whose rows
// cover the source and the prefix before each target token and sum to 1,
// prints it, and rejects unknown methods and step counts before any work.
func TestExplainSaliency(t *testing.T) {
	src := []int{5, 6, 7, 8, 9, 10, 2}
	methods := []string{explain.MethodGradient, explain.MethodGradXInput, explain.MethodIntegrated}
	for _, name := range []string{"tiny-marian", "tiny-bart", "tiny-t5"} {
		t.Run(name, func(t *testing.T) {
			p := loadTiny(t, name)
			e, err := p.Explain(context.Background(), src, greedy(8), ExplainOptions{Methods: methods, Target: explain.TargetLogit, IGSteps: 4})
			if err != nil {
				t.Fatal(err)
			}
			s := e.Saliency
			if s == nil || s.Target != "logit" || s.IGSteps != 4 || len(s.Value) != len(e.TargetIDs) || len(s.Completeness) != len(e.TargetIDs) {
				t.Fatalf("saliency %+v", s)
			}
			if len(s.PrefixTokens) != len(e.TargetIDs) {
				t.Errorf("%d prefix tokens for %d target tokens", len(s.PrefixTokens), len(e.TargetIDs))
			}
			for _, m := range methods {
				for i := range e.TargetIDs {
					src, pre := s.Source[m][i], s.Prefix[m][i]
					sum := 0.0
					for _, v := range append(slices.Clone(src), pre...) {
						if v < 0 {
							t.Errorf("%s token %d: negative score %v", m, i, v)
						}
						sum += v
					}
					if len(src) != len(e.SourceIDs) || len(pre) != i+1 || math.Abs(sum-1) > 1e-9 {
						t.Errorf("%s token %d: %d source and %d prefix scores summing to %v", m, i, len(src), len(pre), sum)
					}
				}
			}
			// The same numbers as Pipeline.Saliency on the explained target.
			direct, err := p.Saliency(context.Background(), src, e.DecoderStart, e.TargetIDs, SaliencyOptions{Methods: []string{explain.MethodGradXInput}, Target: explain.TargetLogit})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(direct.Source[explain.MethodGradXInput], s.Source[explain.MethodGradXInput], slices.Equal[[]float64]) {
				t.Error("Explain's grad_x_input differs from Pipeline.Saliency's")
			}
			var b strings.Builder
			if err := e.WriteText(&b); err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(b.String(), "saliency: "); got != len(methods) {
				t.Errorf("text has %d saliency sections, want %d:\n%s", got, len(methods), b.String())
			}
			if !strings.Contains(b.String(), "completeness (4 steps)") {
				t.Errorf("text lacks the completeness line:\n%s", b.String())
			}
		})
	}
	p := loadTiny(t, "tiny-marian")
	for _, opt := range []ExplainOptions{{Methods: []string{"saliency"}}, {Methods: []string{explain.MethodIntegrated}, IGSteps: -1}} {
		var oe *generate.OptionError
		if _, err := p.Explain(context.Background(), src, greedy(4), opt); !errors.As(err, &oe) {
			t.Errorf("%+v: error %v, want an OptionError", opt, err)
		}
	}
}
