package main

import (
	"errors"
	"fmt"
	"github.com/loupe-ml/loupe/defaults"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
)

// evalCmd groups the commands that measure a model: loupe eval perplexity.
var evalCmd = &cobra.Command{
	Use:   "eval",
	Short: "Measure a model on text (perplexity)",
}

// pplFlags are the options of loupe eval perplexity.
var pplFlags struct {
	model             string
	maxLength, stride int
	knn               string  // kNN-LM datastore
	lambda, knnTemp   float64 // kNN-LM interpolation
	k                 int
	quantize          string
}

func init() {
	cmd := &cobra.Command{
		Use:   "perplexity --model M [--max-length N] [--stride N] FILE...",
		Short: "Perplexity of a GPT-2 model on text files (strided sliding window)",
		Long: `Compute the perplexity of a GPT-2 family model on text, as transformers' guide
"Perplexity of fixed-length models" does: exp of the mean negative
log-likelihood of every token given the tokens before it in its window.

The files ("-" for standard input) are joined with a blank line ("\n\n",
as the guide joins WikiText's lines) and tokenized once into one stream.
Windows of --max-length tokens (default: the model's n_positions, 1024 for
GPT-2) start every --stride tokens (default: half of --max-length, the
guide's 512 for GPT-2); each window scores only the tokens after the
previous window's end, so every token but the first is scored once, with at
least max-length - stride tokens of context. --stride equal to
--max-length scores disjoint windows (faster, a higher perplexity; the
first token of each window goes unscored). The mean is exact per token.

Prints the perplexity, the mean NLL in nats per token, the tokens scored
and the time; --format json prints one object: perplexity, nll, tokens,
input_tokens, windows, max_length, stride, model, seconds. A progress bar
shows on standard error when it is a terminal.

With --knn DS the model is the kNN-LM of Khandelwal et al. (2020): each
target's probability is λ·p_kNN + (1-λ)·p_LM, p_kNN a softmax over the
negative squared L2 distances (divided by --knn-temperature) of the --k
keys of the datastore nearest to the target's final hidden state, summed
per next token. The datastore must have been built with the same model
and tokenizer. The JSON then adds knn, lambda, k, knn_temperature, hits
(targets among their neighbours' values) and search_seconds.`,
		Example: `  loupe eval perplexity --model gpt2 wiki.test.raw
  loupe eval perplexity --model distilgpt2 --stride 1024 --format json chapter*.txt
  cat notes.txt | loupe eval perplexity --model ./my-gpt2 --max-length 256 -
  loupe eval perplexity --knn kjv.knn --lambda 0.25 --k 1024 --knn-temperature 1 heldout.txt`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return evalError(runPerplexity(cmd, args))
		},
	}
	f := cmd.Flags()
	f.StringVar(&pplFlags.model, "model", defaults.GPT2, "GPT-2 model: a directory or a hub id such as gpt2 (default: loupe's built-in KJV GPT-2)")
	f.IntVar(&pplFlags.maxLength, "max-length", 0, "tokens per window (default: the model's n_positions)")
	f.IntVar(&pplFlags.stride, "stride", 0, "tokens between window starts (default: half of --max-length)")
	f.StringVar(&pplFlags.quantize, "quantize", "", quantizeUsage)
	d := knnlm.DefaultOptions()
	f.StringVar(&pplFlags.knn, "knn", "", "kNN-LM datastore (loupe knnlm build) to interpolate with")
	f.Float64Var(&pplFlags.lambda, "lambda", d.Lambda, "kNN-LM: weight of p_kNN in λ·p_kNN + (1-λ)·p_LM")
	f.IntVar(&pplFlags.k, "k", d.K, "kNN-LM: neighbours retrieved per token")
	f.Float64Var(&pplFlags.knnTemp, "knn-temperature", d.Temperature, "kNN-LM: temperature of the softmax over negative squared distances")
	evalCmd.AddCommand(cmd)
	rootCmd.AddCommand(evalCmd)
}

// modelRef returns the model a command runs, given its --model flag. Every
// command that loads a GPT-2 resolves --model here, so that a default
// model can be plugged in at one place.
func modelRef(flag string) (string, error) {
	if flag == "" {
		return "", errors.New("--model is required (a directory or a hub id such as gpt2)")
	}
	return flag, nil
}

