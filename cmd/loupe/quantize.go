package main

import (
	"errors"
	"os"
	"os/signal"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/generate"
)

// quantizeFlags are the options of loupe quantize.
var quantizeFlags struct {
	model, out, precision string
	force                 bool
}

func init() {
	cmd := &cobra.Command{
		Use:   "quantize --model M --out DIR --quantize int8|bf16|f16 [--force]",
		Short: "Write a GPT-2's weights quantized (int8, bf16 or f16) to a directory that loads directly",
		Long: `Convert a GPT-2 checkpoint (a directory, a hub id or the built-in model;
float32, float16 or bfloat16) once, and write it to DIR with its weights
stored in the precision --quantize int8, bf16 or f16 decodes with: config.json
(with a quantization_config naming loupe's format), model.safetensors in the
layout docs/gpt2.md describes ("Quantized checkpoint directories": int8
weights [out, in] with a float32 scale per output, bf16, or f16), and the
model's tokenizer files and generation_config.json.

loupe generate, serve, explain and eval perplexity then load DIR directly,
without converting anything at start-up and without a float32 copy of the
quantized weights, and compute exactly what --quantize gives on the
source checkpoint. Training from DIR is refused (train the float32
checkpoint); explain's saliency runs on weights dequantized from it.
Hugging Face transformers refuses DIR rather than loading it as float32.

DIR is written atomically (built beside it, renamed at the end); an
existing non-empty DIR is an error unless --force replaces it. BERT models
are not written: they quantize at load (--quantize int8 on loupe embed).

--format json prints {"model", "source", "out", "precision", "files",
"weight_bytes", "float32_bytes", "seconds"}.`,
		Example: `  loupe quantize --model gpt2 --out gpt2-int8 --quantize int8
  loupe generate --model gpt2-int8 --greedy "The meaning of life is"
  loupe quantize --out kjv-bf16 --quantize bf16 --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			f := quantizeFlags
			if f.out == "" {
				return errors.New("quantize: --out DIR is required")
			}
			r, err := generate.Quantize(ctx, f.model, f.out, generate.QuantizeOptions{Hub: hubClient(), Precision: f.precision, Force: f.force})
			if err != nil {
				return quantizeError(err)
			}
			return jsonOrText(cmd.OutOrStdout(), r, r.WriteText)
		},
	}
	f := cmd.Flags()
	f.StringVar(&quantizeFlags.model, "model", defaults.GPT2, "GPT-2 model: a directory or a hub id such as gpt2 (default: loupe's built-in KJV GPT-2)")
	f.StringVar(&quantizeFlags.out, "out", "", "directory to write")
	f.StringVar(&quantizeFlags.precision, "quantize", "", "stored precision of the weights: int8, bf16 or f16")
	f.BoolVar(&quantizeFlags.force, "force", false, "replace DIR if it exists and is not empty")
	rootCmd.AddCommand(cmd)
}

// quantizeError words a generate.Quantize error for the command line:
// option errors name the flag, "generate: quantize: " becomes "quantize: "
// and the force option its flag.
func quantizeError(err error) error {
	if msg := err.Error(); strings.HasPrefix(msg, "generate: quantize: ") {
		msg = strings.Replace(strings.TrimPrefix(msg, "generate: "), "(force)", "(--force)", 1)
		return &prefixed{msg: msg, err: err}
	}
	return cliError("quantize", err)
}
