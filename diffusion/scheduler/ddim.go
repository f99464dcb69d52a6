package scheduler

import (
	"math"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// ddim is DDIMScheduler (Song et al. 2021): x₀ is predicted from the model
// output, then moved to the previous timestep along the predicted noise
// direction, with η·σ_t fresh noise when eta > 0.
type ddim struct {
	common
	stepper
	eta        float64
	finalAlpha float32 // ᾱ before the first training step
	clip       bool
	clipRange  float64
	timesteps  []float64
	ratio      int
}

func newDDIM(c *Config, eta float64) (*ddim, error) {
	k, err := readCommon(c, ddpmDefaults, []string{"epsilon", "v_prediction", "sample"}, false)
	if err != nil {
		return nil, err
	}
	s := &ddim{common: k, eta: eta}
	if err := c.unsupported("thresholding", false); err != nil {
		return nil, err
	}
	if s.clip, err = c.boolean("clip_sample", true); err != nil {
		return nil, err
	}
	if s.clipRange, err = c.float("clip_sample_range", 1); err != nil {
		return nil, err
	}
	one, err := c.boolean("set_alpha_to_one", true)
	if err != nil {
		return nil, err
	}
	s.finalAlpha = k.alphasCumprod[0]
	if one {
		s.finalAlpha = 1
	}
	if eta < 0 || math.IsNaN(eta) {
		return nil, c.fieldErr("eta", "%g, want ≥ 0", eta)
	}
	return s, nil
}

func (s *ddim) Name() string                                 { return "ddim" }
func (s *ddim) Timesteps() []float64                         { return s.timesteps }
func (s *ddim) InitNoiseSigma() float32                      { return 1 }
func (s *ddim) ScaleModelInput(x []float32, i int) []float32 { return x }

func (s *ddim) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain); err != nil {
		return err
	}
	s.timesteps = s.spacedTimesteps(n)
	for i, t := range s.timesteps {
		s.timesteps[i] = roundHalfEven(t)
	}
	if err := s.checkTimesteps(s.timesteps); err != nil {
		return err
	}
	s.ratio = s.numTrain / n
	s.stepper = stepper{n: n}
	return nil
}

func (s *ddim) Step(i int, out, sample []float32, g *noise.Generator) ([]float32, error) {
	if err := s.check(i, len(out), len(sample)); err != nil {
		return nil, err
	}
	t := int(s.timesteps[i])
	prev := t - s.ratio
	aT := float64(s.alphasCumprod[t])
	aPrev := s.alphaAt(prev, s.finalAlpha)
	bT := 1 - aT
	variance := ((1 - aPrev) / bT) * (1 - aT/aPrev)
	std := s.eta * math.Sqrt(variance)
	dirCoef := math.Sqrt(math.Max(1-aPrev-std*std, 0))
	var z []float32
	if s.eta > 0 {
		if g == nil {
			return nil, errNoGenerator("ddim with eta > 0")
		}
		z = g.Randn(len(out))
	}
	res := make([]float32, len(out))
	for j := range out {
		x, m := float64(sample[j]), float64(out[j])
		var x0, eps float64
		switch s.prediction {
		case "epsilon":
			x0, eps = (x-math.Sqrt(bT)*m)/math.Sqrt(aT), m
		case "sample":
			x0 = m
			eps = (x - math.Sqrt(aT)*x0) / math.Sqrt(bT)
		default: // v_prediction
			x0 = math.Sqrt(aT)*x - math.Sqrt(bT)*m
			eps = math.Sqrt(aT)*m + math.Sqrt(bT)*x
		}
		if s.clip {
			x0 = math.Max(-s.clipRange, math.Min(s.clipRange, x0))
		}
		v := math.Sqrt(aPrev)*x0 + dirCoef*eps
		if z != nil {
			v += std * float64(z[j])
		}
		res[j] = float32(v)
	}
	s.next++
	return res, nil
}

// SetBeginIndex starts the run at step i.
func (s *ddim) SetBeginIndex(i int) error { return s.begin(i) }

// AddNoise noises x to timestep Timesteps()[i].
func (s *ddim) AddNoise(x, n []float32, i int) ([]float32, error) {
	if err := s.checkNoise(len(x), len(n), i); err != nil {
		return nil, err
	}
	return s.ddpmAddNoise(x, n, int(s.timesteps[i])), nil
}
