package scheduler_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/diffusion/scheduler"
)

// The denoising loop with Stable Diffusion 1.5's scheduler_config.json and
// the Euler ancestral scheduler; a stand-in model predicts noise
// proportional to its input.
func ExampleScheduler() {
	cfg, err := scheduler.ParseConfig([]byte(`{"_class_name": "PNDMScheduler", "beta_end": 0.012,
		"beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
		"set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "clip_sample": false}`))
	if err != nil {
		panic(err)
	}
	s, err := scheduler.New("euler-a", cfg, scheduler.Options{})
	if err != nil {
		panic(err)
	}
	if err := s.SetTimesteps(5); err != nil {
		panic(err)
	}
	g := noise.NewGenerator(42)
	x := g.Randn(1 * 4 * 8 * 8)
	scheduler.Scale(x, s.InitNoiseSigma())
	for i, t := range s.Timesteps() {
		in := s.ScaleModelInput(x, i)
		eps := make([]float32, len(in))
		for j, v := range in {
			eps[j] = 0.9 * v
		}
		if x, err = s.Step(i, eps, x, g); err != nil {
			panic(err)
		}
		fmt.Printf(" t=%.0f", t)
	}
	fmt.Printf("\ninit_noise_sigma %.3f\n", s.InitNoiseSigma())
	// Output:
	//  t=999 t=749 t=500 t=250 t=0
	// init_noise_sigma 14.615
}
