package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/textlines"
	"github.com/loupe-ml/loupe/seq2seq"
)

// generateFlags are the options of loupe generate (and, --model and the
// decoding flags, of loupe explain).
type generateFlags struct {
	model     string
	set       generate.Settings // the decoding flags given (nil fields: not given)
	greedy    bool
	doSample  bool
	earlyStop *string // --early-stopping, when given
	stop      []string
	stats     bool
	promptIDs string
	input     string    // --input: JSON lines of prompts ("-": stdin)
	batchSize int       // --batch-size: prompts of --input decoded together
	stdin     io.Reader // read for --input -; nil: os.Stdin
	retr      retrievalFlags
	quantize  string // --quantize: precision of the weights when decoding
}

// quantizeUsage is the help of --quantize on the commands that decode with
// a GPT-2 (generate, eval perplexity, serve).
const quantizeUsage = "precision of the GPT-2's weights when decoding: none (float32), int8 (int8 weights per output channel, each token's activations quantized at run time), bf16 (bfloat16 weights, float32 activations and sums) or f16 (float16 weights, the same way); LayerNorms and attention stay float32 (default: as the checkpoint stores them, float32 or a loupe quantize directory's precision)"

// checkQuantize checks a --quantize value before anything is loaded.
func checkQuantize(q string) error {
	var oe *generate.OptionError
	if err := (generate.LoadOptions{Quantize: q}).Check(); errors.As(err, &oe) {
		return fmt.Errorf("--quantize %s: want %s", oe.Value, oe.Allowed)
	} else if err != nil {
		return err
	}
	return nil
}

// loadPipelineAt is loadPipeline with the weights' precision (--quantize).
func loadPipelineAt(ctx context.Context, ref, quantize string) (*generate.Pipeline, error) {
	return generate.Load(ctx, ref, generate.LoadOptions{Hub: hubClient(), Quantize: quantize})
}

