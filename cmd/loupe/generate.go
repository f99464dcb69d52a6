package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	minNew    int
	stop      []string
	stats     bool
	promptIDs string
	ignoreEOS bool
	doSample  bool
	numBeams  int
	lengthPen float64
	earlyStop string
	numReturn int
	input     string    // --input: JSON lines of prompts ("-": stdin)
	batchSize int       // --batch-size: prompts of --input decoded together
	stdin     io.Reader // read for --input -; nil: os.Stdin
	// changed holds the flags given on the command line, which override
	// generation_config.json; nil means every flag counts as given.
	changed map[string]bool
}

// given reports whether flag name was set on the command line.
func (f *generateFlags) given(name string) bool { return f.changed == nil || f.changed[name] }

func init() {
	var f generateFlags
	cmd := &cobra.Command{
		Use:   "generate --model M [flags] PROMPT | --input FILE",
		Short: "Continue a prompt with a GPT-2 model (sampling, greedy or beam search)",
		Long: `Generate text with a GPT-2 family model (gpt2, distilgpt2, gpt2-medium,
gpt2-large, gpt2-xl or any checkpoint of that architecture).

--model is a local directory (config.json, the weights — model.safetensors,
sharded safetensors or pytorch_model.bin — and the
tokenizer: tokenizer.json or vocab.json + merges.txt) or a Hugging Face hub
id (gpt2, openai-community/gpt2, ORG/NAME@REVISION), fetched into the same
cache transformers uses (HF_HOME, HF_HUB_CACHE; HF_HUB_OFFLINE=1 reads the
cache only).

Without a generation_config.json in the model directory, tokens are
sampled (temperature 1, top-k 50) unless --greedy or --num-beams is given.
When the directory has a generation_config.json (as transformers saves it),
its values are the defaults, as in transformers: do_sample, temperature,
top_k, top_p, min_p, typical_p, repetition_penalty, no_repeat_ngram_size,
max_new_tokens (or max_length, prompt included), min_new_tokens (or
min_length, prompt included), num_beams, length_penalty, early_stopping,
num_return_sequences and eos_token_id (an id or a list);
fields it lacks take transformers' defaults (do_sample false: greedy; top_k
50), except that do_sample comes from config.json's
task_specific_params["text-generation"] when the file lacks it, as in
transformers' text-generation pipeline (GPT-2's config.json says true, so
--model gpt2 samples), and that without max_new_tokens or max_length
--max-new-tokens' 50 applies. Flags given on the command line override the file; --do-sample
and --greedy set do_sample. The processors run in transformers' order:
repetition penalty, no-repeat n-gram, minimum length, temperature, top-k,
top-p, min-p, typical-p. --seed makes sampling reproducible (a random seed
otherwise).

The prompt and the continuation stream to standard output as tokens are
produced. Generation ends after --max-new-tokens, at the end-of-text token,
before the first --stop string, or when prompt and output fill the model's
context (n_positions; a message on standard error says so). A prompt longer
than the context is an error.

--min-new-tokens N keeps the end-of-text tokens out of the first N
generated tokens (their logits are set to -inf while fewer than N tokens
follow the prompt), with greedy decoding, sampling and beam search alike.
The end-of-text tokens are generation_config.json's eos_token_id (all of
them when it lists several), else config.json's. min_length in
generation_config.json does the same while prompt and output together are
shorter; min_new_tokens, from the file or the flag (even 0), replaces it, as
in transformers. With --ignore-eos there is no end-of-text token, so the
minimum has nothing to keep out. The reported logprobs stay those of the
raw logits.

--num-beams N (> 1) runs beam search as transformers' generate(num_beams=N)
does, with --length-penalty, --early-stopping (false, true or never) and
--num-return-sequences (at most N). Beams cannot stream: the text is printed
when the search ends, each sequence under a header line with its score when
there are several. --stop is not supported with beam search. With do_sample
(--do-sample, or the file's do_sample true) it is transformers' beam
sampling: temperature, top-k, top-p, min-p and typical-p also process the
log-probabilities, and each step draws its candidates at random (--seed)
from the beams' accumulated scores instead of keeping the best.

When sampling, --num-return-sequences N draws N independent samples of the
prompt, as transformers' generate(do_sample=True, num_return_sequences=N):
the prompt is read once and the N sequences decode together, each stopping
on its own (end-of-text, --stop, --max-new-tokens). Sequence i draws from a
random stream derived from --seed and i, so the same seed gives the same N
sequences, and sequence 1 is the text a single sample with that seed gives
(but for rare float-rounding differences of the batched computation). They
are printed at the end, each under a header line (no streaming). Greedy
decoding returns one sequence: --num-return-sequences above 1 with --greedy
(or do_sample false) is an error.

--format json prints one object: {"prompt_ids", "ids", "text", "logprobs",
"stats": {"prefill_tokens", "prefill_seconds", "decode_tokens",
"decode_seconds"}}; logprobs are the log-softmax of the raw logits at each
generated token. Beam search adds "sequences_scores" (transformers' name:
each sequence's summed processed log-probabilities over its length to the
power --length-penalty). With --num-return-sequences above 1 (beams or
samples), "sequences" holds {"ids", "text", "logprobs"} per sequence instead
of the top-level "ids", "text" and "logprobs"; decode_tokens then counts the
tokens of every sequence. --stats prints the timings on standard error.

--input FILE ("-" for standard input) generates for many prompts, as
transformers' pipeline("text-generation")([...]) does: each non-blank line
is a JSON string or an object with a "text" string (as for loupe tokenize
--input). Every line is read, tokenized and checked before anything is
generated: a line that is not such JSON, not UTF-8, empty, or longer than
the model's context is an error naming its line number, and nothing is
printed. The prompts are decoded together in batches of --batch-size
(default 8; consecutive lines, in input order): each batch reads its
prompts in one forward pass and then decodes every unfinished prompt in one
pass per token, each prompt ending on its own (end-of-text, --stop,
--max-new-tokens, the context). Each prompt is its own generation: with
--seed S, prompt i gets the text that loupe generate --seed S gives for it
alone (all prompts use the seed's first random stream), but for rare
float-rounding differences of the batched computation. When the length
limit is generation_config.json's max_length (prompt included), prompts of
different lengths get different limits and are batched only with
neighbours of the same limit. --format json prints one line per prompt, in
input order, each the object a single prompt prints; in its stats,
prefill_tokens and decode_tokens are that prompt's own counts (as alone),
prefill_seconds and decode_seconds the wall times of its whole batch. In
text format each prompt and its continuation follow a "--- prompt i of N
---" line (no streaming); --stats prints each batch's totals. --input does
not support beam search or --num-return-sequences above 1 (an error; run
those prompts one at a time) and needs the model's tokenizer. Larger
batches are faster per prompt but hold every prompt's key/value cache:
a batch that needs more than 16 GiB is an error.`,
		Example: `  loupe generate --model gpt2 "The Illustrated Transformer is"
  loupe generate --model ./distilgpt2 --greedy --max-new-tokens 30 "Hello, my name is"
  loupe generate --model gpt2 --top-p 0.9 --temperature 0.8 --seed 1 --stop "\n" "Q: What is a transformer?\nA:"
  loupe generate --model gpt2 --format json --greedy "The capital of France is"
  loupe generate --model gpt2 --greedy --num-beams 4 --num-return-sequences 2 --no-repeat-ngram-size 2 "The meaning of life is"
  loupe generate --model gpt2 --num-return-sequences 3 --seed 1 --min-new-tokens 20 "Once upon a time"
  loupe generate --model gpt2 --seed 1 --format json --input prompts.jsonl > out.jsonl`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.seedSet = cmd.Flags().Changed("seed")
			f.changed = map[string]bool{}
			cmd.Flags().VisitAll(func(fl *pflag.Flag) { f.changed[fl.Name] = fl.Changed })
			f.stdin = cmd.InOrStdin()
			return runGenerate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "model directory or Hugging Face hub id (required)")
	fl.BoolVar(&f.samp.Greedy, "greedy", false, "take the most probable token instead of sampling (do_sample false)")
	fl.BoolVar(&f.doSample, "do-sample", false, "sample even when generation_config.json says do_sample false (with --num-beams: beam sampling)")
	fl.Float64Var(&f.samp.Temperature, "temperature", 1, "divide the logits by this (> 0)")
	fl.IntVar(&f.samp.TopK, "top-k", 50, "sample among the k most probable tokens (0: off)")
	fl.Float64Var(&f.samp.TopP, "top-p", 1, "sample among the most probable tokens holding this probability mass (1: off)")
	fl.Float64Var(&f.samp.MinP, "min-p", 0, "drop tokens less probable than this fraction of the most probable one (0: off)")
	fl.Float64Var(&f.samp.Typical, "typical-p", 1, "locally typical sampling mass (1: off)")
	fl.Float64Var(&f.samp.RepetitionPenalty, "repetition-penalty", 1, "penalise tokens already in the prompt or output (1: off; 1.2 is common)")
	fl.IntVar(&f.samp.NoRepeatNGramSize, "no-repeat-ngram-size", 0, "never repeat an n-gram of this many tokens (0: off)")
	fl.IntVar(&f.numBeams, "num-beams", 1, "beam search with this many beams (1: no beam search)")
	fl.Float64Var(&f.lengthPen, "length-penalty", 1, "beam search: exponent of the length dividing a finished sequence's score (> 0 favours longer ones)")
	fl.StringVar(&f.earlyStop, "early-stopping", "false", "beam search: false (stop when no beam can do better), true (stop at num-beams finished sequences) or never")
	fl.IntVar(&f.numReturn, "num-return-sequences", 1, "print this many sequences: the best of beam search (at most --num-beams), or independent samples")
	fl.Uint64Var(&f.samp.Seed, "seed", 0, "seed for sampling and beam sampling (default: random)")
	fl.IntVar(&f.maxNew, "max-new-tokens", generate.DefaultMaxNewTokens, "generate at most this many tokens")
	fl.IntVar(&f.minNew, "min-new-tokens", 0, "no end-of-text token before this many new tokens (0: off)")
	fl.StringArrayVar(&f.stop, "stop", nil, `stop before this text (repeatable; \n and \t are understood)`)
	fl.BoolVar(&f.stats, "stats", false, "print prefill and decode timings on standard error")
	fl.StringVar(&f.promptIDs, "prompt-ids", "", "give the prompt as comma-separated token ids instead of text")
	fl.BoolVar(&f.ignoreEOS, "ignore-eos", false, "keep generating after the end-of-text token")
	fl.StringVar(&f.input, "input", "", `generate for each prompt of this JSON lines file (strings or {"text": ...}; "-" for standard input)`)
	fl.IntVar(&f.batchSize, "batch-size", defaultGenBatch, "with --input: decode this many prompts together")
	rootCmd.AddCommand(cmd)
}

