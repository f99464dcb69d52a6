package scheduler

import (
	"math"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// dpm is DPMSolverMultistepScheduler (Lu et al. 2022): DPM-Solver++ (data
// prediction) or DPM-Solver (noise prediction) of order 1–3 in
// λ = log(α/σ), reusing earlier model outputs; with solver_order 2 and
// dpmsolver++ this is the "DPM++ 2M" sampler. Near the end of short runs
// it falls back to lower orders as diffusers does (lower_order_final,
// euler_at_final, a zero final sigma).
type dpm struct {
	common
	stepper
	order           int
	plusPlus        bool   // algorithm_type dpmsolver++
	solverType      string // midpoint or heun
	lowerOrderFinal bool
	eulerAtFinal    bool
	karras          bool
	finalSigma      string
	timesteps       []float64
	sigmas          []float32
	outputs         [][]float64 // converted outputs, oldest first
	lowerOrderNums  int
}

func newDPM(c *Config) (*dpm, error) {
	k, err := readCommon(c, kDefaults, []string{"epsilon", "v_prediction", "sample"}, true)
	if err != nil {
		return nil, err
	}
	s := &dpm{common: k}
	if s.order, err = c.integer("solver_order", 2, 1, 3); err != nil {
		return nil, err
	}
	alg, err := c.str("algorithm_type", "dpmsolver++", "dpmsolver++", "dpmsolver", "deis")
	if err != nil {
		return nil, err
	}
	s.plusPlus = alg != "dpmsolver" // diffusers maps deis to dpmsolver++
	if s.solverType, err = c.str("solver_type", "midpoint", "midpoint", "heun", "logrho", "bh1", "bh2"); err != nil {
		return nil, err
	}
	if s.solverType != "heun" {
		s.solverType = "midpoint" // diffusers maps logrho, bh1, bh2 to midpoint
	}
	if s.lowerOrderFinal, err = c.boolean("lower_order_final", true); err != nil {
		return nil, err
	}
	if s.eulerAtFinal, err = c.boolean("euler_at_final", false); err != nil {
		return nil, err
	}
	if s.karras, err = c.boolean("use_karras_sigmas", false); err != nil {
		return nil, err
	}
	if s.finalSigma, err = c.str("final_sigmas_type", "zero", "zero", "sigma_min"); err != nil {
		return nil, err
	}
	if !s.plusPlus && s.finalSigma == "zero" {
		return nil, c.fieldErr("final_sigmas_type", `"zero" is not supported with algorithm_type dpmsolver (diffusers refuses it too); use "sigma_min"`)
	}
	for _, f := range []string{"thresholding", "use_exponential_sigmas", "use_beta_sigmas", "use_lu_lambdas", "use_flow_sigmas", "use_dynamic_shifting"} {
		if err := c.unsupported(f, false); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"variance_type", "sigma_min", "sigma_max"} {
		if err := c.unsupported(f, nil); err != nil {
			return nil, err
		}
	}
	if v, err := c.floatOrInf("lambda_min_clipped", math.Inf(-1)); err != nil {
		return nil, err
	} else if !math.IsInf(v, -1) {
		return nil, c.fieldErr("lambda_min_clipped", "%g is not supported (only -inf)", v)
	}
	return s, nil
}

func (s *dpm) Name() string                                 { return "dpm++2m" }
func (s *dpm) Timesteps() []float64                         { return s.timesteps }
func (s *dpm) InitNoiseSigma() float32                      { return 1 }
func (s *dpm) ScaleModelInput(x []float32, i int) []float32 { return x }

func (s *dpm) SetTimesteps(n int) error {
	if err := checkSteps(n, s.numTrain); err != nil {
		return err
	}
	T := s.numTrain
	last := T // lambda_min_clipped = -inf clips nothing
	var ts []float64
	switch s.spacing {
	case "linspace":
		all := npLinspace(0, float64(last-1), n+1)
		for i := n; i >= 1; i-- {
			ts = append(ts, roundHalfEven(all[i]))
		}
	case "leading":
		ratio := last / (n + 1)
		for i := n; i >= 1; i-- {
			ts = append(ts, float64(i*ratio+s.stepsOffset))
		}
	case "trailing":
		for _, v := range arangeDown(float64(last), 0, float64(T)/float64(n)) {
			ts = append(ts, roundHalfEven(v)-1)
		}
	}
	table := sigmaTable(s.alphasCumprod)
	var sig []float64
	if s.karras {
		logSigmas := make([]float64, len(table))
		for i, v := range table {
			logSigmas[i] = math.Log(float64(v))
		}
		sig = karras(float64(table[len(table)-1]), float64(table[0]), n)
		ts = ts[:0]
		for _, v := range sig {
			t := sigmaToT(v, logSigmas)
			if s.betaSchedule != "squaredcos_cap_v2" {
				t = roundHalfEven(t)
			}
			ts = append(ts, math.Trunc(t)) // int64 timesteps
		}
	} else {
		for _, t := range ts {
			sig = append(sig, interp(t, table))
		}
	}
	s.sigmas = make([]float32, len(sig)+1)
	for i, v := range sig {
		s.sigmas[i] = float32(v)
	}
	if s.finalSigma == "sigma_min" {
		s.sigmas[len(sig)] = table[0]
	}
	if err := s.checkTimesteps(ts); err != nil {
		return err
	}
	s.timesteps = ts
	s.outputs = make([][]float64, s.order)
	s.lowerOrderNums = 0
	s.stepper = stepper{n: len(ts)}
	return nil
}

// alphaSigma returns α_t = 1/√(σ²+1) and σ_t = σ·α_t for a k-diffusion σ.
func alphaSigma(sigma float64) (float64, float64) {
	a := 1 / math.Sqrt(sigma*sigma+1)
	return a, sigma * a
}

func lambda(a, s float64) float64 { return math.Log(a) - math.Log(s) }

func (s *dpm) Step(i int, out, sample []float32, g *noise.Generator) ([]float32, error) {
	if err := s.check(i, len(out), len(sample)); err != nil {
		return nil, err
	}
	n := len(s.timesteps)
	lowerFinal := i == n-1 && (s.eulerAtFinal || (s.lowerOrderFinal && n < 15) || s.finalSigma == "zero")
	lowerSecond := i == n-2 && s.lowerOrderFinal && n < 15

	// convert_model_output: x₀ (dpmsolver++) or ε (dpmsolver).
	aS0, sS0 := alphaSigma(float64(s.sigmas[i]))
	m := make([]float64, len(out))
	for j := range out {
		x, o := float64(sample[j]), float64(out[j])
		switch {
		case s.plusPlus && s.prediction == "epsilon":
			m[j] = (x - sS0*o) / aS0
		case s.plusPlus && s.prediction == "v_prediction":
			m[j] = aS0*x - sS0*o
		case s.plusPlus: // sample
			m[j] = o
		case s.prediction == "epsilon":
			m[j] = o
		case s.prediction == "v_prediction":
			m[j] = aS0*o + sS0*x
		default: // sample
			m[j] = (x - aS0*o) / sS0
		}
	}
	copy(s.outputs, s.outputs[1:])
	s.outputs[s.order-1] = m

	aT, sT := alphaSigma(float64(s.sigmas[i+1]))
	lT, lS0 := lambda(aT, sT), lambda(aS0, sS0)
	h := lT - lS0
	res := make([]float32, len(out))
	switch {
	case s.order == 1 || s.lowerOrderNums < 1 || lowerFinal:
		for j := range res {
			x := float64(sample[j])
			if s.plusPlus {
				res[j] = float32((sT/sS0)*x - (aT*(math.Exp(-h)-1))*m[j])
			} else {
				res[j] = float32((aT/aS0)*x - (sT*(math.Exp(h)-1))*m[j])
			}
		}
	case s.order == 2 || s.lowerOrderNums < 2 || lowerSecond:
		aS1, sS1 := alphaSigma(float64(s.sigmas[i-1]))
		r0 := (lS0 - lambda(aS1, sS1)) / h
		m0, m1 := s.outputs[s.order-1], s.outputs[s.order-2]
		for j := range res {
			x := float64(sample[j])
			d0, d1 := m0[j], (1/r0)*(m0[j]-m1[j])
			var v float64
			switch {
			case s.plusPlus && s.solverType == "midpoint":
				v = (sT/sS0)*x - (aT*(math.Exp(-h)-1))*d0 - 0.5*(aT*(math.Exp(-h)-1))*d1
			case s.plusPlus:
				v = (sT/sS0)*x - (aT*(math.Exp(-h)-1))*d0 + (aT*((math.Exp(-h)-1)/h+1))*d1
			case s.solverType == "midpoint":
				v = (aT/aS0)*x - (sT*(math.Exp(h)-1))*d0 - 0.5*(sT*(math.Exp(h)-1))*d1
			default:
				v = (aT/aS0)*x - (sT*(math.Exp(h)-1))*d0 - (sT*((math.Exp(h)-1)/h-1))*d1
			}
			res[j] = float32(v)
		}
	default:
		aS1, sS1 := alphaSigma(float64(s.sigmas[i-1]))
		aS2, sS2 := alphaSigma(float64(s.sigmas[i-2]))
		lS1, lS2 := lambda(aS1, sS1), lambda(aS2, sS2)
		r0, r1 := (lS0-lS1)/h, (lS1-lS2)/h
		m0, m1, m2 := s.outputs[2], s.outputs[1], s.outputs[0]
		for j := range res {
			x := float64(sample[j])
			d10, d11 := (1/r0)*(m0[j]-m1[j]), (1/r1)*(m1[j]-m2[j])
			d0 := m0[j]
			d1 := d10 + (r0/(r0+r1))*(d10-d11)
			d2 := (1 / (r0 + r1)) * (d10 - d11)
			var v float64
			if s.plusPlus {
				v = (sT/sS0)*x - (aT*(math.Exp(-h)-1))*d0 + (aT*((math.Exp(-h)-1)/h+1))*d1 - (aT*((math.Exp(-h)-1+h)/(h*h)-0.5))*d2
			} else {
				v = (aT/aS0)*x - (sT*(math.Exp(h)-1))*d0 - (sT*((math.Exp(h)-1)/h-1))*d1 - (sT*((math.Exp(h)-1-h)/(h*h)-0.5))*d2
			}
			res[j] = float32(v)
		}
	}
	if s.lowerOrderNums < s.order {
		s.lowerOrderNums++
	}
	s.next++
	return res, nil
}

// SetBeginIndex starts the run at step i with no earlier outputs (the
// first step there is first order).
func (s *dpm) SetBeginIndex(i int) error {
	if err := s.begin(i); err != nil {
		return err
	}
	s.outputs = make([][]float64, s.order)
	s.lowerOrderNums = 0
	return nil
}

// AddNoise returns α·x + σ_t·n for the step's σ (α = 1/√(σ²+1), σ_t = σ·α).
func (s *dpm) AddNoise(x, n []float32, i int) ([]float32, error) {
	if err := s.checkNoise(len(x), len(n), i); err != nil {
		return nil, err
	}
	sigma := s.sigmas[i]
	a := float32(1 / math.Sqrt(float64(float32(sigma*sigma)+1)))
	st := sigma * a
	out := make([]float32, len(x))
	for j := range x {
		out[j] = float32(a*x[j]) + float32(st*n[j])
	}
	return out, nil
}