func init() {
	var f generateFlags
	var earlyStop string
	cmd := &cobra.Command{
		Use:   "generate --model M [flags] PROMPT | --input FILE",
		Short: "Continue a prompt with a GPT-2 model, or run a text-to-text model (T5, BART, Marian)",
		Long: `Generate text with a GPT-2 family model (gpt2, distilgpt2, gpt2-medium,
gpt2-large, gpt2-xl or any checkpoint of that architecture).

On an encoder-decoder model (config.json model_type t5, bart, mbart or
marian) the prompt is the source and the output the decoder's text, as
transformers' text2text-generation pipeline does: it runs as loupe
translate (docs/seq2seq.md) with the same decoding flags and --format json;
--prompt-ids gives source ids; without a length, max_length 20 as
transformers (not 50 new tokens); --quantize and retrieval are GPT-2 only.

--model is a local directory (config.json, the weights and the tokenizer:
tokenizer.json or vocab.json + merges.txt) or a Hugging Face hub id (gpt2,
ORG/NAME@REVISION) fetched into transformers' cache (HF_HOME, HF_HUB_CACHE;
HF_HUB_OFFLINE=1 reads the cache only).

Decoding follows transformers' text-generation pipeline: the model's
generation_config.json gives the defaults (do_sample, temperature, top_k,
top_p, min_p, typical_p, repetition_penalty, no_repeat_ngram_size,
max_new_tokens or max_length, min_new_tokens or min_length, num_beams,
length_penalty, early_stopping, num_return_sequences, eos_token_id), with
do_sample from config.json's task_specific_params when the file lacks it
(GPT-2 samples); without the file, tokens are sampled (temperature 1, top-k
50) unless --greedy or --num-beams is given; without a length, 50 new
tokens. A flag given on the command line wins. loupe explain and loupe
serve decode the same way (the Go API: generate.Load and Resolve). The
processors run in transformers' order: repetition penalty, no-repeat
n-gram, minimum length, temperature, top-k, top-p, min-p, typical-p.
--seed makes sampling reproducible (random otherwise).

The prompt and continuation stream to standard output. Generation ends
after --max-new-tokens, at an end-of-text token (generation_config.json's
eos_token_id, else config.json's; none with --ignore-eos), before the first
--stop string, or when the model's context is full (a message on standard
error says so). --min-new-tokens N keeps end-of-text out of the first N
tokens.

--num-beams N runs beam search as transformers' generate(num_beams=N)
(--length-penalty, --early-stopping false|true|never; with do_sample, beam
sampling). --num-return-sequences N prints the N best beams, or N
independent samples (sequence i draws from a stream derived from --seed and
i; sequence 1 is the text one sample with that seed gives). Several
sequences print at the end, each under a header line. --stop is not
supported with beam search.

--quantize int8 decodes with int8 weights (the linear layers and the LM
head; embeddings, LayerNorms and attention stay float32; docs/gpt2.md,
"int8, bf16 and f16 weights"), --quantize bf16 with bfloat16 weights for the
same layers (activations and sums stay float32), --quantize f16 with IEEE
float16 weights the same way (a weight beyond ±65504 is an error);
--quantize none is float32. By default the weights are used as stored:
float32 for a float checkpoint, int8 or bf16 for a directory loupe quantize
wrote (which loads without converting; another --quantize is an error
there).

--format json prints {"prompt_ids", "ids", "text", "logprobs", "stats"}
(logprobs: log-softmax of the raw logits at each generated token); several
sequences go in "sequences", and beam search adds "sequences_scores".
--stats prints timings on standard error.

--input FILE ("-" for standard input) generates for each non-blank line, a
JSON string or an object with a "text" string, as pipeline([...]) does:
every line is checked before anything is generated (an error names its
line), then prompts are decoded in batches of --batch-size consecutive
lines. With --seed S each prompt gets the text loupe generate --seed S
gives it alone (but for rare float rounding of the batched computation).
--format json prints one object per prompt, in input order. --input does
not support beam search or several sequences per prompt.

Retrieval (docs/retrieval.md): --knn DS interpolates every step with a
kNN-LM datastore (loupe knnlm build): λ·p_kNN + (1−λ)·p_LM with --lambda,
the --k nearest stored contexts and --knn-temperature; --retrieve STORE is
in-context RALM: before the first token and every --retrieval-stride
tokens, the text's last --retrieval-query-tokens tokens retrieve
--retrieve-k passages from a chunk store (loupe rag build), which are put
before the text in the model's context. Both work with sampling, beams and
--input; the printed text and logprobs are the generated text's (with
--knn, the interpolated log-probabilities).`,
		Example: `  loupe generate --model gpt2 "The Illustrated Transformer is"
  loupe generate --model ./distilgpt2 --greedy --max-new-tokens 30 "Hello, my name is"
  loupe generate --model gpt2 --top-p 0.9 --temperature 0.8 --seed 1 --stop "\n" "Q: What is a transformer?\nA:"
  loupe generate --model gpt2 --format json --greedy "The capital of France is"
  loupe generate --model gpt2 --greedy --num-beams 4 --num-return-sequences 2 --no-repeat-ngram-size 2 "The meaning of life is"
  loupe generate --model gpt2 --num-return-sequences 3 --seed 1 --min-new-tokens 20 "Once upon a time"
  loupe generate --model gpt2 --seed 1 --format json --input prompts.jsonl > out.jsonl
  loupe generate --quantize int8 --greedy "In the beginning"
  loupe generate --knn kjv.knn --lambda 0.5 --knn-temperature 20 "And the LORD said unto Moses"
  loupe generate --retrieve kjv.rag --retrieval-stride 4 --num-beams 3 --greedy "In the beginning"
  loupe generate --model google/flan-t5-small --num-beams 4 "translate English to German: How old are you?"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.earlyStop = nil // not given (a run before may have set it)
			if cmd.Flags().Changed("early-stopping") {
				f.earlyStop = &earlyStop
			}
			f.stdin = cmd.InOrStdin()
			if err := f.retr.check(cmd.Flags()); err != nil {
				return cliError("generate", err)
			}
			return runGenerate(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args)
		},
	}
	fl := cmd.Flags()
	f.registerDecode(fl)
	f.registerBeams(fl, &earlyStop)
	fl.Var(setting[int]{&f.set.MaxLength, generate.DefaultMaxLength}, "max-length", "the most tokens of prompt and output together, instead of --max-new-tokens (transformers' max_length; on an encoder-decoder, the output and the decoder's start token)")
	fl.Var(setting[int]{&f.set.MinLength, 0}, "min-length", "no end-of-text token before prompt and output hold this many tokens (transformers' min_length; on an encoder-decoder, the output and start token; 0: off)")
	fl.BoolVar(&f.stats, "stats", false, "print prefill and decode timings on standard error")
	fl.StringVar(&f.promptIDs, "prompt-ids", "", "give the prompt as comma-separated token ids instead of text")
	fl.StringVar(&f.input, "input", "", `generate for each prompt of this JSON lines file (strings or {"text": ...}; "-" for standard input)`)
	fl.IntVar(&f.batchSize, "batch-size", generate.DefaultBatchSize, "with --input: decode this many prompts together")
	fl.StringVar(&f.quantize, "quantize", "", quantizeUsage)
	f.retr.register(fl, true)
	rootCmd.AddCommand(cmd)
}

// registerBeams adds the beam search flags that generate, translate and
// summarize share (--early-stopping's value goes to *earlyStop).
func (f *generateFlags) registerBeams(fl *pflag.FlagSet, earlyStop *string) {
	fl.Var(setting[int]{&f.set.NumBeams, 1}, "num-beams", "beam search with this many beams (1: no beam search)")
	fl.Var(setting[float64]{&f.set.LengthPenalty, 1}, "length-penalty", "beam search: exponent of the length dividing a finished sequence's score (> 0 favours longer ones)")
	fl.StringVar(earlyStop, "early-stopping", "false", "beam search: false (stop when no beam can do better), true (stop at num-beams finished sequences) or never")
	fl.Var(setting[int]{&f.set.NumReturnSequences, 1}, "num-return-sequences", "print this many sequences: the best of beam search (at most --num-beams), or independent samples")
}

func runGenerate(ctx context.Context, out, errw io.Writer, f generateFlags, args []string) error {
	return cliError("generate", generateMain(ctx, out, errw, f, args))
}

func generateMain(ctx context.Context, out, errw io.Writer, f generateFlags, args []string) error {
	if f.model == "" {
		return errors.New("--model is required (a directory or a hub id such as gpt2)")
	}
	switch {
	case f.input != "" && (len(args) == 1 || f.promptIDs != ""):
		return errors.New("give one of PROMPT, --prompt-ids or --input")
	case len(args) == 1 && f.promptIDs != "":
		return errors.New("give either PROMPT or --prompt-ids, not both")
	case len(args) == 1 && generate.CheckText(args[0]) != nil:
		return generate.CheckText(args[0])
	case len(args) == 0 && f.input == "" && f.promptIDs == "":
		return errors.New("no prompt (give PROMPT, --prompt-ids or --input FILE)")
	}
	set, err := f.settings()
	if err != nil {
		return err
	}
	if err := checkQuantize(f.quantize); err != nil {
		return err
	}
	var texts []string
	var lines []int
	if f.input != "" { // read and check the file before loading the model
		if texts, lines, err = generate.ReadPrompts(f.input, f.stdin); err != nil {
			return err
		}
	}
	p, err := loadPipelineAt(ctx, f.model, f.quantize)
	if errors.Is(err, generate.ErrEncoderDecoder) {
		return generateText2Text(ctx, out, errw, f, args)
	}
	if err != nil {
		return err
	}
	defer p.Close()
	rt, err := f.retr.open(ctx, p)
	if err != nil {
		return err
	}
	defer rt.Close()
	set.Adjust, set.Context = rt.hooks()
	if f.input != "" {
		return runInput(ctx, out, errw, f, p, set, texts, lines)
	}
	var prompt []int
	if f.promptIDs != "" {
		if prompt, err = generate.ParseIDs(f.promptIDs); err != nil {
			err = fmt.Errorf("--prompt-ids: %w", err)
		} else {
			err = generate.CheckPrompt(p.Model, prompt)
		}
	} else {
		prompt, err = p.Encode(args[0])
	}
	if err != nil {
		return err
	}
	opt, beams, err := p.Resolve(set, len(prompt))
	if err != nil {
		return err
	}
	var res *generate.Output
	if jsonOutput() {
		if res, err = p.Run(ctx, prompt, opt, beams); err == nil {
			err = writeJSON(out, res)
		}
		return err
	}
	if res, err = p.RunText(ctx, out, prompt, opt, beams); err != nil {
		return err
	}
	reportEnd(errw, f.stats, p.Model.Config.NPositions, res)
	return nil
}

// generateText2Text runs loupe generate on an encoder-decoder model as
// transformers' text2text-generation pipeline does: the prompt is the
// source and the output the decoder's text, decoded as loupe translate
// does with the same flags (--prompt-ids gives source ids).
func generateText2Text(ctx context.Context, out, errw io.Writer, f generateFlags, args []string) error {
	switch {
	case f.quantize != "":
		return fmt.Errorf("--quantize %s: %s is an encoder-decoder model; --quantize applies to GPT-2 only", f.quantize, f.model)
	case f.retr.knn != "" || f.retr.retrieve != "":
		return fmt.Errorf("--knn and --retrieve need a GPT-2; %s is an encoder-decoder model", f.model)
	}
	return seq2seqMain(ctx, out, errw, seq2seqFlags{generateFlags: f, sourceIDs: f.promptIDs, topSources: seq2seq.DefaultTopSources}, args)
}

// reportEnd tells on stderr that generation hit the context limit and,
// with --stats, prints the timing figures (of the best sequence after a
// beam search, of every sample otherwise).
func reportEnd(errw io.Writer, stats bool, nPositions int, o *generate.Output) {
	noteContextLimit(errw, "generate", o.ContextLimit(nPositions))
	if stats {
		o.Stats.WriteText(errw, generate.Finishes(o.Reported()))
	}
}

// noteContextLimit prints msg (generate.ContextLimitMessage), if any, on
// stderr.
func noteContextLimit(errw io.Writer, cmd, msg string) {
	if msg != "" {
		fmt.Fprintf(errw, "loupe: %s: %s\n", cmd, msg)
	}
}

// runInput generates for every prompt of an --input file and prints each
// batch's results in input order as it ends.
func runInput(ctx context.Context, out, errw io.Writer, f generateFlags, p *generate.Pipeline, set generate.Settings, texts []string, lines []int) error {
	if err := p.NeedTokenizer(); err != nil {
		return err
	}
	if jsonOutput() {
		w := bufio.NewWriter(out)
		defer w.Flush() // the batches done before an error stay printed
		out = w
	}
	err := p.GenerateTexts(ctx, texts, set, f.batchSize, func(lo int, res []*generate.Result) error {
		var seqs []generate.Sequence
		for j, r := range res {
			o := r.Output()
			if jsonOutput() {
				if err := writeJSON(out, r); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "--- prompt %d of %d ---\n", lo+j+1, len(texts))
				o.WriteText(out, p.Decoder())
			}
			reportEnd(errw, false, p.Model.Config.NPositions, o)
			seqs = append(seqs, o.Sequences...)
		}
		if f.stats {
			fmt.Fprintf(errw, "batch: prompts %d to %d of %d\n", lo+1, lo+len(res), len(texts))
			generate.BatchStats(res).WriteText(errw, generate.Finishes(seqs))
		}
		if w, ok := out.(*bufio.Writer); ok {
			return w.Flush()
		}
		return nil
	})
	var pe *generate.PromptError
	if errors.As(err, &pe) {
		// The line's own error, with the command's prefix once, before the line.
		msg := strings.TrimPrefix(cliError("generate", pe.Err).Error(), "generate: ")
		return fmt.Errorf("%s line %d: %s", textlines.Name(f.input), lines[pe.Index], msg)
	}
	return err
}