func runGenerate(ctx context.Context, out, errw io.Writer, f generateFlags, args []string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.model == "" {
		return errors.New("generate: --model is required (a directory or a hub id such as gpt2)")
	}
	if f.given("max-new-tokens") && f.maxNew <= 0 {
		return fmt.Errorf("generate: --max-new-tokens %d: want a positive number", f.maxNew)
	}
	if f.given("min-new-tokens") && f.minNew < 0 {
		return fmt.Errorf("generate: --min-new-tokens %d: want 0 (off) or a positive number", f.minNew)
	}
	var text string
	switch {
	case f.input != "" && (len(args) == 1 || f.promptIDs != ""):
		return errors.New("generate: give one of PROMPT, --prompt-ids or --input")
	case f.input != "":
		if f.batchSize < 1 {
			return fmt.Errorf("generate: --batch-size %d: want a positive number", f.batchSize)
		}
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
		return errors.New("generate: no prompt (give PROMPT, --prompt-ids or --input FILE)")
	}
	if f.samp.Greedy && f.doSample {
		return errors.New("generate: --greedy and --do-sample contradict each other")
	}
	if f.given("temperature") && f.samp.Temperature == 0 && !f.samp.Greedy && f.numBeams <= 1 {
		return errors.New("generate: --temperature 0: want a positive number (for greedy decoding use --greedy)")
	}
	if err := checkBeamFlags(&f); err != nil {
		return err
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
	var lines []promptLine
	if f.input != "" { // read and check the file before loading the model
		var err error
		if lines, err = readPromptFile(f.input, f.stdin); err != nil {
			return err
		}
	}

	m, tok, dir, err := loadGPT2(ctx, f.model, errw)
	if err != nil {
		return err
	}
	defer m.Close()
	gc, err := generate.LoadGenerationConfig(dir, m.Config.VocabSize)
	if err != nil {
		return err
	}
	if gc != nil && gc.DoSample == nil {
		gc.DoSample = pipelineDoSample(dir)
	}
	if f.input != "" {
		return runInput(ctx, out, errw, f, m, tok, gc, dir, lines)
	}

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

	opt, beams, err := resolveGenerate(f, gc, filepath.Join(dir, generate.GenerationConfigFile), len(prompt))
	if err != nil {
		return err
	}
	if beams.NumBeams > 1 {
		return runBeams(ctx, out, errw, f, m, prompt, opt, beams, dec)
	}
	if beams.NumReturnSequences > 1 {
		return runSamples(ctx, out, errw, f, m, prompt, opt, beams.NumReturnSequences, dec)
	}
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
		fmt.Fprintln(out, joinIDs(res.IDs))
	} else {
		fmt.Fprintln(out)
	}
	reportEnd(errw, f, m.Config.NPositions, len(res.PromptIDs), res.Stats, []int{len(res.IDs)}, []string{res.Finish})
	return nil
}

