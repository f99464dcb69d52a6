package main

import (
	"errors"
	"fmt"
	"github.com/loupe-ml/loupe/defaults"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/textfmt"
	"github.com/loupe-ml/loupe/search"
)

var indexCmd = &cobra.Command{
	Use:   "index",
	Short: "Build, query and maintain vector indexes (flat, HNSW, forest)",
	Long: `Vector indexes: exact (flat), HNSW graphs with hnswlib's parameters, and
Annoy-style random-projection forests, under cosine, dot or squared-L2
distance. An index is a directory holding one mmap'd file (index.loupe).

  loupe index build --vectors base.npy --metric l2 --kind hnsw --out idx
  loupe index query --index idx --queries q.npy --k 10 --ef 64 --format json
  loupe index build --input docs.jsonl --model sentence-transformers/all-MiniLM-L6-v2 --out docs.idx
  loupe search --index docs.idx "a question"`,
}

// ixFlagSet holds the flags of the index subcommands.
type ixFlagSet struct {
	opts                    index.Options // build's --kind, --metric, --m, …
	vectors, input, model   string
	metadata, out, quantize string
	batchSize, threads      int
	replace, overwrite      bool
	ids                     []string

	// query has its own ef and threads: their defaults differ from build's,
	// and a flag variable shared by two commands takes the default of the
	// one defined last.
	index, queries, allow string
	k                     int
	search                index.SearchOptions
	filters, where        []string
	verify                bool
}

var ixFlags ixFlagSet

// idsHelp describes the forms --ids takes in build, add and delete.
const idsHelp = "comma separated (3,17,42), or @FILE with one id per line (a bare FILE name also works); repeatable"

