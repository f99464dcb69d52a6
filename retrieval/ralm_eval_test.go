package retrieval

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/search"
)

// TestRALMHeldOutPerplexity measures in-context RALM as Ram et al.
// evaluate it: every Stride tokens of the held-out KJV chapters, the model
// reads RALM's context for the text so far and predicts the next Stride
// tokens; the baseline reads the text's tail of the same budget. It runs
// only when LOUPE_RAG_STORE names a chunk store built for the default GPT-2
// over held-in text (never the held-out chapters), e.g.
//
//	loupe rag build --corpus HELD-IN-TEXT --out kjv.rag
//	LOUPE_RAG_STORE=$PWD/kjv.rag LOUPE_RAG_TOKENS=8000 LOUPE_RAG_STRIDE=8 LOUPE_RAG_MODE=bm25 LOUPE_RAG_MAX_PASSAGE=64 go test -run TestRALMHeldOutPerplexity -v ./retrieval
func TestRALMHeldOutPerplexity(t *testing.T) {
	dir := os.Getenv("LOUPE_RAG_STORE")
	if dir == "" {
		t.Skip("set LOUPE_RAG_STORE to a chunk store over held-in text")
	}
	n, _ := strconv.Atoi(os.Getenv("LOUPE_RAG_TOKENS"))
	if n == 0 {
		n = 4000
	}
	stride, _ := strconv.Atoi(os.Getenv("LOUPE_RAG_STRIDE"))
	if stride == 0 {
		stride = DefaultStride
	}
	ctx := context.Background()
	p, err := generate.Load(ctx, defaults.GPT2, generate.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := Open(ctx, dir, OpenOptions{LM: defaults.GPT2, Tokenizer: p.Tokenizer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	text, err := os.ReadFile(filepath.Join("..", "defaults", "kjv", "heldout.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids := p.Tokenizer.Encode(string(text))
	ids = ids[:min(n, len(ids))]
	c := p.Model.Config
	budget := c.NPositions - stride
	st := p.Model.NewState(gpt2.StateOptions{Batch: 1, MaxSeq: c.NPositions})
	// nll scores ids[i:i+stride] after the context cx (ending with
	// ids[i-1]).
	nll := func(cx []int, i int) (float64, int) {
		end := min(i+stride, len(ids))
		in := append(append([]int(nil), cx...), ids[i:end-1]...)
		st.Reset()
		if err := st.Forward([][]int{in}, gpt2.ForwardOptions{AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		all := st.AllLogits(0)
		V := c.VocabSize
		sum := 0.0
		for j := i; j < end; j++ {
			row := len(cx) - 1 + (j - i)
			x := all[row*V : (row+1)*V]
			m := x[kernels.Argmax(x)]
			sum -= float64(x[ids[j]]) - float64(m) - math.Log(kernels.SumExp(x, m))
		}
		return sum, end - i
	}
	maxP, _ := strconv.Atoi(os.Getenv("LOUPE_RAG_MAX_PASSAGE"))
	for _, q := range []int{DefaultQueryTokens} {
		r, err := NewRALM(s, RALMOptions{Stride: stride, QueryTokens: q, MaxPassageTokens: maxP, Search: search.SearchOptions{Mode: search.Mode(os.Getenv("LOUPE_RAG_MODE"))}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var base, ralm float64
		var scored, passage int
		for i := 1; i < len(ids); i += stride {
			prefix := ids[:i]
			b, k := nll(prefix[max(0, i-budget):], i)
			cx, err := r.Context(ctx, 0, prefix, budget)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := nll(cx, i)
			last, _ := r.Last(0)
			base, ralm, scored, passage = base+b, ralm+got, scored+k, passage+last.PassageTokens
		}
		t.Logf("held-out KJV, %d tokens scored, stride %d, query %d tokens, mode %q, %d chunks of %d tokens: perplexity %.3f without retrieval, %.3f with (%+.1f%%); %.0f passage tokens per context; %.1fs",
			scored, stride, q, os.Getenv("LOUPE_RAG_MODE"), s.Len(), s.ChunkTokens(), math.Exp(base/float64(scored)), math.Exp(ralm/float64(scored)),
			100*(math.Exp(ralm/float64(scored))/math.Exp(base/float64(scored))-1), float64(passage)/float64((scored+stride-1)/stride), time.Since(start).Seconds())
	}
}
