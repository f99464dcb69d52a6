package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

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
	w2vCmd.AddCommand(w2vTrainCmd(), w2vSimilarCmd(), w2vAnalogyCmd(), w2vSimilarityCmd(), w2vDoesntMatchCmd(), w2vEvalCmd())
}

// parseW2VFormat maps a --binary/--text choice to a word2vec.Format.
func parseW2VFormat(s string) (word2vec.Format, error) {
	switch s {
	case "auto", "":
		return word2vec.FormatAuto, nil
	case "binary", "bin":
		return word2vec.FormatBinary, nil
	case "text", "txt":
		return word2vec.FormatText, nil
	}
	return 0, fmt.Errorf("unknown vectors format %q: want auto, binary or text", s)
}

func w2vTrainCmd() *cobra.Command {
	opt := word2vec.DefaultOptions("")
	var out, format string
	var sg, cbow bool
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
			if sg && cbow {
				return fmt.Errorf("--sg and --cbow are exclusive")
			}
			opt.SkipGram = sg
			f, err := parseW2VFormat(format)
			if err != nil {
				return err
			}
			f = word2vec.SaveFormat(out, f)
			var bar *progress.Bar
			opt.Progress = func(done, total int64) {
				if bar == nil {
					bar = progress.New(total, "word2vec", false)
				}
				bar.Set(done)
			}
			vecs, st, err := word2vec.Train(context.Background(), opt)
			bar.Finish()
			if st != nil && len(st.SkippedFiles) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: skipped %d corpus file(s) that are not text (they contain NUL bytes): %s\n", len(st.SkippedFiles), strings.Join(st.SkippedFiles, ", "))
			}
			if err != nil {
				return flagError(err, w2vTrainFlags)
			}
			if err := vecs.Save(out, f); err != nil {
				return err
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{
					"seconds": st.Seconds, "words_per_second": st.WordsPerSecond, "vocab": st.Vocab,
					"corpus_words": st.CorpusWords, "epochs": st.Epochs, "out": out, "skipped_files": st.SkippedFiles,
				})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trained %d words × %d dims on %d corpus words × %d epochs in %.1fs (%.0f words/s); wrote %s (%s)\n",
				st.Vocab, vecs.Dim, st.CorpusWords, st.Epochs, st.Seconds, st.WordsPerSecond, out, f)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&opt.Corpus, "corpus", "", "corpus file or directory (one sentence per line)")
	fl.StringVar(&out, "out", "", "output vectors file")
	fl.StringVar(&format, "vectors-format", "auto", "output format: binary, text, or auto (text for .txt/.vec, else binary)")
	fl.BoolVar(&sg, "sg", false, "skip-gram")
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

// w2vTrainFlags names the flags of word2vec train by the word2vec.Options
// field they set.
var w2vTrainFlags = map[string]string{
	"Dim": "--size", "Window": "--window", "Negative": "--negative", "Sample": "--sample",
	"MinCount": "--min-count", "Epochs": "--epochs", "Alpha": "--alpha", "MinAlpha": "--min-alpha",
	"Threads": "--threads",
}

// flagError renders a *word2vec.OptionError (the library's one validation
// of training options) with the command's flag names; other errors pass
// through unchanged.
func flagError(err error, flags map[string]string) error {
	var oe *word2vec.OptionError
	if errors.As(err, &oe) {
		if name, ok := flags[oe.Field]; ok {
			return fmt.Errorf("%s %v: want %s", name, oe.Value, oe.Allowed)
		}
	}
	return err
}

// vectorsFlags adds --vectors and --vectors-format to c.
func vectorsFlags(c *cobra.Command, path, format *string) {
	c.Flags().StringVar(path, "vectors", "", "word2vec vectors file (text or binary)")
	c.Flags().StringVar(format, "vectors-format", "auto", "vectors file format: binary, text, or auto (by content; .txt/.vec mean text)")
}

func loadVectors(path, format string) (*word2vec.Vectors, error) {
	if path == "" {
		return nil, fmt.Errorf("--vectors is required")
	}
	f, err := parseW2VFormat(format)
	if err != nil {
		return nil, err
	}
	return word2vec.Load(path, f, 0)
}

// checkTop rejects -n/--top and --restrict values that mean nothing.
func checkTop(o word2vec.QueryOptions) error {
	if o.TopN <= 0 {
		return fmt.Errorf("-n/--top %d: want > 0", o.TopN)
	}
	if o.Restrict < 0 {
		return fmt.Errorf("--restrict %d: want >= 0 (0: all words)", o.Restrict)
	}
	return nil
}

func printNeighbors(w io.Writer, ns []word2vec.Neighbor) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, n := range ns {
		fmt.Fprintf(tw, "%s\t%.4f\n", n.Word, n.Score)
	}
	tw.Flush()
}

func w2vSimilarCmd() *cobra.Command {
	var path, format string
	var negative []string
	var opt word2vec.QueryOptions
	var cosmul bool
	c := &cobra.Command{
		Use:   "similar --vectors V WORD... [--negative WORD...]",
		Short: "Nearest words by cosine similarity (gensim most_similar / most_similar_cosmul)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTop(opt); err != nil {
				return err
			}
			v, err := loadVectors(path, format)
			if err != nil {
				return err
			}
			var ns []word2vec.Neighbor
			if cosmul {
				ns, err = v.MostSimilarCosmul(args, negative, opt)
			} else {
				ns, err = v.MostSimilar(args, negative, opt)
			}
			if err != nil {
				return err
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"positive": args, "negative": negative, "cosmul": cosmul, "results": ns})
			}
			printNeighbors(cmd.OutOrStdout(), ns)
			return nil
		},
	}
	vectorsFlags(c, &path, &format)
	c.Flags().StringSliceVar(&negative, "negative", nil, "words to subtract (repeatable or comma-separated)")
	c.Flags().IntVarP(&opt.TopN, "top", "n", 10, "number of results")
	c.Flags().IntVar(&opt.Restrict, "restrict", 0, "search only the first N words of the file (0: all)")
	c.Flags().BoolVar(&cosmul, "cosmul", false, "rank by 3CosMul instead of cosine of the mean")
	return c
}

