package pipeline

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/diffusion/scheduler"
	clipm "github.com/loupe-ml/loupe/model/clip"
	clipt "github.com/loupe-ml/loupe/tokenizer/clip"
)

// Denoiser is the UNet's call shape: diffusers' UNet2DConditionModel
// forward(sample, timestep, encoder_hidden_states).
type Denoiser interface {
	Denoise(in DenoiseInput) (DenoiseOutput, error)
}

// DenoiseInput is one UNet call over a batch of latents.
type DenoiseInput struct {
	// Latents is [Batch, Channels, Height, Width], row-major, already
	// scaled by the scheduler's ScaleModelInput.
	Latents                        []float32
	Batch, Channels, Height, Width int
	// Timestep is the scheduler's timestep (fractional for some spacings).
	Timestep float64
	// Text is encoder_hidden_states, [Batch, Tokens, TextDim].
	Text            []float32
	Tokens, TextDim int
	// CaptureAttention asks for the cross-attention maps of the last batch
	// item (the conditional half under classifier-free guidance).
	CaptureAttention bool
}

// DenoiseOutput is the UNet's prediction for a DenoiseInput.
type DenoiseOutput struct {
	// Output has the shape of DenoiseInput.Latents: noise (epsilon), v or
	// the sample, as the scheduler config's prediction_type says.
	Output []float32
	// Attention holds the captured cross-attention maps, or nil.
	Attention *AttentionMaps
}

// AttentionMaps are cross-attention probabilities from image positions to
// text tokens, averaged over the denoiser's heads and cross-attention layers.
type AttentionMaps struct {
	Height, Width int // the map's resolution (a latent-grid resolution)
	Tokens        int
	// Maps is [Tokens, Height·Width]: Maps[k·H·W + p] is how much position p
	// attends to token k.
	Maps []float32
}

// Decoder is the VAE decoder: latents [Channels, h, w] (already divided by
// the scaling factor) to pixels [3, h·f, w·f] in about [−1, 1], where f is
// the pipeline's ScaleFactor.
type Decoder interface {
	Decode(latents []float32, height, width int) ([]float32, error)
}

// Encoder is the VAE encoder: pixels [3, H, W] in [−1, 1] to the mean and
// log-variance of the latent distribution, each [Channels, H/f, W/f].
type Encoder interface {
	Encode(pixels []float32, height, width int) (mean, logvar []float32, err error)
}

// Pipeline is a Stable Diffusion pipeline: text encoder, UNet, VAE and
// scheduler, run as diffusers' StableDiffusionPipeline and
// StableDiffusionImg2ImgPipeline run them. It holds no state between runs.
type Pipeline struct {
	Tokenizer   *clipt.Tokenizer
	TextEncoder *clipm.Model
	UNet        Denoiser
	Decoder     Decoder
	// Encoder is needed for image-to-image only; nil disables it.
	Encoder Encoder
	// Scheduler is scheduler/scheduler_config.json.
	Scheduler *scheduler.Config
	// LatentChannels is the VAE's latent_channels (4).
	LatentChannels int
	// ScaleFactor is how many pixels one latent covers along each side,
	// diffusers' vae_scale_factor = 2^(len(block_out_channels)−1): 8.
	ScaleFactor int
	// ScalingFactor is the VAE config's scaling_factor (0.18215 for SD
	// 1.x/2.x): latents = scaling_factor · VAE latents.
	ScalingFactor float32
	// DefaultSize is the UNet's sample_size × ScaleFactor (512 for SD 1.x),
	// used when Options leave Width or Height at 0.
	DefaultSize int
}

// Options are the settings of one image.
type Options struct {
	Prompt   string
	Negative string  // the negative prompt; "" as diffusers uses when none
	Steps    int     // inference steps (PNDM makes Steps+1 model calls)
	Guidance float64 // classifier-free guidance scale; ≤ 1 runs the conditional half only
	// Width and Height are in pixels, multiples of the ScaleFactor; 0 takes
	// DefaultSize (or the init image's size).
	Width, Height int
	Seed          uint64
	// Scheduler is one of scheduler.Names or a diffusers class name; ""
	// takes the config's _class_name.
	Scheduler string
	Eta       float64 // DDIM's η
	// Init is the starting image of image-to-image; nil for text-to-image.
	Init *Image
	// Strength (0 < s ≤ 1) is how much of the schedule image-to-image runs.
	Strength float64
	// Latents, when set, is called with the latents: step 0 is the noise as
	// drawn (before init_noise_sigma scaling, or before add_noise for
	// image-to-image), step k the latents after the k-th model call.
	Latents func(step int, latents []float32, shape [4]int) error
	// Progress, when set, is called after each step.
	Progress func(done, total int)
	// Explain, when set, records what the explorable shows.
	Explain *ExplainOptions
}

