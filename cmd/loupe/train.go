package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/generate"
	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/npy"
	"github.com/loupe-ml/loupe/tokenizer"
	"github.com/loupe-ml/loupe/train"
)

var trainCmd = &cobra.Command{
	Use:   "train",
	Short: "Train models (GPT-2 from scratch or fine-tuned)",
}

func init() {
	rootCmd.AddCommand(trainCmd)
	trainCmd.AddCommand(trainGPT2Cmd())
}

// trainFlags names the flag of each train.Options field in errors.
var trainFlags = map[string]string{
	"BatchSize": "--batch-size", "SeqLen": "--seq-len", "Steps": "--steps", "GradAccum": "--grad-accum",
	"LR": "--lr", "MinLR": "--min-lr", "Schedule": "--schedule", "Warmup": "--warmup",
	"WeightDecay": "--weight-decay", "Beta1": "--beta1", "Beta2": "--beta2", "Eps": "--eps",
	"GradClip": "--grad-clip", "Dropout": "--dropout", "DataOrder": "--data-order",
	"EvalEvery": "--eval-every", "EvalBatches": "--eval-batches", "CheckpointEvery": "--checkpoint-every",
}

// trainData are the data flags of loupe train gpt2.
type trainData struct {
	corpus, evalCorpus []string
	tokens, evalTokens string
	documents          string
	evalFraction       float64
}