func runPerplexity(cmd *cobra.Command, args []string) error {
	fl := &pplFlags
	ref, err := modelRef(fl.model)
	if err != nil {
		return err
	}
	if err := checkQuantize(fl.quantize); err != nil {
		return err
	}
	texts, err := readTexts(args, cmd.InOrStdin()) // before loading the model
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	p, err := loadPipelineAt(ctx, ref, fl.quantize)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.NeedTokenizer(); err != nil {
		return err
	}
	opt := perplexity.DefaultOptions(p.Model.Config)
	if cmd.Flags().Changed("max-length") {
		opt.MaxLength, opt.Stride = fl.maxLength, perplexity.DefaultStride(fl.maxLength)
	}
	if cmd.Flags().Changed("stride") {
		opt.Stride = fl.stride
	}
	if err := opt.Check(p.Model.Config); err != nil {
		return err // before tokenizing
	}
	ids, err := perplexity.Tokenize(p.Tokenizer, texts)
	if err != nil {
		return err
	}
	var mixer *knnlm.Mixer
	if fl.knn != "" {
		kopt := knnlm.Options{Lambda: fl.lambda, K: fl.k, Temperature: fl.knnTemp}
		if err := kopt.Check(); err != nil {
			return knnFlagError(err)
		}
		ds, err := knnlm.Open(fl.knn, p.Model, p.Tokenizer)
		if err != nil {
			return err
		}
		defer ds.Close()
		if mixer, err = ds.NewMixer(kopt); err != nil {
			return knnFlagError(err)
		}
		opt.Mixer = mixer
	} else {
		for _, name := range []string{"lambda", "k", "knn-temperature"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s needs --knn (a kNN-LM datastore)", name)
			}
		}
	}
	report, finish := progress.Reporter[int]("perplexity", false)
	res, err := perplexity.Evaluate(ctx, p.Model, ids, opt, report)
	finish()
	if err != nil {
		return err
	}
	if mixer != nil {
		out := struct {
			*perplexity.Result
			Model          string  `json:"model"`
			KNN            string  `json:"knn"`
			Lambda         float64 `json:"lambda"`
			K              int     `json:"k"`
			KNNTemperature float64 `json:"knn_temperature"`
			Hits           int     `json:"hits"`
			SearchSeconds  float64 `json:"search_seconds"`
		}{res, ref, fl.knn, fl.lambda, fl.k, fl.knnTemp, mixer.Hits, mixer.Seconds}
		return jsonOrLine(cmd.OutOrStdout(), out,
			"perplexity %.4f (nll %.4f nats/token) over %d tokens with kNN-LM %s (lambda %g, k %d, temperature %g; %d targets among their neighbours), %.2fs (%.2fs searching)\n",
			res.Perplexity, res.NLL, res.Tokens, fl.knn, fl.lambda, fl.k, fl.knnTemp, mixer.Hits, res.Seconds, mixer.Seconds)
	}
	out := struct {
		*perplexity.Result
		Model string `json:"model"`
	}{res, ref}
	return jsonOrLine(cmd.OutOrStdout(), out,
		"perplexity %.4f (nll %.4f nats/token) over %d tokens, %d windows of %d stride %d, %.2fs (%.0f tokens/s)\n",
		res.Perplexity, res.NLL, res.Tokens, res.Windows, res.MaxLength, res.Stride, res.Seconds, float64(res.Tokens)/res.Seconds)
}

// knnFlagError names a knnlm.OptionError's field by its flag.
func knnFlagError(err error) error {
	var oe *knnlm.OptionError
	if errors.As(err, &oe) {
		flag := map[string]string{"lambda": "--lambda", "k": "--k", "temperature": "--knn-temperature", "ef": "--ef"}[oe.Field]
		return fmt.Errorf("%s %v: want %s", flag, oe.Value, oe.Allowed)
	}
	return err
}

// readTexts reads each file of paths, "-" for stdin (once).
func readTexts(paths []string, stdin io.Reader) ([]string, error) {
	texts := make([]string, len(paths))
	seenStdin := false
	for i, path := range paths {
		var b []byte
		var err error
		if path == "-" {
			if seenStdin {
				return nil, errors.New(`"-" (standard input) given twice`)
			}
			seenStdin = true
			b, err = io.ReadAll(stdin)
			if err != nil {
				err = fmt.Errorf("standard input: %w", err)
			}
		} else {
			b, err = os.ReadFile(path)
		}
		if err != nil {
			return nil, err
		}
		texts[i] = string(b)
	}
	return texts, nil
}

// evalError prefixes err with "eval perplexity: " in place of the
// library's "perplexity: " or "generate: ", and names an option by its
// flag.
func evalError(err error) error {
	var oe *perplexity.OptionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &oe):
		return fmt.Errorf("eval perplexity: --%s %d: want %s", strings.ReplaceAll(oe.Field, "_", "-"),
			oe.Value, strings.ReplaceAll(oe.Allowed, "max_length", "--max-length"))
	case errors.Is(err, perplexity.ErrEmpty):
		return errors.New("eval perplexity: the files hold no text")
	}
	msg := err.Error()
	for _, pkg := range []string{"perplexity: ", "generate: "} {
		msg = strings.TrimPrefix(msg, pkg)
	}
	return &prefixed{msg: "eval perplexity: " + msg, err: err}
}
