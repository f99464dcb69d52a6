package main

import (
	"errors"
	"fmt"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/search"
	"github.com/spf13/cobra"
)

var searchFlags struct {
	index, model  string
	opts          search.SearchOptions // --k, --ef, --threads, --mode, --fusion, --rrf-k, --candidates
	k1, b, alpha  float64              // passed on only when given (nil: the library's defaults)
	filter, where []string             // where: the old spelling of filter
	input         string
	batchSize     int
	quantize      string
}

var searchCmd = &cobra.Command{
	Use:   "search (--index DIR | --nats URL) [flags] QUESTION...",
	Short: "Search documents: dense (embeddings), BM25 or hybrid ranking",
	Long: `Rank the documents of an index directory (built with loupe index build
--input docs.jsonl --model M) for each question and print the best with
their scores.

--mode dense (the default) embeds the question with the model recorded in
the index: scores are the cosine similarity for cosine indexes, the dot
product for dot indexes, the squared L2 distance for l2 indexes.
--mode bm25 ranks by Okapi BM25 over the documents' "text" (Lucene's idf;
--k1, --b); the embedding model is not loaded. Terms are the lower-cased
runs of letters and digits; no stemming, no stop words.
--mode hybrid takes --candidates results from each ranking and fuses them:
--fusion rrf (the default) sums 1/(rrf-k + rank); --fusion weighted sums
alpha times the dense score and 1 - alpha times the BM25 score, each
min-max normalised over its list. Hits show each list's rank and score.

--filter key=value keeps documents whose stored metadata has that top-level
field equal to value (repeatable; all must hold), in every mode, as loupe
index query --filter does. (--where is the old spelling and still works.)

--nats URL searches a sharded collection instead (loupe serve --index
SHARD --shard I/N --nats URL serves its shards; see docs/cluster.md): the
question is embedded here once, sent to every shard, and the answers merged
into the same hits a single flat index of the whole collection gives (bm25
uses each shard's own statistics). A shard with no live replica within
--shard-timeout is reported missing (a warning, "partial" and "missing" in
JSON); --require-all makes that an error.

--input FILE reads the questions from FILE (plain lines, or JSON lines with
a "text" field; - for standard input) instead of the arguments; with
--format json each question gets one line of results.`,
	Example: `  loupe search --index docs.idx "how do I reset my password?"
  loupe search --index docs.idx --k 3 --filter lang=en --format json "bread recipes"
  loupe search --index docs.idx --mode bm25 --k1 1.5 --b 0.5 "bread recipes"
  loupe search --index docs.idx --mode hybrid --fusion weighted --alpha 0.7 --input questions.txt --format json
  loupe search --nats nats://a:4222,nats://b:4222 --collection docs --shard-timeout 500ms --require-all "bread recipes"`,
	RunE: runSearch,
}

func init() {
	f := searchCmd.Flags()
	f.StringVar(&searchFlags.index, "index", "", "index directory (required)")
	f.StringVar(&searchFlags.model, "model", "", "embedding model (default: the one recorded in the index)")
	d := search.DefaultSearchOptions()
	f.IntVar(&searchFlags.opts.K, "k", d.K, "number of results")
	f.IntVar(&searchFlags.opts.Ef, "ef", d.Ef, "HNSW search candidate list size (0: the index default, at least k)")
	f.StringVar((*string)(&searchFlags.opts.Mode), "mode", string(search.ModeDense), "ranking: dense, bm25 or hybrid")
	f.Float64Var(&searchFlags.k1, "k1", search.DefaultK1, "BM25 term-frequency saturation k1 (bm25, hybrid)")
	f.Float64Var(&searchFlags.b, "b", search.DefaultB, "BM25 length normalisation b, 0..1 (bm25, hybrid)")
	f.StringVar((*string)(&searchFlags.opts.Fusion), "fusion", "", "hybrid fusion: rrf (default) or weighted")
	f.Float64Var(&searchFlags.alpha, "alpha", search.DefaultAlpha, "weighted fusion: weight of the dense list, 0..1 (BM25 gets 1 - alpha)")
	f.IntVar(&searchFlags.opts.RRFK, "rrf-k", 0, fmt.Sprintf("rrf fusion: rank constant (0: %d)", search.DefaultRRFK))
	f.IntVar(&searchFlags.opts.Candidates, "candidates", 0, fmt.Sprintf("hybrid: results taken from each list before fusing (0: max(k, %d))", search.DefaultCandidates))
	f.StringVar(&searchFlags.input, "input", "", `questions, one per line, or JSON lines with "text" (- for standard input)`)
	addFilterFlags(f, &searchFlags.filter, &searchFlags.where)
	addEmbedFlags(f, &searchFlags.batchSize, &searchFlags.quantize, "")
	f.IntVar(&searchFlags.opts.Threads, "threads", d.Threads, "threads searching the questions (0: all cores)")
	for field, flag := range map[string]string{"Mode": "--mode", "K1": "--k1", "B": "--b", "Fusion": "--fusion",
		"Alpha": "--alpha", "RRFK": "--rrf-k", "Candidates": "--candidates"} {
		optionFlags[field] = flag
	}
	rootCmd.AddCommand(searchCmd)
}

func runSearch(cmd *cobra.Command, args []string) error {
	viaNATS := cmd.Flags().Changed("nats")
	switch {
	case viaNATS && searchFlags.index != "":
		return fmt.Errorf("search: give --index DIR (one machine) or --nats URL (a sharded collection), not both")
	case searchFlags.index == "" && !viaNATS:
		return fmt.Errorf("search: --index DIR (or --nats URL for a sharded collection) is required")
	}
	questions := args
	switch {
	case searchFlags.input != "" && len(args) > 0:
		return fmt.Errorf("search: give questions as arguments or --input, not both")
	case searchFlags.input != "":
		recs, err := embed.ReadRecordsFile(searchFlags.input, embed.ReadOptions{})
		if err != nil {
			return fmt.Errorf("search: --input %w", err)
		}
		questions = embed.Texts(recs)
	case len(args) == 0:
		return fmt.Errorf("search: give a QUESTION or --input FILE")
	}
	if err := checkUTF8Args("search", args); err != nil {
		return err
	}
	opts := searchFlags.opts
	fl := cmd.Flags()
	for name, p := range map[string]**float64{"k1": &opts.K1, "b": &opts.B, "alpha": &opts.Alpha} {
		if fl.Changed(name) {
			v, _ := fl.GetFloat64(name)
			*p = &v
		}
	}
	var err error
	if opts.Filter, err = search.ParseConditions(append(append([]string(nil), searchFlags.filter...), searchFlags.where...)); err != nil {
		return cmdError("search", err)
	}
	if err := opts.Validate(); err != nil { // before opening the index
		return cmdError("search", err)
	}
	if viaNATS {
		return searchNATS(cmd, questions, opts)
	}
	s, err := search.Open(searchFlags.index, search.OpenOptions{Model: searchFlags.model, Embed: embedOptions(searchFlags.batchSize, 0, searchFlags.quantize)})
	if err != nil {
		return cmdError("search", err)
	}
	defer s.Close()
	res, err := s.SearchMany(cmd.Context(), questions, opts)
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
		return res.WriteJSON(out, questions, s.Model(), metric)
	}
	return res.WriteText(out, questions, metric)
}