func trainGPT2Cmd() *cobra.Command {
	opt := train.DefaultOptions()
	var data trainData
	var config, init, tok, out, report string
	var threads int
	var resume bool
	c := &cobra.Command{
		Use:   "gpt2 (--config CONFIG | --init MODEL) (--corpus FILE... | --tokens FILE.npy) --out DIR",
		Short: "Train a GPT-2 from scratch or fine-tune one (AdamW, warm-up + cosine, checkpoints, --resume)",
		Long: `Train a GPT-2 language model on text, from scratch (--config) or from a
trained model (--init, a directory or hub id), as nanoGPT's train.py does.

Model: --config is a config.json file or a list such as
"n_layer=4,n_embd=256,n_head=4,n_ctx=256" (n_positions is n_ctx); the
vocabulary is the tokenizer's (--tokenizer, a directory made by loupe
tokenizer train or any GPT-2 tokenizer). With --init the model's own
configuration and tokenizer are used.

Data: --corpus text files (repeatable), tokenized with the model's tokenizer,
one document per file or per line (--documents), with <|endoftext|> after
each document; or --tokens, a 1-D .npy of token ids. Held-out data:
--eval-corpus or --eval-tokens, else the last --eval-fraction of the stream.

Optimisation is PyTorch's AdamW (bias correction, decoupled weight decay on
tensors of 2 or more dimensions only), gradient clipping by global L2 norm,
gradient accumulation, a linear warm-up then a cosine or constant learning
rate, and dropout (0 turns it off). Step s of --data-order sequential uses
rows s*B … s*B+B-1 of the stream (row r is tokens [r*T, r*T+T]).

DIR receives a Hugging Face GPT-2 directory (config.json, model.safetensors,
tokenizer files, generation_config.json) that transformers and every loupe
command load, training_report.html (the loss curves, one offline file) and
checkpoint/ (written every --checkpoint-every steps, at the end and on
Ctrl-C). --resume continues from DIR/checkpoint bit for bit; give the same
data flags again (a different --steps extends or shortens the run).`,
		Example: `  loupe tokenizer train --corpus kjv.txt --vocab-size 8192 --out tok
  loupe train gpt2 --config n_layer=4,n_embd=256,n_head=4,n_ctx=256 --tokenizer tok \
      --corpus kjv.txt --documents lines --steps 2000 --out kjv-gpt2
  loupe train gpt2 --init ./gpt2 --corpus my.txt --steps 200 --lr 1e-4 --out ft
  loupe train gpt2 ... --out kjv-gpt2 --resume`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if threads > 0 {
				runtime.GOMAXPROCS(threads)
			}
			// Training keeps the weights, gradients and moments live (4× the
			// model) and makes little garbage per step; the default GOGC
			// would let the heap grow by as much again before collecting.
			defer debug.SetGCPercent(debug.SetGCPercent(20))
			err := runTrainGPT2(cmd, opt, data, config, init, tok, out, report, resume)
			var oe *train.OptionError
			if errors.As(err, &oe) && trainFlags[oe.Field] != "" {
				return fmt.Errorf("train gpt2: %s %v: want %s", trainFlags[oe.Field], oe.Value, oe.Allowed)
			}
			return cliError("train gpt2", err)
		},
	}
	f := c.Flags()
	f.StringVar(&config, "config", "", "model configuration for training from scratch: a config.json or n_layer=…,n_embd=…,n_head=…,n_ctx=…")
	f.StringVar(&init, "init", "", "model to fine-tune (directory or hub id)")
	f.StringVar(&tok, "tokenizer", "", "tokenizer directory (with --config; default: --init's)")
	f.StringArrayVar(&data.corpus, "corpus", nil, "training text file or directory (repeatable)")
	f.StringVar(&data.tokens, "tokens", "", "training token ids: a 1-D .npy")
	f.StringVar(&data.documents, "documents", "files", "documents of --corpus files: files (one per file) or lines (one per line)")
	f.StringArrayVar(&data.evalCorpus, "eval-corpus", nil, "held-out text file or directory (repeatable)")
	f.StringVar(&data.evalTokens, "eval-tokens", "", "held-out token ids: a 1-D .npy")
	f.Float64Var(&data.evalFraction, "eval-fraction", 0.1, "without --eval-corpus/--eval-tokens: the last fraction of the stream held out (0: none)")
	f.StringVar(&out, "out", "", "output directory (required)")
	f.StringVar(&report, "report", "", "training report path (default OUT/training_report.html)")
	f.BoolVar(&resume, "resume", false, "continue the run checkpointed in OUT/checkpoint")
	f.IntVar(&opt.BatchSize, "batch-size", opt.BatchSize, "sequences per micro-batch")
	f.IntVar(&opt.SeqLen, "seq-len", opt.SeqLen, "tokens per sequence (at most n_ctx)")
	f.IntVar(&opt.Steps, "steps", opt.Steps, "optimizer steps")
	f.IntVar(&opt.GradAccum, "grad-accum", opt.GradAccum, "micro-batches per step")
	f.Float64Var(&opt.LR, "lr", opt.LR, "peak learning rate")
	f.Float64Var(&opt.MinLR, "min-lr", opt.MinLR, "final learning rate of the cosine schedule")
	f.StringVar(&opt.Schedule, "schedule", opt.Schedule, "learning-rate schedule after warm-up: cosine or constant")
	f.IntVar(&opt.Warmup, "warmup", opt.Warmup, "steps of linear warm-up")
	f.Float64Var(&opt.WeightDecay, "weight-decay", opt.WeightDecay, "AdamW weight decay (tensors of 2+ dimensions only)")
	f.Float64Var(&opt.Beta1, "beta1", opt.Beta1, "AdamW beta1")
	f.Float64Var(&opt.Beta2, "beta2", opt.Beta2, "AdamW beta2")
	f.Float64Var(&opt.Eps, "eps", opt.Eps, "AdamW epsilon")
	f.Float64Var(&opt.GradClip, "grad-clip", opt.GradClip, "clip gradients to this global L2 norm (0: off)")
	f.Float64Var(&opt.Dropout, "dropout", opt.Dropout, "dropout probability (0: off)")
	f.Uint64Var(&opt.Seed, "seed", opt.Seed, "seed of the initial weights, data order and dropout")
	f.StringVar(&opt.DataOrder, "data-order", opt.DataOrder, "random (offsets drawn per step) or sequential")
	f.IntVar(&opt.EvalEvery, "eval-every", opt.EvalEvery, "steps between held-out evaluations (0: at the end only)")
	f.IntVar(&opt.EvalBatches, "eval-batches", opt.EvalBatches, "micro-batches per evaluation (0: all held-out data)")
	f.IntVar(&opt.CheckpointEvery, "checkpoint-every", opt.CheckpointEvery, "steps between checkpoints (0: at the end only)")
	f.IntVar(&threads, "threads", 0, "threads (0: all cores)")
	return c
}

