package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/train"
)

// knnlmCmd groups the kNN-LM commands: loupe knnlm build, loupe knnlm tune.
var knnlmCmd = &cobra.Command{
	Use:   "knnlm",
	Short: "kNN-LM datastores (Khandelwal et al. 2020): build one, tune λ, k and T",
}

var knnBuildFlags struct {
	model, out, kind, documents string
	corpus                      []string
	maxLength, stride           int
	overwrite                   bool
}

var knnTuneFlags struct {
	model, datastore  string
	lambdas, ks, temp string
	maxLength, stride int
}

func init() {
	build := &cobra.Command{
		Use:   "build --model M --corpus FILE|DIR... --out DS",
		Short: "Build a kNN-LM datastore: (final hidden state, next token) for every position of a corpus",
		Long: `Run a GPT-2 over a corpus and store, for every position, the final hidden
state before the LM head (the ln_f output: the key) and the token that
follows (the value), with an index over the keys (flat: exact, the
default; hnsw: approximate) under the squared L2 distance.

The corpus is tokenized as loupe train gpt2 does: --documents files (each
file one document) or lines (each non-empty line one), each followed by
<|endoftext|>. The model runs over sliding windows of --max-length tokens
(default: n_positions) moving by --stride (default: half), as loupe eval
perplexity does, so each key has at least max-length - stride tokens of
context. The datastore is written to a temporary directory renamed to
--out at the end: an interrupted build leaves nothing. It records the
model's and tokenizer's fingerprints; loupe eval perplexity --knn refuses
another model or tokenizer.`,
		Example: `  loupe knnlm build --corpus train.txt --documents lines --out kjv.knn
  loupe knnlm build --model gpt2 --corpus wiki/ --out wiki.knn --index hnsw --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cliError("knnlm build", runKNNBuild(cmd))
		},
	}
	f := build.Flags()
	f.StringVar(&knnBuildFlags.model, "model", defaults.GPT2, "GPT-2 model: a directory or a hub id (default: loupe's built-in KJV GPT-2)")
	f.StringSliceVar(&knnBuildFlags.corpus, "corpus", nil, "text files or directories (repeat or comma-separate)")
	f.StringVar(&knnBuildFlags.out, "out", "", "datastore directory to create")
	f.StringVar(&knnBuildFlags.kind, "index", "flat", "index over the keys: flat (exact) or hnsw")
	f.StringVar(&knnBuildFlags.documents, "documents", "files", "documents of --corpus files: files (one per file) or lines (one per line)")
	f.IntVar(&knnBuildFlags.maxLength, "max-length", 0, "tokens per window (default: the model's n_positions)")
	f.IntVar(&knnBuildFlags.stride, "stride", 0, "tokens between window starts (default: half of --max-length)")
	f.BoolVar(&knnBuildFlags.overwrite, "overwrite", false, "replace a datastore already at --out")
	build.MarkFlagRequired("corpus")
	build.MarkFlagRequired("out")

	tune := &cobra.Command{
		Use:   "tune --datastore DS [--model M] FILE...",
		Short: "Score a grid of λ, k and temperature on held-out text and print the best",
		Long: `Evaluate the kNN-LM's perplexity on text files (joined and windowed as loupe
eval perplexity does) for every λ, k and temperature of the grid, searching
each target's neighbours once with the largest k. Prints the table (sorted
by perplexity) and the best setting; --format json prints one object with
every row. Tune on text that is neither in the datastore nor the text you
report perplexity on.`,
		Example: `  loupe knnlm tune --datastore kjv.knn tune.txt
  loupe knnlm tune --datastore kjv.knn --lambdas 0.1,0.25 --ks 64,1024 --temperatures 1,10 --format json tune.txt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cliError("knnlm tune", runKNNTune(cmd, args))
		},
	}
	g := tune.Flags()
	g.StringVar(&knnTuneFlags.model, "model", defaults.GPT2, "GPT-2 model the datastore was built with")
	g.StringVar(&knnTuneFlags.datastore, "datastore", "", "datastore directory (loupe knnlm build)")
	g.StringVar(&knnTuneFlags.lambdas, "lambdas", "", "comma-separated λ values (default 0.05,0.1,0.15,0.2,0.25,0.3,0.4,0.5,0.6,0.7)")
	g.StringVar(&knnTuneFlags.ks, "ks", "", "comma-separated k values (default 8,16,…,1024)")
	g.StringVar(&knnTuneFlags.temp, "temperatures", "", "comma-separated temperatures (default 1,2,5,10,20,50)")
	g.IntVar(&knnTuneFlags.maxLength, "max-length", 0, "tokens per window (default: the datastore's)")
	g.IntVar(&knnTuneFlags.stride, "stride", 0, "tokens between window starts (default: the datastore's)")
	tune.MarkFlagRequired("datastore")

	knnlmCmd.AddCommand(build, tune)
	rootCmd.AddCommand(knnlmCmd)
}

