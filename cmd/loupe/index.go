package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/npy"
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
	vectors, input, model, metric, kind, metadata, out string
	quantize                                           string
	m, efC, ef, nTrees, leafSize, threads, batchSize   int
	seed                                               int64
	replaceDeleted, replace, overwrite                 bool
	ids                                                []string

	// query has its own ef and threads: their defaults differ from build's,
	// and a flag variable shared by two commands takes the default of the
	// one defined last.
	index, queries, allow     string
	k, searchK, qEf, qThreads int
	filters, where            []string
	verify                    bool
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
	f.StringVar(&ixFlags.model, "model", "", "embedding model for --input (hub id or directory); recorded in the index")
	f.IntVar(&ixFlags.batchSize, "batch-size", embed.DefaultBatchSize, batchSizeUsage+" (with --input)")
	f.StringVar(&ixFlags.quantize, "quantize", "", quantizeUsage+" (with --input)")
	f.StringVar(&ixFlags.metric, "metric", "cosine", "distance: cosine, dot (1-ip) or l2 (squared)")
	f.StringVar(&ixFlags.kind, "kind", "hnsw", "index kind: hnsw, flat or forest")
	f.IntVar(&ixFlags.m, "m", 16, "HNSW M: links per element, 2..2048 (level 0 keeps 2·M)")
	f.IntVar(&ixFlags.efC, "ef-construction", 200, "HNSW ef_construction (positive; raised to M if smaller)")
	f.IntVar(&ixFlags.ef, "ef", 10, "HNSW default search ef stored in the index (positive)")
	f.IntVar(&ixFlags.nTrees, "n-trees", 10, "forest: number of trees, 1..10000")
	f.IntVar(&ixFlags.leafSize, "leaf-size", 64, "forest: most items per leaf (positive)")
	f.Int64Var(&ixFlags.seed, "seed", 100, "random seed (levels, planes); 0 means the default, 100")
	f.IntVar(&ixFlags.threads, "threads", 0, "build threads (0: all cores)")
	f.StringArrayVar(&ixFlags.ids, "ids", nil, "ids of the vectors, one per vector (default 0..n-1): "+idsHelp)
	f.StringVar(&ixFlags.metadata, "metadata", "", "JSON lines file, one object (or blank) per vector")
	f.BoolVar(&ixFlags.replaceDeleted, "allow-replace-deleted", false, "let later adds reuse deleted slots")
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
	f.StringVar(&ixFlags.index, "index", "", "index directory (required)")
	f.StringVar(&ixFlags.vectors, "vectors", "", "vectors: .npy or .fvecs")
	f.StringVar(&ixFlags.input, "input", "", "texts to embed with the index's model")
	f.IntVar(&ixFlags.batchSize, "batch-size", embed.DefaultBatchSize, batchSizeUsage+" (with --input)")
	f.StringVar(&ixFlags.quantize, "quantize", "", quantizeUsage+" (with --input)")
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
	f = del.Flags()
	f.StringVar(&ixFlags.index, "index", "", "index directory (required)")
	f.StringArrayVar(&ixFlags.ids, "ids", nil, "ids to delete: "+idsHelp)

	stats := &cobra.Command{
		Use:     "stats",
		Short:   "Describe an index: kind, metric, counts, parameters, sizes",
		Example: `  loupe index stats --index idx --verify`,
		Args:    cobra.NoArgs,
		RunE:    runIndexStats,
	}
	f = stats.Flags()
	f.StringVar(&ixFlags.index, "index", "", "index directory (required)")
	f.BoolVar(&ixFlags.verify, "verify", false, "read the whole file: check every checksum and the graph's integrity")

	query := &cobra.Command{
		Use:   "query",
		Short: "Search an index with query vectors",
		Example: `  loupe index query --index idx --queries q.npy --k 10 --ef 64 --threads 1 --format json
  loupe index query --index idx --queries q.npy --k 5 --filter lang=en`,
		Args: cobra.NoArgs,
		RunE: runIndexQuery,
	}
	f = query.Flags()
	f.StringVar(&ixFlags.index, "index", "", "index directory (required)")
	f.StringVar(&ixFlags.queries, "queries", "", "query vectors: .npy or .fvecs (required)")
	f.IntVar(&ixFlags.k, "k", search.DefaultK, "neighbours per query (positive)")
	f.IntVar(&ixFlags.qEf, "ef", 0, "HNSW ef (0: the index default; max(ef, k) is used)")
	f.IntVar(&ixFlags.searchK, "search-k", 0, "forest search_k (0: n_trees·k)")
	f.IntVar(&ixFlags.qThreads, "threads", 0, "query threads (0: all cores; a positive value also caps the Go scheduler, for single-thread timing)")
	f.StringArrayVar(&ixFlags.filters, "filter", nil, filterUsage)
	f.StringArrayVar(&ixFlags.where, "where", nil, filterUsage)
	f.MarkHidden("where")
	f.MarkDeprecated("where", "use --filter")
	f.StringVar(&ixFlags.allow, "allow", "", "only return these ids: 3,17,42 or @FILE with one per line (a bare FILE name also works)")

	indexCmd.AddCommand(build, add, del, stats, query)
	rootCmd.AddCommand(indexCmd)
}

