package search

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/textfmt"
)

// MarshalJSON encodes r as {"distances", "ids", "seconds"}: the hits as
// the two matrices of Columns, and the search time.
func (r *VectorResult) MarshalJSON() ([]byte, error) {
	ids, dists := r.Columns()
	return json.Marshal(struct {
		Distances [][]float32 `json:"distances"`
		IDs       [][]uint64  `json:"ids"`
		Seconds   float64     `json:"seconds"`
	}{dists, ids, r.Seconds})
}

// WriteText writes one line per query, "query I: ID (DISTANCE) ...", and
// then the number of queries, the time and the rate.
func (r *VectorResult) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for i, hits := range r.Hits {
		fmt.Fprintf(bw, "query %d:", i)
		for _, h := range hits {
			fmt.Fprintf(bw, " %d (%.4g)", h.ID, h.Distance)
		}
		fmt.Fprintln(bw)
	}
	nq := len(r.Hits)
	fmt.Fprintf(bw, "%d queries in %.3fs (%.0f queries/s)\n", nq, r.Seconds, float64(nq)/r.Seconds)
	return bw.Flush()
}

// WriteJSON writes one JSON object per question, a line each: the
// question ("query"), the model and metric of the index, the mode (and, in
// hybrid mode, the fusion) searched with, its hits ("results") and the
// times of the whole search.
func (r *Result) WriteJSON(w io.Writer, questions []string, model string, metric index.Metric) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	mode := r.Mode
	if mode == "" {
		mode = ModeDense
	}
	for qi, hits := range r.Hits {
		line := map[string]any{"query": questions[qi], "model": model, "metric": metric, "mode": mode, "results": hits,
			"embed_seconds": r.EmbedSeconds, "search_seconds": r.SearchSeconds}
		if r.Fusion != "" {
			line["fusion"] = r.Fusion
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

// WriteText writes the hits of each of questions, searched in an index
// with metric: one line per hit (rank, score, id and a one-line preview of
// its text, or of its metadata without one), under a "query:" heading when
// there are several questions. The score is named after what it is
// (score, l2², bm25, rrf or fused); a hybrid hit also shows its rank and
// score in each list ("-" when it was not in one).
func (r *Result) WriteText(w io.Writer, questions []string, metric index.Metric) error {
	scoreName := "score"
	switch {
	case r.Mode == ModeBM25:
		scoreName = "bm25"
	case r.Mode == ModeHybrid && r.Fusion == FusionWeighted:
		scoreName = "fused"
	case r.Mode == ModeHybrid:
		scoreName = "rrf"
	case metric == index.L2:
		scoreName = "l2²"
	}
	part := func(name string, p *ListScore) string {
		if p == nil {
			return name + " -"
		}
		return fmt.Sprintf("%s #%d %.4g", name, p.Rank, p.Score)
	}
	bw := bufio.NewWriter(w)
	for qi, hits := range r.Hits {
		if len(r.Hits) > 1 {
			if qi > 0 {
				fmt.Fprintln(bw)
			}
			fmt.Fprintf(bw, "query: %s\n", questions[qi])
		}
		for _, h := range hits {
			text := h.Text
			if text == "" && h.Metadata != nil {
				text = string(h.Metadata)
			}
			parts := ""
			if r.Mode == ModeHybrid {
				parts = fmt.Sprintf("(%s, %s)  ", part("dense", h.Dense), part("bm25", h.BM25))
			}
			fmt.Fprintf(bw, "%2d  %s %.4f  id %-6d  %s%s\n", h.Rank, scoreName, h.Score, h.ID, parts, textfmt.OneLine(text, 100))
		}
		if len(hits) == 0 {
			fmt.Fprintln(bw, "no documents match")
		}
	}
	return bw.Flush()
}
