package scheduler

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

type refCase struct {
	Scheduler      string          `json:"scheduler"`
	Config         json.RawMessage `json:"config"`
	Steps          int             `json:"steps"`
	Seed           uint64          `json:"seed"`
	Eta            float64         `json:"eta"`
	Timesteps      []float64       `json:"timesteps"`
	Sigmas         []float64       `json:"sigmas"`
	InitNoiseSigma float64         `json:"init_noise_sigma"`
	Latents        [][]float64     `json:"latents"`
}

// model is the reference's synthetic denoiser.
func model(x []float32, t float64) []float32 {
	out := make([]float32, len(x))
	c := 0.9 + 0.05*math.Cos(t/300)
	for i, v := range x {
		out[i] = float32(c*float64(v) + 0.1*math.Sin(2*float64(v)+t/100))
	}
	return out
}

// TestMatchesReference runs every reference configuration and compares the
// timesteps, sigmas, init_noise_sigma and the latents after each step.
func TestMatchesReference(t *testing.T) {
	b, err := os.ReadFile("testdata/trajectories.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Shape []int     `json:"shape"`
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	n := 1
	for _, d := range ref.Shape {
		n *= d
	}
	seen := map[string]int{}
	for k, rc := range ref.Cases {
		name := fmt.Sprintf("%02d-%s-%d", k, rc.Scheduler, rc.Steps)
		seen[rc.Scheduler]++
		t.Run(name, func(t *testing.T) {
			cfg, err := ParseConfig(rc.Config)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(rc.Scheduler, cfg, Options{Eta: rc.Eta})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetTimesteps(rc.Steps); err != nil {
				t.Fatal(err)
			}
			ts := s.Timesteps()
			if len(ts) != len(rc.Timesteps) {
				t.Fatalf("timesteps %v, want %v", ts, rc.Timesteps)
			}
			for i := range ts {
				if math.Abs(ts[i]-rc.Timesteps[i]) > 1e-3 {
					t.Fatalf("timesteps %v, want %v", ts, rc.Timesteps)
				}
			}
			if sg := sigmasOf(s); rc.Sigmas != nil && sg != nil {
				for i := range rc.Sigmas {
					if d := math.Abs(float64(sg[i]) - rc.Sigmas[i]); d > 1e-6*math.Max(1, rc.Sigmas[i]) {
						t.Fatalf("sigma %d = %v, want %v", i, sg[i], rc.Sigmas[i])
					}
				}
			}
			if d := math.Abs(float64(s.InitNoiseSigma()) - rc.InitNoiseSigma); d > 1e-6*rc.InitNoiseSigma {
				t.Fatalf("init_noise_sigma %v, want %v", s.InitNoiseSigma(), rc.InitNoiseSigma)
			}
			g := noise.NewGenerator(rc.Seed)
			x := g.Randn(n)
			Scale(x, s.InitNoiseSigma())
			worst := 0.0
			for i, tt := range ts {
				in := s.ScaleModelInput(x, i)
				x, err = s.Step(i, model(in, tt), x, g)
				if err != nil {
					t.Fatal(err)
				}
				scale, d := 0.0, 0.0
				for j, v := range rc.Latents[i] {
					scale = math.Max(scale, math.Abs(v))
					d = math.Max(d, math.Abs(float64(x[j])-v))
				}
				rel := d / scale
				worst = math.Max(worst, rel)
				if rel > 1e-5 {
					t.Fatalf("step %d (t=%v): max |Go − reference| = %.3g, %.3g relative to %.3g", i, tt, d, rel, scale)
				}
			}
			t.Logf("worst relative difference %.2g over %d model calls (%s %s)", worst, len(ts), rc.Scheduler, compact(rc.Config))
		})
	}
	for _, name := range Names {
		if seen[name] == 0 {
			t.Errorf("no reference case for %s", name)
		}
	}
}

func compact(b json.RawMessage) string {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "_diffusers_version")
	delete(m, "trained_betas")
	s, _ := json.Marshal(m)
	return string(s)
}

func sigmasOf(s Scheduler) []float32 {
	switch v := s.(type) {
	case *euler:
		return v.sigmas
	case *dpm:
		return v.sigmas
	}
	return nil
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, cfg, want string
	}{
		{"ddim", `{"beta_schedule": "cosine"}`, `beta_schedule: "cosine" is not supported`},
		{"euler", `{"prediction_type": "flow"}`, "prediction_type"},
		{"ddim", `{"timestep_spacing": "uniform"}`, "timestep_spacing"},
		{"ddim", `{"thresholding": true}`, "thresholding: true is not supported"},
		{"pndm", `{}`, "skip_prk_steps"},
		{"euler", `{"use_beta_sigmas": true}`, "use_beta_sigmas"},
		{"euler", `{"interpolation_type": "log_linear"}`, "interpolation_type"},
		{"dpm++2m", `{"algorithm_type": "sde-dpmsolver++"}`, "algorithm_type"},
		{"dpm++2m", `{"solver_order": 4}`, "solver_order: 4 out of range"},
		{"dpm++2m", `{"algorithm_type": "dpmsolver"}`, "final_sigmas_type"},
		{"dpm++2m", `{"lambda_min_clipped": -5.1}`, "lambda_min_clipped"},
		{"ddim", `{"num_train_timesteps": 1.5}`, "num_train_timesteps: want an integer"},
		{"ddim", `{"trained_betas": [0.1, 0.2]}`, "trained_betas: 2 values"},
		{"ddim", `{"beta_start": 2, "beta_end": 3}`, "want (0, 1]"},
		{"euler-a", `{"steps_offset": "1"}`, "steps_offset: want an integer"},
		{"heun", `{}`, `unknown scheduler "heun"`},
		{"", `{}`, "no _class_name"},
	} {
		cfg, err := ParseConfig([]byte(tc.cfg))
		if err != nil {
			t.Fatal(err)
		}
		_, err = New(tc.name, cfg, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: want error containing %q, got %v", tc.name, tc.cfg, tc.want, err)
		}
	}
}