// readIDs reads unsigned integer ids, one per line (blank lines skipped).
func readIDs(path string) ([]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []uint64
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: id %q is not an unsigned integer", path, line, s)
		}
		ids = append(ids, id)
	}
	return ids, sc.Err()
}

// readMeta reads one JSON object (or a blank line for none) per line.
func readMeta(path string) ([]json.RawMessage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := []byte(strings.TrimSpace(sc.Text()))
		if len(b) == 0 {
			out = append(out, nil)
			continue
		}
		if b[0] != '{' || !json.Valid(b) {
			return nil, fmt.Errorf("%s: line %d: not a JSON object", path, line)
		}
		out = append(out, json.RawMessage(b))
	}
	return out, sc.Err()
}

// parseIDArgs parses the values of an --ids flag (flag names it in errors):
// comma separated unsigned integers, @FILE with one id per line, or, for
// compatibility, the name of such a file.
func parseIDArgs(flag string, vals []string) ([]uint64, error) {
	var ids []uint64
	for _, v := range vals {
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, "@") {
			more, err := readIDs(v[1:])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", flag, v, err)
			}
			ids = append(ids, more...)
			continue
		}
		var got []uint64
		bad := ""
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			id, err := strconv.ParseUint(p, 10, 64)
			if err != nil {
				bad = p
				break
			}
			got = append(got, id)
		}
		if bad != "" {
			if !strings.Contains(v, ",") {
				if st, err := os.Stat(v); err == nil && st.Mode().IsRegular() {
					more, err := readIDs(v)
					if err != nil {
						return nil, fmt.Errorf("%s %s: %w", flag, v, err)
					}
					ids = append(ids, more...)
					continue
				}
			}
			return nil, fmt.Errorf("%s: id %q is not an unsigned integer (give ids as 3,17,42 or @FILE with one per line)", flag, bad)
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// checkDupIDs reports the first id that ids holds twice.
func checkDupIDs(ids []uint64, what string) error {
	seen := make(map[uint64]int, len(ids))
	for i, id := range ids {
		if j, ok := seen[id]; ok {
			return fmt.Errorf("%s gives id %d twice (ids %d and %d, counting from 1)", what, id, j+1, i+1)
		}
		seen[id] = i
	}
	return nil
}

// loadBatch reads --vectors, --ids and --metadata into a batch.
func loadBatch() (index.Batch, int, error) {
	var b index.Batch
	data, rows, cols, err := npy.Read(ixFlags.vectors)
	if err != nil {
		return b, 0, err
	}
	if rows == 0 {
		return b, 0, fmt.Errorf("%s: no vectors", ixFlags.vectors)
	}
	b.Vectors = data
	if len(ixFlags.ids) > 0 {
		if b.IDs, err = parseIDArgs("--ids", ixFlags.ids); err != nil {
			return b, 0, err
		}
		if len(b.IDs) != rows {
			return b, 0, fmt.Errorf("--ids %s gives %d ids but %s has %d vectors", strings.Join(ixFlags.ids, " "), len(b.IDs), ixFlags.vectors, rows)
		}
		if err := checkDupIDs(b.IDs, "--ids "+strings.Join(ixFlags.ids, " ")); err != nil {
			return b, 0, err
		}
	}
	if ixFlags.metadata != "" {
		if b.Meta, err = readMeta(ixFlags.metadata); err != nil {
			return b, 0, err
		}
		if len(b.Meta) != rows {
			return b, 0, fmt.Errorf("%s has %d lines but %s has %d vectors", ixFlags.metadata, len(b.Meta), ixFlags.vectors, rows)
		}
	}
	return b, cols, nil
}

// checkExisting counts the ids already in x (deleted ones aside) and, unless
// replace is set, refuses them.
func checkExisting(x *index.Index, ids []uint64, replace bool) (int, error) {
	var clash []string
	n := 0
	for _, id := range ids {
		if x.Has(id) {
			n++
			if len(clash) < 5 {
				clash = append(clash, strconv.FormatUint(id, 10))
			}
		}
	}
	if n > 0 && !replace {
		more := ""
		if n > len(clash) {
			more = fmt.Sprintf(" and %d more", n-len(clash))
		}
		return 0, fmt.Errorf("ids already in the index: %s%s; pass --replace to replace their vectors, or leave out --ids to add after the largest id (%d)",
			strings.Join(clash, ", "), more, x.NextID())
	}
	return n, nil
}

// lockIndexDir takes the index directory's lock, saying on stderr when it
// has to wait for another process.
func lockIndexDir(cmd *cobra.Command, dir string) (*index.DirLock, error) {
	return index.LockDir(dir, lockWaiting(cmd, dir))
}

// lockWaiting says on stderr that the lock of index dir is awaited.
func lockWaiting(cmd *cobra.Command, dir string) func() {
	return func() {
		fmt.Fprintf(cmd.ErrOrStderr(), "loupe: index %s is being modified by another process; waiting for it to finish\n", dir)
	}
}

// checkFlagValues checks flags that must be positive and flags that must
// be 0 or more (0 meaning the default), naming the flag in the error.
func checkFlagValues(cmd string, positive, nonNegative map[string]int) error {
	for _, set := range []struct {
		flags map[string]int
		min   int
		want  string
	}{{positive, 1, "want a positive number"}, {nonNegative, 0, "want 0 or more (0: the default)"}} {
		names := make([]string, 0, len(set.flags))
		for k := range set.flags {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if v := set.flags[k]; v < set.min {
				return fmt.Errorf("%s: --%s %d: %s", cmd, k, v, set.want)
			}
		}
	}
	return nil
}

func addWithProgress(x *index.Index, b index.Batch, desc string) (float64, error) {
	n := len(b.Vectors) / x.Dim()
	bar := progress.New(int64(n), desc, false)
	b.Progress = func(done int) { bar.Set(int64(done)) }
	start := time.Now()
	err := x.Add(b)
	secs := time.Since(start).Seconds()
	bar.Finish()
	return secs, err
}

func runIndexBuild(cmd *cobra.Command, args []string) error {
	if ixFlags.out == "" {
		return fmt.Errorf("index build: --out DIR is required")
	}
	if (ixFlags.vectors == "") == (ixFlags.input == "") {
		return fmt.Errorf("index build: give one of --vectors FILE or --input TEXTS --model M")
	}
	if err := checkFlagValues("index build", map[string]int{"m": ixFlags.m, "ef-construction": ixFlags.efC, "ef": ixFlags.ef,
		"n-trees": ixFlags.nTrees, "leaf-size": ixFlags.leafSize},
		map[string]int{"threads": ixFlags.threads}); err != nil {
		return err
	}
	kind, err := index.ParseKind(ixFlags.kind)
	if err != nil {
		return err
	}
	metric, err := index.ParseMetric(ixFlags.metric)
	if err != nil {
		return err
	}
	opts := index.Options{
		Kind: kind, Metric: metric, M: ixFlags.m, EfConstruction: ixFlags.efC, Ef: ixFlags.ef,
		Seed: ixFlags.seed, NTrees: ixFlags.nTrees, LeafSize: ixFlags.leafSize, Threads: ixFlags.threads,
		AllowReplaceDeleted: ixFlags.replaceDeleted,
	}
	var x *index.Index
	var secs float64
	if ixFlags.input != "" {
		if ixFlags.model == "" {
			return fmt.Errorf("index build: --input needs --model (a hub id or model directory)")
		}
		if len(ixFlags.ids) > 0 || ixFlags.metadata != "" {
			return fmt.Errorf("index build: with --input, ids and metadata come from the JSON lines (\"id\" and other fields)")
		}
		docs, err := embed.ReadRecordsFile(ixFlags.input, embed.ReadOptions{})
		if err != nil {
			return fmt.Errorf("index build: %w", err)
		}
		sopts := search.Options{Model: ixFlags.model, Index: opts, Embed: embedOptions(ixFlags.batchSize, 0, ixFlags.quantize)}
		s, res, err := search.Build(cmd.Context(), ixFlags.out, docs, sopts, search.AddOptions{Progress: stageBars()},
			search.DirOptions{Overwrite: ixFlags.overwrite, Waiting: lockWaiting(cmd, ixFlags.out)})
		if err != nil {
			return indexCmdError("index build", ixFlags.input, err)
		}
		defer s.Close()
		x, secs = s.Index(), res.IndexSeconds
	} else {
		if x, secs, err = buildFromVectors(cmd, opts); err != nil {
			return err
		}
	}
	st := x.Stats()
	fi, _ := os.Stat(filepath.Join(ixFlags.out, index.FileName))
	var fileBytes int64
	if fi != nil {
		fileBytes = fi.Size()
	}
	if jsonOutput() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"seconds": secs, "bytes": st.Bytes, "file_bytes": fileBytes,
			"count": st.Count, "dim": st.Dim, "kind": st.Kind, "metric": st.Metric, "model": st.Model})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "built %s index of %d %d-d vectors (%s) in %.2fs: %s in memory, %s on disk at %s\n",
		st.Kind, st.Count, st.Dim, st.Metric, secs, humanBytes(st.Bytes), humanBytes(fileBytes), ixFlags.out)
	return nil
}

