package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/internal/textlines"
	"github.com/loupe-ml/loupe/seq2seq"
	"github.com/loupe-ml/loupe/web"
)

// seq2seqFlags are the options of loupe translate and loupe summarize:
// generate's decoding and beam flags, and the source.
type seq2seqFlags struct {
	generateFlags
	sourceIDs    string
	explain      bool   // --explain
	explainHTML  string // --explain-html FILE
	continuation string // --continuation IDS
	topSources   int    // --top-sources
	noSelf       bool   // --no-self-attention
	task         string // "translate" or "summarize": the command ("" for loupe generate)
	from, to     string // --from, --to (translate)
	srcLang      string // --src-lang (mBART)
	tgtLang      string // --tgt-lang (mBART)
	maxSource    int    // --max-source-tokens
	methods      string // --methods
	target       string // --target
	igSteps      int    // --ig-steps
}

func init() {
	for _, c := range []struct{ name, short, what, example string }{
		{"translate", "Translate a text with an encoder-decoder model (Marian, mBART)", "translation",
			`  loupe translate --model Helsinki-NLP/opus-mt-en-de "The house is wonderful."
  loupe translate --model t5-small --from en --to de "The house is wonderful."
  loupe translate --model facebook/mbart-large-50-many-to-many-mmt --src-lang en_XX --tgt-lang de_DE "The house is wonderful."
  loupe translate --model ./opus-mt-en-de --num-beams 4 --format json "Good morning"
  loupe translate --model ./opus-mt-en-de --input sentences.jsonl --format json`},
		{"summarize", "Summarize a text with an encoder-decoder model (BART, T5)", "summarization",
			`  loupe summarize --model facebook/bart-large-cnn --input articles.txt
  loupe summarize --model ./bart-large-cnn --num-beams 4 --length-penalty 2 --no-repeat-ngram-size 3 "$(cat article.txt)"`},
	} {
		var f seq2seqFlags
		var earlyStop string
		name := c.name
		f.task = name
		cmd := &cobra.Command{
			Use:   name + " --model M [flags] TEXT | --source-ids IDS | --input FILE",
			Short: c.short,
			Long: c.short + `, as transformers' pipeline("` + c.what + `") does
(docs/seq2seq.md). --model is a directory or a Hugging Face hub id of a
BART, mBART or Marian checkpoint (config.json model_type bart, mbart or
marian, or a T5: model_type t5).

The source is encoded once; the decoder starts from decoder_start_token_id
(max_length counts it) and decodes through the same loop as loupe generate,
with the same decoding flags: greedy unless the model's generation settings
or --do-sample say otherwise, --num-beams for beam search
(--length-penalty, --early-stopping, --num-return-sequences),
--no-repeat-ngram-size, --repetition-penalty, --min-length. The defaults
come from generation_config.json, or config.json's generation fields when
there is none (max_length, num_beams, forced_bos_token_id,
forced_eos_token_id, bad_words_ids, ...). A source longer than the model's
positions (max_position_embeddings; T5: n_positions, 512 by default) is an
error; --max-source-tokens N truncates it to N tokens, its special tokens
kept (transformers' truncation=True).

Tasks, as transformers' pipelines apply config.json's task_specific_params
(its prefix before the text and its generation settings, under the flags
given): loupe translate --from en --to de uses translation_en_to_de (T5:
"translate English to German: "), loupe summarize uses summarization when
the model lists it (T5: "summarize: ", 4 beams, ...). mBART (loupe translate): --src-lang
en_XX puts the source's language code where the mBART tokenizer does
(after "</s>" for mBART-cc25, first for mBART-50; en_XX by default) and
--tgt-lang de_DE forces the target's code as the first generated token
(forced_bos_token_id), as transformers' translation pipeline with
src_lang/tgt_lang.

--source-ids gives the source as comma-separated token ids (the output is
then ids unless the model has a tokenizer). --input FILE ("-": standard
input) decodes each non-blank line (a JSON string or an object with a
"text" string) in batches of --batch-size sources, one sequence each.
--format json prints {"prompt_ids" (the decoder's start), "ids", "text",
"logprobs", "stats"}, with "sequences" and "sequences_scores" for several.

--explain explains the output instead of printing it: after generating (or
taking --continuation, target ids after the decoder's start token), one
teacher-forced pass captures the decoder's cross-attention over the source
at every layer and head, the encoder's and the decoder's self-attention and
each decoder layer's output; it prints, for each target token, its top
source tokens (mean over layers and heads), each source and target token's
most attended tokens in the last encoder and decoder layer, each layer's
top prediction (the logit lens) and the input saliency below, or with
--format json the whole explanation (source, target, "decoder_inputs",
"cross_attention" [layer][head][target][source], "encoder_attention" and
"decoder_attention" ({"layers", "heads", "probs" [layer][head][query][key]},
as loupe explain's "attention"; the decoder's rows are causal),
"alignment", "layer_predictions", "layer_target_prob", "saliency").
--no-self-attention leaves the self-attention out (as loupe explain
--no-attention). --explain-html FILE (implies --explain) also writes an
offline HTML explorable: the attention heatmap (cross, encoder self or
decoder self) with layer and head selectors, the layer predictions and the
saliency view.

With --explain, input saliency attributes each target token to the source
tokens and the target prefix before it (the decoder start token and the
earlier target tokens), as loupe explain does for GPT-2: --methods
gradient, grad_x_input (the default) and/or integrated_gradients (--ig-steps
Gauss-Legendre steps from zero embeddings), of the token's probability
(--target prob, Ecco's) or logit; each token's scores are per-token L2
norms normalised to sum to 1 over source and prefix together. --methods ""
turns saliency off.`,
			Example: c.example,
			Args:    cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				f.earlyStop = nil
				if cmd.Flags().Changed("early-stopping") {
					f.earlyStop = &earlyStop
				}
				f.stdin = cmd.InOrStdin()
				return cliError(name, seq2seqMain(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args))
			},
		}
		fl := cmd.Flags()
		f.registerDecode(fl)
		m := fl.Lookup("model")
		m.DefValue, m.Usage = "", "model directory or Hugging Face hub id (BART, mBART, Marian or T5)"
		f.model = ""
		f.registerBeams(fl, &earlyStop)
		fl.Var(setting[int]{&f.set.MaxLength, generate.DefaultMaxLength}, "max-length", "the most tokens of the output, the decoder's start token included (transformers' max_length)")
		fl.Var(setting[int]{&f.set.MinLength, 0}, "min-length", "no end-of-sequence token before the output, start token included, holds this many tokens (0: off)")
		fl.BoolVar(&f.stats, "stats", false, "print encode and decode timings on standard error")
		fl.StringVar(&f.sourceIDs, "source-ids", "", "give the source as comma-separated token ids instead of text")
		fl.StringVar(&f.input, "input", "", `decode each source of this JSON lines file (strings or {"text": ...}; "-" for standard input)`)
		fl.IntVar(&f.batchSize, "batch-size", generate.DefaultBatchSize, "with --input: decode this many sources together")
		fl.BoolVar(&f.explain, "explain", false, "print the cross-attention alignment of the output (for each target token its top source tokens)")
		fl.StringVar(&f.explainHTML, "explain-html", "", "write the cross-attention explorable to this HTML file (implies --explain)")
		fl.StringVar(&f.continuation, "continuation", "", "explain these comma-separated target ids (after the decoder start) instead of generating (implies --explain)")
		fl.BoolVar(&f.noSelf, "no-self-attention", false, "with --explain: leave the encoder and decoder self-attention out")
		fl.IntVar(&f.maxSource, "max-source-tokens", 0, "truncate a longer source to this many tokens, special tokens kept (0: a source longer than the model's max_position_embeddings or n_positions is an error; T5: a value above n_positions raises that limit)")
		if name == "translate" {
			fl.StringVar(&f.from, "from", "", "source language of config.json's task_specific_params translation_FROM_to_TO (T5: its prefix, such as \"translate English to German: \", and settings)")
			fl.StringVar(&f.to, "to", "", "target language of that task (with --from)")
			fl.StringVar(&f.srcLang, "src-lang", "", "mBART: the source's language code (en_XX, de_DE, ...; default en_XX)")
			fl.StringVar(&f.tgtLang, "tgt-lang", "", "mBART: the target's language code, forced as the first generated token (forced_bos_token_id)")
		}
		fl.IntVar(&f.topSources, "top-sources", seq2seq.DefaultTopSources, "with --explain: source tokens listed per target token")
		fl.StringVar(&f.methods, "methods", explain.MethodGradXInput, "with --explain: saliency methods, some of "+strings.Join(explain.Methods, ",")+` ("": none)`)
		fl.StringVar(&f.target, "target", "prob", "with --explain: what saliency explains: prob (the token's probability, as Ecco) or logit")
		fl.IntVar(&f.igSteps, "ig-steps", 20, fmt.Sprintf("with --explain: integrated-gradients steps (Gauss-Legendre nodes), at most %d", explain.MaxIGSteps))
		rootCmd.AddCommand(cmd)
	}
}

