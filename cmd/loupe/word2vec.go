package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/word2vec"
	"github.com/spf13/cobra"
)

var w2vCmd = &cobra.Command{
	Use:   "word2vec",
	Short: "Train, query and evaluate word2vec embeddings (C tool and gensim formats)",
}

func init() {
	rootCmd.AddCommand(w2vCmd)
	w2vCmd.AddCommand(w2vTrainCmd(), w2vSimilarCmd(), w2vAnalogyCmd(), w2vSimilarityCmd(), w2vDoesntMatchCmd(), w2vEvalCmd(), w2vConvertCmd())
}

// w2vFlags names the flags of the word2vec commands by the options field
// (word2vec.Options, QueryOptions, EvalOptions) they set.
var w2vFlags = map[string]string{
	"Dim": "--size", "Window": "--window", "Negative": "--negative", "Sample": "--sample",
	"MinCount": "--min-count", "Epochs": "--epochs", "Alpha": "--alpha", "MinAlpha": "--min-alpha",
	"Threads": "--threads", "TopN": "-n/--top", "Restrict": "--restrict",
}

// printNeighbors renders ns as a word (or item) and score table, or with
// --format json as head plus "results" (items as {"item", "score"}).
func printNeighbors(cmd *cobra.Command, head map[string]any, ns []word2vec.Neighbor, items bool) error {
	head["results"] = ns
	if items {
		r := make([]map[string]any, len(ns))
		for i, n := range ns {
			r[i] = map[string]any{"item": n.Word, "score": n.Score}
		}
		head["results"] = r
	}
	return jsonOrText(cmd.OutOrStdout(), head, func(w io.Writer) error { return word2vec.WriteNeighbors(w, ns) })
}

