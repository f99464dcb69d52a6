package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/retrieval"
	"github.com/loupe-ml/loupe/search"
)

var ragFlags struct {
	corpus         []string
	out, store     string
	chunkTokens    int
	lm, embedModel string
	queryLM        string
	batchSize      int
	quantize       string
	kind           string
	overwrite      bool
	replace        bool
	search         search.SearchOptions // --mode, --fusion
	k1, b, alpha   float64
	k              int
	filter         []string
	ef             int
}

var ragCmd = &cobra.Command{
	Use:   "rag",
	Short: "Retrieval for language models: build and query a RETRO-style chunk store",
	Long: `A chunk store is RETRO's retrieval database: a corpus cut into chunks of N
tokens of the language model's tokenizer (64 by default, as RETRO), each
stored with its continuation (the next N tokens), embedded with a sentence
embedding model and kept in loupe's vector index.

  loupe rag build --corpus DIR --out STORE    make one
  loupe rag query --store STORE TEXT          each chunk of TEXT, its neighbours and their continuations

The store directory is a loupe index too (loupe search --index STORE works on
it); its rag.json records the chunk size, the LM's tokenizer and the
embedding model.`,
}

func init() {
	build := &cobra.Command{
		Use:   "build --corpus FILE|DIR... --out STORE",
		Short: "Cut a corpus into chunks with their continuations, embed and index them",
		Long: `Read the text files of --corpus (files, or directories read recursively in
name order, hidden files left out), tokenize each with the LM's tokenizer, cut
it into chunks of --chunk-tokens tokens (a file's last chunk may be shorter; a
chunk never spans two files), and store each chunk with its continuation (the
next --chunk-tokens tokens of the file), its file, chunk number and token
offset, embedded with --embed-model.

The store is built in a hidden directory beside --out and renamed into place
when done: a build that fails or is interrupted leaves no store behind.`,
		Example: `  loupe rag build --corpus kjv/ --out kjv.rag
  loupe rag build --corpus a.txt --corpus notes/ --out my.rag --chunk-tokens 32 --kind flat`,
		Args: cobra.NoArgs,
		RunE: runRagBuild,
	}
	f := build.Flags()
	f.StringArrayVar(&ragFlags.corpus, "corpus", nil, "text file or directory (repeatable; required)")
	f.StringVar(&ragFlags.out, "out", "", "store directory to create (required)")
	f.IntVar(&ragFlags.chunkTokens, "chunk-tokens", retrieval.DefaultChunkTokens, "chunk size N in LM tokens (each chunk keeps up to N tokens of continuation)")
	f.StringVar(&ragFlags.lm, "lm", defaults.GPT2, "language model whose tokenizer cuts the chunks (default: loupe's built-in KJV GPT-2)")
	f.StringVar(&ragFlags.embedModel, "embed-model", defaults.Embed, "embedding model (hub id or directory; default: loupe's built-in KJV word2vec model)")
	addEmbedFlags(f, &ragFlags.batchSize, &ragFlags.quantize, "")
	f.StringVar(&ragFlags.kind, "kind", string(index.HNSW), "index kind: hnsw, flat (exact) or forest")
	f.BoolVar(&ragFlags.overwrite, "overwrite", false, "replace what is at --out")

	query := &cobra.Command{
		Use:   "query --store STORE [flags] TEXT...",
		Short: "RETRO's retrieval step: each chunk of TEXT, its nearest chunks and their continuations",
		Long: `Tokenize each TEXT with the store's LM tokenizer, cut it into chunks of the
store's chunk size, and print each chunk's --k nearest stored chunks with
their scores, sources and continuations.

--mode bm25 ranks the chunks by Okapi BM25 over their text instead of by
their embeddings, and --mode hybrid fuses both rankings, as loupe search does.`,
		Example: `  loupe rag query --store kjv.rag "The LORD is my shepherd"
  loupe rag query --store kjv.rag --k 4 --format json "In the beginning"
  loupe rag query --store kjv.rag --mode hybrid "the serpent was more subtil"`,
		Args: cobra.MinimumNArgs(1),
		RunE: runRagQuery,
	}
	f = query.Flags()
	f.StringVar(&ragFlags.store, "store", "", "chunk store directory (required)")
	f.IntVar(&ragFlags.k, "k", retrieval.DefaultK, "neighbours per chunk")
	f.IntVar(&ragFlags.ef, "ef", 0, "HNSW search candidate list size (0: the index default, at least k)")
	f.StringArrayVar(&ragFlags.filter, "filter", nil, filterUsage+` (fields: source, chunk, offset, tokens)`)
	f.StringVar(&ragFlags.queryLM, "lm", "", "language model the store must match (default: the one the store records)")
	f.StringVar((*string)(&ragFlags.search.Mode), "mode", string(search.ModeDense), "ranking: dense, bm25 or hybrid (as loupe search --mode)")
	f.StringVar((*string)(&ragFlags.search.Fusion), "fusion", "", "hybrid fusion: rrf (default) or weighted")
	f.Float64Var(&ragFlags.k1, "k1", search.DefaultK1, "BM25 term-frequency saturation k1 (bm25, hybrid)")
	f.Float64Var(&ragFlags.b, "b", search.DefaultB, "BM25 length normalisation b, 0..1 (bm25, hybrid)")
	f.Float64Var(&ragFlags.alpha, "alpha", search.DefaultAlpha, "weighted fusion: weight of the dense list, 0..1")

	add := &cobra.Command{
		Use:   "add --store STORE --corpus FILE|DIR...",
		Short: "Add text files to a chunk store",
		Long: `Chunk, embed and add the text files of --corpus to the store, with the
store's chunk size, LM tokenizer and embedding model. A file the store already
holds is refused unless --replace is given (its old chunks are then deleted).
The store is locked while it changes; the index and then rag.json are saved
atomically.`,
		Example: `  loupe rag add --store kjv.rag --corpus more/
  loupe rag add --store kjv.rag --corpus kjv/01-Genesis.txt --replace`,
		Args: cobra.NoArgs,
		RunE: runRagUpdate,
	}
	f = add.Flags()
	f.StringArrayVar(&ragFlags.corpus, "corpus", nil, "text file or directory (repeatable; required)")
	f.BoolVar(&ragFlags.replace, "replace", false, "chunk files the store already holds again")
	del := &cobra.Command{
		Use:     "delete --store STORE SOURCE...",
		Short:   "Delete the chunks of source files from a chunk store",
		Long:    `Delete every chunk of each SOURCE, a file as the store records it (see rag.json's sources).`,
		Example: `  loupe rag delete --store kjv.rag kjv/01-Genesis.txt`,
		Args:    cobra.MinimumNArgs(1),
		RunE:    runRagUpdate,
	}
	for _, c := range []*cobra.Command{add, del} {
		c.Flags().StringVar(&ragFlags.store, "store", "", "chunk store directory (required)")
		c.Flags().StringVar(&ragFlags.queryLM, "lm", "", "language model the store must match (default: the one the store records)")
	}

	ragCmd.AddCommand(build, query, add, del)
	rootCmd.AddCommand(ragCmd)
}