// indexCmdError is cmdError with the flag hints of index build and add
// for the document store's errors; input names the --input file.
func indexCmdError(cmd, input string, err error) error {
	switch {
	case errors.Is(err, search.ErrIndexExists):
		return fmt.Errorf("%s: %s already holds an index; pass --overwrite to replace it, or add to it with loupe index add", cmd, ixFlags.out)
	case errors.Is(err, search.ErrExists):
		return fmt.Errorf("%s: %s: %s; pass --replace to replace those documents, or drop their \"id\" to add them as new ones", cmd, input, strings.TrimPrefix(err.Error(), "search: "))
	case errors.Is(err, search.ErrNoModel):
		return fmt.Errorf("%s: index %s records no embedding model; add vectors with --vectors", cmd, ixFlags.index)
	}
	return cmdError(cmd, err)
}

// stageBars returns a search progress callback that shows one bar per
// stage (embedding, indexing) on a terminal.
func stageBars() func(stage string, done, total int) {
	var mu sync.Mutex
	var bar *progressBar
	return func(stage string, done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil || bar.what != stage {
			if bar != nil {
				bar.finish()
			}
			bar = &progressBar{what: stage}
		}
		bar.set(done, total)
		if done == total {
			bar.finish()
		}
	}
}

// buildFromVectors builds the index of --vectors, --ids and --metadata and
// saves it in --out.
func buildFromVectors(cmd *cobra.Command, opts index.Options) (*index.Index, float64, error) {
	existing := filepath.Join(ixFlags.out, index.FileName)
	refuse := func() error {
		if ixFlags.overwrite {
			return nil
		}
		if _, err := os.Stat(existing); err == nil {
			return fmt.Errorf("index build: %s already holds an index; pass --overwrite to replace it, or add to it with loupe index add", ixFlags.out)
		}
		return nil
	}
	if err := refuse(); err != nil {
		return nil, 0, err
	}
	b, dim, err := loadBatch()
	if err != nil {
		return nil, 0, fmt.Errorf("index build: %w", err)
	}
	opts.Dim = dim
	x, err := index.New(opts)
	if err != nil {
		return nil, 0, err
	}
	secs, err := addWithProgress(x, b, "indexing")
	if err != nil {
		return nil, 0, err
	}
	if err := os.MkdirAll(ixFlags.out, 0o755); err != nil {
		return nil, 0, fmt.Errorf("index build: %w", err)
	}
	lock, err := lockIndexDir(cmd, ixFlags.out)
	if err != nil {
		return nil, 0, err
	}
	defer lock.Unlock()
	// Another process may have saved an index there while this one built.
	if err := refuse(); err != nil {
		return nil, 0, err
	}
	return x, secs, x.Save(ixFlags.out)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func openIndexFlag() (*index.Index, error) {
	if ixFlags.index == "" {
		return nil, fmt.Errorf("--index DIR is required")
	}
	return index.Open(ixFlags.index)
}

func runIndexAdd(cmd *cobra.Command, args []string) error {
	if (ixFlags.vectors == "") == (ixFlags.input == "") {
		return fmt.Errorf("index add: give one of --vectors FILE or --input TEXTS")
	}
	if ixFlags.input != "" && (len(ixFlags.ids) > 0 || ixFlags.metadata != "") {
		return fmt.Errorf("index add: with --input, ids and metadata come from the JSON lines (\"id\" and other fields)")
	}
	if err := checkFlagValues("index add", nil, map[string]int{"threads": ixFlags.threads}); err != nil {
		return err
	}
	if ixFlags.index == "" {
		return fmt.Errorf("index add: --index DIR is required")
	}
	if ixFlags.threads > 0 {
		runtime.GOMAXPROCS(ixFlags.threads)
	}
	var x *index.Index
	var added, replaced int
	var secs float64
	what := "vectors"
	if ixFlags.input != "" {
		what = "documents"
		docs, err := embed.ReadRecordsFile(ixFlags.input, embed.ReadOptions{})
		if err != nil {
			return fmt.Errorf("index add: %w", err)
		}
		s, res, err := search.Update(cmd.Context(), ixFlags.index, docs,
			search.OpenOptions{Embed: embedOptions(ixFlags.batchSize, 0, ixFlags.quantize)},
			search.AddOptions{Replace: ixFlags.replace, Progress: stageBars()}, search.DirOptions{Waiting: lockWaiting(cmd, ixFlags.index)})
		if err != nil {
			return indexCmdError("index add", ixFlags.input, err)
		}
		defer s.Close()
		x, added, replaced, secs = s.Index(), res.Added, res.Replaced, res.IndexSeconds
	} else {
		lock, err := lockIndexDir(cmd, ixFlags.index)
		if err != nil {
			return err
		}
		defer lock.Unlock()
		if x, err = index.Open(ixFlags.index); err != nil {
			return err
		}
		defer x.Close()
		b, dim, err := loadBatch()
		if err == nil && b.IDs != nil {
			replaced, err = checkExisting(x, b.IDs, ixFlags.replace)
		}
		if err != nil {
			return fmt.Errorf("index add: %w", err)
		}
		if dim != x.Dim() {
			return fmt.Errorf("index add: %d-dimensional vectors for a %d-dimensional index: %w", dim, x.Dim(), index.ErrDim)
		}
		if secs, err = addWithProgress(x, b, "adding"); err != nil {
			return err
		}
		if err := x.Save(ixFlags.index); err != nil {
			return err
		}
		added = len(b.Vectors)/dim - replaced
	}
	st := x.Stats()
	if jsonOutput() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"added": added, "replaced": replaced, "count": st.Count,
			"searchable": x.Len(), "seconds": secs, "bytes": st.Bytes})
	}
	rep := ""
	if replaced > 0 {
		rep = fmt.Sprintf(" and replaced %d", replaced)
	}
	if added == 1 {
		what = strings.TrimSuffix(what, "s")
	}
	fmt.Fprintf(cmd.OutOrStdout(), "added %d %s%s, index now holds %d (%.2fs)\n", added, what, rep, x.Len(), secs)
	return nil
}

