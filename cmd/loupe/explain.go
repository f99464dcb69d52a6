package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/loupe-ml/loupe/explain"
	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/web"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// explainOptFlags are the flags of what an explanation computes, which
// loupe explain and loupe jobs submit explain share.
type explainOptFlags struct {
	dec       generateFlags // --model and the decoding flags, as loupe generate's
	methods   string
	target    string
	watch     []string
	intervene []string
	opt       explain.Options // the flags that are Options fields as they are
}

var explainFlags struct {
	explainOptFlags
	continuation string
	html         string
	retr         retrievalFlags // --knn, --retrieve and their settings, as loupe generate's
	neighbours   int
	neighbourCtx int
}

var explainCmd = &cobra.Command{
	Use:   "explain --model M [flags] PROMPT",
	Short: "Explain what a GPT-2 generates: saliency, layer predictions, neuron factors, attention",
	Long: `Generate a continuation of PROMPT (or take --continuation) and explain it the way
Ecco does, offline:

  attributions      for each output token, how much each earlier token mattered:
                    gradient, grad_x_input (default), integrated_gradients; the
                    gradient of the token's probability (--target prob, Ecco's
                    choice) or logit, L2 norm per token, normalised to sum to 1
  rankings          the rank of each output token after every layer (logit lens
                    with the final LayerNorm; --raw for Ecco's view without it)
  layer predictions each layer's top tokens at each output position
  rankings_watch    ranks of --watch tokens across layers (repeat --watch for
                    several; each value is one token, commas included)
  nmf               MLP activations (after GELU) of --from-layer..--to-layer
                    factorised into --nmf-components factors
  attention         probabilities per layer and head
  intervention      --intervene LAYER:NEURON[@POS,...]=SCALE regenerates (same decoding settings)
                    with neurons scaled (0 inhibits) and shows both outputs
  retrieval         --knn DS decodes with kNN-LM (as loupe generate --knn does, same
                    flags) and shows, for each output token, p_LM → p_mix and the
                    --neighbours retrieved contexts with the largest weight in
                    p_kNN (stored next token, distance, weight); --retrieve STORE
                    retrieves passages once for the prompt (query: its last
                    --retrieval-query-tokens tokens), puts them before it, and
                    explains [passages, separator, prompt, output]: saliency covers
                    the passages, and each output token's share of attribution on
                    them is shown. Attributions, rankings and layer predictions are
                    the plain model's in both cases.

The model, the decoding flags and their defaults are loupe generate's: a
flag not given takes the model's generation_config.json (GPT-2 samples, as
transformers' text-generation pipeline does); --seed makes it reproducible
and --greedy deterministic.

Output: coloured tokens on a terminal (plain percentages otherwise, and
when NO_COLOR is set or TERM=dumb),
--format json for every number, --html FILE for a self-contained explorable.`,
	Example: `  loupe explain --model gpt2 "The countries of the European Union are:" --max-new-tokens 8
  loupe explain --model gpt2 "The keys to the cabinet" --continuation " are" --watch " is" --watch " are" --format json
  loupe explain --model ./my-gpt2 "Hello" --methods grad_x_input,integrated_gradients --ig-steps 50 --html out.html
  loupe explain --knn kjv.knn --lambda 0.25 --k 1024 "And God said" --greedy --max-new-tokens 8 --html knn.html
  loupe explain --retrieve kjv.rag "The LORD is my shepherd" --greedy --max-new-tokens 8`,
	Args: cobra.ExactArgs(1),
	RunE: func(cmd *cobra.Command, args []string) error {
		return cliError("explain", runExplain(cmd, args))
	},
}

func init() {
	f := explainCmd.Flags()
	explainFlags.register(f)
	f.StringVar(&explainFlags.continuation, "continuation", "", "explain this text instead of generating (forced decoding)")
	f.StringVar(&explainFlags.html, "html", "", "write a self-contained HTML explorable to this file")
	explainFlags.retr.register(f, false)
	f.IntVar(&explainFlags.neighbours, "neighbours", explain.DefaultNeighbors, fmt.Sprintf("kNN-LM: neighbours shown per output token, largest weight first (at most %d)", explain.MaxNeighbors))
	f.IntVar(&explainFlags.neighbourCtx, "neighbour-context", explain.DefaultNeighborContext, fmt.Sprintf("kNN-LM: datastore tokens shown per neighbour, ending at its position (at most %d)", explain.MaxNeighborContext))
	rootCmd.AddCommand(explainCmd)
}

