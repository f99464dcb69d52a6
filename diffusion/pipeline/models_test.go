package pipeline

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/sdtest"
)

// TestModelsMatchReference runs the whole pipeline, loaded with Load from a
// diffusers-layout directory, on pipeline_reference.py's tiny random-weight
// CLIP, UNet and VAE (Euler ancestral, DDIM with a negative prompt, and
// image-to-image), and compares the latents after every step (within 1e-3
// of their scale) and the final pixels (within one level) with PyTorch.
func TestModelsMatchReference(t *testing.T) {
	b, err := os.ReadFile("testdata/pipeline_models.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []refCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	models, err := sdtest.ReadReference("testdata/pipeline_models.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ref.Cases) < 3 {
		t.Fatalf("%d cases, want 3", len(ref.Cases))
	}
	for _, c := range ref.Cases {
		t.Run(c.Name, func(t *testing.T) {
			dir := t.TempDir()
			if err := sdtest.WritePipeline(dir, vocabDir, models, c.Config); err != nil {
				t.Fatal(err)
			}
			p, err := Load(context.Background(), dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if p.ScaleFactor != 8 || p.DefaultSize != 64 || p.LatentChannels != 4 {
				t.Fatalf("scale factor %d, default size %d, latent channels %d", p.ScaleFactor, p.DefaultSize, p.LatentChannels)
			}
			var got [][]float32
			o := Options{Prompt: c.Prompt, Negative: c.Negative, Steps: c.Steps, Guidance: c.Guidance, Seed: c.Seed,
				Width: c.Width, Height: c.Height, Scheduler: c.Scheduler,
				Latents: func(step int, x []float32, shape [4]int) error {
					got = append(got, slices.Clone(x))
					return nil
				}}
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
			worst := 0.0
			for k := range got {
				var scale, d float64
				for j, v := range c.Latents[k] {
					scale = math.Max(scale, math.Abs(v))
					d = math.Max(d, math.Abs(float64(got[k][j])-v))
				}
				rel := d / math.Max(scale, 1e-6)
				worst = math.Max(worst, rel)
				if rel > 1e-3 {
					t.Errorf("step %d: latents differ by %g relative (max |Δ| %g, scale %g)", k, rel, d, scale)
				}
			}
			want, _ := hex.DecodeString(c.Pixels)
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
			t.Logf("latents within %.2g relative; %d of %d pixel values differ (max %d); %.3fs a step", worst, diff, len(want), maxd, res.Timings.PerStep)

			// Generate trimmed the text encoder and the UNet (their
			// weight pages and buffers); the next image from the same
			// pipeline is the same, bit for bit.
			o.Latents = nil
			again, err := p.Generate(o)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(again.Image.Pix, res.Image.Pix) {
				t.Error("a second Generate on the same pipeline made a different image")
			}
		})
	}
}

// TestModelsExplain: with the real UNet, the explanation carries one
// cross-attention map per prompt token at the latent resolution, and the
// maps are probabilities (each position's maps over all 77 tokens, averaged
// over layers, sum to 1 before scaling, so peaks are at most 1).
func TestModelsExplain(t *testing.T) {
	models, err := sdtest.ReadReference("testdata/pipeline_models.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := sdtest.WritePipeline(dir, vocabDir, models, []byte(`{"_class_name": "EulerAncestralDiscreteScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012}`)); err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	res, err := p.Generate(Options{Prompt: "a red fox", Steps: 4, Guidance: 7.5, Seed: 1, Width: 48, Height: 32, Explain: &ExplainOptions{Every: 2}})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Explanation
	if e.Attention == nil || e.Attention.Width != 6 || e.Attention.Height != 4 || len(e.Attention.Maps) != len(e.Tokens) {
		t.Fatalf("attention %+v for tokens %q", e.Attention, e.Tokens)
	}
	for k, pk := range e.Attention.Peak {
		if !(pk > 0 && pk <= 1) {
			t.Errorf("token %q: peak %g, want a probability", e.Tokens[k], pk)
		}
	}
	if res.Settings.Scheduler != "euler-a" || !strings.HasPrefix(e.Steps[0].Predicted, "data:image/png") {
		t.Errorf("scheduler %q, first step decoded %.20q", res.Settings.Scheduler, e.Steps[0].Predicted)
	}
}