func w2vAnalogyCmd() *cobra.Command {
	var path, format string
	var opt word2vec.QueryOptions
	var cosmul bool
	c := &cobra.Command{
		Use:   "analogy --vectors V A B C",
		Short: "A is to B as C is to ? (3CosAdd, or 3CosMul with --cosmul)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkTop(opt); err != nil {
				return err
			}
			v, err := loadVectors(path, format)
			if err != nil {
				return err
			}
			ns, err := v.Analogy(args[0], args[1], args[2], cosmul, opt)
			if err != nil {
				return err
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"a": args[0], "b": args[1], "c": args[2], "cosmul": cosmul, "results": ns})
			}
			printNeighbors(cmd.OutOrStdout(), ns)
			return nil
		},
	}
	vectorsFlags(c, &path, &format)
	c.Flags().IntVarP(&opt.TopN, "top", "n", 10, "number of results")
	c.Flags().IntVar(&opt.Restrict, "restrict", 0, "search only the first N words of the file (0: all)")
	c.Flags().BoolVar(&cosmul, "cosmul", false, "3CosMul (gensim most_similar_cosmul) instead of 3CosAdd")
	return c
}

func w2vSimilarityCmd() *cobra.Command {
	var path, format string
	c := &cobra.Command{
		Use:   "similarity --vectors V WORD1 WORD2",
		Short: "Cosine similarity of two words",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadVectors(path, format)
			if err != nil {
				return err
			}
			s, err := v.Similarity(args[0], args[1])
			if err != nil {
				return err
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"a": args[0], "b": args[1], "similarity": s})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%.4f\n", s)
			return nil
		},
	}
	vectorsFlags(c, &path, &format)
	return c
}

func w2vDoesntMatchCmd() *cobra.Command {
	var path, format string
	c := &cobra.Command{
		Use:   "doesnt-match --vectors V WORD WORD...",
		Short: "The word furthest from the mean of the others (gensim doesnt_match)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := loadVectors(path, format)
			if err != nil {
				return err
			}
			w, err := v.DoesntMatch(args)
			if err != nil {
				return err
			}
			if jsonOutput() {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"words": args, "doesnt_match": w})
			}
			fmt.Fprintln(cmd.OutOrStdout(), w)
			return nil
		},
	}
	vectorsFlags(c, &path, &format)
	return c
}

func w2vEvalCmd() *cobra.Command {
	var path, format, analogies, pairs string
	var restrict int
	var caseInsensitive, cosmul bool
	c := &cobra.Command{
		Use:   "eval --vectors V [--analogies questions-words.txt] [--similarities pairs.tsv]",
		Short: "Analogy accuracy and word-pair correlation, counted as gensim does",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if analogies == "" && pairs == "" {
				return fmt.Errorf("give --analogies and/or --similarities")
			}
			if restrict <= 0 {
				return fmt.Errorf("--restrict %d: want > 0", restrict)
			}
			v, err := loadVectors(path, format)
			if err != nil {
				return err
			}
			res := map[string]any{}
			w := cmd.OutOrStdout()
			if analogies != "" {
				a, err := v.EvaluateAnalogies(analogies, word2vec.AnalogyOptions{Restrict: restrict, CaseSensitive: !caseInsensitive, Cosmul: cosmul})
				if err != nil {
					return err
				}
				res["analogies"] = a
				if !jsonOutput() {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
					fmt.Fprintf(tw, "section\tcorrect\tseen\taccuracy\t\n")
					for _, s := range append(a.Sections, a.Total) {
						fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f%%\t\n", s.Section, s.Correct, s.Seen, 100*s.Accuracy)
					}
					tw.Flush()
					fmt.Fprintf(w, "%d questions, %d skipped as out of vocabulary (%.1f%%)\n", a.Questions, a.OOV, a.OOVRatio)
				}
			}
			if pairs != "" {
				p, err := v.EvaluateWordPairs(pairs, word2vec.PairsOptions{Restrict: restrict, CaseSensitive: !caseInsensitive})
				if err != nil {
					return err
				}
				res["similarities"] = p
				if !jsonOutput() {
					fmt.Fprintf(w, "word pairs: Spearman %.4f, Pearson %.4f over %d pairs, %.1f%% out of vocabulary\n", p.Spearman, p.Pearson, p.Pairs, p.OOVRatio)
				}
			}
			if jsonOutput() {
				return writeJSON(w, res)
			}
			return nil
		},
	}
	vectorsFlags(c, &path, &format)
	c.Flags().StringVar(&analogies, "analogies", "", "analogy questions file (questions-words.txt layout)")
	c.Flags().StringVar(&pairs, "similarities", "", "word pairs with human scores, tab-separated")
	c.Flags().IntVar(&restrict, "restrict", 300000, "use only the first N words of the vectors file")
	c.Flags().BoolVar(&caseInsensitive, "case-insensitive", true, "upper-case all words; the most frequent spelling stands for all (gensim's default; --case-insensitive=false compares words as written)")
	c.Flags().BoolVar(&cosmul, "cosmul", false, "answer analogies by 3CosMul")
	return c
}