// reportEnd tells on stderr that generation hit the context limit and,
// with --stats, prints the timing figures. genLens and finishes describe
// the sequences shown (one, or every sample).
func reportEnd(errw io.Writer, f generateFlags, nPositions, promptLen int, st generate.Stats, genLens []int, finishes []string) {
	for i, fin := range finishes {
		if fin == "context" { // the sequences that reach the context all end at its length
			fmt.Fprintf(errw, "loupe: generate: stopped at the model's context limit of %d tokens (prompt %d + %d generated)\n",
				nPositions, promptLen, genLens[i])
			break
		}
	}
	if f.stats {
		printGenStats(errw, st, strings.Join(finishes, " "))
	}
}

// checkBeamFlags rejects meaningless beam-search flag values before the
// model is loaded.
func checkBeamFlags(f *generateFlags) error {
	switch {
	case f.given("num-beams") && f.numBeams < 1:
		return fmt.Errorf("generate: --num-beams %d: want a positive number", f.numBeams)
	case f.given("num-return-sequences") && f.numReturn < 1:
		return fmt.Errorf("generate: --num-return-sequences %d: want a positive number", f.numReturn)
	case f.given("length-penalty") && (math.IsNaN(f.lengthPen) || math.IsInf(f.lengthPen, 0)):
		return fmt.Errorf("generate: --length-penalty %g: want a finite number", f.lengthPen)
	case f.given("no-repeat-ngram-size") && f.samp.NoRepeatNGramSize < 0:
		return fmt.Errorf("generate: --no-repeat-ngram-size %d: want 0 (off) or a positive number", f.samp.NoRepeatNGramSize)
	}
	if f.given("early-stopping") {
		if _, err := generate.ParseEarlyStopping(f.earlyStop); err != nil {
			return fmt.Errorf("generate: --early-stopping %q: want false, true or never", f.earlyStop)
		}
	}
	return nil
}

