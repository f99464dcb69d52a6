package main

import (
	"errors"
	"fmt"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
	"github.com/spf13/cobra"
)

var searchFlags struct {
	index, model  string
	opts          search.SearchOptions // --k, --ef, --threads
	filter, where []string             // where: the old spelling of filter
	batchSize     int
	quantize      string
}

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
	d := search.DefaultSearchOptions()
	f.IntVar(&searchFlags.opts.K, "k", d.K, "number of results")
	f.IntVar(&searchFlags.opts.Ef, "ef", d.Ef, "HNSW search candidate list size (0: the index default, at least k)")
	addFilterFlags(f, &searchFlags.filter, &searchFlags.where)
	addEmbedFlags(f, &searchFlags.batchSize, &searchFlags.quantize, "")
	f.IntVar(&searchFlags.opts.Threads, "threads", d.Threads, "threads searching the questions (0: all cores)")
	rootCmd.AddCommand(searchCmd)
}

func runSearch(cmd *cobra.Command, args []string) error {
	if searchFlags.index == "" {
		return fmt.Errorf("search: --index DIR is required")
	}
	if err := checkUTF8Args("search", args); err != nil {
		return err
	}
	opts := searchFlags.opts
	var err error
	if opts.Filter, err = search.ParseConditions(append(append([]string(nil), searchFlags.filter...), searchFlags.where...)); err != nil {
		return cmdError("search", err)
	}
	s, err := search.Open(searchFlags.index, search.OpenOptions{Model: searchFlags.model, Embed: embedOptions(searchFlags.batchSize, 0, searchFlags.quantize)})
	if err != nil {
		return cmdError("search", err)
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
	out, metric := cmd.OutOrStdout(), s.Index().Metric()
	if jsonOutput() {
		return res.WriteJSON(out, args, s.Model(), metric)
	}
	return res.WriteText(out, args, metric)
}
