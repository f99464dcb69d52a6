package scheduler

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// Scheduler steps latents from pure noise to a clean sample. Call
// SetTimesteps, then for i = 0, 1, … len(Timesteps())−1 in order:
// ScaleModelInput, the model at Timesteps()[i], Step. Schedulers keep state
// between steps (multistep solvers remember earlier outputs) and are not
// safe for concurrent use.
type Scheduler interface {
	// Name is the scheduler's loupe name ("pndm", "ddim", "euler",
	// "euler-a", "dpm++2m", "lcm").
	Name() string
	// SetTimesteps prepares n inference steps and resets the state.
	SetTimesteps(n int) error
	// Timesteps returns the timestep of each model call, in order (PNDM
	// calls the model n+1 times).
	Timesteps() []float64
	// InitNoiseSigma is the scale of the initial noise: latents =
	// randn · InitNoiseSigma (diffusers' init_noise_sigma).
	InitNoiseSigma() float32
	// ScaleModelInput returns the model's input at step i (a new slice, or
	// sample itself when the scheduler does not scale).
	ScaleModelInput(sample []float32, i int) []float32
	// Step returns the latents after step i from the model's output and the
	// current latents. g supplies noise to the stochastic schedulers
	// (Euler ancestral, LCM, DDIM with eta > 0) and may be nil for the
	// others; pass the generator that drew the initial noise, as diffusers'
	// pipelines do.
	Step(i int, modelOutput, sample []float32, g *noise.Generator) ([]float32, error)
	// SetBeginIndex makes step i the first one (image-to-image starts part
	// way, see StrengthStart); multistep state starts empty there, as in
	// diffusers' set_begin_index.
	SetBeginIndex(i int) error
	// AddNoise returns clean latents x noised to the level of step i
	// (diffusers' add_noise for the timestep Timesteps()[i]): √ᾱ·x + √(1−ᾱ)·n
	// for DDIM, PNDM and LCM, x + σ·n for Euler, α_σ·x + σ_σ·n for
	// DPM-Solver.
	AddNoise(x, n []float32, i int) ([]float32, error)
}

// StrengthStart returns the first step of an image-to-image run of steps
// steps at the given strength (0 < strength ≤ 1), as diffusers'
// img2img get_timesteps computes it: the run keeps the last
// int(steps·strength) steps.
func StrengthStart(steps int, strength float64) (int, error) {
	if !(strength > 0 && strength <= 1) {
		return 0, fmt.Errorf("scheduler: strength %g, want (0, 1]", strength)
	}
	keep := min(int(float64(steps)*strength), steps)
	if keep < 1 {
		return 0, fmt.Errorf("scheduler: strength %g of %d steps leaves no step to run", strength, steps)
	}
	return steps - keep, nil
}

// Options holds settings that are arguments of diffusers' step rather than
// configuration.
type Options struct {
	// Eta is DDIM's η: 0 is deterministic DDIM (the pipelines' default),
	// 1 is DDPM-like.
	Eta float64
}

// Names lists the schedulers New accepts, in loupe's spelling.
var Names = []string{"pndm", "ddim", "euler", "euler-a", "dpm++2m", "lcm"}

var classNames = map[string]string{
	"PNDMScheduler":                   "pndm",
	"DDIMScheduler":                   "ddim",
	"EulerDiscreteScheduler":          "euler",
	"EulerAncestralDiscreteScheduler": "euler-a",
	"DPMSolverMultistepScheduler":     "dpm++2m",
	"LCMScheduler":                    "lcm",
}