// pipelineDoSample returns config.json's
// task_specific_params["text-generation"].do_sample, or nil. transformers'
// text-generation pipeline applies these parameters over the generation
// config; GPT-2's config.json sets do_sample true there while its
// generation_config.json leaves it out, so the pipeline samples and a bare
// model.generate() decodes greedily. loupe generate is the pipeline's
// counterpart and follows it.
func pipelineDoSample(dir string) *bool {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil
	}
	var c struct {
		TaskSpecific map[string]struct {
			DoSample *bool `json:"do_sample"`
		} `json:"task_specific_params"`
	}
	if json.Unmarshal(b, &c) != nil {
		return nil
	}
	return c.TaskSpecific["text-generation"].DoSample
}

// resolveGenerate merges the flags with generation_config.json (gc, read
// from path; nil when the model has none): a flag given on the command line
// wins, then the file's value, then transformers' default, which is each
// flag's default except do_sample (false in transformers; loupe samples
// when there is no file and no --num-beams) and the length (max_length 20
// in transformers; --max-new-tokens 50 here).
func resolveGenerate(f generateFlags, gc *generate.GenerationConfig, path string, promptLen int) (generate.Options, generate.Beams, error) {
	if gc == nil {
		gc = &generate.GenerationConfig{}
		if !f.samp.Greedy && !f.doSample && f.numBeams <= 1 {
			t := true
			gc.DoSample = &t
		}
	}
	fl := func(name string, flag float64, cfg *float64) float64 {
		if f.given(name) || cfg == nil {
			return flag
		}
		return *cfg
	}
	in := func(name string, flag int, cfg *int) int {
		if f.given(name) || cfg == nil {
			return flag
		}
		return *cfg
	}
	s := f.samp
	switch {
	case f.samp.Greedy:
		s.Greedy = true
	case f.doSample:
		s.Greedy = false
	default:
		s.Greedy = gc.DoSample == nil || !*gc.DoSample
	}
	s.Temperature = fl("temperature", s.Temperature, gc.Temperature)
	s.TopK = in("top-k", s.TopK, gc.TopK)
	s.TopP = fl("top-p", s.TopP, gc.TopP)
	s.MinP = fl("min-p", s.MinP, gc.MinP)
	s.Typical = fl("typical-p", s.Typical, gc.TypicalP)
	s.RepetitionPenalty = fl("repetition-penalty", s.RepetitionPenalty, gc.RepetitionPenalty)
	s.NoRepeatNGramSize = in("no-repeat-ngram-size", s.NoRepeatNGramSize, gc.NoRepeatNGramSize)
	if !s.Greedy && s.Temperature == 0 {
		if f.given("temperature") {
			return generate.Options{}, generate.Beams{}, errors.New("generate: --temperature 0: want a positive number (for greedy decoding use --greedy)")
		}
		return generate.Options{}, generate.Beams{}, fmt.Errorf(`generate: %s: "temperature": 0 with do_sample: want a positive number (or --greedy)`, path)
	}
	maxNew := f.maxNew
	switch {
	case f.given("max-new-tokens"):
	case gc.MaxNewTokens != nil:
		maxNew = *gc.MaxNewTokens
	case gc.MaxLength != nil:
		maxNew = *gc.MaxLength - promptLen
		if maxNew <= 0 {
			return generate.Options{}, generate.Beams{}, fmt.Errorf(`generate: %s: "max_length" %d leaves no room after the prompt's %d tokens (give --max-new-tokens)`, path, *gc.MaxLength, promptLen)
		}
	}
	b := generate.Beams{
		NumBeams:           in("num-beams", f.numBeams, gc.NumBeams),
		LengthPenalty:      fl("length-penalty", f.lengthPen, gc.LengthPenalty),
		NumReturnSequences: in("num-return-sequences", f.numReturn, gc.NumReturnSequences),
	}
	// do_sample with beams is transformers' beam sample.
	b.Sample = b.NumBeams > 1 && !s.Greedy
	b.EarlyStopping, _ = generate.ParseEarlyStopping(f.earlyStop) // checked by checkBeamFlags
	if !f.given("early-stopping") && gc.EarlyStopping != nil {
		b.EarlyStopping = *gc.EarlyStopping
	}
	opt := generate.Options{Sampling: s, MaxNewTokens: maxNew, IgnoreEOS: f.ignoreEOS, Stop: f.stop, EOSTokenIDs: gc.EOSTokenIDs}
	// min_new_tokens, when set at all, replaces min_length (transformers'
	// _prepare_generated_length).
	switch {
	case f.given("min-new-tokens"):
		opt.MinNewTokens = f.minNew
	case gc.MinNewTokens != nil:
		opt.MinNewTokens = *gc.MinNewTokens
	case gc.MinLength != nil:
		opt.MinLength = *gc.MinLength
	}
	switch {
	case b.NumBeams > 1 && len(f.stop) > 0:
		return opt, b, errors.New("generate: --stop is not supported with beam search (--num-beams > 1)")
	case b.NumBeams > 1 && b.NumReturnSequences > b.NumBeams:
		return opt, b, fmt.Errorf("generate: --num-return-sequences %d: want at most --num-beams (%d)", b.NumReturnSequences, b.NumBeams)
	case b.NumBeams <= 1 && b.NumReturnSequences > 1 && s.Greedy:
		return opt, b, fmt.Errorf("generate: --num-return-sequences %d with greedy decoding: it gives one sequence; sample (--do-sample) or use beam search (--num-beams %d or more)", b.NumReturnSequences, b.NumReturnSequences)
	}
	return opt, b, nil
}

