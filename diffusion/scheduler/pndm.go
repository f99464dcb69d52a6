package scheduler

import (
	"math"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// pndm is PNDMScheduler with skip_prk_steps (pseudo linear multistep,
// Liu et al. 2022, as Stable Diffusion 1.x ships it): a linear multistep
// combination of up to four earlier noise predictions. The first timestep
// runs twice: its two model calls are averaged (a Heun-like warm-up), so n
// steps make n+1 model calls.
type pndm struct {
	common
	stepper
	finalAlpha float32
	timesteps  []float64
	ratio      int
	ets        [][]float32 // the last (up to) four model outputs
	curSample  []float32
	counter    int
}

func newPNDM(c *Config) (*pndm, error) {
	k, err := readCommon(c, pndmDefaults, []string{"epsilon", "v_prediction"}, false)
	if err != nil {
		return nil, err
	}
	skip, err := c.boolean("skip_prk_steps", false)
	if err != nil {
		return nil, err
	}
	if !skip {
		return nil, c.fieldErr("skip_prk_steps", "false (PNDM's Runge–Kutta warm-up) is not supported; Stable Diffusion configs set true")
	}
	one, err := c.boolean("set_alpha_to_one", false)
	if err != nil {
		return nil, err
	}
	s := &pndm{common: k, finalAlpha: k.alphasCumprod[0]}
	if one {
		s.finalAlpha = 1
	}
	return s, nil
}

func (s *pndm) Name() string                                 { return "pndm" }
func (s *pndm) Timesteps() []float64                         { return s.timesteps }
func (s *pndm) InitNoiseSigma() float32                      { return 1 }
func (s *pndm) ScaleModelInput(x []float32, i int) []float32 { return x }

func (s *pndm) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain); err != nil {
		return err
	}
	asc := s.spacedTimesteps(n) // descending
	reverse(asc)
	for i, t := range asc {
		asc[i] = roundHalfEven(t)
	}
	// plms = asc[:-1] + asc[-2:-1] + asc[-1:], reversed
	plms := append(append(append([]float64{}, asc[:n-1]...), asc[max(n-2, 0):n-1]...), asc[n-1])
	reverse(plms)
	if err := s.checkTimesteps(plms); err != nil {
		return err
	}
	s.timesteps = plms
	s.ratio = s.numTrain / n
	s.ets, s.curSample, s.counter = nil, nil, 0
	s.stepper = stepper{n: len(plms)}
	return nil
}

func (s *pndm) Step(i int, out, sample []float32, g *noise.Generator) ([]float32, error) {
	if err := s.check(i, len(out), len(sample)); err != nil {
		return nil, err
	}
	t := int(s.timesteps[i])
	prev := t - s.ratio
	if s.counter != 1 {
		if len(s.ets) > 3 {
			s.ets = s.ets[len(s.ets)-3:]
		}
		s.ets = append(s.ets, out)
	} else {
		prev = t
		t += s.ratio
	}
	e := s.ets
	n := len(e)
	combined := make([]float64, len(out))
	switch {
	case n == 1 && s.counter == 0:
		for j, v := range out {
			combined[j] = float64(v)
		}
		s.curSample = sample
	case n == 1 && s.counter == 1:
		for j, v := range out {
			combined[j] = (float64(v) + float64(e[0][j])) / 2
		}
		sample = s.curSample
		s.curSample = nil
	case n == 2:
		for j := range out {
			combined[j] = (3*float64(e[1][j]) - float64(e[0][j])) / 2
		}
	case n == 3:
		for j := range out {
			combined[j] = (23*float64(e[2][j]) - 16*float64(e[1][j]) + 5*float64(e[0][j])) / 12
		}
	default:
		for j := range out {
			combined[j] = (55*float64(e[3][j]) - 59*float64(e[2][j]) + 37*float64(e[1][j]) - 9*float64(e[0][j])) / 24
		}
	}
	aT := float64(s.alphasCumprod[t])
	aPrev := s.alphaAt(prev, s.finalAlpha)
	bT, bPrev := 1-aT, 1-aPrev
	coeff := math.Sqrt(aPrev / aT)
	denom := aT*math.Sqrt(bPrev) + math.Sqrt(aT*bT*aPrev)
	res := make([]float32, len(out))
	for j := range out {
		m, x := combined[j], float64(sample[j])
		if s.prediction == "v_prediction" {
			m = math.Sqrt(aT)*m + math.Sqrt(bT)*x
		}
		res[j] = float32(coeff*x - (aPrev-aT)*m/denom)
	}
	s.counter++
	s.next++
	return res, nil
}

// SetBeginIndex starts the run at step i. PLMS's history starts empty, so
// its warm-up (the averaged pair) happens at steps i and i+1, as in
// diffusers, whose PNDMScheduler counts steps from its first call.
func (s *pndm) SetBeginIndex(i int) error {
	if err := s.begin(i); err != nil {
		return err
	}
	s.ets, s.curSample, s.counter = nil, nil, 0
	return nil
}

// AddNoise noises x to timestep Timesteps()[i].
func (s *pndm) AddNoise(x, n []float32, i int) ([]float32, error) {
	if err := s.checkNoise(len(x), len(n), i); err != nil {
		return nil, err
	}
	return s.ddpmAddNoise(x, n, int(s.timesteps[i])), nil
}
