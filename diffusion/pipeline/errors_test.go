package pipeline

import (
	"strings"
	"testing"
)

func TestGenerateErrors(t *testing.T) {
	r := loadRef(t)
	p, _ := testPipeline(t, r, r.Cases[0].Config)
	ok := Options{Prompt: "x", Steps: 2, Guidance: 7.5, Seed: 1, Width: 32, Height: 32}
	noEnc := *p
	noEnc.Encoder = nil
	for _, tc := range []struct {
		name string
		p    *Pipeline
		edit func(o *Options)
		want string
	}{
		{"width not a multiple of 8", p, func(o *Options) { o.Width = 30 }, "width 30: want a positive multiple of 8"},
		{"negative height", p, func(o *Options) { o.Height = -8 }, "height -8"},
		{"zero steps", p, func(o *Options) { o.Steps = 0 }, "steps 0"},
		{"unknown scheduler", p, func(o *Options) { o.Scheduler = "heun++" }, "heun++"},
		{"strength without image", p, func(o *Options) { o.Strength = 0.5 }, "strength without an init image"},
		{"strength out of range", p, func(o *Options) { o.Init, o.Strength, o.Width, o.Height = initImage(32, 32), 1.5, 0, 0 }, "strength 1.5"},
		{"init image not a multiple of 8", p, func(o *Options) { o.Init, o.Strength, o.Width, o.Height = initImage(36, 32), 0.5, 0, 0 }, "width 36"},
		{"size differs from init image", p, func(o *Options) { o.Init, o.Strength = initImage(40, 32), 0.5 }, "differs from the init image"},
		{"no encoder", &noEnc, func(o *Options) { o.Init, o.Strength, o.Width, o.Height = initImage(32, 32), 0.5, 0, 0 }, "VAE encoder"},
		{"no UNet", &Pipeline{Tokenizer: p.Tokenizer, TextEncoder: p.TextEncoder}, func(o *Options) {}, "no UNet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			_, err := tc.p.Generate(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := p.Generate(ok); err != nil {
		t.Fatalf("the unedited options fail: %v", err)
	}
}

// TestExplain checks what Options.Explain records: a noise image per model
// call, x̂₀ decodes every Every calls and at the last, the prompt's tokens
// and one attention map per token.
func TestExplain(t *testing.T) {
	r := loadRef(t)
	p, _ := testPipeline(t, r, r.Cases[0].Config)
	res, err := p.Generate(Options{Prompt: "a lighthouse at dusk", Steps: 7, Guidance: 7.5, Seed: 3, Width: 32, Height: 24,
		Scheduler: "euler-a", Explain: &ExplainOptions{Every: 3}})
	if err != nil {
		t.Fatal(err)
	}
	e := res.Explanation
	if e == nil {
		t.Fatal("no explanation")
	}
	if len(e.Steps) != 7 {
		t.Fatalf("%d steps, want 7", len(e.Steps))
	}
	var decoded []int
	for _, s := range e.Steps {
		if !strings.HasPrefix(s.Noise, "data:image/png;base64,") || s.NoiseScale <= 0 || s.NoiseRMS <= 0 {
			t.Errorf("step %d: noise image %.30q scale %g rms %g", s.Step, s.Noise, s.NoiseScale, s.NoiseRMS)
		}
		if s.Predicted != "" {
			decoded = append(decoded, s.Step)
		}
	}
	if want := []int{1, 4, 7}; !equalInts(decoded, want) {
		t.Errorf("x̂₀ decoded at steps %v, want %v", decoded, want)
	}
	toks := strings.Join(e.Tokens, " ")
	if len(e.Tokens) != res.Settings.PromptTokens+2 || !strings.HasPrefix(toks, "<|startoftext|>") || !strings.HasSuffix(toks, "<|endoftext|>") {
		t.Errorf("tokens %q (prompt tokens %d)", e.Tokens, res.Settings.PromptTokens)
	}
	a := e.Attention
	if a == nil || a.Width != 4 || a.Height != 3 || len(a.Maps) != len(e.Tokens) || len(a.Peak) != len(e.Tokens) {
		t.Fatalf("attention %+v", a)
	}
	for k, m := range a.Maps {
		var mx float32
		for _, v := range m {
			mx = max(mx, v)
		}
		if mx != 1 || a.Peak[k] <= 0 {
			t.Errorf("token %d: map max %g (want 1), peak %g", k, mx, a.Peak[k])
		}
	}
	// the explorable's image is the result's image
	if !strings.HasPrefix(e.Image, "data:image/png;base64,") || res.Timings.Explain <= 0 {
		t.Errorf("image %.30q, explain time %g", e.Image, res.Timings.Explain)
	}
	// without Explain nothing is recorded and the image is the same
	plain, err := p.Generate(Options{Prompt: "a lighthouse at dusk", Steps: 7, Guidance: 7.5, Seed: 3, Width: 32, Height: 24, Scheduler: "euler-a"})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Explanation != nil || string(plain.Image.Pix) != string(res.Image.Pix) {
		t.Error("explaining changed the image or was recorded without Explain")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