// beamJSON is the --format json output of a beam search returning one
// sequence: the shape of generate.Result plus sequences_scores.
type beamJSON struct {
	PromptIDs       []int          `json:"prompt_ids"`
	IDs             []int          `json:"ids"`
	Text            string         `json:"text"`
	Logprobs        []float32      `json:"logprobs"`
	SequencesScores []float32      `json:"sequences_scores"`
	Stats           generate.Stats `json:"stats"`
}

// beamsJSON is the --format json output with several sequences.
type beamsJSON struct {
	PromptIDs       []int               `json:"prompt_ids"`
	Sequences       []generate.Sequence `json:"sequences"`
	SequencesScores []float32           `json:"sequences_scores"`
	Stats           generate.Stats      `json:"stats"`
}

// samplesJSON is the --format json output of several samples.
type samplesJSON struct {
	PromptIDs []int               `json:"prompt_ids"`
	Sequences []generate.Sequence `json:"sequences"`
	Stats     generate.Stats      `json:"stats"`
}

// runBeams runs beam search and prints its sequences at the end.
func runBeams(ctx context.Context, out, errw io.Writer, f generateFlags, m *gpt2.Model, prompt []int,
	opt generate.Options, b generate.Beams, dec generate.Decoder) error {
	res, err := generate.BeamSearch(ctx, m, prompt, opt, b, dec)
	if err != nil {
		return err
	}
	scores := make([]float32, len(res.Sequences))
	for i, sq := range res.Sequences {
		scores[i] = sq.Score
	}
	best := res.Sequences[0]
	if jsonOutput() {
		if len(res.Sequences) == 1 {
			return writeJSON(out, beamJSON{PromptIDs: res.PromptIDs, IDs: best.IDs, Text: best.Text,
				Logprobs: best.Logprobs, SequencesScores: scores, Stats: res.Stats})
		}
		return writeJSON(out, beamsJSON{PromptIDs: res.PromptIDs, Sequences: res.Sequences, SequencesScores: scores, Stats: res.Stats})
	}
	printSequences(out, prompt, res.Sequences, true, dec)
	reportEnd(errw, f, m.Config.NPositions, len(res.PromptIDs), res.Stats, []int{len(best.IDs)}, []string{best.Finish})
	return nil
}

