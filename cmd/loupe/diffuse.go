package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loupe-ml/loupe/diffusion/pipeline"
	"github.com/loupe-ml/loupe/diffusion/scheduler"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/internal/progress"
	"github.com/loupe-ml/loupe/npy"
	"github.com/loupe-ml/loupe/web"
)

// diffuseFlags are the options of loupe diffuse.
type diffuseFlags struct {
	model, out, negative, sched, initImage, saveLatents, explainHTML, variant string
	steps, width, height, explainEvery                                        int
	guidance, strength, eta                                                   float64
	seed                                                                      uint64
}

func init() {
	var f diffuseFlags
	cmd := &cobra.Command{
		Use:   "diffuse --model M [flags] PROMPT",
		Short: "Make an image from a prompt with Stable Diffusion (text-to-image, image-to-image)",
		Long: `Make an image from a prompt with a Stable Diffusion 1.x or 2.x pipeline, as
diffusers' StableDiffusionPipeline does (docs/diffusion.md): the prompt and
the negative prompt through the CLIP text encoder, initial noise from a CPU
torch generator seeded with --seed (the same latents as diffusers with
generator=torch.Generator("cpu").manual_seed(seed)), --steps scheduler
steps of the UNet with classifier-free guidance --guidance (≤ 1: no
guidance, the negative prompt is not used), and the VAE decoder.

--model is a directory or a Hugging Face hub id in diffusers' layout
(model_index.json, tokenizer/, text_encoder/, scheduler/, unet/, vae/);
--variant fp16 loads the *.fp16.safetensors files where a component has
them (computed in float32; the UNet keeps its 16-bit weights in memory).
The scheduler is the model's (scheduler_config.json's _class_name) unless
--scheduler names one of ` + strings.Join(scheduler.Names, ", ") + `
(or a diffusers class name), configured from the same file.

--init-image PNG --strength S runs image-to-image: the image (its size
must be a multiple of 8; the output keeps it) is encoded with the VAE,
noised to the level of the first of the last int(steps·S) steps, and
denoised from there.

The PNG gets tEXt chunks: "parameters" (prompt, negative prompt, steps,
sampler, CFG scale, seed, size, model, as the AUTOMATIC1111 web UI writes
them) and "loupe" (the settings as JSON). --save-latents DIR writes
step_000.npy (the noise as drawn, float32 [1, 4, H/8, W/8], before
init_noise_sigma scaling) and step_NNN.npy after each model call.
--explain-html FILE writes an offline explorable: the decoded predicted
clean image every --explain-every calls, each call's noise prediction, and
per-token cross-attention maps over the image. --format json prints the
settings, the files written and the seconds of each phase.`,
		Example: `  loupe diffuse --model ./stable-diffusion-v1-5 --out lighthouse.png "a lighthouse at dusk, oil painting"
  loupe diffuse --model ./sd15 --scheduler euler-a --steps 30 --seed 7 --negative "blurry" --out a.png "a red fox"
  loupe diffuse --model ./sd15 --init-image sketch.png --strength 0.6 --out b.png "a watercolour harbour"
  loupe diffuse --model ./sd15 --steps 10 --explain-html steps.html --out c.png "an astronaut riding a horse"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cliError("diffuse", diffuseMain(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f, args[0], cmd.Flags().Changed("strength")))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.model, "model", "", "pipeline directory or Hugging Face hub id (diffusers layout)")
	fl.StringVar(&f.variant, "variant", "", `weights variant to load, as diffusers' variant=: "fp16" or "bf16" files where a component has them`)
	fl.StringVar(&f.out, "out", "image.png", "the PNG to write")
	fl.IntVar(&f.steps, "steps", pipeline.DefaultSteps, "inference steps")
	fl.Float64Var(&f.guidance, "guidance", pipeline.DefaultGuidance, "classifier-free guidance scale (≤ 1: none)")
	fl.StringVar(&f.negative, "negative", "", "negative prompt")
	fl.IntVar(&f.width, "width", 0, "image width in pixels, a multiple of 8 (default: the model's, 512 for SD 1.x)")
	fl.IntVar(&f.height, "height", 0, "image height in pixels, a multiple of 8 (default: the model's)")
	fl.Uint64Var(&f.seed, "seed", pipeline.DefaultSeed, "seed of the CPU torch generator")
	fl.StringVar(&f.sched, "scheduler", "", "scheduler: "+strings.Join(scheduler.Names, ", ")+" (default: the model's)")
	fl.Float64Var(&f.eta, "eta", 0, "DDIM's eta (0: deterministic)")
	fl.StringVar(&f.initImage, "init-image", "", "start from this image (image-to-image)")
	fl.Float64Var(&f.strength, "strength", pipeline.DefaultStrength, "with --init-image: how much of the schedule to run (0 < s ≤ 1)")
	fl.StringVar(&f.saveLatents, "save-latents", "", "write the latents of every step to this directory as .npy files")
	fl.StringVar(&f.explainHTML, "explain-html", "", "write the explorable of the denoising to this HTML file")
	fl.IntVar(&f.explainEvery, "explain-every", 0, "with --explain-html: decode the predicted image every N model calls (default: about 6 in all)")
	rootCmd.AddCommand(cmd)
}

// diffuseReport is loupe diffuse's --format json output.
type diffuseReport struct {
	Output      string            `json:"output"`
	Model       string            `json:"model"`
	Settings    pipeline.Settings `json:"settings"`
	Timings     diffuseTimings    `json:"timings"`
	Latents     string            `json:"latents_dir,omitempty"`
	ExplainHTML string            `json:"explain_html,omitempty"`
}

type diffuseTimings struct {
	Load float64 `json:"load_s"`
	pipeline.Timings
}

func diffuseMain(ctx context.Context, out, errw io.Writer, f diffuseFlags, prompt string, strengthSet bool) error {
	if f.model == "" {
		return errors.New("--model is required (a directory or a hub id in diffusers' layout)")
	}
	if f.initImage == "" && strengthSet {
		return errors.New("--strength needs --init-image")
	}
	o := pipeline.Options{Prompt: prompt, Negative: f.negative, Steps: f.steps, Guidance: f.guidance,
		Width: f.width, Height: f.height, Seed: f.seed, Scheduler: f.sched, Eta: f.eta}
	if f.initImage != "" {
		img, err := pipeline.ReadImage(f.initImage)
		if err != nil {
			return err
		}
		o.Init, o.Strength = img, f.strength
	}
	if err := o.Check(); err != nil {
		return err
	}
	for _, p := range []string{f.out, f.explainHTML} {
		if p != "" {
			if err := atomicfile.CheckWritable(p); err != nil {
				return err
			}
		}
	}
	if f.saveLatents != "" {
		if err := os.MkdirAll(f.saveLatents, 0o755); err != nil {
			return fmt.Errorf("--save-latents: %w", err)
		}
		o.Latents = func(step int, x []float32, shape [4]int) error {
			return npy.WriteFloat32Shape(filepath.Join(f.saveLatents, fmt.Sprintf("step_%03d.npy", step)), x, shape[:])
		}
	}
	if f.explainHTML != "" {
		o.Explain = &pipeline.ExplainOptions{Every: f.explainEvery}
	}
	t0 := time.Now()
	p, err := pipeline.Load(ctx, f.model, pipeline.LoadOptions{Hub: hubClient(), Variant: f.variant})
	if err != nil {
		return err
	}
	defer p.Close()
	load := time.Since(t0).Seconds()
	report, finish := progress.Reporter[int]("denoising", false)
	o.Progress = report
	res, err := p.Generate(o)
	finish()
	if err != nil {
		return err
	}
	if err := pipeline.WritePNG(f.out, res.Image, pipeline.PNGText(res.Settings, f.model)); err != nil {
		return err
	}
	if f.explainHTML != "" {
		err := atomicfile.Write(f.explainHTML, func(w io.Writer) error {
			return web.WriteDiffusionHTML(w, prompt, res.Explanation)
		})
		if err != nil {
			return err
		}
	}
	rep := diffuseReport{Output: f.out, Model: f.model, Settings: res.Settings, Timings: diffuseTimings{load, res.Timings},
		Latents: f.saveLatents, ExplainHTML: f.explainHTML}
	return jsonOrText(out, rep, func(w io.Writer) error {
		s := res.Settings
		fmt.Fprintf(w, "wrote %s: %d×%d, %s, %d steps, guidance %g, seed %d\n", f.out, s.Width, s.Height, s.Scheduler, s.Steps, s.Guidance, s.Seed)
		t := res.Timings
		fmt.Fprintf(w, "load %.2fs, text %.2fs, denoise %.2fs (%.2fs a step), decode %.2fs", load, t.TextEncode, t.Denoise, t.PerStep, t.Decode)
		if s.ImageToImage {
			fmt.Fprintf(w, ", image encode %.2fs", t.ImageEncode)
		}
		fmt.Fprintln(w)
		if s.DroppedTokens > 0 {
			fmt.Fprintf(errw, "note: the prompt was cut to 75 tokens (%d dropped), as diffusers does\n", s.DroppedTokens)
		}
		if f.explainHTML != "" {
			fmt.Fprintf(w, "explorable: %s\n", f.explainHTML)
		}
		return nil
	})
}
