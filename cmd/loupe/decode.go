package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/generate"
)

// registerDecode adds the flags that generate, explain and serve share:
// the model and the decoding settings, with one name and one default each
// (the defaults of generation_config.json's fields; a flag not given leaves
// the model's file in force).
func (f *generateFlags) registerDecode(fl *pflag.FlagSet) {
	fl.StringVar(&f.model, "model", "", "model directory or Hugging Face hub id (required)")
	fl.BoolVar(&f.samp.Greedy, "greedy", false, "take the most probable token instead of sampling (do_sample false)")
	fl.BoolVar(&f.doSample, "do-sample", false, "sample even when generation_config.json says do_sample false")
	fl.Float64Var(&f.samp.Temperature, "temperature", generate.DefaultTemperature, "divide the logits by this (> 0)")
	fl.IntVar(&f.samp.TopK, "top-k", generate.DefaultTopK, "sample among the k most probable tokens (0: off)")
	fl.Float64Var(&f.samp.TopP, "top-p", generate.DefaultTopP, "sample among the most probable tokens holding this probability mass, in (0, 1] (1: off)")
	fl.Float64Var(&f.samp.MinP, "min-p", 0, "drop tokens less probable than this fraction of the most probable one (0: off)")
	fl.Float64Var(&f.samp.Typical, "typical-p", generate.DefaultTypicalP, "locally typical sampling mass (1: off)")
	fl.Float64Var(&f.samp.RepetitionPenalty, "repetition-penalty", 1, "penalise tokens already in the prompt or output (1: off; 1.2 is common)")
	fl.IntVar(&f.samp.NoRepeatNGramSize, "no-repeat-ngram-size", 0, "never repeat an n-gram of this many tokens (0: off)")
	fl.Uint64Var(&f.samp.Seed, "seed", 0, "seed for sampling (default: random)")
	fl.IntVar(&f.maxNew, "max-new-tokens", generate.DefaultMaxNewTokens, "generate at most this many tokens")
	fl.IntVar(&f.minNew, "min-new-tokens", 0, "no end-of-text token before this many new tokens (0: off)")
	fl.StringArrayVar(&f.stop, "stop", nil, `stop before this text (repeatable; \n and \t are understood)`)
	fl.BoolVar(&f.ignoreEOS, "ignore-eos", false, "keep generating after the end-of-text token")
}

// settings turns the decoding flags given on the command line into
// generate.Settings (flags not given are left unset: the model's
// generation_config.json or the default applies) and checks them.
func (f *generateFlags) settings() (generate.Settings, error) {
	var s generate.Settings
	if f.samp.Greedy && f.doSample {
		return s, errors.New("--greedy and --do-sample contradict each other")
	}
	g := &s.GenerationConfig
	switch {
	case f.samp.Greedy:
		g.DoSample = new(false)
	case f.doSample:
		g.DoSample = new(true)
	}
	g.Temperature = given(f, "temperature", f.samp.Temperature)
	g.TopK = given(f, "top-k", f.samp.TopK)
	g.TopP = given(f, "top-p", f.samp.TopP)
	g.MinP = given(f, "min-p", f.samp.MinP)
	g.TypicalP = given(f, "typical-p", f.samp.Typical)
	g.RepetitionPenalty = given(f, "repetition-penalty", f.samp.RepetitionPenalty)
	g.NoRepeatNGramSize = given(f, "no-repeat-ngram-size", f.samp.NoRepeatNGramSize)
	g.MaxNewTokens = given(f, "max-new-tokens", f.maxNew)
	g.MinNewTokens = given(f, "min-new-tokens", f.minNew)
	g.NumBeams = given(f, "num-beams", f.numBeams)
	g.LengthPenalty = given(f, "length-penalty", f.lengthPen)
	g.NumReturnSequences = given(f, "num-return-sequences", f.numReturn)
	if f.changed == nil || f.changed["early-stopping"] {
		e, err := generate.ParseEarlyStopping(f.earlyStop)
		if err != nil {
			return s, fmt.Errorf("--early-stopping %q: want false, true or never", f.earlyStop)
		}
		g.EarlyStopping = &e
	}
	if f.seedSet {
		s.Seed = &f.samp.Seed
	}
	s.IgnoreEOS = f.ignoreEOS
	for _, st := range f.stop {
		s.Stop = append(s.Stop, strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(st))
	}
	return s, s.Check()
}

// given returns &v when flag name was given, else nil.
func given[T any](f *generateFlags, name string, v T) *T {
	if f.changed == nil || f.changed[name] {
		return &v
	}
	return nil
}

// changedFlags returns which of cmd's flags the command line set.
func changedFlags(cmd *cobra.Command) map[string]bool {
	m := map[string]bool{}
	cmd.Flags().VisitAll(func(fl *pflag.Flag) { m[fl.Name] = fl.Changed })
	return m
}

// loadPipeline loads a GPT-2 (directory or hub id) with its tokenizer and
// generation settings, showing download progress on a terminal.
func loadPipeline(ctx context.Context, ref string) (*generate.Pipeline, error) {
	return generate.Load(ctx, ref, generate.LoadOptions{Hub: hubClient()})
}

// cliError gives err the command's prefix (once) and names a setting the
// caller gave (a *generate.OptionError) by its flag.
func cliError(cmd string, err error) error {
	if err == nil {
		return nil
	}
	var oe *generate.OptionError
	if errors.As(err, &oe) && oe.File == "" {
		msg := fmt.Sprintf("%s: %s %s: want %s", cmd, flagName(oe.Field), oe.Value, oe.Allowed)
		if oe.Field == "temperature" && oe.Value == "0" {
			msg += " (for greedy decoding use --greedy)"
		}
		return errors.New(msg)
	}
	if strings.HasPrefix(err.Error(), cmd+": ") {
		return err
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// flagName returns the flag of a generation_config.json setting.
func flagName(field string) string {
	if field == "stop_strings" {
		return "--stop"
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
}