func runKNNBuild(cmd *cobra.Command) error {
	fl := &knnBuildFlags
	kind, err := index.ParseKind(fl.kind)
	if err != nil || (kind != index.Flat && kind != index.HNSW) {
		return fmt.Errorf("--index %q: want flat or hnsw", fl.kind)
	}
	ctx := cmd.Context()
	p, err := loadPipeline(ctx, fl.model)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.NeedTokenizer(); err != nil {
		return err
	}
	opt := knnlm.BuildOptions{Model: fl.model, Index: kind, Overwrite: fl.overwrite,
		Window: perplexity.Options{MaxLength: fl.maxLength, Stride: fl.stride}}
	report, finish := progress.Reporter[int]("keys", false)
	opt.Progress = report
	man, err := knnlm.BuildFiles(ctx, p.Model, p.Tokenizer, fl.corpus, train.Documents(fl.documents), fl.out, opt)
	finish()
	if err != nil {
		return err
	}
	out := struct {
		*knnlm.Manifest
		Dir string `json:"dir"`
	}{man, fl.out}
	return jsonOrLine(cmd.OutOrStdout(), out,
		"%s: %d keys of dimension %d (%s index), windows of %d stride %d, %.2fs (%.0f keys/s)\n",
		fl.out, man.Keys, man.Dim, man.Index, man.MaxLength, man.Stride, man.Seconds, float64(man.Keys)/man.Seconds)
}

func runKNNTune(cmd *cobra.Command, args []string) error {
	fl := &knnTuneFlags
	var opt knnlm.TuneOptions
	var err error
	if opt.Lambdas, err = parseFloats("--lambdas", fl.lambdas); err != nil {
		return err
	}
	if opt.Temperatures, err = parseFloats("--temperatures", fl.temp); err != nil {
		return err
	}
	if opt.Ks, err = parseInts("--ks", fl.ks); err != nil {
		return err
	}
	opt.Window = perplexity.Options{MaxLength: fl.maxLength, Stride: fl.stride}
	texts, err := readTexts(args, cmd.InOrStdin())
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	p, err := loadPipeline(ctx, fl.model)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.NeedTokenizer(); err != nil {
		return err
	}
	ds, err := knnlm.Open(fl.datastore, p.Model, p.Tokenizer)
	if err != nil {
		return err
	}
	defer ds.Close()
	ids, err := perplexity.Tokenize(p.Tokenizer, texts)
	if err != nil {
		return err
	}
	report, finish := progress.Reporter[int]("tune", false)
	opt.Progress = report
	res, err := knnlm.Tune(ctx, ds, p.Model, ids, opt)
	finish()
	if err != nil {
		return err
	}
	return jsonOrText(cmd.OutOrStdout(), res, func(w io.Writer) error { return writeTuneTable(w, res) })
}

// writeTuneTable prints the rows of a tune, best first, and the best.
func writeTuneTable(w io.Writer, res *knnlm.TuneResult) error {
	rows := append([]knnlm.TuneRow(nil), res.Rows...)
	slices.SortStableFunc(rows, func(a, b knnlm.TuneRow) int { return cmp.Compare(a.NLL, b.NLL) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "lambda\tk\ttemperature\tperplexity\tdrop\t\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%g\t%d\t%g\t%.4f\t%.2f%%\t\n", r.Lambda, r.K, r.Temperature, r.Perplexity, 100*r.Drop)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b := res.Best
	_, err := fmt.Fprintf(w, "baseline perplexity %.4f over %d tokens; best: --lambda %g --k %d --knn-temperature %g: perplexity %.4f (%.2f%% lower); %.1fs (%.1fs searching)\n",
		res.BaselinePerplexity, res.Tokens, b.Lambda, b.K, b.Temperature, b.Perplexity, 100*b.Drop, res.Seconds, res.SearchSeconds)
	return err
}

// parseFloats parses a comma-separated list (empty: nil).
func parseFloats(flag, s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %q is not a number", flag, s, f)
		}
		out = append(out, v)
	}
	return out, nil
}

// parseInts parses a comma-separated list of integers (empty: nil).
func parseInts(flag, s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%s %q: %q is not an integer", flag, s, f)
		}
		out = append(out, v)
	}
	return out, nil
}