func seq2seqMain(ctx context.Context, out, errw io.Writer, f seq2seqFlags, args []string) error {
	switch {
	case f.model == "":
		return errors.New("--model is required (a directory or a hub id such as Helsinki-NLP/opus-mt-en-de)")
	case f.input != "" && (len(args) == 1 || f.sourceIDs != ""):
		return errors.New("give one of TEXT, --source-ids or --input")
	case len(args) == 1 && f.sourceIDs != "":
		return errors.New("give either TEXT or --source-ids, not both")
	case len(args) == 1 && generate.CheckText(args[0]) != nil:
		return generate.CheckText(args[0])
	case len(args) == 0 && f.input == "" && f.sourceIDs == "":
		return errors.New("no source (give TEXT, --source-ids or --input FILE)")
	case f.explainHTML != "" || f.continuation != "":
		f.explain = true
	}
	if f.explain && f.input != "" {
		return errors.New("--explain explains one source: give TEXT or --source-ids, not --input")
	}
	if f.topSources < 1 {
		return fmt.Errorf("--top-sources %d: want 1 or more", f.topSources)
	}
	xopt := seq2seq.ExplainOptions{TopSources: f.topSources, NoSelfAttention: f.noSelf, IGSteps: f.igSteps}
	var err error
	if xopt.Methods, err = explain.ParseMethods(f.methods); err != nil {
		return err
	}
	if xopt.Target, err = explain.ParseTarget(f.target); err != nil {
		return err
	}
	if f.continuation != "" {
		if xopt.Continuation, err = generate.ParseIDs(f.continuation); err != nil {
			return fmt.Errorf("--continuation: %w", err)
		}
	}
	if f.explainHTML != "" {
		if err := atomicfile.CheckWritable(f.explainHTML); err != nil {
			return err
		}
	}
	set, err := f.settings()
	if err != nil {
		return err
	}
	var texts []string
	var lines []int
	if f.input != "" {
		if texts, lines, err = generate.ReadPrompts(f.input, f.stdin); err != nil {
			return err
		}
	}
	if f.maxSource < 0 {
		return fmt.Errorf("--max-source-tokens %d: want 0 (no truncation) or more", f.maxSource)
	}
	if (f.from == "") != (f.to == "") {
		return errors.New("give --from and --to together (they name config.json's task translation_FROM_to_TO)")
	}
	p, err := seq2seq.Load(ctx, f.model, seq2seq.LoadOptions{Hub: hubClient()})
	if err != nil {
		return err
	}
	defer p.Close()
	if err := f.setTask(p); err != nil {
		return err
	}
	if f.input != "" {
		return seq2seqInput(ctx, out, errw, f, p, set, texts, lines)
	}
	var src []int
	if f.sourceIDs != "" {
		if src, err = generate.ParseIDs(f.sourceIDs); err != nil {
			return fmt.Errorf("--source-ids: %w", err)
		}
	} else if src, err = p.EncodeText(args[0]); err != nil {
		return err
	}
	if f.explain {
		return seq2seqExplain(ctx, out, errw, f, p, src, set, xopt, args)
	}
	var res *generate.Output
	if jsonOutput() {
		if res, err = p.RunIDs(ctx, src, set, nil); err == nil {
			err = writeJSON(out, res)
		}
		return err
	}
	if res, err = p.RunText(ctx, out, src, set); err != nil {
		return err
	}
	if f.stats {
		res.Stats.WriteText(errw, generate.Finishes(res.Reported()))
	}
	return nil
}