// New builds the named scheduler ("pndm", "ddim", "euler", "euler-a",
// "dpm++2m", "lcm", or a diffusers class name such as
// "EulerDiscreteScheduler") from cfg. An empty name uses cfg's
// _class_name. A nil cfg means every default of the scheduler.
func New(name string, cfg *Config, opt Options) (Scheduler, error) {
	if cfg == nil {
		cfg = &Config{path: "default config", raw: map[string]json.RawMessage{}}
	}
	if name == "" {
		name = cfg.ClassName()
		if name == "" {
			return nil, fmt.Errorf("scheduler: no scheduler named and %s has no _class_name", cfg.path)
		}
	}
	if n, ok := classNames[name]; ok {
		name = n
	}
	switch strings.ToLower(name) {
	case "pndm":
		return newPNDM(cfg)
	case "ddim":
		return newDDIM(cfg, opt.Eta)
	case "euler":
		return newEuler(cfg, false)
	case "euler-a":
		return newEuler(cfg, true)
	case "dpm++2m":
		return newDPM(cfg)
	case "lcm":
		return newLCM(cfg)
	}
	return nil, fmt.Errorf("scheduler: unknown scheduler %q (want one of %s)", name, strings.Join(Names, ", "))
}

// Scale multiplies x by s in place, in float32 as diffusers' latents ·
// init_noise_sigma does.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] = x[i] * s
	}
}

// stepper tracks the index Step expects next.
type stepper struct {
	n    int // model calls per run, 0 before SetTimesteps
	next int
}

func (s *stepper) check(i, lenOut, lenSample int) error {
	if s.n == 0 {
		return fmt.Errorf("scheduler: Step before SetTimesteps")
	}
	if i != s.next {
		return fmt.Errorf("scheduler: Step(%d), want step %d (steps run in order from 0 after SetTimesteps)", i, s.next)
	}
	if i >= s.n {
		return fmt.Errorf("scheduler: Step(%d) past the last step %d", i, s.n-1)
	}
	if lenOut != lenSample {
		return fmt.Errorf("scheduler: model output has %d values, sample %d", lenOut, lenSample)
	}
	return nil
}

// begin sets the next expected step.
func (s *stepper) begin(i int) error {
	if s.n == 0 {
		return fmt.Errorf("scheduler: SetBeginIndex before SetTimesteps")
	}
	if i < 0 || i >= s.n {
		return fmt.Errorf("scheduler: begin index %d outside [0, %d)", i, s.n)
	}
	s.next = i
	return nil
}

func (s *stepper) checkNoise(lenX, lenN, i int) error {
	if s.n == 0 {
		return fmt.Errorf("scheduler: AddNoise before SetTimesteps")
	}
	if i < 0 || i >= s.n {
		return fmt.Errorf("scheduler: AddNoise at step %d outside [0, %d)", i, s.n)
	}
	if lenX != lenN {
		return fmt.Errorf("scheduler: AddNoise: %d latents, %d noise values", lenX, lenN)
	}
	return nil
}

// ddpmAddNoise is √ᾱ_t·x + √(1−ᾱ_t)·n in float32, as DDPM-family
// schedulers add noise.
func (k *common) ddpmAddNoise(x, n []float32, t int) []float32 {
	a := k.alphasCumprod[t]
	sa := float32(math.Sqrt(float64(a)))
	sb := float32(math.Sqrt(float64(1 - a)))
	out := make([]float32, len(x))
	for j := range x {
		out[j] = float32(sa*x[j]) + float32(sb*n[j])
	}
	return out
}

func checkSteps(n, max int) error {
	if n < 1 || n > max {
		return fmt.Errorf("scheduler: %d inference steps, want 1..%d (num_train_timesteps)", n, max)
	}
	return nil
}

// checkTimesteps verifies that every timestep indexes the training
// schedule (a large steps_offset can push the leading spacing past it).
func (k *common) checkTimesteps(ts []float64) error {
	for _, t := range ts {
		if t < 0 || t > float64(k.numTrain-1) {
			return fmt.Errorf("scheduler: timestep %v outside [0, %d]: steps_offset %d is too large for num_train_timesteps %d", t, k.numTrain-1, k.stepsOffset, k.numTrain)
		}
	}
	return nil
}