// runSamples draws n samples of the prompt as one batch and prints them at
// the end.
func runSamples(ctx context.Context, out, errw io.Writer, f generateFlags, m *gpt2.Model, prompt []int,
	opt generate.Options, n int, dec generate.Decoder) error {
	res, err := generate.GenerateN(ctx, m, prompt, opt, n, dec)
	if err != nil {
		return err
	}
	if jsonOutput() {
		return writeJSON(out, samplesJSON{PromptIDs: res.PromptIDs, Sequences: res.Sequences, Stats: res.Stats})
	}
	printSequences(out, prompt, res.Sequences, false, dec)
	lens := make([]int, len(res.Sequences))
	finishes := make([]string, len(res.Sequences))
	for i, sq := range res.Sequences {
		lens[i], finishes[i] = len(sq.IDs), sq.Finish
	}
	reportEnd(errw, f, m.Config.NPositions, len(res.PromptIDs), res.Stats, lens, finishes)
	return nil
}

// printSequences prints each sequence's text (prompt included; its ids
// without a tokenizer), under a header line when there are several, with
// the beam score when scores is set.
func printSequences(out io.Writer, prompt []int, seqs []generate.Sequence, scores bool, dec generate.Decoder) {
	for i, sq := range seqs {
		switch {
		case len(seqs) == 1:
		case scores:
			fmt.Fprintf(out, "--- sequence %d of %d, score %.4f ---\n", i+1, len(seqs), sq.Score)
		default:
			fmt.Fprintf(out, "--- sequence %d of %d ---\n", i+1, len(seqs))
		}
		if dec == nil {
			fmt.Fprintln(out, joinIDs(sq.IDs))
		} else {
			fmt.Fprintln(out, dec.Decode(prompt)+sq.Text)
		}
	}
}