// setTask applies the command's task (translate --from X --to Y:
// translation_X_to_Y; summarize: summarization when config.json lists it,
// as transformers' pipelines do), the mBART languages and the truncation.
func (f seq2seqFlags) setTask(p *seq2seq.Pipeline) error {
	switch {
	case f.from != "":
		if err := p.SetTask("translation_" + f.from + "_to_" + f.to); err != nil {
			return fmt.Errorf("--from %s --to %s: %w", f.from, f.to, err)
		}
	case f.task == "summarize" && slices.Contains(p.Tasks(), "summarization"):
		if err := p.SetTask("summarization"); err != nil {
			return err
		}
	}
	if f.srcLang != "" || f.tgtLang != "" {
		if err := p.SetLanguages(f.srcLang, f.tgtLang); err != nil {
			return err
		}
	}
	if f.maxSource > 0 {
		if lim := p.SourceLimit(); f.maxSource > lim && p.Model != nil {
			return fmt.Errorf("--max-source-tokens %d: more than the model's max_position_embeddings %d", f.maxSource, lim)
		}
		p.MaxSourceTokens = f.maxSource
	}
	return nil
}

// seq2seqExplain explains one source's output: the alignment as text or
// JSON, and the explorable with --explain-html.
func seq2seqExplain(ctx context.Context, out, errw io.Writer, f seq2seqFlags, p *seq2seq.Pipeline, src []int, set generate.Settings, opt seq2seq.ExplainOptions, args []string) error {
	e, err := p.Explain(ctx, src, set, opt)
	if err != nil {
		return err
	}
	if f.explainHTML != "" {
		what := strings.Join(e.Source, "")
		if len(args) == 1 {
			what = args[0]
		}
		title := fmt.Sprintf("%s — %q", p.Name, what)
		if err := atomicfile.Write(f.explainHTML, func(w io.Writer) error { return web.WriteSeq2SeqHTML(w, title, e) }); err != nil {
			return fmt.Errorf("--explain-html: %w", hideTempName(err))
		}
		if !jsonOutput() {
			fmt.Fprintf(errw, "wrote %s\n", f.explainHTML)
		}
	}
	return jsonOrText(out, e, e.WriteText)
}