// register adds the flags of fl to f.
func (fl *explainOptFlags) register(f *pflag.FlagSet) {
	fl.dec.registerDecode(f)
	f.StringVar(&fl.methods, "methods", explain.MethodGradXInput, "attribution methods: "+strings.Join(explain.Methods, ","))
	f.StringVar(&fl.target, "target", "prob", "what attributions explain: prob (the token's probability, as Ecco) or logit")
	f.IntVar(&fl.opt.IGSteps, "ig-steps", 20, fmt.Sprintf("integrated-gradients steps (Gauss-Legendre nodes), at most %d", explain.MaxIGSteps))
	f.BoolVar(&fl.opt.Raw, "raw", false, "layer predictions without the final LayerNorm (Ecco's view)")
	f.IntVar(&fl.opt.TopK, "predictions", 5, "top tokens shown per layer")
	f.StringArrayVar(&fl.watch, "watch", nil, `a token to rank across layers (repeatable: --watch " is" --watch " are"; each value is one token, a comma included)`)
	f.IntVar(&fl.opt.WatchPosition, "watch-position", -1, "position whose next-token prediction is watched (default: the last prompt token)")
	f.IntVar(&fl.opt.NMFComponents, "nmf-components", explain.DefaultNMFComponents, fmt.Sprintf("NMF factors of MLP activations, at most %d (0: skip; Ecco's run_nmf default is 10)", explain.MaxNMFComponents))
	f.IntVar(&fl.opt.FromLayer, "from-layer", 0, "first layer for NMF (0-based)")
	f.IntVar(&fl.opt.ToLayer, "to-layer", -1, "last layer for NMF, inclusive (-1: the last)")
	f.Int64Var(&fl.opt.NMFSeed, "nmf-seed", 0, "NMF initialisation seed")
	f.StringArrayVar(&fl.intervene, "intervene", nil, "scale a neuron: LAYER:NEURON[@POS,POS...]=SCALE (0 inhibits); repeatable")
	f.BoolVar(&fl.opt.NoAttention, "no-attention", false, "leave attention out of the output")
	f.StringVar(&fl.dec.quantize, "quantize", "", quantizeUsage+"; generation, attention, hidden states and layer predictions use these weights, the attributions (saliency) the float32 differentiable pass")
}

func runExplain(cmd *cobra.Command, args []string) error {
	fl := &explainFlags
	if fl.dec.model == "" {
		return errors.New("--model is required (a GPT-2 hub id such as gpt2, or a local directory)")
	}
	if fl.html != "" {
		if err := atomicfile.CheckWritable(fl.html); err != nil {
			return err
		}
	}
	if _, err := explain.ParseMethods(fl.methods); err != nil {
		return err // before loading the model
	}
	if err := generate.CheckText(args[0]); err != nil {
		return err
	}
	if err := fl.retr.check(cmd.Flags()); err != nil {
		return err
	}
	if fl.retr.knn == "" {
		for _, n := range []string{"neighbours", "neighbour-context"} {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s needs --knn (a kNN-LM datastore)", n)
			}
		}
	}
	for _, c := range []struct {
		name   string
		v, max int
	}{{"neighbours", fl.neighbours, explain.MaxNeighbors}, {"neighbour-context", fl.neighbourCtx, explain.MaxNeighborContext}} {
		if c.v < 1 || c.v > c.max {
			return fmt.Errorf("--%s %d: want 1 to %d", c.name, c.v, c.max)
		}
	}
	set, err := fl.dec.settings()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if err := checkQuantize(fl.dec.quantize); err != nil {
		return err
	}
	p, err := loadPipelineAt(ctx, fl.dec.model, fl.dec.quantize)
	if err != nil {
		return err
	}
	defer p.Close()
	e, err := explain.New(p)
	if err != nil {
		return err
	}
	ids, err := p.Encode(args[0])
	if err != nil {
		return err
	}
	gen, _, err := p.Resolve(set, len(ids))
	if err != nil {
		return err
	}
	opt, err := e.ParseOptions(fl.opt, fl.methods, fl.target, fl.watch, fl.intervene)
	if err != nil {
		return err
	}
	req := explain.Request{Prompt: args[0], Generate: gen, Options: opt, Neighbors: fl.neighbours, NeighborContext: fl.neighbourCtx}
	rt, err := fl.retr.open(ctx, p)
	if err != nil {
		return err
	}
	defer rt.Close()
	if rt.adjuster != nil {
		if req.KNN, err = explain.NewKNN(rt.adjuster); err != nil {
			return err
		}
	}
	if rt.ralm != nil {
		req.RALM = explain.NewRALM(rt.ralm)
	}
	if cmd.Flags().Changed("continuation") {
		req.Continuation = &fl.continuation
	}
	res, err := e.Explain(ctx, req)
	if err != nil {
		return err
	}
	if res.Stopped == "context_limit" {
		noteContextLimit(cmd.ErrOrStderr(), "explain", generate.ContextLimitMessage(e.Model.Config.NPositions, res.PromptLength, len(res.IDs)-res.PromptLength))
	}
	if fl.html != "" {
		title := fmt.Sprintf("%s — %q", e.Name, args[0])
		if err := atomicfile.Write(fl.html, func(w io.Writer) error { return web.WriteHTML(w, title, res) }); err != nil {
			return fmt.Errorf("--html: %w", hideTempName(err))
		}
		if !jsonOutput() {
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s\n", fl.html)
		}
	}
	color := colorAllowed(cmd.OutOrStdout() == os.Stdout && isTerminal(os.Stdout), os.Getenv)
	return jsonOrText(cmd.OutOrStdout(), res, func(w io.Writer) error { return explain.WriteText(w, res, color) })
}

// colorAllowed reports whether to colour output going to a terminal (tty):
// not when NO_COLOR is set to anything non-empty (no-color.org) or TERM is
// "dumb".
func colorAllowed(tty bool, getenv func(string) string) bool {
	return tty && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}