// ragFlagNames names the flag of each retrieval option field in errors.
var ragFlagNames = map[string]string{"ChunkTokens": "--chunk-tokens", "LM": "--lm", "EmbedModel": "--embed-model", "K": "--k"}

// ragError is cmdError with the rag commands' flag names.
func ragError(cmd string, err error) error {
	if field, value, allowed, ok := optionError(err); ok && ragFlagNames[field] != "" {
		return fmt.Errorf("%s: %s %v: want %s", cmd, ragFlagNames[field], value, allowed)
	}
	msg := strings.TrimPrefix(trimPkg(err), "retrieval: ")
	if errors.Is(err, context.Canceled) {
		msg = "interrupted: the store was left as it was"
	}
	if errors.Is(err, retrieval.ErrStoreExists) {
		msg += "; pass --overwrite to replace it"
	}
	if _, _, _, ok := optionError(err); ok || strings.HasPrefix(msg, cmd+": ") {
		return cmdError(cmd, err)
	}
	return &prefixed{msg: cmd + ": " + msg, err: err}
}

func runRagBuild(cmd *cobra.Command, args []string) error {
	if ragFlags.out == "" || len(ragFlags.corpus) == 0 {
		return errors.New("rag build: --corpus FILE|DIR and --out STORE are required")
	}
	kind, err := index.ParseKind(ragFlags.kind)
	if err != nil {
		return fmt.Errorf("rag build: --kind: %s", trimPkg(err))
	}
	opts := retrieval.BuildOptions{ChunkTokens: ragFlags.chunkTokens, LM: ragFlags.lm, EmbedModel: ragFlags.embedModel,
		Embed: embedOptions(ragFlags.batchSize, 0, ragFlags.quantize), Index: index.DefaultOptions(), Hub: hubClient(),
		Overwrite: ragFlags.overwrite}
	opts.Index.Kind = kind
	report, finish := progress.Reporter[int64]("chunking and embedding", true)
	opts.Progress = report
	// Ctrl-C cancels the build, which then removes what it wrote.
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := retrieval.Build(ctx, ragFlags.out, ragFlags.corpus, opts)
	finish()
	if err != nil {
		return ragError("rag build", err)
	}
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"store": ragFlags.out, "manifest": res.Manifest, "seconds": res.Seconds,
		"embed_seconds": res.EmbedSeconds, "index_seconds": res.IndexSeconds},
		"built chunk store %s: %d chunks of up to %d tokens (%d tokens of %s) from %d files in %.2fs (embedding %.2fs, indexing %.2fs)\n",
		ragFlags.out, res.Chunks, res.ChunkTokens, res.Tokens, res.LM.Model, len(res.Sources), res.Seconds, res.EmbedSeconds, res.IndexSeconds)
}

