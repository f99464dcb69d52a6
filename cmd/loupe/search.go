package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
	"github.com/spf13/cobra"
)

var searchFlags struct {
	index     string
	model     string
	k         int
	ef        int
	filter    []string
	where     []string // deprecated spelling of filter
	batchSize int
	quantize  string
	threads   int
}

// filterUsage is the help of every --filter flag.
const filterUsage = "metadata filter key=value (repeatable; all must hold)"

var searchCmd = &cobra.Command{
	Use:   "search --index DIR [flags] QUESTION...",
	Short: "Semantic search: embed a question and print the nearest documents",
	Long: `Embed each question with the model recorded in the index directory (built
with loupe index build --input docs.jsonl --model M) and print the nearest
documents with their scores: cosine similarity for cosine indexes, the dot
product for dot indexes, the squared L2 distance for l2 indexes.

--filter key=value keeps documents whose stored metadata has that top-level
field equal to value (repeatable; all must hold), as loupe index query
--filter does. (--where is the old spelling and still works.)`,
	Example: `  loupe search --index docs.idx "how do I reset my password?"
  loupe search --index docs.idx --k 3 --filter lang=en --format json "bread recipes"`,
	Args: cobra.MinimumNArgs(1),
	RunE: runSearch,
}

func init() {
	f := searchCmd.Flags()
	f.StringVar(&searchFlags.index, "index", "", "index directory (required)")
	f.StringVar(&searchFlags.model, "model", "", "embedding model (default: the one recorded in the index)")
	f.IntVar(&searchFlags.k, "k", search.DefaultK, "number of results")
	f.IntVar(&searchFlags.ef, "ef", 0, "HNSW search candidate list size (0: the index default, at least k)")
	f.StringArrayVar(&searchFlags.filter, "filter", nil, filterUsage)
	f.StringArrayVar(&searchFlags.where, "where", nil, filterUsage)
	f.MarkHidden("where")
	f.MarkDeprecated("where", "use --filter")
	f.IntVar(&searchFlags.batchSize, "batch-size", embed.DefaultBatchSize, batchSizeUsage)
	f.StringVar(&searchFlags.quantize, "quantize", "", quantizeUsage)
	f.IntVar(&searchFlags.threads, "threads", 0, "threads searching the questions (0: all cores)")
	rootCmd.AddCommand(searchCmd)
}

// searchHit is one result as printed.
type searchHit = search.Hit

func runSearch(cmd *cobra.Command, args []string) error {
	if searchFlags.index == "" {
		return fmt.Errorf("search: --index DIR is required")
	}
	if err := checkUTF8Args("search", args); err != nil {
		return err
	}
	conds, err := search.ParseConditions(append(append([]string(nil), searchFlags.filter...), searchFlags.where...))
	if err != nil {
		return cmdError("search", err)
	}
	opts := search.SearchOptions{K: searchFlags.k, Ef: searchFlags.ef, Filter: conds, Threads: searchFlags.threads}
	if searchFlags.k < 1 {
		// 0 would mean the default in the library; a flag asks for a number.
		return fmt.Errorf("search: --k %d: want a positive number", searchFlags.k)
	}
	eo := embedOptions(searchFlags.batchSize, 0, searchFlags.quantize)
	if err := firstErr(opts.Validate(), eo.Validate()); err != nil {
		return cmdError("search", err)
	}
	s, err := search.Open(searchFlags.index, search.OpenOptions{Model: searchFlags.model, Embed: eo})
	if err != nil {
		return err
	}
	defer s.Close()
	res, err := s.SearchMany(cmd.Context(), args, opts)
	switch {
	case errors.Is(err, search.ErrNoModel):
		return fmt.Errorf("search: index %s records no embedding model (it was built from vectors); pass --model", searchFlags.index)
	case errors.As(err, new(*search.ModelError)):
		return fmt.Errorf("%w; pass --model with the same model", err)
	case errors.Is(err, index.ErrEmpty):
		return fmt.Errorf("search: index %s is empty", searchFlags.index)
	case err != nil:
		return cmdError("search", err)
	}
	return renderSearch(cmd, s, args, res)
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// renderSearch prints the hits of each question.
func renderSearch(cmd *cobra.Command, s *search.Store, questions []string, res *search.Result) error {
	out := cmd.OutOrStdout()
	metric := s.Index().Metric()
	for qi, hits := range res.Hits {
		if jsonOutput() {
			if err := writeJSON(out, map[string]any{"query": questions[qi], "model": s.Model(), "metric": metric, "results": hits,
				"embed_seconds": res.EmbedSeconds, "search_seconds": res.SearchSeconds}); err != nil {
				return err
			}
			continue
		}
		if len(res.Hits) > 1 {
			if qi > 0 {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "query: %s\n", questions[qi])
		}
		scoreName := "score"
		if metric == index.L2 {
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