func TestConfigQuirks(t *testing.T) {
	// diffusers writes Python's -Infinity; the class name picks the scheduler.
	cfg, err := ParseConfig([]byte(`{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "note": "NaN in a string"}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New("", cfg, Options{})
	if err != nil || s.Name() != "dpm++2m" {
		t.Fatalf("New from _class_name: %v, %v", s, err)
	}
	if _, err := ParseConfig([]byte(`[1]`)); err == nil {
		t.Error("a JSON list was accepted")
	}
}

func TestStepErrors(t *testing.T) {
	s, err := New("euler-a", nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 16)
	if _, err := s.Step(0, x, x, nil); err == nil || !strings.Contains(err.Error(), "before SetTimesteps") {
		t.Errorf("before SetTimesteps: %v", err)
	}
	if err := s.SetTimesteps(0); err == nil {
		t.Error("0 steps accepted")
	}
	if err := s.SetTimesteps(3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Step(1, x, x, nil); err == nil || !strings.Contains(err.Error(), "want step 0") {
		t.Errorf("out of order: %v", err)
	}
	if _, err := s.Step(0, x, x, nil); err == nil || !strings.Contains(err.Error(), "needs a generator") {
		t.Errorf("no generator: %v", err)
	}
	if _, err := s.Step(0, x[:3], x, noise.NewGenerator(0)); err == nil {
		t.Error("length mismatch accepted")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "skip_prk_steps": true, "steps_offset": 1}`))
	f.Add([]byte(`{"lambda_min_clipped": -Infinity, "solver_order": 3}`))
	f.Add([]byte(`{"timestep_spacing": "trailing", "num_train_timesteps": 10}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseConfig(b)
		if err != nil {
			return
		}
		for _, name := range Names {
			s, err := New(name, cfg, Options{})
			if err != nil {
				continue
			}
			if err := s.SetTimesteps(4); err != nil {
				continue
			}
			x := []float32{0.5, -1}
			g := noise.NewGenerator(1)
			for i := range s.Timesteps() {
				if x, err = s.Step(i, x, x, g); err != nil {
					t.Fatalf("%s: step %d: %v", name, i, err)
				}
			}
		}
	})
}

// TestImg2ImgMatchesReference runs diffusers' image-to-image loop:
// StrengthStart, SetBeginIndex, AddNoise of fixed clean latents, then the
// remaining steps.
func TestImg2ImgMatchesReference(t *testing.T) {
	b, err := os.ReadFile("testdata/trajectories.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Shape   []int `json:"shape"`
		Img2Img []struct {
			Scheduler string          `json:"scheduler"`
			Config    json.RawMessage `json:"config"`
			Steps     int             `json:"steps"`
			Strength  float64         `json:"strength"`
			Seed      uint64          `json:"seed"`
			TStart    int             `json:"t_start"`
			Latents   [][]float64     `json:"latents"`
		} `json:"img2img"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.Img2Img) < 5 {
		t.Fatalf("%d img2img cases", len(ref.Img2Img))
	}
	n := 1
	for _, d := range ref.Shape {
		n *= d
	}
	clean := make([]float32, n)
	for j := range clean {
		clean[j] = float32(math.Sin(0.37*float64(j)) * 1.5)
	}
	for k, rc := range ref.Img2Img {
		t.Run(fmt.Sprintf("%02d-%s-%g", k, rc.Scheduler, rc.Strength), func(t *testing.T) {
			cfg, err := ParseConfig(rc.Config)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(rc.Scheduler, cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.SetTimesteps(rc.Steps); err != nil {
				t.Fatal(err)
			}
			start, err := StrengthStart(rc.Steps, rc.Strength)
			if err != nil || start != rc.TStart {
				t.Fatalf("StrengthStart = %d, %v; want %d", start, err, rc.TStart)
			}
			if err := s.SetBeginIndex(start); err != nil {
				t.Fatal(err)
			}
			g := noise.NewGenerator(rc.Seed)
			x, err := s.AddNoise(clean, g.Randn(n), start)
			if err != nil {
				t.Fatal(err)
			}
			ts := s.Timesteps()
			if len(ts)-start+1 != len(rc.Latents) {
				t.Fatalf("%d steps from %d, reference has %d", len(ts)-start, start, len(rc.Latents)-1)
			}
			worst := 0.0
			for k := range rc.Latents {
				if k > 0 {
					i := start + k - 1
					if x, err = s.Step(i, model(s.ScaleModelInput(x, i), ts[i]), x, g); err != nil {
						t.Fatal(err)
					}
				}
				scale, d := 0.0, 0.0
				for j, v := range rc.Latents[k] {
					scale = math.Max(scale, math.Abs(v))
					d = math.Max(d, math.Abs(float64(x[j])-v))
				}
				worst = math.Max(worst, d/scale)
				if d/scale > 1e-5 {
					t.Fatalf("after %d steps: max |Go − reference| = %.3g relative to %.3g", k, d, scale)
				}
			}
			t.Logf("worst relative difference %.2g", worst)
		})
	}
	if _, err := StrengthStart(10, 0); err == nil {
		t.Error("strength 0 accepted")
	}
	if _, err := StrengthStart(3, 0.2); err == nil {
		t.Error("a strength that leaves no step was accepted")
	}
}
