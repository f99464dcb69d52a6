package scheduler

import (
	"math"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// euler is EulerDiscreteScheduler and, with ancestral,
// EulerAncestralDiscreteScheduler (Karras et al. 2022, k-diffusion's
// sample_euler and sample_euler_ancestral): latents live at noise level
// σ, the model sees them scaled by 1/√(σ²+1), and each step follows the
// derivative (x − x₀)/σ down to the next σ; the ancestral form steps to
// σ_down and adds σ_up fresh noise.
type euler struct {
	common
	stepper
	ancestral  bool
	karras     bool
	finalSigma string // zero or sigma_min
	timesteps  []float64
	sigmas     []float32 // per step, plus the final one
	initSigma  float32
}

func newEuler(c *Config, ancestral bool) (*euler, error) {
	preds := []string{"epsilon", "v_prediction", "sample", "original_sample"}
	if ancestral {
		preds = []string{"epsilon", "v_prediction"}
	}
	k, err := readCommon(c, kDefaults, preds, true)
	if err != nil {
		return nil, err
	}
	s := &euler{common: k, ancestral: ancestral, finalSigma: "zero"}
	if !ancestral {
		if s.karras, err = c.boolean("use_karras_sigmas", false); err != nil {
			return nil, err
		}
		if s.finalSigma, err = c.str("final_sigmas_type", "zero", "zero", "sigma_min"); err != nil {
			return nil, err
		}
		if _, err := c.str("interpolation_type", "linear", "linear"); err != nil {
			return nil, err
		}
		if _, err := c.str("timestep_type", "discrete", "discrete"); err != nil {
			return nil, err
		}
		for _, f := range []string{"use_exponential_sigmas", "use_beta_sigmas"} {
			if err := c.unsupported(f, false); err != nil {
				return nil, err
			}
		}
		for _, f := range []string{"sigma_min", "sigma_max"} {
			if err := c.unsupported(f, nil); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *euler) Name() string {
	if s.ancestral {
		return "euler-a"
	}
	return "euler"
}
func (s *euler) Timesteps() []float64    { return s.timesteps }
func (s *euler) InitNoiseSigma() float32 { return s.initSigma }

func (s *euler) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain); err != nil {
		return err
	}
	ts := s.spacedTimesteps(n)
	for i, t := range ts {
		ts[i] = float64(float32(t)) // np.float32 timesteps
	}
	table := sigmaTable(s.alphasCumprod)
	sig := make([]float64, n)
	for i, t := range ts {
		sig[i] = interp(t, table)
	}
	if s.karras {
		logSigmas := make([]float64, len(table))
		for i, v := range table {
			logSigmas[i] = math.Log(float64(v))
		}
		sig = karras(sig[0], sig[n-1], n)
		for i, v := range sig {
			ts[i] = float64(float32(sigmaToT(v, logSigmas)))
		}
	}
	last := 0.0
	if s.finalSigma == "sigma_min" {
		last = float64(table[0])
	}
	s.sigmas = make([]float32, n+1)
	for i, v := range sig {
		s.sigmas[i] = float32(v)
	}
	s.sigmas[n] = float32(last)
	if err := s.checkTimesteps(ts); err != nil {
		return err
	}
	s.timesteps = ts
	maxSigma := float32(0)
	for _, v := range s.sigmas {
		maxSigma = max(maxSigma, v)
	}
	s.initSigma = maxSigma
	if s.spacing == "leading" {
		s.initSigma = float32(math.Sqrt(float64(float32(maxSigma*maxSigma) + 1)))
	}
	s.stepper = stepper{n: n}
	return nil
}

// ScaleModelInput returns sample / √(σ²+1).
func (s *euler) ScaleModelInput(x []float32, i int) []float32 {
	sigma := s.sigmas[i]
	d := float32(math.Sqrt(float64(float32(sigma*sigma) + 1)))
	out := make([]float32, len(x))
	for j, v := range x {
		out[j] = v / d
	}
	return out
}

func (s *euler) Step(i int, out, sample []float32, g *noise.Generator) ([]float32, error) {
	if err := s.check(i, len(out), len(sample)); err != nil {
		return nil, err
	}
	sigma, next := float64(s.sigmas[i]), float64(s.sigmas[i+1])
	target, up := next, 0.0
	if s.ancestral {
		up = math.Sqrt(next * next * (sigma*sigma - next*next) / (sigma * sigma))
		target = math.Sqrt(next*next - up*up)
	}
	var z []float32
	if s.ancestral {
		if g == nil {
			return nil, errNoGenerator("euler-a")
		}
		z = g.Randn(len(out))
	}
	dt := target - sigma
	res := make([]float32, len(out))
	for j := range out {
		x, m := float64(sample[j]), float64(out[j])
		var x0 float64
		switch s.prediction {
		case "epsilon":
			x0 = x - sigma*m
		case "v_prediction":
			x0 = m*(-sigma/math.Sqrt(sigma*sigma+1)) + x/(sigma*sigma+1)
		default:
			x0 = m
		}
		v := x + (x-x0)/sigma*dt
		if z != nil {
			v += float64(z[j]) * up
		}
		res[j] = float32(v)
	}
	s.next++
	return res, nil
}

// SetBeginIndex starts the run at step i.
func (s *euler) SetBeginIndex(i int) error { return s.begin(i) }

// AddNoise returns x + σ_i·n.
func (s *euler) AddNoise(x, n []float32, i int) ([]float32, error) {
	if err := s.checkNoise(len(x), len(n), i); err != nil {
		return nil, err
	}
	sigma := s.sigmas[i]
	out := make([]float32, len(x))
	for j := range x {
		out[j] = x[j] + float32(n[j]*sigma)
	}
	return out, nil
}