func runIndexDelete(cmd *cobra.Command, args []string) error {
	ids, err := parseIDArgs("--ids", append(append([]string(nil), ixFlags.ids...), args...))
	if err != nil {
		return fmt.Errorf("index delete: %w", err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("index delete: give the ids to delete: --ids 3,17, --ids @FILE or as arguments")
	}
	if ixFlags.index == "" {
		return fmt.Errorf("index delete: --index DIR is required")
	}
	lock, err := lockIndexDir(cmd, ixFlags.index)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	x, err := index.Open(ixFlags.index)
	if err != nil {
		return err
	}
	defer x.Close()
	if err := x.Delete(ids...); err != nil {
		return err
	}
	if err := x.Save(ixFlags.index); err != nil {
		return err
	}
	if jsonOutput() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"deleted": len(ids), "count": x.Len()})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "deleted %d ids; %d remain searchable\n", len(ids), x.Len())
	return nil
}

func runIndexStats(cmd *cobra.Command, args []string) error {
	if ixFlags.index == "" {
		return fmt.Errorf("index stats: --index DIR is required")
	}
	x, err := index.Open(ixFlags.index, index.OpenOptions{Verify: ixFlags.verify})
	if err != nil {
		return err
	}
	defer x.Close()
	st := x.Stats()
	out := map[string]any{"stats": st}
	if ixFlags.verify {
		if err := x.CheckIntegrity(); err != nil {
			return err
		}
		out["verified"] = true
		out["orphans"] = x.Orphans()
	}
	w := cmd.OutOrStdout()
	if jsonOutput() {
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "kind      %s\nmetric    %s\ndim       %d\ncount     %d (%d deleted)\n", st.Kind, st.Metric, st.Dim, st.Count, st.Deleted)
	if st.Model != "" {
		fmt.Fprintf(w, "model     %s\n", st.Model)
	}
	switch st.Kind {
	case index.HNSW:
		fmt.Fprintf(w, "M         %d (max_m0 %d)\nef_construction %d\nef        %d\nmax level %d\n", st.M, st.MaxM0, st.EfConstruction, st.Ef, st.MaxLevel)
	case index.Forest:
		fmt.Fprintf(w, "n_trees   %d\nleaf size %d\nnodes     %d\n", st.NTrees, st.LeafSize, st.ForestNodes)
	}
	fmt.Fprintf(w, "memory    %s (vectors %s, structure %s), metadata %s, file %s\n",
		humanBytes(st.Bytes), humanBytes(st.VectorBytes), humanBytes(st.StructBytes), humanBytes(st.MetadataBytes), humanBytes(st.FileBytes))
	if ixFlags.verify {
		fmt.Fprintf(w, "verified  checksums and graph integrity OK (%d orphans)\n", x.Orphans())
	}
	return nil
}

