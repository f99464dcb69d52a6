package scheduler

import (
	"math"
	"testing"
)

// TestPredictedOriginal noises known clean latents to step i with AddNoise
// and checks that PredictedOriginal recovers them from the true noise
// (epsilon) or the true velocity (v-prediction), for every scheduler.
func TestPredictedOriginal(t *testing.T) {
	for _, pred := range []string{"epsilon", "v_prediction"} {
		cfg, err := ParseConfig([]byte(`{"beta_schedule":"scaled_linear","beta_start":0.00085,"beta_end":0.012,"steps_offset":1,"skip_prk_steps":true,"prediction_type":"` + pred + `"}`))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range Names {
			if name == "lcm" && pred == "v_prediction" {
				continue
			}
			s, err := New(name, cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetTimesteps(8); err != nil {
				t.Fatal(err)
			}
			const n = 16
			x0, eps := make([]float32, n), make([]float32, n)
			for j := range x0 {
				x0[j] = float32(math.Sin(0.7*float64(j))) * 1.3
				eps[j] = float32(math.Cos(1.3*float64(j)+0.2)) * 0.9
			}
			for _, i := range []int{0, 3, len(s.Timesteps()) - 1} {
				noisy, err := s.AddNoise(x0, eps, i)
				if err != nil {
					t.Fatal(err)
				}
				out := eps
				if pred == "v_prediction" {
					// v = √ᾱ·ε − √(1−ᾱ)·x0, with ᾱ recovered from the DDPM-space
					// noising that AddNoise applied to a unit clean sample.
					one, _ := s.AddNoise([]float32{1}, []float32{0}, i)
					zero, _ := s.AddNoise([]float32{0}, []float32{1}, i)
					ratio := float64(zero[0]) / float64(one[0]) // √(1−ᾱ)/√ᾱ
					a := 1 / (1 + ratio*ratio)
					out = make([]float32, n)
					for j := range out {
						out[j] = float32(math.Sqrt(a)*float64(eps[j]) - math.Sqrt(1-a)*float64(x0[j]))
					}
				}
				got, err := PredictedOriginal(s, i, out, noisy)
				if err != nil {
					t.Fatal(err)
				}
				for j := range got {
					if d := math.Abs(float64(got[j] - x0[j])); d > 2e-3*math.Max(1, float64(s.InitNoiseSigma())) {
						t.Fatalf("%s %s step %d: x0[%d] = %g, want %g", name, pred, i, j, got[j], x0[j])
					}
				}
			}
		}
	}
	s, _ := New("ddim", nil, Options{})
	_ = s.SetTimesteps(4)
	if _, err := PredictedOriginal(s, 4, []float32{1}, []float32{1}); err == nil {
		t.Error("step out of range: want an error")
	}
	if _, err := PredictedOriginal(s, 0, []float32{1, 2}, []float32{1}); err == nil {
		t.Error("length mismatch: want an error")
	}
}