func init() {
	build := &cobra.Command{
		Use:   "build",
		Short: "Build an index from vectors (.npy/.fvecs) or from texts embedded with a model",
		Example: `  loupe index build --vectors base.npy --metric cosine --kind hnsw --m 16 --ef-construction 200 --out idx
  loupe index build --vectors base.fvecs --kind forest --n-trees 20 --ids @ids.txt --metadata meta.jsonl --out idx
  loupe index build --input docs.jsonl --model sentence-transformers/all-MiniLM-L6-v2 --out docs.idx`,
		Args: cobra.NoArgs,
		RunE: runIndexBuild,
	}
	f := build.Flags()
	f.StringVar(&ixFlags.vectors, "vectors", "", "vectors: a 2-D float32/float64 .npy or an .fvecs file")
	f.StringVar(&ixFlags.input, "input", "", "texts to embed: JSON lines with \"text\" (optional \"id\" and other fields kept as metadata) or plain lines")
	f.StringVar(&ixFlags.model, "model", "", "embedding model for --input (hub id or directory; default: loupe's built-in KJV word2vec model); recorded in the index")
	addEmbedFlags(f, &ixFlags.batchSize, &ixFlags.quantize, " (with --input)")
	addIndexOptionFlags(f, &ixFlags.opts)
	f.StringArrayVar(&ixFlags.ids, "ids", nil, "ids of the vectors, one per vector (default 0..n-1): "+idsHelp)
	f.StringVar(&ixFlags.metadata, "metadata", "", "JSON lines file, one object (or blank) per vector")
	f.StringVar(&ixFlags.out, "out", "", "output index directory (required)")
	f.BoolVar(&ixFlags.overwrite, "overwrite", false, "replace the index already in --out (otherwise an error)")

	add := &cobra.Command{
		Use:   "add",
		Short: "Add vectors (or texts, embedded with the index's model) to an index",
		Long: `Add vectors (--vectors) or documents (--input, embedded with the model the
index records) to an index.

Vectors and documents without an id get new ids after the largest id the
index has ever held, so an add never replaces anything by default. With
--input, a document's "id" field, if it is a non-negative integer, is its
vector id; any other "id" (a string, say) is kept in its metadata as "id".
An id (or, for string ids, a document "id") that is already in the index is
an error unless --replace is given; then the old vector and metadata are
replaced. Ids of deleted vectors may be added again without --replace.

The index directory is locked (index.lock, an advisory flock) from reading
the index to saving it: concurrent adds and deletes wait for each other.`,
		Example: `  loupe index add --index idx --vectors more.npy --ids @more_ids.txt
  loupe index add --index idx --vectors two.npy --ids 3,17 --replace
  loupe index add --index docs.idx --input new_docs.jsonl`,
		Args: cobra.NoArgs,
		RunE: runIndexAdd,
	}
	f = add.Flags()
	f.StringVar(&ixFlags.vectors, "vectors", "", "vectors: .npy or .fvecs")
	f.StringVar(&ixFlags.input, "input", "", "texts to embed with the index's model")
	addEmbedFlags(f, &ixFlags.batchSize, &ixFlags.quantize, " (with --input)")
	f.StringArrayVar(&ixFlags.ids, "ids", nil, "ids of the --vectors, one per vector (default: after the largest id): "+idsHelp)
	f.StringVar(&ixFlags.metadata, "metadata", "", "JSON lines file, one object per vector")
	f.IntVar(&ixFlags.threads, "threads", 0, "insert threads (0: all cores)")
	f.BoolVar(&ixFlags.replace, "replace", false, "replace the vectors of ids already in the index (otherwise an error)")

	del := &cobra.Command{
		Use:   "delete [ID...]",
		Short: "Mark ids deleted (kept in the graph, never returned), like hnswlib's mark_deleted",
		Long: `Mark ids deleted (kept in the graph, never returned), like hnswlib's
mark_deleted. Ids come from --ids and from the arguments. An unknown id is
an error and nothing is deleted. The index directory is locked while it is
read, changed and saved.`,
		Example: `  loupe index delete --index idx --ids 3,17,42
  loupe index delete --index idx --ids @gone.txt
  loupe index delete --index idx 3 17`,
		Args: cobra.ArbitraryArgs,
		RunE: runIndexDelete,
	}
	del.Flags().StringArrayVar(&ixFlags.ids, "ids", nil, "ids to delete: "+idsHelp)

	stats := &cobra.Command{
		Use:     "stats",
		Short:   "Describe an index: kind, metric, counts, parameters, sizes",
		Example: `  loupe index stats --index idx --verify`,
		Args:    cobra.NoArgs,
		RunE:    runIndexStats,
	}
	stats.Flags().BoolVar(&ixFlags.verify, "verify", false, "read the whole file: check every checksum and the graph's integrity")

	query := &cobra.Command{
		Use:   "query",
		Short: "Search an index with query vectors",
		Example: `  loupe index query --index idx --queries q.npy --k 10 --ef 64 --threads 1 --format json
  loupe index query --index idx --queries q.npy --k 5 --filter lang=en`,
		Args: cobra.NoArgs,
		RunE: runIndexQuery,
	}
	f = query.Flags()
	f.StringVar(&ixFlags.queries, "queries", "", "query vectors: .npy or .fvecs (required)")
	f.IntVar(&ixFlags.k, "k", search.DefaultK, "neighbours per query (positive)")
	f.IntVar(&ixFlags.search.Ef, "ef", 0, "HNSW ef (0: the index default; max(ef, k) is used)")
	f.IntVar(&ixFlags.search.SearchK, "search-k", 0, "forest search_k (0: n_trees·k)")
	f.IntVar(&ixFlags.search.Threads, "threads", 0, "query threads (0: all cores; a positive value also caps the Go scheduler, for single-thread timing)")
	addFilterFlags(f, &ixFlags.filters, &ixFlags.where)
	f.StringVar(&ixFlags.allow, "allow", "", "only return these ids: 3,17,42 or @FILE with one per line (a bare FILE name also works)")

	for _, c := range []*cobra.Command{add, del, stats, query} {
		c.Flags().StringVar(&ixFlags.index, "index", "", "index directory (required)")
	}
	indexCmd.AddCommand(build, add, del, stats, query)
	rootCmd.AddCommand(indexCmd)
}

// addIndexOptionFlags adds the flags of the index's kind, metric and
// parameters (loupe index build's, and loupe jobs submit index's) to f.
func addIndexOptionFlags(f *pflag.FlagSet, o *index.Options) {
	d := index.DefaultOptions()
	f.StringVar((*string)(&o.Metric), "metric", string(d.Metric), "distance: cosine, dot (1-ip) or l2 (squared)")
	f.StringVar((*string)(&o.Kind), "kind", string(d.Kind), "index kind: hnsw, flat or forest")
	f.IntVar(&o.M, "m", d.M, "HNSW M: links per element, 2..2048 (level 0 keeps 2·M)")
	f.IntVar(&o.EfConstruction, "ef-construction", d.EfConstruction, "HNSW ef_construction (positive; raised to M if smaller)")
	f.IntVar(&o.Ef, "ef", d.Ef, "HNSW default search ef stored in the index (positive)")
	f.IntVar(&o.NTrees, "n-trees", d.NTrees, "forest: number of trees, 1..10000")
	f.IntVar(&o.LeafSize, "leaf-size", d.LeafSize, "forest: most items per leaf (positive)")
	f.Int64Var(&o.Seed, "seed", d.Seed, "random seed (levels, planes); 0 means the default, 100")
	f.IntVar(&o.Threads, "threads", 0, "build threads (0: all cores)")
	f.BoolVar(&o.AllowReplaceDeleted, "allow-replace-deleted", false, "let later adds reuse deleted slots")
}