// Settings are the resolved settings of a run, as written into the PNG and
// the JSON output.
type Settings struct {
	Prompt        string  `json:"prompt"`
	Negative      string  `json:"negative_prompt"`
	Steps         int     `json:"steps"`
	ModelCalls    int     `json:"model_calls"`
	Guidance      float64 `json:"guidance"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	Seed          uint64  `json:"seed"`
	Scheduler     string  `json:"scheduler"`
	Prediction    string  `json:"prediction_type,omitempty"`
	Eta           float64 `json:"eta,omitempty"`
	Strength      float64 `json:"strength,omitempty"`
	ImageToImage  bool    `json:"image_to_image,omitempty"`
	PromptTokens  int     `json:"prompt_tokens"`
	DroppedTokens int     `json:"dropped_tokens,omitempty"`
}

// Timings are the seconds each phase took.
type Timings struct {
	TextEncode  float64 `json:"text_encode_s"`
	ImageEncode float64 `json:"image_encode_s,omitempty"`
	Denoise     float64 `json:"denoise_s"`
	PerStep     float64 `json:"per_step_s"`
	Decode      float64 `json:"decode_s"`
	Explain     float64 `json:"explain_s,omitempty"`
	Total       float64 `json:"total_s"`
}

// Result is one generated image with its settings.
type Result struct {
	Image       *Image       `json:"-"`
	Settings    Settings     `json:"settings"`
	Timings     Timings      `json:"timings"`
	Explanation *Explanation `json:"-"`
}

// ErrNoEncoder is returned for image-to-image with a pipeline that has no
// VAE encoder.
var ErrNoEncoder = errors.New("pipeline: image-to-image needs the VAE encoder, which this pipeline lacks")

// check validates the pipeline's parts.
func (p *Pipeline) check() error {
	switch {
	case p.Tokenizer == nil:
		return errors.New("pipeline: no tokenizer")
	case p.TextEncoder == nil:
		return errors.New("pipeline: no text encoder")
	case p.UNet == nil:
		return errors.New("pipeline: no UNet")
	case p.Decoder == nil:
		return errors.New("pipeline: no VAE decoder")
	case p.LatentChannels <= 0 || p.ScaleFactor <= 0 || !(p.ScalingFactor > 0):
		return fmt.Errorf("pipeline: latent channels %d, scale factor %d, scaling factor %g: want positive values", p.LatentChannels, p.ScaleFactor, p.ScalingFactor)
	}
	return nil
}

// resolve fills defaults and validates o against p.
func (p *Pipeline) resolve(o Options) (Options, error) {
	if o.Steps <= 0 {
		return o, fmt.Errorf("pipeline: steps %d: want at least 1", o.Steps)
	}
	if math.IsNaN(o.Guidance) || math.IsInf(o.Guidance, 0) {
		return o, fmt.Errorf("pipeline: guidance %g is not a number", o.Guidance)
	}
	if o.Init != nil {
		if p.Encoder == nil {
			return o, ErrNoEncoder
		}
		if !(o.Strength > 0 && o.Strength <= 1) {
			return o, fmt.Errorf("pipeline: strength %g: want 0 < strength ≤ 1", o.Strength)
		}
		if (o.Width != 0 && o.Width != o.Init.Width) || (o.Height != 0 && o.Height != o.Init.Height) {
			return o, fmt.Errorf("pipeline: size %d×%d differs from the init image's %d×%d (image-to-image keeps the image's size)", o.Width, o.Height, o.Init.Width, o.Init.Height)
		}
		o.Width, o.Height = o.Init.Width, o.Init.Height
	} else if o.Strength != 0 {
		return o, errors.New("pipeline: strength without an init image")
	}
	if o.Width == 0 {
		o.Width = p.DefaultSize
	}
	if o.Height == 0 {
		o.Height = p.DefaultSize
	}
	f := p.ScaleFactor
	for _, d := range []struct {
		name string
		v    int
	}{{"width", o.Width}, {"height", o.Height}} {
		if d.v <= 0 || d.v%f != 0 {
			return o, fmt.Errorf("pipeline: %s %d: want a positive multiple of %d", d.name, d.v, f)
		}
		if d.v > 1<<14 {
			return o, fmt.Errorf("pipeline: %s %d is larger than %d", d.name, d.v, 1<<14)
		}
	}
	return o, nil
}

// Generate makes one image. It follows diffusers' pipelines step for step:
// encode the prompt and the negative prompt, draw the initial latents from a
// CPU torch generator seeded with Seed, run the scheduler's steps with
// classifier-free guidance, decode with the VAE and round to 8-bit pixels.
func (p *Pipeline) Generate(o Options) (*Result, error) {
	start := time.Now()
	if err := p.check(); err != nil {
		return nil, err
	}
	o, err := p.resolve(o)
	if err != nil {
		return nil, err
	}
	sched, err := scheduler.New(o.Scheduler, p.Scheduler, scheduler.Options{Eta: o.Eta})
	if err != nil {
		return nil, err
	}
	if err := sched.SetTimesteps(o.Steps); err != nil {
		return nil, err
	}
	res := &Result{Settings: Settings{
		Prompt: o.Prompt, Negative: o.Negative, Steps: o.Steps, Guidance: o.Guidance,
		Width: o.Width, Height: o.Height, Seed: o.Seed, Scheduler: sched.Name(), Eta: o.Eta,
	}}

	// Text: [uncond, cond] under guidance, [cond] otherwise.
	cfg := o.Guidance > 1
	t0 := time.Now()
	enc := p.Tokenizer.EncodePadded(o.Prompt)
	res.Settings.PromptTokens, res.Settings.DroppedTokens = enc.Length-2, enc.Dropped
	ids := [][]int{enc.IDs}
	if cfg {
		ids = [][]int{p.Tokenizer.EncodePadded(o.Negative).IDs, enc.IDs}
	}
	text, err := p.TextEncoder.Encode(ids, clipm.Options{})
	if err != nil {
		return nil, fmt.Errorf("pipeline: text encoder: %w", err)
	}
	// The text encoder's weights are not needed again for this image.
	if err := p.TextEncoder.Trim(); err != nil {
		return nil, fmt.Errorf("pipeline: releasing the text encoder's memory: %w", err)
	}
	res.Timings.TextEncode = time.Since(t0).Seconds()

	h, w, c := o.Height/p.ScaleFactor, o.Width/p.ScaleFactor, p.LatentChannels
	shape := [4]int{1, c, h, w}
	n := c * h * w
	g := noise.NewGenerator(o.Seed)

	// Initial latents.
	first := 0
	var latents []float32
	if o.Init == nil {
		latents = g.Randn(n)
		if o.Latents != nil {
			if err := o.Latents(0, latents, shape); err != nil {
				return nil, err
			}
		}
		scheduler.Scale(latents, sched.InitNoiseSigma())
	} else {
		t1 := time.Now()
		if first, err = scheduler.StrengthStart(o.Steps, o.Strength); err != nil {
			return nil, err
		}
		// PNDM makes one more model call than steps; diffusers' img2img
		// slices timesteps[t_start·order:], order 1 for every scheduler here.
		if err := sched.SetBeginIndex(first); err != nil {
			return nil, err
		}
		clean, err := p.encodeImage(o.Init, g, n)
		if err != nil {
			return nil, err
		}
		nz := g.Randn(n)
		if o.Latents != nil {
			if err := o.Latents(0, nz, shape); err != nil {
				return nil, err
			}
		}
		if latents, err = sched.AddNoise(clean, nz, first); err != nil {
			return nil, err
		}
		res.Settings.Strength, res.Settings.ImageToImage = o.Strength, true
		res.Timings.ImageEncode = time.Since(t1).Seconds()
	}

	ex := newExplainer(o.Explain, p, enc, h, w)
	timesteps := sched.Timesteps()
	total := len(timesteps) - first
	res.Settings.ModelCalls = total
	t2 := time.Now()
	batch := len(ids)
	for i := first; i < len(timesteps); i++ {
		in := sched.ScaleModelInput(latents, i)
		x := in
		if batch == 2 {
			x = make([]float32, 2*n)
			copy(x, in)
			copy(x[n:], in)
		}
		out, err := p.UNet.Denoise(DenoiseInput{
			Latents: x, Batch: batch, Channels: c, Height: h, Width: w, Timestep: timesteps[i],
			Text: text.LastHidden, Tokens: text.SeqLen, TextDim: text.HiddenSize,
			CaptureAttention: ex.wantsAttention(),
		})
		if err != nil {
			return nil, fmt.Errorf("pipeline: UNet at step %d (t=%g): %w", i-first+1, timesteps[i], err)
		}
		if len(out.Output) != batch*n {
			return nil, fmt.Errorf("pipeline: UNet at step %d returned %d values, want %d", i-first+1, len(out.Output), batch*n)
		}
		pred := out.Output
		if batch == 2 {
			pred = Guide(out.Output[:n], out.Output[n:], float32(o.Guidance))
		}
		if err := ex.step(sched, i, i-first, timesteps[i], pred, latents, out.Attention); err != nil {
			return nil, err
		}
		if latents, err = sched.Step(i, pred, latents, g); err != nil {
			return nil, err
		}
		if o.Latents != nil {
			if err := o.Latents(i-first+1, latents, shape); err != nil {
				return nil, err
			}
		}
		if o.Progress != nil {
			o.Progress(i-first+1, total)
		}
	}
	res.Timings.Denoise = time.Since(t2).Seconds() - ex.seconds()
	if total > 0 {
		res.Timings.PerStep = res.Timings.Denoise / float64(total)
	}
	res.Settings.Prediction = p.Scheduler.PredictionType()

	// The UNet is done with for this image: its buffers and weight pages
	// leave memory before the VAE decodes, so the two peaks do not add up.
	if t, ok := p.UNet.(interface{ Trim() error }); ok {
		if err := t.Trim(); err != nil {
			return nil, fmt.Errorf("pipeline: releasing the UNet's memory: %w", err)
		}
	}
	t3 := time.Now()
	img, err := p.decode(latents, h, w)
	if err != nil {
		return nil, err
	}
	res.Image = img
	res.Timings.Decode = time.Since(t3).Seconds()
	if ex != nil {
		ex.finish(res)
		res.Timings.Explain = ex.spent
	}
	res.Timings.Total = time.Since(start).Seconds()
	return res, nil
}

// Guide is classifier-free guidance in float32, as diffusers computes it:
// uncond + g·(cond − uncond).
func Guide(uncond, cond []float32, g float32) []float32 {
	out := make([]float32, len(cond))
	for j := range out {
		d := cond[j] - uncond[j]
		out[j] = uncond[j] + g*d
	}
	return out
}

// encodeImage is img2img's prepare_latents up to the noise: the VAE
// posterior's sample (one draw from g) times the scaling factor.
func (p *Pipeline) encodeImage(img *Image, g *noise.Generator, n int) ([]float32, error) {
	mean, logvar, err := p.Encoder.Encode(img.Normalized(), img.Height, img.Width)
	if err != nil {
		return nil, fmt.Errorf("pipeline: VAE encoder: %w", err)
	}
	if len(mean) != n || len(logvar) != n {
		return nil, fmt.Errorf("pipeline: VAE encoder returned %d and %d values, want %d", len(mean), len(logvar), n)
	}
	eps := g.Randn(n)
	out := make([]float32, n)
	for j := range out {
		lv := min(max(logvar[j], -30), 20)
		std := float32(math.Exp(float64(0.5 * lv)))
		out[j] = p.ScalingFactor * (mean[j] + std*eps[j])
	}
	return out, nil
}

// decode divides the latents by the scaling factor, runs the VAE decoder and
// converts to 8-bit pixels as diffusers' VaeImageProcessor does.
func (p *Pipeline) decode(latents []float32, h, w int) (*Image, error) {
	z := make([]float32, len(latents))
	for j, v := range latents {
		z[j] = v / p.ScalingFactor
	}
	px, err := p.Decoder.Decode(z, h, w)
	if err != nil {
		return nil, fmt.Errorf("pipeline: VAE decoder: %w", err)
	}
	H, W := h*p.ScaleFactor, w*p.ScaleFactor
	if len(px) != 3*H*W {
		return nil, fmt.Errorf("pipeline: VAE decoder returned %d values, want 3×%d×%d", len(px), H, W)
	}
	return FromPixels(px, W, H), nil
}

// Check validates what of o does not depend on the model: the step count,
// the guidance, the size (multiples of 8, the scale factor of every SD 1.x
// and 2.x VAE; 0 means the model's default), the strength and the
// scheduler's name. Generate checks again against the pipeline.
func (o Options) Check() error {
	if o.Steps <= 0 {
		return fmt.Errorf("pipeline: steps %d: want at least 1", o.Steps)
	}
	if math.IsNaN(o.Guidance) || math.IsInf(o.Guidance, 0) {
		return fmt.Errorf("pipeline: guidance %g is not a number", o.Guidance)
	}
	for _, d := range []struct {
		name string
		v    int
	}{{"width", o.Width}, {"height", o.Height}} {
		if d.v < 0 || d.v%8 != 0 || d.v > 1<<14 {
			return fmt.Errorf("pipeline: %s %d: want a positive multiple of 8 (at most %d)", d.name, d.v, 1<<14)
		}
	}
	if o.Init != nil && !(o.Strength > 0 && o.Strength <= 1) {
		return fmt.Errorf("pipeline: strength %g: want 0 < strength ≤ 1", o.Strength)
	}
	if o.Scheduler != "" {
		if _, err := scheduler.New(o.Scheduler, nil, scheduler.Options{Eta: o.Eta}); err != nil {
			return err
		}
	}
	return nil
}
