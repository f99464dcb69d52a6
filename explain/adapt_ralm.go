package explain

import (
	"context"
	"fmt"

	"github.com/loupe-ml/loupe/retrieval"
)

// NewRALM returns the RALM of a retrieval.RALM: a passage is the chunk's
// text and continuation (what RALM puts before the prompt), its source
// "FILE#CHUNK".
func NewRALM(r *retrieval.RALM) RALM { return ralmAdapter{r} }

type ralmAdapter struct{ r *retrieval.RALM }

func (a ralmAdapter) Context(ctx context.Context, row int, text []int, budget int) ([]int, error) {
	return a.r.Context(ctx, row, text, budget)
}

func (a ralmAdapter) Retrieved(row int) RALMRetrieval {
	got, ok := a.r.Last(row)
	if !ok {
		return RALMRetrieval{}
	}
	out := RALMRetrieval{Query: got.Query, QueryTokens: a.r.Options().QueryTokens, PassageTokens: got.PassageTokens, CutTokens: got.CutTokens}
	for _, c := range got.Passages {
		out.Passages = append(out.Passages, Passage{Text: c.Text + c.Continuation, Source: fmt.Sprintf("%s#%d", c.Source, c.Chunk), Score: float64(c.Score)})
	}
	return out
}
