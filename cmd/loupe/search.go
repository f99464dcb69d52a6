package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loupe-ml/loupe/index"
	"github.com/spf13/cobra"
)

var searchFlags struct {
	index     string
	model     string
	k         int
	ef        int
	where     []string
	batchSize int
	quantize  string
}

var searchCmd = &cobra.Command{
	Use:   "search --index DIR [flags] QUESTION...",
	Short: "Semantic search: embed a question and print the nearest documents",
	Long: `Embed each question with the model recorded in the index directory (built
with loupe index build --input docs.jsonl --model M) and print the nearest
documents with their scores: cosine similarity for cosine indexes, the dot
product for dot indexes, the squared L2 distance for l2 indexes.

--where key=value keeps documents whose stored metadata has that top-level
field equal to value (repeatable; all must hold).`,
	Example: `  loupe search --index docs.idx "how do I reset my password?"
  loupe search --index docs.idx --k 3 --where lang=en --format json "bread recipes"`,
	Args: cobra.MinimumNArgs(1),
	RunE: runSearch,
}

func init() {
	f := searchCmd.Flags()
	f.StringVar(&searchFlags.index, "index", "", "index directory (required)")
	f.StringVar(&searchFlags.model, "model", "", "embedding model (default: the one recorded in the index)")
	f.IntVar(&searchFlags.k, "k", 5, "number of results")
	f.IntVar(&searchFlags.ef, "ef", 0, "HNSW search candidate list size (0: the index default, at least k)")
	f.StringArrayVar(&searchFlags.where, "where", nil, "metadata filter key=value (repeatable)")
	f.IntVar(&searchFlags.batchSize, "batch-size", 32, "texts per forward pass")
	f.StringVar(&searchFlags.quantize, "quantize", "", quantizeUsage)
	rootCmd.AddCommand(searchCmd)
}

// searchHit is one result as printed.
type searchHit struct {
	Rank     int             `json:"rank"`
	ID       uint64          `json:"id"`
	Score    float32         `json:"score"`
	Distance float32         `json:"distance"`
	Text     string          `json:"text,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// whereFilter builds an index filter from key=value conditions.
func whereFilter(conds []string) (func(uint64, json.RawMessage) bool, error) {
	if len(conds) == 0 {
		return nil, nil
	}
	type cond struct{ key, value string }
	var cs []cond
	for _, c := range conds {
		k, v, ok := strings.Cut(c, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("metadata condition %q: want key=value", c)
		}
		cs = append(cs, cond{k, v})
	}
	return func(_ uint64, meta json.RawMessage) bool {
		if meta == nil {
			return false
		}
		var m map[string]any
		if json.Unmarshal(meta, &m) != nil {
			return false
		}
		for _, c := range cs {
			v, ok := m[c.key]
			if !ok {
				return false
			}
			s, isStr := v.(string)
			if !isStr {
				b, _ := json.Marshal(v)
				s = string(b)
			}
			if s != c.value {
				return false
			}
		}
		return true
	}, nil
}

func runSearch(cmd *cobra.Command, args []string) error {
	if searchFlags.index == "" {
		return fmt.Errorf("search: --index DIR is required")
	}
	if searchFlags.k < 1 {
		return fmt.Errorf("search: --k %d: want at least 1", searchFlags.k)
	}
	filter, err := whereFilter(searchFlags.where)
	if err != nil {
		return fmt.Errorf("search: --where: %w", err)
	}
	if err := checkUTF8Args("search", args); err != nil {
		return err
	}
	x, err := index.Open(searchFlags.index)
	if err != nil {
		return err
	}
	defer x.Close()
	if x.Len() == 0 {
		return fmt.Errorf("search: index %s is empty", searchFlags.index)
	}
	ref := searchFlags.model
	if ref == "" {
		ref = x.Model()
	}
	if ref == "" {
		return fmt.Errorf("search: index %s records no embedding model (it was built from vectors); pass --model", searchFlags.index)
	}
	// A model recorded as a relative directory is relative to where the
	// index was built; try it relative to the index too.
	if !filepath.IsAbs(ref) && searchFlags.model == "" {
		if _, err := os.Stat(ref); err != nil {
			if alt := filepath.Join(searchFlags.index, ref); dirExists(alt) {
				ref = alt
			}
		}
	}
	m, err := loadEmbedModel(cmd.Context(), ref, searchFlags.batchSize, 0, searchFlags.quantize, nil)
	if err != nil {
		if searchFlags.model == "" {
			return fmt.Errorf("search: index %s records the embedding model %s, which cannot be loaded (moved or deleted?); pass --model with the same model: %w", searchFlags.index, x.Model(), err)
		}
		return err
	}
	defer m.Close()
	if m.Dim() != x.Dim() {
		return fmt.Errorf("search: model %s makes %d-dimensional vectors but index %s holds %d-dimensional ones", ref, m.Dim(), searchFlags.index, x.Dim())
	}
	start := time.Now()
	qs, err := m.Embed(args)
	if err != nil {
		return err
	}
	embedSecs := time.Since(start).Seconds()
	k := min(searchFlags.k, x.Len())
	out := cmd.OutOrStdout()
	for qi, q := range qs {
		start := time.Now()
		res, err := x.Search(q, k, &index.SearchOptions{Ef: searchFlags.ef, Filter: filter})
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		secs := time.Since(start).Seconds()
		hits := make([]searchHit, len(res))
		for i, r := range res {
			score := r.Distance
			switch x.Metric() {
			case index.Cosine, index.Dot:
				score = 1 - r.Distance
			}
			meta, _ := x.Metadata(r.ID)
			hits[i] = searchHit{Rank: i + 1, ID: r.ID, Score: score, Distance: r.Distance, Text: x.Text(r.ID), Metadata: meta}
		}
		if jsonOutput() {
			if err := writeJSON(out, map[string]any{"query": args[qi], "model": ref, "metric": x.Metric(), "results": hits,
				"embed_seconds": embedSecs, "search_seconds": secs}); err != nil {
				return err
			}
			continue
		}
		if len(qs) > 1 {
			if qi > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "query: %s\n", args[qi])
		}
		scoreName := "score"
		if x.Metric() == index.L2 {
			scoreName = "l2²"
		}
		for _, h := range hits {
			text := h.Text
			if text == "" && h.Metadata != nil {
				text = string(h.Metadata)
			}
			fmt.Fprintf(out, "%2d  %s %.4f  id %-6d  %s\n", h.Rank, scoreName, h.Score, h.ID, oneLine(text, 100))
		}
		if len(hits) == 0 {
			fmt.Fprintln(out, "no documents match")
		}
	}
	return nil
}

// oneLine collapses whitespace and cuts s to at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
