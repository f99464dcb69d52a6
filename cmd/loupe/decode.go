package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/loupe-ml/loupe/defaults"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/word2vec"
)

// registerDecode adds the flags that generate and explain share: the model
// and the decoding settings, with one name and one default each (the
// defaults of generation_config.json's fields; a flag not given leaves the
// model's file in force).
func (f *generateFlags) registerDecode(fl *pflag.FlagSet) {
	g := &f.set.GenerationConfig
	fl.StringVar(&f.model, "model", defaults.GPT2, "model directory or Hugging Face hub id (default: loupe's built-in GPT-2 trained on the King James Bible)")
	fl.BoolVar(&f.greedy, "greedy", false, "take the most probable token instead of sampling (do_sample false)")
	fl.BoolVar(&f.doSample, "do-sample", false, "sample even when generation_config.json says do_sample false")
	fl.Var(setting[float64]{&g.Temperature, generate.DefaultTemperature}, "temperature", "divide the logits by this (> 0)")
	fl.Var(setting[int]{&g.TopK, generate.DefaultTopK}, "top-k", "sample among the k most probable tokens (0: off)")
	fl.Var(setting[float64]{&g.TopP, generate.DefaultTopP}, "top-p", "sample among the most probable tokens holding this probability mass, in (0, 1] (1: off)")
	fl.Var(setting[float64]{&g.MinP, 0}, "min-p", "drop tokens less probable than this fraction of the most probable one (0: off)")
	fl.Var(setting[float64]{&g.TypicalP, generate.DefaultTypicalP}, "typical-p", "locally typical sampling mass (1: off)")
	fl.Var(setting[float64]{&g.RepetitionPenalty, 1}, "repetition-penalty", "penalise tokens already in the prompt or output (1: off; 1.2 is common)")
	fl.Var(setting[int]{&g.NoRepeatNGramSize, 0}, "no-repeat-ngram-size", "never repeat an n-gram of this many tokens (0: off)")
	fl.Var(setting[uint64]{&f.set.Seed, 0}, "seed", "seed for sampling (default: random)")
	fl.Var(setting[int]{&g.MaxNewTokens, generate.DefaultMaxNewTokens}, "max-new-tokens", "generate at most this many tokens")
	fl.Var(setting[int]{&g.MinNewTokens, 0}, "min-new-tokens", "no end-of-text token before this many new tokens (0: off)")
	fl.StringArrayVar(&f.stop, "stop", nil, `stop before this text (repeatable; \n and \t are understood)`)
	fl.BoolVar(&f.set.IgnoreEOS, "ignore-eos", false, "keep generating after the end-of-text token")
}

// setting is the flag of a *T field of generate.Settings: the field stays
// nil (generation_config.json or the default applies) unless the flag is
// given. It parses and shows its value as pflag's flag of type T does.
type setting[T int | uint64 | float64] struct {
	p   **T
	def T
}

func (s setting[T]) String() string { return fmt.Sprint(s.def) }
func (s setting[T]) Type() string   { return fmt.Sprintf("%T", s.def) }
func (s setting[T]) Set(v string) (err error) {
	var x T
	switch p := any(&x).(type) {
	case *int:
		var n int64
		n, err = strconv.ParseInt(v, 0, 64)
		*p = int(n)
	case *uint64:
		*p, err = strconv.ParseUint(v, 0, 64)
	case *float64:
		*p, err = strconv.ParseFloat(v, 64)
	}
	if err == nil {
		*s.p = &x
	}
	return err
}

// settings completes the decoding settings given on the command line with
// --greedy or --do-sample, --early-stopping and --stop, and checks them.
func (f *generateFlags) settings() (generate.Settings, error) {
	s := f.set
	switch {
	case f.greedy && f.doSample:
		return s, errors.New("--greedy and --do-sample contradict each other")
	case f.greedy:
		s.DoSample = new(false)
	case f.doSample:
		s.DoSample = new(true)
	}
	if f.earlyStop != nil {
		e, err := generate.ParseEarlyStopping(*f.earlyStop)
		if err != nil {
			return s, fmt.Errorf("--early-stopping %q: want false, true or never", *f.earlyStop)
		}
		s.EarlyStopping = &e
	}
	for _, st := range f.stop {
		s.Stop = append(s.Stop, strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(st))
	}
	return s, s.Check()
}

// loadPipeline loads a GPT-2 (directory or hub id) with its tokenizer and
// generation settings, showing download progress on a terminal.
func loadPipeline(ctx context.Context, ref string) (*generate.Pipeline, error) {
	return generate.Load(ctx, ref, generate.LoadOptions{Hub: hubClient()})
}

// cliError gives err the prefix "cmd: " (once; none for cmd "") and names
// an option the caller gave by its flag: a *generate.OptionError's field
// as the flag it comes from, a *word2vec.OptionError's (also recommend's)
// as flags, when given, says.
func cliError(cmd string, err error, flags ...map[string]string) error {
	var oe *generate.OptionError
	var we *word2vec.OptionError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &oe) && oe.File == "":
		msg := fmt.Sprintf("%s: %s %s: want %s", cmd, flagName(oe.Field), oe.Value, oe.Allowed)
		if oe.Field == "temperature" && oe.Value == "0" {
			msg += " (for greedy decoding use --greedy)"
		}
		return errors.New(msg)
	case errors.As(err, &we) && len(flags) == 1 && flags[0][we.Field] != "":
		return fmt.Errorf("%s %v: want %s", flags[0][we.Field], we.Value, we.Allowed)
	case cmd == "" || strings.HasPrefix(err.Error(), cmd+": "):
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
