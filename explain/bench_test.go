package explain

import (
	"encoding/json"
	"math/rand"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/model/gpt2"
)

// TestBenchGPT2Small is the loupe side of bench/explain.sh. It runs only when
// LOUPE_EXPLAIN_BENCH_OUT names the JSON file to write. The model is
// gpt2.Random with GPT-2 small's shape (seed 3, scale 0.0625: the weights
// model/gpt2/testdata/reference.py's "checkpoint" command writes for the
// PyTorch side). It times plain greedy generation of the new tokens with
// the KV cache, grad_x_input for all of them, and integrated gradients.
func TestBenchGPT2Small(t *testing.T) {
	out := os.Getenv("LOUPE_EXPLAIN_BENCH_OUT")
	if out == "" {
		t.Skip("set LOUPE_EXPLAIN_BENCH_OUT (bench/explain.sh does) to run the GPT-2 small benchmark")
	}
	envInt := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
			return v
		}
		return def
	}
	promptLen, newTokens := envInt("LOUPE_BENCH_PROMPT", 48), envInt("LOUPE_BENCH_NEW", 16)
	igSteps, igTokens, reps := envInt("LOUPE_BENCH_IG_STEPS", 20), envInt("LOUPE_BENCH_IG_TOKENS", 16), envInt("LOUPE_BENCH_REPS", 3)
	cfg := gpt2.Config{NLayer: 12, NHead: 12, NEmbd: 768, NPositions: 1024, VocabSize: 50257, LayerNormEps: 1e-5, Activation: "gelu_new", EOSTokenID: -1, BOSTokenID: -1}
	m, err := gpt2.Random(cfg, 3, 0.0625)
	if err != nil {
		t.Fatal(err)
	}
	n := &testNet{m}
	r := rand.New(rand.NewSource(48))
	prompt := make([]int, promptLen)
	for i := range prompt {
		prompt[i] = r.Intn(cfg.VocabSize)
	}
	best := func(reps int, f func()) float64 {
		b := 0.0
		for i := 0; i < reps; i++ {
			s := time.Now()
			f()
			d := time.Since(s).Seconds()
			if i == 0 || d < b {
				b = d
			}
		}
		return b
	}
	// Plain generation: prefill + greedy decoding with the KV cache.
	var gen []int
	genS := best(reps, func() {
		st := m.NewState(gpt2.StateOptions{MaxSeq: promptLen + newTokens})
		if err := st.Forward([][]int{prompt}, gpt2.ForwardOptions{}); err != nil {
			t.Fatal(err)
		}
		gen = gen[:0]
		for len(gen) < newTokens {
			lg := st.Logits(0)
			next := 0
			for j, v := range lg {
				if v > lg[next] {
					next = j
				}
			}
			gen = append(gen, next)
			if len(gen) < newTokens {
				if err := st.Forward([][]int{{next}}, gpt2.ForwardOptions{}); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	ids := append(append([]int(nil), prompt...), gen...)
	var gxi *Attributions
	gxiS := best(reps, func() {
		if gxi, err = n.Attribute(ids, promptLen, AttributionOptions{Methods: []string{MethodGradXInput}}); err != nil {
			t.Fatal(err)
		}
	})
	igIDs := ids[:promptLen+igTokens]
	var ig *Attributions
	igS := best(min(reps, 2), func() {
		if ig, err = n.Attribute(igIDs, promptLen, AttributionOptions{Methods: []string{MethodIntegrated}, IGSteps: igSteps}); err != nil {
			t.Fatal(err)
		}
	})
	res := map[string]any{
		"ids": ids, "prompt_length": promptLen, "new_tokens": newTokens, "ig_steps": igSteps, "ig_tokens": igTokens,
		"generate_s": genS, "grad_x_input_s": gxiS, "integrated_gradients_s": igS,
		"grad_x_input": gxi.Scores[MethodGradXInput], "integrated_gradients": ig.Scores[MethodIntegrated],
		"ig_completeness": ig.Completeness, "target": gxi.Target,
	}
	b, _ := json.Marshal(res)
	if err := atomicfile.WriteFile(out, b); err != nil {
		t.Fatal(err)
	}
	t.Logf("generate %.3fs, grad_x_input %.3fs, integrated_gradients %.3fs", genS, gxiS, igS)
}
