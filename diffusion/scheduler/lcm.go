package scheduler

import (
	"math"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// lcm is LCMScheduler (latent consistency models, Luo et al. 2023): each
// step predicts the clean latents through the consistency boundary
// condition c_skip·x + c_out·x₀ and, except at the last step, re-noises
// them to the next timestep with fresh noise.
type lcm struct {
	common
	stepper
	finalAlpha float32
	clip       bool
	clipRange  float64
	origSteps  int
	tScaling   float64
	timesteps  []float64
}

func newLCM(c *Config) (*lcm, error) {
	k, err := readCommon(c, lcmDefaults, []string{"epsilon", "v_prediction", "sample"}, false)
	if err != nil {
		return nil, err
	}
	s := &lcm{common: k}
	if err := c.unsupported("thresholding", false); err != nil {
		return nil, err
	}
	if s.clip, err = c.boolean("clip_sample", false); err != nil {
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
	if s.origSteps, err = c.integer("original_inference_steps", 50, 1, 1<<20); err != nil {
		return nil, err
	}
	if s.origSteps > k.numTrain {
		return nil, c.fieldErr("original_inference_steps", "%d exceeds num_train_timesteps %d", s.origSteps, k.numTrain)
	}
	if s.tScaling, err = c.float("timestep_scaling", 10); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *lcm) Name() string                                 { return "lcm" }
func (s *lcm) Timesteps() []float64                         { return s.timesteps }
func (s *lcm) InitNoiseSigma() float32                      { return 1 }
func (s *lcm) ScaleModelInput(x []float32, i int) []float32 { return x }

func (s *lcm) SetTimesteps(n int) error {
	if err := checkSteps(n, s.origSteps); err != nil {
		return err
	}
	k := s.numTrain / s.origSteps
	origin := make([]int, s.origSteps) // descending: origSteps·k−1, …, k−1
	for i := range origin {
		origin[i] = (s.origSteps-i)*k - 1
	}
	s.timesteps = make([]float64, n)
	for i, idx := range npLinspaceNoEnd(float64(s.origSteps), n) {
		s.timesteps[i] = float64(origin[int(math.Floor(idx))])
	}
	s.stepper = stepper{n: n}
	return nil
}

// npLinspaceNoEnd is np.linspace(0, stop, n, endpoint=False).
func npLinspaceNoEnd(stop float64, n int) []float64 {
	out := make([]float64, n)
	step := stop / float64(n)
	for i := range n {
		out[i] = float64(i) * step
	}
	return out
}

func (s *lcm) Step(i int, out, sample []float32, g *noise.Generator) ([]float32, error) {
	if err := s.check(i, len(out), len(sample)); err != nil {
		return nil, err
	}
	t := int(s.timesteps[i])
	prev := t
	if i+1 < len(s.timesteps) {
		prev = int(s.timesteps[i+1])
	}
	aT := float64(s.alphasCumprod[t])
	aPrev := s.alphaAt(prev, s.finalAlpha)
	bT, bPrev := 1-aT, 1-aPrev
	st := float64(t) * s.tScaling
	cSkip := 0.25 / (st*st + 0.25) // σ_data = 0.5
	cOut := st / math.Sqrt(st*st+0.25)
	last := i == s.n-1
	var z []float32
	if !last {
		if g == nil {
			return nil, errNoGenerator("lcm")
		}
		z = g.Randn(len(out))
	}
	res := make([]float32, len(out))
	for j := range out {
		x, m := float64(sample[j]), float64(out[j])
		var x0 float64
		switch s.prediction {
		case "epsilon":
			x0 = (x - math.Sqrt(bT)*m) / math.Sqrt(aT)
		case "sample":
			x0 = m
		default:
			x0 = math.Sqrt(aT)*x - math.Sqrt(bT)*m
		}
		if s.clip {
			x0 = math.Max(-s.clipRange, math.Min(s.clipRange, x0))
		}
		d := cOut*x0 + cSkip*x
		if last {
			res[j] = float32(d)
		} else {
			res[j] = float32(math.Sqrt(aPrev)*d + math.Sqrt(bPrev)*float64(z[j]))
		}
	}
	s.next++
	return res, nil
}

// SetBeginIndex starts the run at step i. (LCM's own image-to-image
// schedule, set_timesteps with a strength, is not implemented.)
func (s *lcm) SetBeginIndex(i int) error { return s.begin(i) }

// AddNoise noises x to timestep Timesteps()[i].
func (s *lcm) AddNoise(x, n []float32, i int) ([]float32, error) {
	if err := s.checkNoise(len(x), len(n), i); err != nil {
		return nil, err
	}
	return s.ddpmAddNoise(x, n, int(s.timesteps[i])), nil
}
