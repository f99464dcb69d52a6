package scheduler

import (
	"fmt"
	"math"
	"sort"
)

// common holds the fields every scheduler reads, resolved with its
// defaults, and the training noise schedule they give.
type common struct {
	numTrain       int    // num_train_timesteps
	prediction     string // epsilon, v_prediction or sample
	spacing        string // leading, trailing or linspace
	stepsOffset    int    // steps_offset
	alphasCumprod  []float32
	betaSchedule   string
	rescaleZeroSNR bool
}

// defaults are the values a scheduler class uses for fields the config
// lacks.
type defaults struct {
	betaStart, betaEnd float64
	betaSchedule       string
	spacing            string
	noRescale          bool // the class has no rescale_betas_zero_snr
}

var (
	ddpmDefaults = defaults{0.0001, 0.02, "linear", "leading", false}
	pndmDefaults = defaults{0.0001, 0.02, "linear", "leading", true}
	kDefaults    = defaults{0.0001, 0.02, "linear", "linspace", false} // Euler, DPM-Solver
	lcmDefaults  = defaults{0.00085, 0.012, "scaled_linear", "leading", false}
)

// readCommon resolves the shared fields and computes alphas_cumprod.
// zeroSNRTail sets the last alphas_cumprod to 2^-24 after zero-SNR
// rescaling, as the sigma-based schedulers do to keep sigma finite; PNDM
// has no rescale_betas_zero_snr field (d.noRescale) and ignores it.
func readCommon(c *Config, d defaults, predictions []string, zeroSNRTail bool) (common, error) {
	var k common
	var err error
	if k.numTrain, err = c.integer("num_train_timesteps", 1000, 2, 1<<20); err != nil {
		return k, err
	}
	if k.prediction, err = c.str("prediction_type", "epsilon", predictions...); err != nil {
		return k, err
	}
	if k.spacing, err = c.str("timestep_spacing", d.spacing, "leading", "trailing", "linspace"); err != nil {
		return k, err
	}
	if k.stepsOffset, err = c.integer("steps_offset", 0, 0, 1<<20); err != nil {
		return k, err
	}
	start, err := c.float("beta_start", d.betaStart)
	if err != nil {
		return k, err
	}
	end, err := c.float("beta_end", d.betaEnd)
	if err != nil {
		return k, err
	}
	if k.betaSchedule, err = c.str("beta_schedule", d.betaSchedule, "linear", "scaled_linear", "squaredcos_cap_v2"); err != nil {
		return k, err
	}
	if !d.noRescale {
		if k.rescaleZeroSNR, err = c.boolean("rescale_betas_zero_snr", false); err != nil {
			return k, err
		}
	}
	trained, err := c.floats("trained_betas")
	if err != nil {
		return k, err
	}
	var betas []float32
	switch {
	case trained != nil:
		if len(trained) != k.numTrain {
			return k, c.fieldErr("trained_betas", "%d values, want num_train_timesteps = %d", len(trained), k.numTrain)
		}
		for _, b := range trained {
			betas = append(betas, float32(b))
		}
	case k.betaSchedule == "linear":
		betas = linspace32(float32(start), float32(end), k.numTrain)
	case k.betaSchedule == "scaled_linear":
		betas = linspace32(float32(math.Sqrt(start)), float32(math.Sqrt(end)), k.numTrain)
		for i, b := range betas {
			betas[i] = b * b
		}
	default:
		betas = betasForAlphaBar(k.numTrain)
	}
	for i, b := range betas {
		if !(b > 0 && b <= 1) {
			return k, fmt.Errorf("scheduler: %s: beta %d = %g from beta_start/beta_end/trained_betas, want (0, 1]", c.path, i, b)
		}
	}
	if k.rescaleZeroSNR {
		betas = rescaleZeroTerminalSNR(betas)
	}
	k.alphasCumprod = cumprod(betas)
	if k.rescaleZeroSNR && zeroSNRTail {
		k.alphasCumprod[len(k.alphasCumprod)-1] = 1.0 / (1 << 24)
	}
	return k, nil
}