func runIndexQuery(cmd *cobra.Command, args []string) error {
	if ixFlags.queries == "" {
		return fmt.Errorf("index query: --queries FILE is required")
	}
	if err := checkFlagValues("index query", map[string]int{"k": ixFlags.k},
		map[string]int{"ef": ixFlags.qEf, "search-k": ixFlags.searchK, "threads": ixFlags.qThreads}); err != nil {
		return err
	}
	conds, err := search.ParseConditions(append(append([]string(nil), ixFlags.filters...), ixFlags.where...))
	if err != nil {
		return cmdError("index query", err)
	}
	if ixFlags.qThreads > 0 {
		runtime.GOMAXPROCS(ixFlags.qThreads)
	}
	x, err := openIndexFlag()
	if err != nil {
		return err
	}
	defer x.Close()
	qs, nq, dim, err := npy.Read(ixFlags.queries)
	if err != nil {
		return fmt.Errorf("index query: %w", err)
	}
	if dim != x.Dim() {
		return fmt.Errorf("index query: %s holds %d-dimensional queries but the index is %d-dimensional: %w", ixFlags.queries, dim, x.Dim(), index.ErrDim)
	}
	so := &index.SearchOptions{Ef: ixFlags.qEf, SearchK: ixFlags.searchK, Threads: ixFlags.qThreads}
	if len(conds) > 0 {
		so.Filter = search.CompileFilter(x, conds).Match
	}
	if ixFlags.allow != "" {
		if so.Allow, err = parseIDArgs("--allow", []string{ixFlags.allow}); err != nil {
			return fmt.Errorf("index query: %w", err)
		}
	}
	start := time.Now()
	res, err := x.SearchBatch(qs, nq, ixFlags.k, so)
	secs := time.Since(start).Seconds()
	if err != nil {
		return err
	}
	if len(conds) > 0 || ixFlags.allow != "" {
		empty := true
		for _, r := range res {
			empty = empty && len(r) == 0
		}
		if empty && nq > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "loupe: no vector in %s passes the --filter/--allow conditions, so every query has no results\n", ixFlags.index)
		}
	}
	w := cmd.OutOrStdout()
	if jsonOutput() {
		ids := make([][]uint64, nq)
		dists := make([][]float32, nq)
		for i, r := range res {
			ids[i] = make([]uint64, len(r))
			dists[i] = make([]float32, len(r))
			for j, h := range r {
				ids[i][j], dists[i][j] = h.ID, h.Distance
			}
		}
		return writeJSON(w, map[string]any{"ids": ids, "distances": dists, "seconds": secs})
	}
	bw := bufio.NewWriter(w)
	for i, r := range res {
		fmt.Fprintf(bw, "query %d:", i)
		for _, h := range r {
			fmt.Fprintf(bw, " %d (%.4g)", h.ID, h.Distance)
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintf(bw, "%d queries in %.3fs (%.0f queries/s)\n", nq, secs, float64(nq)/secs)
	return bw.Flush()
}