func runRagQuery(cmd *cobra.Command, args []string) error {
	if ragFlags.store == "" {
		return errors.New("rag query: --store STORE is required")
	}
	if err := checkUTF8Args("rag query", args); err != nil {
		return err
	}
	so := ragFlags.search
	so.K, so.Ef = ragFlags.k, ragFlags.ef
	for name, p := range map[string]**float64{"k1": &so.K1, "b": &so.B, "alpha": &so.Alpha} {
		if cmd.Flags().Changed(name) {
			v, _ := cmd.Flags().GetFloat64(name)
			*p = &v
		}
	}
	var err error
	if so.Filter, err = search.ParseConditions(ragFlags.filter); err != nil {
		return cmdError("rag query", err)
	}
	if ragFlags.k < 1 {
		return ragError("rag query", &search.OptionError{Field: "K", Value: ragFlags.k, Allowed: "a positive number"})
	}
	s, err := retrieval.Open(cmd.Context(), ragFlags.store, retrieval.OpenOptions{LM: ragFlags.queryLM, Hub: hubClient(),
		Embed: embedOptions(0, 0, "")})
	if err != nil {
		return ragError("rag query", err)
	}
	defer s.Close()
	queries := make([]retrieval.Query, len(args))
	for i, text := range args {
		chunks, err := s.Neighbours(cmd.Context(), text, ragFlags.k, so)
		if err != nil {
			return ragError("rag query", err)
		}
		queries[i] = retrieval.Query{Text: text, Chunks: chunks}
	}
	out := cmd.OutOrStdout()
	if jsonOutput() {
		for _, q := range queries {
			if err := writeJSON(out, map[string]any{"text": q.Text, "store": ragFlags.store, "chunk_tokens": s.ChunkTokens(),
				"embed_model": s.Search().Model(), "chunks": q.Chunks}); err != nil {
				return err
			}
		}
		return nil
	}
	return retrieval.WriteText(out, queries, 100)
}

// runRagUpdate runs loupe rag add (--corpus) and loupe rag delete (the
// arguments).
func runRagUpdate(cmd *cobra.Command, args []string) error {
	name := "rag " + cmd.Name()
	if ragFlags.store == "" {
		return fmt.Errorf("%s: --store STORE is required", name)
	}
	opts := retrieval.UpdateOptions{Delete: args, LM: ragFlags.queryLM, Embed: embedOptions(0, 0, ""), Hub: hubClient(),
		Waiting: waiting(cmd, ragFlags.store)}
	if cmd.Name() == "add" {
		if len(ragFlags.corpus) == 0 {
			return fmt.Errorf("%s: --corpus FILE|DIR is required", name)
		}
		opts.Add, opts.Replace = ragFlags.corpus, ragFlags.replace
	}
	report, finish := progress.Reporter[int64]("chunking and embedding", true)
	opts.Progress = report
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := retrieval.Update(ctx, ragFlags.store, opts)
	finish()
	if errors.Is(err, retrieval.ErrSourceExists) {
		return fmt.Errorf("%s: %s; pass --replace to chunk it again", name, strings.TrimPrefix(err.Error(), "retrieval: "))
	}
	if err != nil {
		return ragError(name, err)
	}
	return jsonOrLine(cmd.OutOrStdout(), map[string]any{"store": ragFlags.store, "manifest": res.Manifest, "seconds": res.Seconds,
		"embed_seconds": res.EmbedSeconds, "index_seconds": res.IndexSeconds},
		"chunk store %s: %d chunks (%d tokens) from %d files, in %.2fs\n", ragFlags.store, res.Chunks, res.Tokens, len(res.Sources), res.Seconds)
}