func runTrainGPT2(cmd *cobra.Command, opt train.Options, data trainData, config, init, tokRef, out, report string, resume bool) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch {
	case out == "":
		return errors.New("--out is required")
	case config != "" && init != "":
		return errors.New("give --config (train from scratch) or --init (fine-tune), not both")
	case config == "" && init == "" && !resume:
		return errors.New("give --config (train from scratch) or --init (fine-tune)")
	case len(data.corpus) > 0 && data.tokens != "":
		return errors.New("give --corpus or --tokens, not both")
	case len(data.corpus) == 0 && data.tokens == "":
		return errors.New("no training data: give --corpus FILE or --tokens FILE.npy")
	case len(data.evalCorpus) > 0 && data.evalTokens != "":
		return errors.New("give --eval-corpus or --eval-tokens, not both")
	case !(data.evalFraction >= 0 && data.evalFraction < 1):
		return fmt.Errorf("--eval-fraction %v: want 0 <= f < 1", data.evalFraction)
	}
	ckpt := filepath.Join(out, "checkpoint")
	if resume && !train.HasCheckpoint(ckpt) {
		return fmt.Errorf("--resume: no checkpoint in %s", ckpt)
	}
	if !resume && train.HasCheckpoint(ckpt) {
		return fmt.Errorf("%s holds a checkpoint of an earlier run: add --resume to continue it, or choose another --out", out)
	}

	// The model (or, resuming, its configuration) and the tokenizer.
	var model *gpt2.Model
	var tok tokenizer.Tokenizer
	var gen map[string]any // generation defaults carried over from --init (or a resumed run)
	tokDir := tokRef
	switch {
	case init != "":
		p, err := generate.Load(ctx, init, generate.LoadOptions{Hub: hubClient()})
		if err != nil {
			return err
		}
		model = p.Model.Clone()
		p.Close()
		if tokRef == "" {
			tokDir = p.Dir
		}
		gen = readGenerationConfig(p.Dir)
	case resume:
		if tokRef == "" {
			tokDir = out
		}
		gen = readGenerationConfig(out)
	}
	if tokDir != "" {
		t, err := tokenizer.Load(tokDir)
		switch {
		case err == nil:
			tok = t
		case errors.Is(err, tokenizer.ErrNoTokenizer) && len(data.corpus) == 0 && len(data.evalCorpus) == 0:
			tokDir = ""
		default:
			return err
		}
	}
	if tok == nil && (len(data.corpus) > 0 || len(data.evalCorpus) > 0) {
		return errors.New("--corpus needs a tokenizer: give --tokenizer DIR (loupe tokenizer train makes one)")
	}
	if config != "" {
		vocab := 0
		eot := -1
		if tok != nil {
			vocab, eot = tok.VocabSize(), train.EndOfText(tok)
		}
		cfg, err := gpt2.ParseConfigSpec(config, vocab, eot)
		if err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		if model, err = gpt2.Init(cfg, opt.Seed); err != nil {
			return err
		}
	}

	// The data.
	eot := -1
	if model != nil {
		eot = model.Config.EOSTokenID
	}
	if tok != nil && train.EndOfText(tok) >= 0 {
		eot = train.EndOfText(tok)
	}
	trainIDs, err := readTokens(data.corpus, data.tokens, tok, train.Documents(data.documents), eot, "tokenize")
	if err != nil {
		return err
	}
	evalIDs, err := readTokens(data.evalCorpus, data.evalTokens, tok, train.Documents(data.documents), eot, "tokenize held-out")
	if err != nil {
		return err
	}
	if evalIDs == nil {
		trainIDs, evalIDs = train.HoldOut(trainIDs, data.evalFraction)
	}

	var t *train.Trainer
	if resume {
		steps := 0
		if cmd.Flags().Changed("steps") {
			steps = opt.Steps
		}
		if t, err = train.Resume(ckpt, trainIDs, evalIDs, steps); err != nil {
			return err
		}
		if err := sameSettings(cmd, opt, t.Options); err != nil {
			return err
		}
	} else if t, err = train.New(model, trainIDs, evalIDs, opt); err != nil {
		return err
	}
	model, opt = t.Model, t.Options
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}

	bar := progress.New(int64(opt.Steps), "train", false)
	bar.Set(int64(t.Opt.Step))
	evalText := ""
	runErr := t.Run(ctx, func(e train.Event) {
		if !math.IsNaN(e.EvalLoss) {
			evalText = fmt.Sprintf(" eval %.3f", e.EvalLoss)
		}
		bar.Describe(fmt.Sprintf("loss %.3f%s lr %.2e %.0f tok/s", e.Loss, evalText, e.LR, e.TokensPerSecond))
		bar.Set(int64(e.Step))
	}, func() error { return t.SaveCheckpoint(ckpt) })
	bar.Finish()
	if runErr != nil && !errors.Is(runErr, ctx.Err()) {
		return runErr
	}
	if err := train.SaveModel(out, model, tokDir, gen); err != nil {
		return err
	}
	if report == "" {
		report = filepath.Join(out, "training_report.html")
	}
	params := t.NumParams()
	title := "Training report: " + filepath.Base(filepath.Clean(out))
	if err := train.WriteReport(report, train.Report{Title: title, Model: model.Config, Params: params, Options: opt,
		History: t.History, TrainTokens: len(trainIDs), EvalTokens: len(evalIDs)}); err != nil {
		return err
	}
	if runErr != nil {
		return fmt.Errorf("interrupted at step %d (checkpoint written; continue with --resume)", t.Opt.Step)
	}
	return writeTrainResult(cmd.OutOrStdout(), t, out, report, params)
}