func joinIDs(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, " ")
}

func printGenStats(errw io.Writer, s generate.Stats, finish string) {
	fmt.Fprintf(errw, "prefill: %d tokens in %.3f s (%.1f tok/s)\ndecode:  %d tokens in %.3f s (%.1f tok/s)\nfinish:  %s\n",
		s.PrefillTokens, s.PrefillSeconds, rate(s.PrefillTokens, s.PrefillSeconds),
		s.DecodeTokens, s.DecodeSeconds, rate(s.DecodeTokens, s.DecodeSeconds), finish)
}

func rate(n int, sec float64) float64 {
	if sec <= 0 {
		return 0
	}
	return float64(n) / sec
}

// loadGPT2 resolves ref (directory or hub id) and loads the model and, when
// its files are there, the tokenizer (nil otherwise); it returns the model
// directory too (generation_config.json is fetched into it when the hub has
// one). config.json is fetched
// and checked first, so a model of another architecture fails before its
// weights are downloaded.
func loadGPT2(ctx context.Context, ref string, errw io.Writer) (*gpt2.Model, *tokenizer.BPE, string, error) {
	c := hub.NewClient()
	c.ShowProgress = isTerminal(os.Stderr)
	optional := []string{"tokenizer.json", "vocab.json", "merges.txt", generate.GenerationConfigFile}
	dir, err := c.ModelDir(ctx, ref, []string{"config.json"}, optional)
	if err != nil {
		return nil, nil, "", fmt.Errorf("generate: %w", err)
	}
	if _, err := gpt2.LoadConfig(filepath.Join(dir, "config.json")); err != nil {
		return nil, nil, "", err
	}
	dir, err = c.ModelDir(ctx, ref, []string{"config.json", "model.safetensors"}, optional)
	if err != nil {
		return nil, nil, "", fmt.Errorf("generate: %w", err)
	}
	m, err := gpt2.Load(dir)
	if err != nil {
		return nil, nil, "", err
	}
	var tok *tokenizer.BPE
	if genFileExists(filepath.Join(dir, "tokenizer.json")) || (genFileExists(filepath.Join(dir, "vocab.json")) && genFileExists(filepath.Join(dir, "merges.txt"))) {
		tok, err = tokenizer.LoadBPE(dir)
		if err != nil {
			m.Close()
			return nil, nil, "", err
		}
		if tok.VocabSize() > m.Config.VocabSize {
			m.Close()
			return nil, nil, "", fmt.Errorf("generate: %s: the tokenizer has %d tokens but the model only %d", ref, tok.VocabSize(), m.Config.VocabSize)
		}
	}
	return m, tok, dir, nil
}

func genFileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// defaultGenBatch is --batch-size's default: 8 prompts of gpt2-xl at its
// full context hold about 5 GiB of key/value caches.
const defaultGenBatch = 8

// promptLine is one prompt of an --input file.
type promptLine struct {
	text string
	line int // 1-based line number in the file
}

// inputName names an --input file in messages.
func inputName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

