package scheduler

import (
	"fmt"
	"math"
)

// PredictedOriginal returns the clean latents x̂₀ that the model output at
// step i implies for the current latents sample: diffusers'
// pred_original_sample, the quantity each scheduler's step computes on the
// way (before any clipping). It does not change the scheduler's state. Use it
// to look at what the model "sees" part way through, for example by decoding
// it with the VAE.
//
// For the sigma-based schedulers (Euler, Euler ancestral, DPM-Solver) it uses
// step i's sigma; for DDIM, PNDM and LCM the training alphas_cumprod at the
// step's timestep.
func PredictedOriginal(s Scheduler, i int, modelOutput, sample []float32) ([]float32, error) {
	if len(modelOutput) != len(sample) {
		return nil, fmt.Errorf("scheduler: predicted original: model output has %d values, sample %d", len(modelOutput), len(sample))
	}
	if i < 0 || i >= len(s.Timesteps()) {
		return nil, fmt.Errorf("scheduler: predicted original: step %d outside 0..%d", i, len(s.Timesteps())-1)
	}
	// x is in the scheduler's own scaling; the DDPM form is
	// x0 = (c·x − √(1−ᾱ)·m)/√ᾱ for epsilon, √ᾱ·c·x − √(1−ᾱ)·m for v,
	// where c·x is the DDPM-space latent.
	var a, c float64 // ᾱ and the factor from the scheduler's latents to DDPM space
	var k *common
	switch s := s.(type) {
	case *euler:
		sigma := float64(s.sigmas[i])
		a, c, k = 1/(sigma*sigma+1), 1/math.Sqrt(sigma*sigma+1), &s.common
	case *dpm:
		sigma := float64(s.sigmas[i])
		a, c, k = 1/(sigma*sigma+1), 1, &s.common
	case *ddim:
		a, c, k = float64(s.alphasCumprod[int(s.timesteps[i])]), 1, &s.common
	case *pndm:
		a, c, k = float64(s.alphasCumprod[int(s.timesteps[i])]), 1, &s.common
	case *lcm:
		a, c, k = float64(s.alphasCumprod[int(s.timesteps[i])]), 1, &s.common
	default:
		return nil, fmt.Errorf("scheduler: predicted original: unknown scheduler %T", s)
	}
	sa, sb := math.Sqrt(a), math.Sqrt(1-a)
	out := make([]float32, len(sample))
	for j, x := range sample {
		xd, m := c*float64(x), float64(modelOutput[j])
		switch k.prediction {
		case "epsilon":
			out[j] = float32((xd - sb*m) / sa)
		case "v_prediction":
			out[j] = float32(sa*xd - sb*m)
		default: // sample, original_sample
			out[j] = float32(m)
		}
	}
	return out, nil
}

// PredictionType returns the config's prediction_type: "epsilon" (the
// default), "v_prediction" (SD 2.x at 768) or "sample".
func (c *Config) PredictionType() string {
	if c == nil {
		return "epsilon"
	}
	s, err := c.str("prediction_type", "epsilon", "epsilon", "v_prediction", "sample", "original_sample")
	if err != nil {
		return "epsilon"
	}
	return s
}
