package pipeline

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"math"
	"time"

	"github.com/loupe-ml/loupe/diffusion/scheduler"
	clipt "github.com/loupe-ml/loupe/tokenizer/clip"
)

// ExplainOptions choose what Generate records for the explorable.
type ExplainOptions struct {
	// Every decodes the predicted clean image x̂₀ every Every model calls
	// (and always at the first and last); 0 picks about six snapshots.
	Every int
	// NoAttention skips capturing cross-attention maps.
	NoAttention bool
}

// Explanation is what the explorable shows: the denoising step by step and
// which prompt token the model attended to where.
type Explanation struct {
	Settings Settings `json:"settings"`
	// Image is the final image as a PNG data URI.
	Image string `json:"image"`
	// LatentWidth and LatentHeight are the latent grid's size.
	LatentWidth  int           `json:"latent_width"`
	LatentHeight int           `json:"latent_height"`
	Steps        []ExplainStep `json:"steps"`
	// Tokens are the prompt's tokens as the text encoder saw them, from
	// <|startoftext|> to <|endoftext|> (padding left out).
	Tokens []string `json:"tokens"`
	// Attention holds one map per token in Tokens, averaged over every
	// step; nil when the denoiser did not capture any.
	Attention *AttentionSummary `json:"attention,omitempty"`
}

// ExplainStep is one model call.
type ExplainStep struct {
	Step     int     `json:"step"` // 1-based model call
	Timestep float64 `json:"timestep"`
	// Noise is the guided model output (the predicted noise for epsilon
	// models), one grey tile per latent channel side by side, mid-grey at
	// zero and full scale at NoiseScale; a PNG data URI.
	Noise      string  `json:"noise"`
	NoiseScale float32 `json:"noise_scale"`
	// NoiseRMS is the root mean square of the guided output.
	NoiseRMS float64 `json:"noise_rms"`
	// Predicted is the VAE decode of the predicted clean latents x̂₀ at this
	// step (scheduler.PredictedOriginal), a PNG data URI; "" at steps not
	// decoded.
	Predicted string `json:"predicted,omitempty"`
}

// AttentionSummary holds cross-attention maps per prompt token.
type AttentionSummary struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	// Maps[k] is token k's map, Height·Width values, row-major, each map
	// scaled so that its largest value is 1; Peak[k] is that largest value
	// before scaling (how strongly the token was attended at all).
	Maps [][]float32 `json:"maps"`
	Peak []float32   `json:"peak"`
}

type explainer struct {
	opt     ExplainOptions
	p       *Pipeline
	tokens  []string
	h, w    int
	steps   []ExplainStep
	att     []float64
	attN    int
	attW    int
	attH    int
	spent   float64
	total   int
	every   int
	started bool
}

func newExplainer(o *ExplainOptions, p *Pipeline, enc clipt.Encoding, h, w int) *explainer {
	if o == nil {
		return nil
	}
	ex := &explainer{opt: *o, p: p, h: h, w: w}
	for _, id := range enc.IDs[:enc.Length] {
		ex.tokens = append(ex.tokens, p.Tokenizer.Token(id))
	}
	return ex
}

func (ex *explainer) wantsAttention() bool { return ex != nil && !ex.opt.NoAttention }

// step records model call k (0-based from the first step run) at scheduler
// step i; latents are the latents before the step.
func (ex *explainer) step(s scheduler.Scheduler, i, k int, t float64, pred, latents []float32, att *AttentionMaps) error {
	if ex == nil {
		return nil
	}
	start := time.Now()
	defer func() { ex.spent += time.Since(start).Seconds() }()
	if !ex.started {
		ex.started = true
		ex.total = len(s.Timesteps()) - i
		ex.every = ex.opt.Every
		if ex.every <= 0 {
			ex.every = max(1, (ex.total+4)/5)
		}
	}
	st := ExplainStep{Step: k + 1, Timestep: t}
	st.Noise, st.NoiseScale, st.NoiseRMS = noiseTiles(pred, ex.p.LatentChannels, ex.h, ex.w)
	if k%ex.every == 0 || k == ex.total-1 {
		x0, err := scheduler.PredictedOriginal(s, i, pred, latents)
		if err != nil {
			return err
		}
		img, err := ex.p.decode(x0, ex.h, ex.w)
		if err != nil {
			return err
		}
		st.Predicted = dataURI(img.RGBA())
	}
	ex.steps = append(ex.steps, st)
	if att != nil && att.Tokens >= len(ex.tokens) && len(att.Maps) == att.Tokens*att.Height*att.Width {
		if ex.att == nil {
			ex.attW, ex.attH = att.Width, att.Height
			ex.att = make([]float64, len(ex.tokens)*att.Width*att.Height)
		}
		if att.Width == ex.attW && att.Height == ex.attH {
			for j := range ex.att {
				ex.att[j] += float64(att.Maps[j])
			}
			ex.attN++
		}
	}
	return nil
}

func (ex *explainer) finish(res *Result) {
	start := time.Now()
	e := &Explanation{Settings: res.Settings, Image: dataURI(res.Image.RGBA()), LatentWidth: ex.w, LatentHeight: ex.h,
		Steps: ex.steps, Tokens: ex.tokens}
	if ex.attN > 0 {
		hw := ex.attW * ex.attH
		a := &AttentionSummary{Width: ex.attW, Height: ex.attH}
		for k := range ex.tokens {
			m := make([]float32, hw)
			var peak float64
			for j := range m {
				peak = math.Max(peak, ex.att[k*hw+j]/float64(ex.attN))
			}
			for j := range m {
				if peak > 0 {
					m[j] = float32(ex.att[k*hw+j] / float64(ex.attN) / peak)
				}
			}
			a.Maps = append(a.Maps, m)
			a.Peak = append(a.Peak, float32(peak))
		}
		e.Attention = a
	}
	res.Explanation = e
	ex.spent += time.Since(start).Seconds()
}

// noiseTiles renders c channels of h×w side by side, grey = 128 + 127·v/scale
// with scale the largest |v|.
func noiseTiles(v []float32, c, h, w int) (string, float32, float64) {
	var scale float32
	var ss float64
	for _, x := range v {
		scale = max(scale, float32(math.Abs(float64(x))))
		ss += float64(x) * float64(x)
	}
	img := image.NewGray(image.Rect(0, 0, c*w+(c-1), h))
	for j := range img.Pix {
		img.Pix[j] = 255 // the gaps between tiles
	}
	for ch := range c {
		for y := range h {
			for x := range w {
				g := 128.0
				if scale > 0 {
					g += 127 * float64(v[(ch*h+y)*w+x]/scale)
				}
				img.Pix[y*img.Stride+ch*(w+1)+x] = uint8(math.Round(g))
			}
		}
	}
	rms := 0.0
	if len(v) > 0 {
		rms = math.Sqrt(ss / float64(len(v)))
	}
	return dataURI(img), scale, rms
}

func dataURI(img image.Image) string {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return ""
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// seconds is the time spent recording so far.
func (ex *explainer) seconds() float64 {
	if ex == nil {
		return 0
	}
	return ex.spent
}