// waiting says on stderr that the lock of index directory dir is awaited.
func waiting(cmd *cobra.Command, dir string) func() {
	return func() {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: index %s is being modified by another process; waiting for it to finish\n", dir)
	}
}

// indexCmdError is cmdError with the flag hints of the index commands for
// the library's errors; input names the --input file.
func indexCmdError(cmd string, err error) error {
	var e *index.ExistsError
	switch {
	case errors.Is(err, index.ErrIndexExists):
		return fmt.Errorf("%s: %s already holds an index; pass --overwrite to replace it, or add to it with loupe index add", cmd, ixFlags.out)
	case errors.As(err, &e):
		return fmt.Errorf("%s: %s; pass --replace to replace their vectors, or leave out --ids to add after the largest id (%d)", cmd, trimPkg(e), e.NextID)
	case errors.Is(err, search.ErrExists):
		return fmt.Errorf("%s: %s: %s; pass --replace to replace those documents, or drop their \"id\" to add them as new ones", cmd, ixFlags.input, trimPkg(err))
	case errors.Is(err, search.ErrNoModel):
		return fmt.Errorf("%s: index %s records no embedding model; add vectors with --vectors", cmd, ixFlags.index)
	}
	return cmdError(cmd, err)
}

// checkSource checks that cmd got one of --vectors and --input, and with
// --input neither --ids nor --metadata.
func checkSource(cmd, input string) error {
	if (ixFlags.vectors == "") == (ixFlags.input == "") {
		return fmt.Errorf("%s: give one of --vectors FILE or --input %s", cmd, input)
	}
	if ixFlags.input != "" && (len(ixFlags.ids) > 0 || ixFlags.metadata != "") {
		return fmt.Errorf("%s: with --input, ids and metadata come from the JSON lines (\"id\" and other fields)", cmd)
	}
	return nil
}

// ingest builds (build) or updates the index in directory dir from
// --input documents or --vectors, with progress bars. done closes the
// index (and the embedding model).
func ingest(cmd *cobra.Command, dir string, build bool, opts index.Options, d index.DirOptions) (x *index.Index, res index.AddResult, done func() error, err error) {
	src := search.Source{BatchFiles: index.BatchFiles{Vectors: ixFlags.vectors, IDs: ixFlags.ids, Metadata: ixFlags.metadata}, Input: ixFlags.input}
	so := search.Options{Index: opts, Embed: embedOptions(ixFlags.batchSize, 0, ixFlags.quantize)}
	if build { // add uses the index's model (ixFlags.model may be left from a build in tests)
		so.Model = ixFlags.model
		if so.Model == "" && ixFlags.input != "" {
			so.Model = defaults.Embed
		}
	}
	return search.Ingest(cmd.Context(), dir, src, build, so, search.AddOptions{Replace: d.Replace, Progress: new(stageBars).set}, d)
}

func runIndexBuild(cmd *cobra.Command, args []string) error {
	if ixFlags.out == "" {
		return fmt.Errorf("index build: --out DIR is required")
	}
	if err := checkSource("index build", "TEXTS --model M"); err != nil {
		return err
	}
	x, res, done, err := ingest(cmd, ixFlags.out, true, ixFlags.opts, index.DirOptions{Overwrite: ixFlags.overwrite, Waiting: waiting(cmd, ixFlags.out)})
	if err != nil {
		return indexCmdError("index build", err)
	}
	defer done()
	st := x.Stats()
	var fileBytes int64
	if fi, err := os.Stat(filepath.Join(ixFlags.out, index.FileName)); err == nil {
		fileBytes = fi.Size()
	}
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"seconds": res.Seconds, "bytes": st.Bytes, "file_bytes": fileBytes,
		"count": st.Count, "dim": st.Dim, "kind": st.Kind, "metric": st.Metric, "model": st.Model},
		"built %s index of %d %d-d vectors (%s) in %.2fs: %s in memory, %s on disk at %s\n",
		st.Kind, st.Count, st.Dim, st.Metric, res.Seconds, textfmt.Bytes(st.Bytes), textfmt.Bytes(fileBytes), ixFlags.out)
}

