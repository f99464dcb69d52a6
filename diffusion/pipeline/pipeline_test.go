package pipeline

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/scheduler"
	clipt "github.com/loupe-ml/loupe/tokenizer/clip"
)

const vocabDir = "../../tokenizer/clip/testdata/vocab"

type refFile struct {
	ClipConfig    json.RawMessage `json:"clip_config"`
	ClipSeed      uint64          `json:"clip_seed"`
	ScalingFactor float32         `json:"scaling_factor"`
	Cases         []refCase       `json:"cases"`
}

type refCase struct {
	Name      string          `json:"name"`
	Scheduler string          `json:"scheduler"`
	Config    json.RawMessage `json:"config"`
	Steps     int             `json:"steps"`
	Guidance  float64         `json:"guidance"`
	Seed      uint64          `json:"seed"`
	Prompt    string          `json:"prompt"`
	Negative  string          `json:"negative"`
	Width     int             `json:"width"`
	Height    int             `json:"height"`
	Strength  float64         `json:"strength"`
	IDs       [][]int         `json:"ids"`
	Timesteps []float64       `json:"timesteps"`
	Latents   [][]float64     `json:"latents"`
	Pixels    string          `json:"pixels"`
}

func loadRef(t *testing.T) refFile {
	t.Helper()
	b, err := os.ReadFile("testdata/pipeline_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var r refFile
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// testPipeline is the reference's tiny pipeline with the given scheduler
// config.
func testPipeline(t *testing.T, r refFile, schedCfg json.RawMessage) (*Pipeline, *fakeUNet) {
	t.Helper()
	tok, err := clipt.Load(vocabDir)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scheduler.ParseConfig(schedCfg)
	if err != nil {
		t.Fatal(err)
	}
	u := &fakeUNet{}
	return &Pipeline{
		Tokenizer: tok, TextEncoder: writeTinyCLIP(t, r.ClipConfig, r.ClipSeed), UNet: u,
		Decoder: fakeVAE{}, Encoder: fakeVAE{}, Scheduler: sc,
		LatentChannels: 4, ScaleFactor: 8, ScalingFactor: r.ScalingFactor, DefaultSize: 64,
	}, u
}

// TestMatchesReference runs the reference's cases (text-to-image with
// Euler ancestral, DDIM, PNDM with v-prediction, DPM-Solver++ without
// guidance; image-to-image with Euler ancestral and DDIM) and compares the
// latents after every step (within 1e-3 of their scale) and the final pixels
// (within one level).
func TestMatchesReference(t *testing.T) {
	r := loadRef(t)
	if len(r.Cases) < 6 {
		t.Fatalf("%d reference cases, want 6", len(r.Cases))
	}
	for _, c := range r.Cases {
		t.Run(c.Name, func(t *testing.T) {
			p, u := testPipeline(t, r, c.Config)
			var got [][]float32
			o := Options{
				Prompt: c.Prompt, Negative: c.Negative, Steps: c.Steps, Guidance: c.Guidance, Seed: c.Seed,
				Width: c.Width, Height: c.Height, Scheduler: c.Scheduler,
				Latents: func(step int, x []float32, shape [4]int) error {
					if step != len(got) {
						t.Fatalf("latents callback step %d, want %d", step, len(got))
					}
					if want := [4]int{1, 4, c.Height / 8, c.Width / 8}; shape != want {
						t.Fatalf("latents shape %v, want %v", shape, want)
					}
					got = append(got, slices.Clone(x))
					return nil
				},
			}
			if c.Strength > 0 {
				o.Init, o.Strength = initImage(c.Width, c.Height), c.Strength
			}
			res, err := p.Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.Latents) {
				t.Fatalf("%d latents snapshots, want %d", len(got), len(c.Latents))
			}
			if u.calls != len(c.Timesteps) || res.Settings.ModelCalls != len(c.Timesteps) {
				t.Fatalf("%d UNet calls (settings say %d), want %d", u.calls, res.Settings.ModelCalls, len(c.Timesteps))
			}
			worst := 0.0
			for k := range got {
				var scale, d float64
				for j, v := range c.Latents[k] {
					scale = math.Max(scale, math.Abs(v))
					d = math.Max(d, math.Abs(float64(got[k][j])-v))
				}
				rel := d / math.Max(scale, 1e-6)
				worst = math.Max(worst, rel)
				if k == 0 && d != 0 {
					t.Errorf("step 0 (the noise as drawn) differs by %g: want bit-exact", d)
				}
				if rel > 1e-3 {
					t.Errorf("step %d: latents differ by %g relative (max |Δ| %g, scale %g)", k, rel, d, scale)
				}
			}
			want, err := hex.DecodeString(c.Pixels)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != len(res.Image.Pix) {
				t.Fatalf("%d pixel bytes, want %d", len(res.Image.Pix), len(want))
			}
			maxd, diff := 0, 0
			for j := range want {
				d := int(res.Image.Pix[j]) - int(want[j])
				if d < 0 {
					d = -d
				}
				if d > 0 {
					diff++
				}
				maxd = max(maxd, d)
			}
			if maxd > 1 {
				t.Errorf("pixels differ by up to %d levels, want ≤ 1", maxd)
			}
			t.Logf("latents within %.2g relative; %d of %d pixel values differ (max %d)", worst, diff, len(want), maxd)
		})
	}
}