// seq2seqInput decodes every source of an --input file and prints each
// batch's results in input order as it ends.
func seq2seqInput(ctx context.Context, out, errw io.Writer, f seq2seqFlags, p *seq2seq.Pipeline, set generate.Settings, texts []string, lines []int) error {
	if jsonOutput() {
		w := bufio.NewWriter(out)
		defer w.Flush()
		out = w
	}
	err := p.RunTexts(ctx, texts, nil, set, f.batchSize, func(lo int, res []*generate.Result) error {
		for j, r := range res {
			if jsonOutput() {
				if err := writeJSON(out, r); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(out, "--- source %d of %d ---\n", lo+j+1, len(texts))
			r.Output().WriteText(out, p.Decoder())
		}
		if f.stats {
			fmt.Fprintf(errw, "batch: sources %d to %d of %d\n", lo+1, lo+len(res), len(texts))
			generate.BatchStats(res).WriteText(errw, "")
		}
		if w, ok := out.(*bufio.Writer); ok {
			return w.Flush()
		}
		return nil
	})
	var pe *generate.PromptError
	if errors.As(err, &pe) {
		msg := strings.TrimPrefix(pe.Err.Error(), "seq2seq: ")
		return fmt.Errorf("%s line %d: %s", textlines.Name(f.input), lines[pe.Index], msg)
	}
	return err
}