func runIndexAdd(cmd *cobra.Command, args []string) error {
	if cmd.Flags().Changed("nats") {
		return addNATS(cmd)
	}
	if err := checkSource("index add", "TEXTS"); err != nil {
		return err
	}
	if ixFlags.index == "" {
		return fmt.Errorf("index add: --index DIR is required")
	}
	dir := index.DirOptions{Replace: ixFlags.replace, Waiting: waiting(cmd, ixFlags.index), Threads: ixFlags.threads}
	x, res, done, err := ingest(cmd, ixFlags.index, false, index.Options{}, dir)
	if err != nil {
		return indexCmdError("index add", err)
	}
	defer done()
	st, what := x.Stats(), map[bool]string{false: "vectors", true: "documents"}[ixFlags.input != ""]
	return jsonOrText(cmd.OutOrStdout(), map[string]any{"added": res.Added, "replaced": res.Replaced, "count": st.Count,
		"searchable": x.Len(), "seconds": res.Seconds, "bytes": st.Bytes}, func(w io.Writer) error { return res.WriteText(w, what, x.Len()) })
}

func runIndexDelete(cmd *cobra.Command, args []string) error {
	ids, err := index.ParseIDLists(append(append([]string(nil), ixFlags.ids...), args...))
	if err != nil {
		return cmdError("index delete", err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("index delete: give the ids to delete: --ids 3,17, --ids @FILE or as arguments")
	}
	if cmd.Flags().Changed("nats") {
		return deleteNATS(cmd, ids)
	}
	if ixFlags.index == "" {
		return fmt.Errorf("index delete: --index DIR is required")
	}
	x, err := index.DeleteFrom(ixFlags.index, ids, index.DirOptions{Waiting: waiting(cmd, ixFlags.index)})
	if err != nil {
		return cmdError("index delete", err)
	}
	defer x.Close()
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"deleted": len(ids), "count": x.Len()},
		"deleted %d ids; %d remain searchable\n", len(ids), x.Len())
}

func runIndexStats(cmd *cobra.Command, args []string) error {
	if ixFlags.index == "" {
		return fmt.Errorf("index stats: --index DIR is required")
	}
	x, err := index.Open(ixFlags.index, index.OpenOptions{Verify: ixFlags.verify})
	if err != nil {
		return cmdError("index stats", err)
	}
	defer x.Close()
	out := map[string]any{"stats": x.Stats()}
	if ixFlags.verify {
		if err := x.CheckIntegrity(); err != nil {
			return cmdError("index stats", err)
		}
		out["verified"], out["orphans"] = true, x.Orphans()
	}
	return jsonOrText(cmd.OutOrStdout(), out, func(w io.Writer) error {
		if err := x.Stats().WriteText(w); err != nil || !ixFlags.verify {
			return err
		}
		_, err := fmt.Fprintf(w, "verified  checksums and graph integrity OK (%d orphans)\n", x.Orphans())
		return err
	})
}

func runIndexQuery(cmd *cobra.Command, args []string) error {
	if ixFlags.queries == "" {
		return fmt.Errorf("index query: --queries FILE is required")
	}
	if ixFlags.index == "" {
		return fmt.Errorf("index query: --index DIR is required")
	}
	so := ixFlags.search
	conds, err := search.ParseConditions(append(append([]string(nil), ixFlags.filters...), ixFlags.where...))
	if err == nil && ixFlags.allow != "" {
		so.Allow, err = index.ParseIDList(ixFlags.allow)
	}
	if err != nil {
		return cmdError("index query", err)
	}
	if so.Threads > 0 {
		runtime.GOMAXPROCS(so.Threads)
	}
	res, err := search.QueryVectors(ixFlags.index, ixFlags.queries, ixFlags.k, so, conds)
	if err != nil {
		return cmdError("index query", err)
	}
	if res.NoneAllowed {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: no vector in %s passes the --filter/--allow conditions, so every query has no results\n", ixFlags.index)
	}
	return jsonOrText(cmd.OutOrStdout(), res, res.WriteText)
}