// readPromptFile reads the --input file at path (stdin, or os.Stdin when
// nil, for "-"): JSON lines, each a JSON string or an object with a "text"
// string, the convention of loupe tokenize --input; blank lines are
// skipped. (embed's readTexts takes text lines or objects but no JSON
// strings, and numbers records rather than lines; tokenizeLines parses as
// here but inline, line by line as it prints.) A bad line is an error
// naming its line number.
func readPromptFile(path string, stdin io.Reader) ([]promptLine, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("generate: --input: %w", err)
		}
		defer f.Close()
		r = f
	} else if r == nil {
		r = os.Stdin
	}
	name := inputName(path)
	var out []promptLine
	err := textLines(r, "generate", name, func(line int, text string, _ json.RawMessage) error {
		if text == "" {
			return fmt.Errorf("generate: %s line %d: empty prompt: GPT-2 needs at least one token to condition on", name, line)
		}
		out = append(out, promptLine{text: text, line: line})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("generate: %s: no prompts", name)
	}
	return out, nil
}

// runInput generates for every prompt of an --input file, in batches of
// f.batchSize consecutive prompts with the same options, printing each
// batch's results in input order as it ends.
func runInput(ctx context.Context, out, errw io.Writer, f generateFlags, m *gpt2.Model, tok *tokenizer.BPE,
	gc *generate.GenerationConfig, dir string, lines []promptLine) error {
	if tok == nil {
		return fmt.Errorf("generate: %s has no tokenizer (tokenizer.json, or vocab.json + merges.txt): --input needs one", f.model)
	}
	name := inputName(f.input)
	path := filepath.Join(dir, generate.GenerationConfigFile)
	prompts := make([][]int, len(lines))
	opts := make([]generate.Options, len(lines))
	// The settings that do not depend on a prompt's length first (with a
	// length of 0: only max_length depends on it, and fails at 0 only when
	// it is no positive number); then each line, whose errors are its own.
	_, beams, err := resolveGenerate(f, gc, path, 0)
	switch {
	case err != nil:
		return err
	case beams.NumBeams > 1:
		return fmt.Errorf("generate: --input does not support beam search (num_beams %d): run the prompts one at a time, or give --num-beams 1", beams.NumBeams)
	case beams.NumReturnSequences > 1:
		return fmt.Errorf("generate: --input gives one sequence per prompt (num_return_sequences %d): run the prompts one at a time, or give --num-return-sequences 1", beams.NumReturnSequences)
	}
	for i, l := range lines {
		p := tok.Encode(l.text)
		err := generate.CheckPrompt(m, p)
		if err == nil {
			opts[i], _, err = resolveGenerate(f, gc, path, len(p))
		}
		if err != nil {
			return fmt.Errorf("generate: %s line %d: %s", name, l.line, strings.TrimPrefix(err.Error(), "generate: "))
		}
		prompts[i] = p
	}
	var w *bufio.Writer
	if jsonOutput() {
		w = bufio.NewWriter(out)
		defer w.Flush() // the batches done before an error stay printed
		out = w
	}
	for lo := 0; lo < len(prompts); {
		hi := lo + 1
		for hi < len(prompts) && hi-lo < f.batchSize && opts[hi].MaxNewTokens == opts[lo].MaxNewTokens {
			hi++
		}
		res, err := generate.GenerateBatch(ctx, m, prompts[lo:hi], opts[lo], tok)
		if err != nil {
			return err
		}
		var total generate.Stats
		finishes := make([]string, len(res))
		for j, r := range res {
			if jsonOutput() {
				if err := writeJSON(out, r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "--- prompt %d of %d ---\n", lo+j+1, len(prompts))
				printSequences(out, r.PromptIDs, []generate.Sequence{{IDs: r.IDs, Text: r.Text}}, false, tok)
			}
			quiet := f
			quiet.stats = false
			reportEnd(errw, quiet, m.Config.NPositions, len(r.PromptIDs), r.Stats, []int{len(r.IDs)}, []string{r.Finish})
			total.PrefillTokens += r.Stats.PrefillTokens
			total.DecodeTokens += r.Stats.DecodeTokens
			total.PrefillSeconds, total.DecodeSeconds = r.Stats.PrefillSeconds, r.Stats.DecodeSeconds
			finishes[j] = r.Finish
		}
		if f.stats {
			fmt.Fprintf(errw, "batch: prompts %d to %d of %d\n", lo+1, hi, len(prompts))
			printGenStats(errw, total, strings.Join(finishes, " "))
		}
		if w != nil {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		lo = hi
	}
	return nil
}