// sameSettings checks that the training flags given with --resume (other
// than --steps) repeat the checkpoint's settings.
func sameSettings(cmd *cobra.Command, given, stored train.Options) error {
	g, s := reflect.ValueOf(given), reflect.ValueOf(stored)
	fields := map[string]string{"Seed": "--seed"}
	for f, name := range trainFlags {
		fields[f] = name
	}
	for f, name := range fields {
		if f == "Steps" || !cmd.Flags().Changed(strings.TrimPrefix(name, "--")) {
			continue
		}
		if a, b := g.FieldByName(f).Interface(), s.FieldByName(f).Interface(); a != b {
			return fmt.Errorf("--resume continues the checkpoint's settings: %s %v cannot change (the run used %v; only --steps can change)", name, a, b)
		}
	}
	return nil
}

// writeTrainResult prints the summary of a finished run.
func writeTrainResult(w io.Writer, t *train.Trainer, out, report string, params int) error {
	h := t.History
	evalLosses := h.EvalLosses
	if evalLosses == nil {
		evalLosses = []train.EvalPoint{}
	}
	res := map[string]any{
		"steps": len(h.Losses), "losses": h.Losses, "eval_losses": evalLosses, "lrs": h.LRs, "grad_norms": h.GradNorms,
		"tokens_per_second": t.TokensPerSecond(), "tokens": h.Tokens, "seconds": h.Seconds,
		"parameters": params, "out": out, "report": report, "options": t.Options,
	}
	return jsonOrText(w, res, func(w io.Writer) error {
		first, last := math.NaN(), math.NaN()
		if n := len(h.Losses); n > 0 {
			first, last = h.Losses[0], h.Losses[n-1]
		}
		fmt.Fprintf(w, "trained %d steps (%d tokens, %d parameters): loss %.4f → %.4f", len(h.Losses), h.Tokens, params, first, last)
		if n := len(h.EvalLosses); n > 0 {
			e := h.EvalLosses[n-1].Loss
			fmt.Fprintf(w, ", held-out %.4f (perplexity %.2f)", e, math.Exp(e))
		}
		_, err := fmt.Fprintf(w, "\n%.0f tokens/s, %.1f s; wrote %s and %s\n", t.TokensPerSecond(), h.Seconds, out, report)
		return err
	})
}

// readGenerationConfig returns the settings of dir's generation_config.json
// (nil when it has none), which a fine-tuned model keeps.
func readGenerationConfig(dir string) map[string]any {
	b, err := os.ReadFile(filepath.Join(dir, generate.GenerationConfigFile))
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// readTokens returns the token stream of text files (tokenized with tok)
// or of a .npy file; nil when neither is given.
func readTokens(files []string, npyPath string, tok tokenizer.Tokenizer, docs train.Documents, eot int, stage string) ([]int32, error) {
	if npyPath != "" {
		return npy.ReadInts(npyPath)
	}
	if len(files) == 0 {
		return nil, nil
	}
	if eot < 0 {
		return nil, errors.New("the tokenizer has no <|endoftext|> token and the model no eos_token_id: cannot separate documents")
	}
	report, finish := progress.Reporter[int64](stage, true)
	ids, err := train.TokenizeFiles(tok, files, docs, eot, report)
	finish()
	return ids, err
}
