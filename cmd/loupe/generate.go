package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// generateFlags are the options of loupe generate.
type generateFlags struct {
	model     string
	samp      generate.Sampling
	seedSet   bool
	maxNew    int
	stop      []string
	stats     bool
	promptIDs string
	ignoreEOS bool
}

func init() {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate --model M [flags] PROMPT",
		Short: "Continue a prompt with a GPT-2 model, streaming the text",
		Long: `Generate text with a GPT-2 family model (gpt2, distilgpt2, gpt2-medium,
gpt2-large, gpt2-xl or any checkpoint of that architecture).

--model is a local directory (config.json, model.safetensors and the
tokenizer: tokenizer.json or vocab.json + merges.txt) or a Hugging Face hub
id (gpt2, openai-community/gpt2, ORG/NAME@REVISION), fetched into the same
cache transformers uses (HF_HOME, HF_HUB_CACHE; HF_HUB_OFFLINE=1 reads the
cache only).

By default tokens are sampled (temperature 1, top-k 50, as transformers'
defaults); --greedy takes the most probable token. The processors run in
transformers' order: repetition penalty, temperature, top-k, top-p, min-p,
typical-p. --seed makes sampling reproducible (a random seed otherwise).

The prompt and the continuation stream to standard output as tokens are
produced. Generation ends after --max-new-tokens, at the end-of-text token,
before the first --stop string, or when prompt and output fill the model's
context (n_positions; a message on standard error says so). A prompt longer
than the context is an error.

--format json prints one object: {"prompt_ids", "ids", "text", "logprobs",
"stats": {"prefill_tokens", "prefill_seconds", "decode_tokens",
"decode_seconds"}}; logprobs are the log-softmax of the raw logits at each
generated token. --stats prints the timings on standard error.`,
		Example: `  loupe generate --model gpt2 "The Illustrated Transformer is"
  loupe generate --model ./distilgpt2 --greedy --max-new-tokens 30 "Hello, my name is"
  loupe generate --model gpt2 --top-p 0.9 --temperature 0.8 --seed 1 --stop "\n" "Q: What is a transformer?\nA:"
  loupe generate --model gpt2 --format json --greedy "The capital of France is"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.seedSet = cmd.Flags().Changed("seed")
			return runGenerate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model directory or Hugging Face hub id (required)")
	fl.BoolVar(&f.samp.Greedy, "greedy", false, "take the most probable token instead of sampling")
	fl.Float64Var(&f.samp.Temperature, "temperature", 1, "divide the logits by this (> 0)")
	fl.IntVar(&f.samp.TopK, "top-k", 50, "sample among the k most probable tokens (0: off)")
	fl.Float64Var(&f.samp.TopP, "top-p", 1, "sample among the most probable tokens holding this probability mass (1: off)")
	fl.Float64Var(&f.samp.MinP, "min-p", 0, "drop tokens less probable than this fraction of the most probable one (0: off)")
	fl.Float64Var(&f.samp.Typical, "typical-p", 1, "locally typical sampling mass (1: off)")
	fl.Float64Var(&f.samp.RepetitionPenalty, "repetition-penalty", 1, "penalise tokens already in the prompt or output (1: off; 1.2 is common)")
	fl.Uint64Var(&f.samp.Seed, "seed", 0, "seed for sampling (default: random)")
	fl.IntVar(&f.maxNew, "max-new-tokens", generate.DefaultMaxNewTokens, "generate at most this many tokens")
	fl.StringArrayVar(&f.stop, "stop", nil, `stop before this text (repeatable; \n and \t are understood)`)
	fl.BoolVar(&f.stats, "stats", false, "print prefill and decode timings on standard error")
	fl.StringVar(&f.promptIDs, "prompt-ids", "", "give the prompt as comma-separated token ids instead of text")
	fl.BoolVar(&f.ignoreEOS, "ignore-eos", false, "keep generating after the end-of-text token")
	rootCmd.AddCommand(cmd)
}

func runGenerate(ctx context.Context, out, errw io.Writer, f generateFlags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.model == "" {
		return errors.New("generate: --model is required (a directory or a hub id such as gpt2)")
	}
	if f.maxNew <= 0 {
		return fmt.Errorf("generate: --max-new-tokens %d: want a positive number", f.maxNew)
	}
	var text string
	switch {
	case len(args) == 1 && f.promptIDs != "":
		return errors.New("generate: give either PROMPT or --prompt-ids, not both")
	case len(args) == 1:
		text = args[0]
		if text == "" {
			return generate.ErrEmptyPrompt
		}
		if !utf8.ValidString(text) {
			return errors.New("generate: the prompt is not valid UTF-8")
		}
	case f.promptIDs == "":
		return errors.New("generate: no prompt (give PROMPT or --prompt-ids)")
	}
	if f.samp.Temperature == 0 && !f.samp.Greedy {
		return errors.New("generate: --temperature 0: want a positive number (for greedy decoding use --greedy)")
	}
	if !f.seedSet {
		f.samp.Seed = rand.Uint64()
	}
	if err := f.samp.Check(); err != nil {
		return err
	}
	for i, s := range f.stop {
		f.stop[i] = strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(s)
	}

	m, tok, err := loadGPT2(ctx, f.model, errw)
	if err != nil {
		return err
	}
	defer m.Close()

	var prompt []int
	if f.promptIDs != "" {
		for _, s := range strings.Split(f.promptIDs, ",") {
			id, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("generate: --prompt-ids: %q is not a token id", s)
			}
			if id < 0 || id >= m.Config.VocabSize {
				return fmt.Errorf("generate: --prompt-ids: token id %d out of range [0, %d)", id, m.Config.VocabSize)
			}
			prompt = append(prompt, id)
		}
	} else {
		if tok == nil {
			return fmt.Errorf("generate: %s has no tokenizer (tokenizer.json, or vocab.json + merges.txt): give the prompt with --prompt-ids", f.model)
		}
		prompt = tok.Encode(text)
	}
	if err := generate.CheckPrompt(m, prompt); err != nil {
		return err
	}
	var dec generate.Decoder
	if tok != nil {
		dec = tok
	} else if len(f.stop) > 0 {
		return errors.New("generate: --stop needs the model's tokenizer")
	}

	opt := generate.Options{Sampling: f.samp, MaxNewTokens: f.maxNew, IgnoreEOS: f.ignoreEOS, Stop: f.stop}
	streaming := !jsonOutput() && dec != nil
	if streaming {
		if _, err := io.WriteString(out, dec.Decode(prompt)); err != nil {
			return err
		}
		opt.OnToken = func(s generate.Step) error {
			if s.Text == "" {
				return nil
			}
			_, err := io.WriteString(out, s.Text)
			if fl, ok := out.(interface{ Sync() error }); ok {
				fl.Sync()
			}
			return err
		}
	}
	res, err := generate.Generate(ctx, m, prompt, opt, dec)
	if err != nil {
		if streaming {
			fmt.Fprintln(out)
		}
		return err
	}
	if jsonOutput() {
		return writeJSON(out, res)
	}
	if !streaming { // no tokenizer: show the ids
		ids := make([]string, len(res.IDs))
		for i, id := range res.IDs {
			ids[i] = strconv.Itoa(id)
		}
		fmt.Fprintln(out, strings.Join(ids, " "))
	} else {
		fmt.Fprintln(out)
	}
	if res.Finish == "context" {
		fmt.Fprintf(errw, "loupe: generate: stopped at the model's context limit of %d tokens (prompt %d + %d generated)\n",
			m.Config.NPositions, len(res.PromptIDs), len(res.IDs))
	}
	if f.stats {
		s := res.Stats
		fmt.Fprintf(errw, "prefill: %d tokens in %.3f s (%.1f tok/s)\ndecode:  %d tokens in %.3f s (%.1f tok/s)\nfinish:  %s\n",
			s.PrefillTokens, s.PrefillSeconds, rate(s.PrefillTokens, s.PrefillSeconds),
			s.DecodeTokens, s.DecodeSeconds, rate(s.DecodeTokens, s.DecodeSeconds), res.Finish)
	}
	return nil
}

func rate(n int, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return float64(n) / sec
}

// loadGPT2 resolves ref (directory or hub id) and loads the model and, when
// its files are there, the tokenizer (nil otherwise). config.json is fetched
// and checked first, so a model of another architecture fails before its
// weights are downloaded.
func loadGPT2(ctx context.Context, ref string, errw io.Writer) (*gpt2.Model, *tokenizer.BPE, error) {
	c := hub.NewClient()
	c.ShowProgress = isTerminal(os.Stderr)
	optional := []string{"tokenizer.json", "vocab.json", "merges.txt"}
	dir, err := c.ModelDir(ctx, ref, []string{"config.json"}, optional)
	if err != nil {
		return nil, nil, fmt.Errorf("generate: %w", err)
	}
	if _, err := gpt2.LoadConfig(filepath.Join(dir, "config.json")); err != nil {
		return nil, nil, err
	}
	dir, err = c.ModelDir(ctx, ref, []string{"config.json", "model.safetensors"}, optional)
	if err != nil {
		return nil, nil, fmt.Errorf("generate: %w", err)
	}
	m, err := gpt2.Load(dir)
	if err != nil {
		return nil, nil, err
	}
	var tok *tokenizer.BPE
	if genFileExists(filepath.Join(dir, "tokenizer.json")) || (genFileExists(filepath.Join(dir, "vocab.json")) && genFileExists(filepath.Join(dir, "merges.txt"))) {
		tok, err = tokenizer.LoadBPE(dir)
		if err != nil {
			m.Close()
			return nil, nil, err
		}
		if tok.VocabSize() > m.Config.VocabSize {
			m.Close()
			return nil, nil, fmt.Errorf("generate: %s: the tokenizer has %d tokens but the model only %d", ref, tok.VocabSize(), m.Config.VocabSize)
		}
	}
	return m, tok, nil
}

func genFileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