func w2vTrainCmd() *cobra.Command {
	opt := word2vec.DefaultOptions("")
	var out, format, stDir string
	var cbow bool
	c := &cobra.Command{
		Use:   "train --corpus FILE|DIR --out vectors.bin",
		Short: "Train word vectors (skip-gram or CBOW, negative sampling / hierarchical softmax)",
		Long: `Train word vectors on a corpus streamed from disk: a text file or a directory of
text files, one sentence per line, tokens separated by white space.
Defaults are gensim's Word2Vec: CBOW, size 100, window 5, negative 5,
sample 1e-3, min-count 5, 5 epochs, alpha 0.025 → 0.0001.
As in gensim, 0 means zero: --sample 0 disables subsampling, --negative 0
(with --hs) trains hierarchical softmax only, --min-count 0 keeps every word.
Files of a corpus directory that contain NUL bytes are skipped with a warning.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			if opt.SkipGram && cbow {
				return fmt.Errorf("--sg and --cbow are exclusive")
			}
			f, err := word2vec.ParseFormat(format)
			if err != nil {
				return err
			}
			report, finish := progress.Reporter[int64]("word2vec", false)
			opt.Progress = report
			vecs, st, err := word2vec.Train(context.Background(), opt)
			finish()
			if st != nil && len(st.SkippedFiles) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: skipped %d corpus file(s) that are not text (they contain NUL bytes): %s\n", len(st.SkippedFiles), strings.Join(st.SkippedFiles, ", "))
			}
			if err != nil {
				return cliError("", err, w2vFlags)
			}
			f = word2vec.SaveFormat(out, f)
			if err := vecs.Save(out, f); err != nil {
				return err
			}
			also := ""
			if stDir != "" {
				if err := vecs.WriteSentenceTransformers(stDir, word2vec.SentenceTransformersOptions{}); err != nil {
					return fmt.Errorf("--sentence-transformers: %w", hideTempName(err))
				}
				also = " and the sentence-transformers model " + stDir
			}
			return jsonOrLine(cmd.OutOrStdout(), map[string]any{
				"seconds": st.Seconds, "words_per_second": st.WordsPerSecond, "vocab": st.Vocab,
				"corpus_words": st.CorpusWords, "epochs": st.Epochs, "out": out, "skipped_files": st.SkippedFiles,
				"sentence_transformers": stDir,
			}, "trained %d words × %d dims on %d corpus words × %d epochs in %.1fs (%.0f words/s); wrote %s (%s)%s\n",
				st.Vocab, vecs.Dim, st.CorpusWords, st.Epochs, st.Seconds, st.WordsPerSecond, out, f, also)
		},
	}
	fl := c.Flags()
	fl.StringVar(&opt.Corpus, "corpus", "", "corpus file or directory (one sentence per line)")
	fl.StringVar(&out, "out", "", "output vectors file")
	fl.StringVar(&format, "vectors-format", "auto", "output format: binary, text, or auto (text for .txt/.vec, else binary)")
	fl.StringVar(&stDir, "sentence-transformers", "", "also write the vectors as a sentence-transformers model (averaged word embeddings) in this directory")
	fl.BoolVar(&opt.SkipGram, "sg", false, "skip-gram")
	fl.BoolVar(&cbow, "cbow", false, "CBOW (the default)")
	fl.BoolVar(&opt.HS, "hs", false, "add hierarchical softmax")
	fl.IntVar(&opt.Dim, "size", opt.Dim, "vector dimension (1..65536)")
	fl.IntVar(&opt.Window, "window", opt.Window, "maximum context window (> 0)")
	fl.IntVar(&opt.Negative, "negative", opt.Negative, "negative samples per example (0: none, hierarchical softmax only, needs --hs)")
	fl.Float64Var(&opt.Sample, "sample", opt.Sample, "subsampling threshold (0: no subsampling)")
	fl.IntVar(&opt.MinCount, "min-count", opt.MinCount, "ignore words seen fewer times (0 or 1: keep every word)")
	fl.IntVar(&opt.Epochs, "epochs", opt.Epochs, "passes over the corpus (> 0)")
	fl.Float64Var(&opt.Alpha, "alpha", opt.Alpha, "initial learning rate (> 0)")
	fl.Float64Var(&opt.MinAlpha, "min-alpha", opt.MinAlpha, "final learning rate (>= 0)")
	fl.IntVar(&opt.Threads, "threads", 0, "training threads (0: all CPUs)")
	fl.Uint64Var(&opt.Seed, "seed", 1, "random seed (deterministic with --threads 1)")
	return c
}

// loadingCmd is a command that loads the file named by --flag (required)
// and passes it to run; errors name the flags.
func loadingCmd[T any](use, short string, nargs cobra.PositionalArgs, flag, help string, flags map[string]string, load func(path string) (T, error), run func(cmd *cobra.Command, x T, args []string) error) *cobra.Command {
	var path string
	c := &cobra.Command{
		Use: use, Short: short, Args: nargs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return fmt.Errorf("--%s is required", flag)
			}
			x, err := load(path)
			if err != nil {
				return err
			}
			return cliError("", run(cmd, x, args), flags)
		},
	}
	c.Flags().StringVar(&path, flag, "", help)
	return c
}

// w2vQueryCmd is a loadingCmd for --vectors (and --vectors-format).
func w2vQueryCmd(use, short string, nargs cobra.PositionalArgs, run func(cmd *cobra.Command, v *word2vec.Vectors, args []string) error) *cobra.Command {
	var format string
	load := func(path string) (*word2vec.Vectors, error) {
		f, err := word2vec.ParseFormat(format)
		if err != nil {
			return nil, err
		}
		return word2vec.Load(path, f, 0)
	}
	c := loadingCmd(use, short, nargs, "vectors", "word2vec vectors file (text or binary)", w2vFlags, load, run)
	c.Flags().StringVar(&format, "vectors-format", "auto", "vectors file format: binary, text, or auto (by content; .txt/.vec mean text)")
	return c
}

// topFlags adds -n/--top, --restrict and --cosmul to c.
func topFlags(c *cobra.Command, opt *word2vec.QueryOptions, cosmul *bool, cosmulHelp string) {
	c.Flags().IntVarP(&opt.TopN, "top", "n", opt.TopN, "number of results")
	c.Flags().IntVar(&opt.Restrict, "restrict", opt.Restrict, "search only the first N words of the file (0: all)")
	c.Flags().BoolVar(cosmul, "cosmul", false, cosmulHelp)
}

func w2vSimilarCmd() *cobra.Command {
	var negative []string
	opt := word2vec.DefaultQueryOptions()
	var cosmul bool
	c := w2vQueryCmd("similar --vectors V WORD... [--negative WORD...]", "Nearest words by cosine similarity (gensim most_similar / most_similar_cosmul)", cobra.MinimumNArgs(1),
		func(cmd *cobra.Command, v *word2vec.Vectors, args []string) error {
			similar := v.MostSimilar
			if cosmul {
				similar = v.MostSimilarCosmul
			}
			ns, err := similar(args, negative, opt)
			if err != nil {
				return err
			}
			return printNeighbors(cmd, map[string]any{"positive": args, "negative": negative, "cosmul": cosmul}, ns, false)
		})
	c.Flags().StringSliceVar(&negative, "negative", nil, "words to subtract (repeatable or comma-separated)")
	topFlags(c, &opt, &cosmul, "rank by 3CosMul instead of cosine of the mean")
	return c
}

func w2vAnalogyCmd() *cobra.Command {
	opt := word2vec.DefaultQueryOptions()
	var cosmul bool
	c := w2vQueryCmd("analogy --vectors V A B C", "A is to B as C is to ? (3CosAdd, or 3CosMul with --cosmul)", cobra.ExactArgs(3),
		func(cmd *cobra.Command, v *word2vec.Vectors, args []string) error {
			ns, err := v.Analogy(args[0], args[1], args[2], cosmul, opt)
			if err != nil {
				return err
			}
			return printNeighbors(cmd, map[string]any{"a": args[0], "b": args[1], "c": args[2], "cosmul": cosmul}, ns, false)
		})
	topFlags(c, &opt, &cosmul, "3CosMul (gensim most_similar_cosmul) instead of 3CosAdd")
	return c
}

func w2vSimilarityCmd() *cobra.Command {
	return w2vQueryCmd("similarity --vectors V WORD1 WORD2", "Cosine similarity of two words", cobra.ExactArgs(2),
		func(cmd *cobra.Command, v *word2vec.Vectors, args []string) error {
			s, err := v.Similarity(args[0], args[1])
			if err != nil {
				return err
			}
			return jsonOrLine(cmd.OutOrStdout(), map[string]any{"a": args[0], "b": args[1], "similarity": s}, "%.4f\n", s)
		})
}

func w2vDoesntMatchCmd() *cobra.Command {
	return w2vQueryCmd("doesnt-match --vectors V WORD WORD...", "The word furthest from the mean of the others (gensim doesnt_match)", cobra.MinimumNArgs(2),
		func(cmd *cobra.Command, v *word2vec.Vectors, args []string) error {
			word, err := v.DoesntMatch(args)
			if err != nil {
				return err
			}
			return jsonOrLine(cmd.OutOrStdout(), map[string]any{"words": args, "doesnt_match": word}, "%s\n", word)
		})
}

func w2vEvalCmd() *cobra.Command {
	opt := word2vec.DefaultEvalOptions()
	caseInsensitive := true
	c := w2vQueryCmd("eval --vectors V [--analogies questions-words.txt] [--similarities pairs.tsv]", "Analogy accuracy and word-pair correlation, counted as gensim does", cobra.NoArgs,
		func(cmd *cobra.Command, v *word2vec.Vectors, args []string) error {
			opt.CaseSensitive = !caseInsensitive
			res, err := v.Evaluate(opt)
			if err != nil {
				return err
			}
			return jsonOrText(cmd.OutOrStdout(), res, res.WriteText)
		})
	c.Flags().StringVar(&opt.Analogies, "analogies", "", "analogy questions file (questions-words.txt layout)")
	c.Flags().StringVar(&opt.Pairs, "similarities", "", "word pairs with human scores, tab-separated")
	c.Flags().IntVar(&opt.Restrict, "restrict", opt.Restrict, "use only the first N words of the vectors file")
	c.Flags().BoolVar(&caseInsensitive, "case-insensitive", true, "upper-case all words; the most frequent spelling stands for all (gensim's default; --case-insensitive=false compares words as written)")
	c.Flags().BoolVar(&opt.Cosmul, "cosmul", false, "answer analogies by 3CosMul")
	return c
}

func w2vConvertCmd() *cobra.Command {
	var out, to, stopFile string
	var opt word2vec.SentenceTransformersOptions
	c := w2vQueryCmd("convert --vectors V --out PATH [--to binary|text|sentence-transformers]",
		"Rewrite vectors as a word2vec text or binary file, or as a sentence-transformers model (averaged word embeddings)", cobra.NoArgs,
		func(cmd *cobra.Command, v *word2vec.Vectors, args []string) error {
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			res := map[string]any{"out": out, "words": v.Len(), "dim": v.Dim}
			if to == "sentence-transformers" {
				if stopFile != "" {
					b, err := os.ReadFile(stopFile)
					if err != nil {
						return fmt.Errorf("--stop-words: %w", err)
					}
					opt.StopWords = strings.Fields(string(b))
				}
				if err := v.WriteSentenceTransformers(out, opt); err != nil {
					return hideTempName(err)
				}
				res["to"] = to
				return jsonOrLine(cmd.OutOrStdout(), res, "wrote %d words × %d dims as the sentence-transformers model %s (WordEmbeddings → mean Pooling%s)\n",
					v.Len(), v.Dim, out, map[bool]string{true: " → Normalize"}[opt.Normalize])
			}
			f, err := word2vec.ParseFormat(to)
			if err != nil {
				return fmt.Errorf("--to %q: want binary, text, sentence-transformers or auto", to)
			}
			f = word2vec.SaveFormat(out, f)
			if err := v.Save(out, f); err != nil {
				return hideTempName(err)
			}
			res["to"] = f.String()
			return jsonOrLine(cmd.OutOrStdout(), res, "wrote %d words × %d dims to %s (%s)\n", v.Len(), v.Dim, out, f)
		})
	fl := c.Flags()
	fl.StringVar(&out, "out", "", "output file, or directory for --to sentence-transformers")
	fl.StringVar(&to, "to", "auto", "output format: binary, text, sentence-transformers, or auto (text for .txt/.vec, else binary)")
	fl.BoolVar(&opt.Normalize, "normalize", false, "sentence-transformers: add a Normalize module (unit-length embeddings)")
	fl.BoolVar(&opt.LowerCase, "lowercase", false, "sentence-transformers: lower-case texts before looking words up (do_lower_case)")
	fl.StringVar(&stopFile, "stop-words", "", "sentence-transformers: file of stop words (separated by white space) to drop from texts")
	return c
}