// linspace32 is torch.linspace(start, end, n, dtype=float32): the first
// half counts up from start, the second down from end.
func linspace32(start, end float32, n int) []float32 {
	out := make([]float32, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := float32((end - start) / float32(n-1))
	half := n / 2
	for i := range n {
		if i < half {
			out[i] = start + float32(step*float32(i))
		} else {
			out[i] = end - float32(step*float32(n-1-i))
		}
	}
	return out
}

// betasForAlphaBar is diffusers' betas_for_alpha_bar with the cosine
// alpha_bar of improved DDPM (squaredcos_cap_v2), capped at 0.999.
func betasForAlphaBar(n int) []float32 {
	f := func(t float64) float64 {
		c := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
		return c * c
	}
	out := make([]float32, n)
	for i := range n {
		t1, t2 := float64(i)/float64(n), float64(i+1)/float64(n)
		out[i] = float32(math.Min(1-f(t2)/f(t1), 0.999))
	}
	return out
}

// rescaleZeroTerminalSNR rescales betas so that the last timestep has zero
// signal (Lin et al. 2023, Algorithm 1), in float32 as diffusers does it.
func rescaleZeroTerminalSNR(betas []float32) []float32 {
	ac := cumprod(betas)
	s := make([]float32, len(ac))
	for i, a := range ac {
		s[i] = float32(math.Sqrt(float64(a)))
	}
	s0, sT := s[0], s[len(s)-1]
	f := s0 / (s0 - sT)
	ab := make([]float32, len(s))
	for i := range s {
		v := float32(s[i]-sT) * f
		ab[i] = v * v
	}
	out := make([]float32, len(betas))
	out[0] = 1 - ab[0]
	for i := 1; i < len(ab); i++ {
		out[i] = 1 - ab[i]/ab[i-1]
	}
	return out
}

// cumprod returns alphas_cumprod for betas: alphas = 1 − β in float32, the
// running product accumulated in float64 (torch.cumprod on a CPU) and each
// output rounded to float32.
func cumprod(betas []float32) []float32 {
	out := make([]float32, len(betas))
	acc := 1.0
	for i, b := range betas {
		acc *= float64(1 - b)
		out[i] = float32(acc)
	}
	return out
}

// sigmaTable is ((1 − ᾱ)/ᾱ)^½ per training timestep, in float32.
func sigmaTable(ac []float32) []float32 {
	out := make([]float32, len(ac))
	for i, a := range ac {
		out[i] = float32(math.Sqrt(float64((1 - a) / a)))
	}
	return out
}

// roundHalfEven is numpy's round (banker's rounding).
func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }

// arangeDown returns numpy's np.arange(start, stop, -step) for a positive
// step: start, start−step, … while > stop.
func arangeDown(start, stop, step float64) []float64 {
	n := int(math.Ceil((stop - start) / -step))
	out := make([]float64, 0, max(n, 0))
	for i := range n {
		out = append(out, start+float64(i)*-step)
	}
	return out
}

// npLinspace is np.linspace(start, stop, n) (endpoint included).
func npLinspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(n-1)
	for i := range n {
		out[i] = start + float64(i)*step
	}
	out[n-1] = stop
	return out
}

// spacedTimesteps returns the inference timesteps in descending order for
// the leading, trailing and linspace spacings of DDIM-style schedulers (as
// float64 values; callers round or cast as their diffusers class does).
func (k *common) spacedTimesteps(n int) []float64 {
	T := k.numTrain
	out := make([]float64, 0, n)
	switch k.spacing {
	case "linspace":
		for _, v := range npLinspace(0, float64(T-1), n) {
			out = append(out, v)
		}
		reverse(out)
	case "leading":
		ratio := T / n
		for i := n - 1; i >= 0; i-- {
			out = append(out, float64(i*ratio+k.stepsOffset))
		}
	case "trailing":
		for _, v := range arangeDown(float64(T), 0, float64(T)/float64(n)) {
			out = append(out, roundHalfEven(v)-1)
		}
	}
	return out
}

func reverse(x []float64) {
	for i, j := 0, len(x)-1; i < j; i, j = i+1, j-1 {
		x[i], x[j] = x[j], x[i]
	}
}

// interp is np.interp(x, arange(len(fp)), fp) for x in [0, len(fp)−1].
func interp(x float64, fp []float32) float64 {
	if x <= 0 {
		return float64(fp[0])
	}
	if x >= float64(len(fp)-1) {
		return float64(fp[len(fp)-1])
	}
	i := int(math.Floor(x))
	w := x - float64(i)
	a, b := float64(fp[i]), float64(fp[i+1])
	return a + (b-a)*w
}

// karras returns Karras et al.'s ρ = 7 schedule of n sigmas between
// sigmaMax and sigmaMin.
func karras(sigmaMax, sigmaMin float64, n int) []float64 {
	const rho = 7.0
	maxInv, minInv := math.Pow(sigmaMax, 1/rho), math.Pow(sigmaMin, 1/rho)
	out := make([]float64, n)
	for i, r := range npLinspace(0, 1, n) {
		out[i] = math.Pow(maxInv+r*(minInv-maxInv), rho)
	}
	return out
}

// sigmaToT maps a sigma to a fractional training timestep by linear
// interpolation of log sigma (diffusers' _sigma_to_t).
func sigmaToT(sigma float64, logSigmas []float64) float64 {
	ls := math.Log(math.Max(sigma, 1e-10))
	// low = the last index whose log sigma is <= ls (log sigmas ascend),
	// clipped to len−2.
	low := sort.Search(len(logSigmas), func(i int) bool { return logSigmas[i] > ls }) - 1
	if low < 0 {
		low = 0 // np.cumsum(...).argmax() of all zeros
	}
	low = min(low, len(logSigmas)-2)
	lo, hi := logSigmas[low], logSigmas[low+1]
	w := (lo - ls) / (lo - hi)
	w = math.Max(0, math.Min(1, w))
	return (1-w)*float64(low) + w*float64(low+1)
}

// alphaAt returns alphas_cumprod[t] as float64, or final for t < 0.
func (k *common) alphaAt(t int, final float32) float64 {
	if t < 0 {
		return float64(final)
	}
	return float64(k.alphasCumprod[t])
}
