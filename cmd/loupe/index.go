package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/npy"
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

var ixFlags struct {
	vectors, input, model, metric, kind, ids, metadata, out string
	m, efC, ef, nTrees, leafSize, threads, batchSize        int
	seed                                                    int64
	replaceDeleted                                          bool

	index, queries, allow string
	k, searchK            int
	filters               []string
	verify                bool
	delIDs                []string
}

func init() {
	build := &cobra.Command{
		Use:   "build",
		Short: "Build an index from vectors (.npy/.fvecs) or from texts embedded with a model",
		Example: `  loupe index build --vectors base.npy --metric cosine --kind hnsw --m 16 --ef-construction 200 --out idx
  loupe index build --vectors base.fvecs --kind forest --n-trees 20 --ids ids.txt --metadata meta.jsonl --out idx
  loupe index build --input docs.jsonl --model sentence-transformers/all-MiniLM-L6-v2 --out docs.idx`,
		Args: cobra.NoArgs,
		RunE: runIndexBuild,
	}
	f := build.Flags()
	f.StringVar(&ixFlags.vectors, "vectors", "", "vectors: a 2-D float32/float64 .npy or an .fvecs file")
	f.StringVar(&ixFlags.input, "input", "", "texts to embed: JSON lines with \"text\" (optional \"id\" and other fields kept as metadata) or plain lines")
	f.StringVar(&ixFlags.model, "model", "", "embedding model for --input (hub id or directory); recorded in the index")
	f.IntVar(&ixFlags.batchSize, "batch-size", 32, "texts per forward pass with --input")
	f.StringVar(&ixFlags.metric, "metric", "cosine", "distance: cosine, dot (1-ip) or l2 (squared)")
	f.StringVar(&ixFlags.kind, "kind", "hnsw", "index kind: hnsw, flat or forest")
	f.IntVar(&ixFlags.m, "m", 16, "HNSW M: links per element (level 0 keeps 2·M)")
	f.IntVar(&ixFlags.efC, "ef-construction", 200, "HNSW ef_construction")
	f.IntVar(&ixFlags.ef, "ef", 10, "HNSW default search ef stored in the index")
	f.IntVar(&ixFlags.nTrees, "n-trees", 10, "forest: number of trees")
	f.IntVar(&ixFlags.leafSize, "leaf-size", 64, "forest: most items per leaf")
	f.Int64Var(&ixFlags.seed, "seed", 100, "random seed (levels, planes)")
	f.IntVar(&ixFlags.threads, "threads", 0, "build threads (0: all cores)")
	f.StringVar(&ixFlags.ids, "ids", "", "file of ids, one unsigned integer per line (default 0..n-1)")
	f.StringVar(&ixFlags.metadata, "metadata", "", "JSON lines file, one object (or blank) per vector")
	f.BoolVar(&ixFlags.replaceDeleted, "allow-replace-deleted", false, "let later adds reuse deleted slots")
	f.StringVar(&ixFlags.out, "out", "", "output index directory (required)")

	add := &cobra.Command{
		Use:   "add",
		Short: "Add vectors (or texts, embedded with the index's model) to an index",
		Example: `  loupe index add --index idx --vectors more.npy --ids more_ids.txt
  loupe index add --index docs.idx --input new_docs.jsonl`,
		Args: cobra.NoArgs,
		RunE: runIndexAdd,
	}
	f = add.Flags()
	f.StringVar(&ixFlags.index, "index", "", "index directory (required)")
	f.StringVar(&ixFlags.vectors, "vectors", "", "vectors: .npy or .fvecs")
	f.StringVar(&ixFlags.input, "input", "", "texts to embed with the index's model")
	f.IntVar(&ixFlags.batchSize, "batch-size", 32, "texts per forward pass with --input")
	f.StringVar(&ixFlags.ids, "ids", "", "file of ids, one per line (default: after the largest id)")
	f.StringVar(&ixFlags.metadata, "metadata", "", "JSON lines file, one object per vector")
	f.IntVar(&ixFlags.threads, "threads", 0, "insert threads (0: all cores)")

	del := &cobra.Command{
		Use:     "delete",
		Short:   "Mark ids deleted (kept in the graph, never returned), like hnswlib's mark_deleted",
		Example: `  loupe index delete --index idx --ids 3,17,42`,
		Args:    cobra.NoArgs,
		RunE:    runIndexDelete,
	}
	f = del.Flags()
	f.StringVar(&ixFlags.index, "index", "", "index directory (required)")
	f.StringSliceVar(&ixFlags.delIDs, "ids", nil, "ids to delete, comma separated (or @file with one per line)")

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
	f.IntVar(&ixFlags.k, "k", 10, "neighbours per query")
	f.IntVar(&ixFlags.ef, "ef", 0, "HNSW ef (0: the index default; max(ef, k) is used)")
	f.IntVar(&ixFlags.searchK, "search-k", 0, "forest search_k (0: n_trees·k)")
	f.IntVar(&ixFlags.threads, "threads", 1, "query threads (also caps the Go scheduler, for single-thread timing)")
	f.StringArrayVar(&ixFlags.filters, "filter", nil, "metadata filter key=value (repeatable, all must match)")
	f.StringVar(&ixFlags.allow, "allow", "", "file of allowed ids, one per line")

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
	if ixFlags.ids != "" {
		if b.IDs, err = readIDs(ixFlags.ids); err != nil {
			return b, 0, err
		}
		if len(b.IDs) != rows {
			return b, 0, fmt.Errorf("%s has %d ids but %s has %d vectors", ixFlags.ids, len(b.IDs), ixFlags.vectors, rows)
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

// embedBatch embeds the texts of --input with model ref. Each document's
// metadata is its JSON fields plus "text"; an integer "id" becomes the
// vector id, any other "id" is kept in the metadata and the vector gets a
// default id.
func embedBatch(cmd *cobra.Command, ref string) (index.Batch, int, error) {
	var b index.Batch
	recs, err := readTextFile(ixFlags.input)
	if err != nil {
		return b, 0, err
	}
	var bar *progress.Bar
	m, err := loadEmbedModel(cmd.Context(), ref, ixFlags.batchSize, 0, &bar)
	if err != nil {
		return b, 0, err
	}
	defer m.Close()
	texts := make([]string, len(recs))
	ids := make([]uint64, len(recs))
	allInt := true
	seen := map[uint64]bool{}
	for i, r := range recs {
		texts[i] = r.Text
		id, ok := intID(r.ID)
		if !ok || seen[id] {
			allInt = false
		}
		seen[id] = true
		ids[i] = id
	}
	if allInt {
		b.IDs = ids
	}
	b.Meta = make([]json.RawMessage, len(recs))
	for i, r := range recs {
		meta := map[string]any{}
		for k, v := range r.Meta {
			meta[k] = v
		}
		meta["text"] = r.Text
		if !allInt {
			meta["id"] = r.ID
		}
		if b.Meta[i], err = json.Marshal(meta); err != nil {
			return b, 0, err
		}
	}
	bar = progress.New(int64(len(texts)), "embedding", false)
	vecs, err := m.Embed(texts)
	bar.Finish()
	if err != nil {
		return b, 0, err
	}
	dim := m.Dim()
	b.Vectors = make([]float32, 0, len(vecs)*dim)
	for _, v := range vecs {
		b.Vectors = append(b.Vectors, v...)
	}
	return b, dim, nil
}

// intID returns id as a uint64 if it is a non-negative integer (a JSON
// number or the line index).
func intID(id any) (uint64, bool) {
	switch v := id.(type) {
	case int:
		return uint64(v), v >= 0
	case json.Number:
		u, err := strconv.ParseUint(v.String(), 10, 64)
		return u, err == nil
	case float64:
		return uint64(v), v >= 0 && v == float64(uint64(v))
	}
	return 0, false
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
	kind, err := index.ParseKind(ixFlags.kind)
	if err != nil {
		return err
	}
	metric, err := index.ParseMetric(ixFlags.metric)
	if err != nil {
		return err
	}
	var b index.Batch
	var dim int
	model := ""
	if ixFlags.input != "" {
		if ixFlags.model == "" {
			return fmt.Errorf("index build: --input needs --model (a hub id or model directory)")
		}
		if ixFlags.ids != "" || ixFlags.metadata != "" {
			return fmt.Errorf("index build: with --input, ids and metadata come from the JSON lines (\"id\" and other fields)")
		}
		model = ixFlags.model
		if st, err := os.Stat(model); err == nil && st.IsDir() {
			if abs, err := filepath.Abs(model); err == nil {
				model = abs
			}
		}
		b, dim, err = embedBatch(cmd, model)
	} else {
		b, dim, err = loadBatch()
	}
	if err != nil {
		return fmt.Errorf("index build: %w", err)
	}
	x, err := index.New(index.Options{
		Kind: kind, Metric: metric, Dim: dim, M: ixFlags.m, EfConstruction: ixFlags.efC, Ef: ixFlags.ef,
		Seed: ixFlags.seed, NTrees: ixFlags.nTrees, LeafSize: ixFlags.leafSize, Threads: ixFlags.threads,
		AllowReplaceDeleted: ixFlags.replaceDeleted, Model: model,
	})
	if err != nil {
		return err
	}
	secs, err := addWithProgress(x, b, "indexing")
	if err != nil {
		return err
	}
	if err := x.Save(ixFlags.out); err != nil {
		return err
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
	x, err := openIndexFlag()
	if err != nil {
		return err
	}
	defer x.Close()
	var b index.Batch
	var dim int
	if ixFlags.input != "" {
		if x.Model() == "" {
			return fmt.Errorf("index add: index %s records no embedding model; add vectors with --vectors", ixFlags.index)
		}
		b, dim, err = embedBatch(cmd, x.Model())
	} else {
		b, dim, err = loadBatch()
	}
	if err != nil {
		return fmt.Errorf("index add: %w", err)
	}
	if dim != x.Dim() {
		return fmt.Errorf("index add: %d-dimensional vectors for a %d-dimensional index: %w", dim, x.Dim(), index.ErrDim)
	}
	if ixFlags.threads > 0 {
		runtime.GOMAXPROCS(ixFlags.threads)
	}
	secs, err := addWithProgress(x, b, "adding")
	if err != nil {
		return err
	}
	if err := x.Save(ixFlags.index); err != nil {
		return err
	}
	st := x.Stats()
	n := len(b.Vectors) / dim
	if jsonOutput() {
		return writeJSON(cmd.OutOrStdout(), map[string]any{"added": n, "count": st.Count, "seconds": secs, "bytes": st.Bytes})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "added %d vectors in %.2fs; index now holds %d\n", n, secs, st.Count)
	return nil
}

func runIndexDelete(cmd *cobra.Command, args []string) error {
	var ids []uint64
	for _, s := range ixFlags.delIDs {
		if strings.HasPrefix(s, "@") {
			more, err := readIDs(s[1:])
			if err != nil {
				return fmt.Errorf("index delete: %w", err)
			}
			ids = append(ids, more...)
			continue
		}
		id, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("index delete: id %q is not an unsigned integer", s)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return fmt.Errorf("index delete: --ids is required")
	}
	x, err := openIndexFlag()
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
	if ixFlags.threads > 0 {
		runtime.GOMAXPROCS(ixFlags.threads)
	}
	filter, err := whereFilter(ixFlags.filters)
	if err != nil {
		return fmt.Errorf("index query: %w", err)
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
	so := &index.SearchOptions{Ef: ixFlags.ef, SearchK: ixFlags.searchK, Threads: ixFlags.threads, Filter: filter}
	if ixFlags.allow != "" {
		if so.Allow, err = readIDs(ixFlags.allow); err != nil {
			return fmt.Errorf("index query: %w", err)
		}
	}
	start := time.Now()
	res, err := x.SearchBatch(qs, nq, ixFlags.k, so)
	secs := time.Since(start).Seconds()
	if err != nil {
		return err
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
