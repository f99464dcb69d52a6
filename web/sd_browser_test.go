package web

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"testing"
	"time"

	"github.com/loupe-ml/loupe/diffusion/pipeline"
)

func pngURI(t *testing.T, w, h int, c color.Gray) string {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for j := range img.Pix {
		img.Pix[j] = c.Y
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

// sdResult is a 3-step explanation of a 32×32 white image with x̂₀
// decoded at steps 1 and 3, and 4×4 attention maps: "red" on the top-left
// quarter, "fox" on the bottom-right one.
func sdResult(t *testing.T) *pipeline.Explanation {
	corner := func(top bool) []float32 {
		m := make([]float32, 16)
		for y := range 4 {
			for x := range 4 {
				if top == (y < 2 && x < 2) && (top || (y >= 2 && x >= 2)) {
					m[y*4+x] = 1
				}
			}
		}
		return m
	}
	flat := make([]float32, 16)
	for j := range flat {
		flat[j] = 1
	}
	return &pipeline.Explanation{
		Settings: pipeline.Settings{Prompt: "red fox <b>", Steps: 3, ModelCalls: 3, Guidance: 7.5, Width: 32, Height: 32, Seed: 42, Scheduler: "euler-a"},
		Image:    pngURI(t, 32, 32, color.Gray{255}), LatentWidth: 4, LatentHeight: 4,
		Steps: []pipeline.ExplainStep{
			{Step: 1, Timestep: 999, Noise: pngURI(t, 19, 4, color.Gray{128}), NoiseScale: 3, NoiseRMS: 1, Predicted: pngURI(t, 32, 32, color.Gray{10})},
			{Step: 2, Timestep: 500.5, Noise: pngURI(t, 19, 4, color.Gray{100}), NoiseScale: 2, NoiseRMS: 0.8},
			{Step: 3, Timestep: 1, Noise: pngURI(t, 19, 4, color.Gray{90}), NoiseScale: 1, NoiseRMS: 0.5, Predicted: pngURI(t, 32, 32, color.Gray{250})},
		},
		Tokens:    []string{"<|startoftext|>", "red</w>", "fox</w>", "<|endoftext|>"},
		Attention: &pipeline.AttentionSummary{Width: 4, Height: 4, Maps: [][]float32{flat, corner(true), corner(false), flat}, Peak: []float32{0.5, 0.1, 0.2, 0.05}},
	}
}

// TestDiffusionInBrowser: the page shows the image and settings, a
// filmstrip of the decoded steps, a slider that shows the nearest decoded
// x̂₀ and each step's noise, and token maps that tint the image where the
// token was attended to.
func TestDiffusionInBrowser(t *testing.T) {
	ctx := openPage(t, func(w io.Writer) error { return WriteDiffusionHTML(w, "tiny <sd>", sdResult(t)) })
	if n := eval[float64](t, ctx, `document.querySelectorAll('#sd-strip figure').length`); n != 2 {
		t.Errorf("%v filmstrip frames, want 2 (the decoded steps)", n)
	}
	label := func(step int) string {
		return eval[string](t, ctx, fmt.Sprintf(`(s => (s.value = '%d', s.dispatchEvent(new Event('input')), document.getElementById('sd-x0-label').textContent + ' | ' + document.getElementById('sd-step-label').textContent))(document.getElementById('sd-step'))`, step))
	}
	if got := label(2); got != "x̂₀ decoded at step 1 | step 2 of 3, timestep 500.5" {
		t.Errorf("step 2: %q", got)
	}
	if got := label(3); got != "x̂₀ decoded at step 3 | step 3 of 3, timestep 1" {
		t.Errorf("step 3: %q", got)
	}
	if on := eval[string](t, ctx, `document.querySelector('#sd-strip figure.on').dataset.k`); on != "2" {
		t.Errorf("filmstrip frame %q is on at step 3, want 2", on)
	}
	toks := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#sd-tokens .tok')).map(s => s.textContent)`)
	if fmt.Sprint(toks) != fmt.Sprint([]string{"<|startoftext|>", "red", "fox", "<|endoftext|>"}) {
		t.Errorf("tokens %q", toks)
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#sd-maps canvas').length`); n != 4 {
		t.Errorf("%v token maps, want 4", n)
	}
	if p := eval[string](t, ctx, `document.querySelector('#sd-settings td').textContent`); p != "red fox <b>" {
		t.Errorf("prompt cell %q", p)
	}
	// pixel returns the overlay's red channel at (x, y) once the image has
	// loaded and been drawn.
	pixel := func(tok, x, y int) float64 {
		return eval[float64](t, ctx, fmt.Sprintf(`(document.querySelector('#sd-tokens .tok[data-k="%d"]').click(),
			document.getElementById('sd-overlay').getContext('2d').getImageData(%d, %d, 1, 1).data[0])`, tok, x, y))
	}
	// wait for the image to load (drawOverlay runs again on load)
	for i := 0; !eval[bool](t, ctx, `document.getElementById('sd-final').complete`); i++ {
		if i == 100 {
			t.Fatal("the image did not load")
		}
		time.Sleep(20 * time.Millisecond)
	}
	red, fox := [2]float64{pixel(1, 3, 3), pixel(1, 28, 28)}, [2]float64{pixel(2, 3, 3), pixel(2, 28, 28)}
	// white (255) where the token is not attended, tinted towards the accent (91) where it is
	if !(red[0] < 160 && red[1] > 240 && fox[0] > 240 && fox[1] < 160) {
		t.Errorf("overlay red channel: token red at top-left/bottom-right %v, fox %v", red, fox)
	}
	if sel := eval[string](t, ctx, `document.querySelector('#sd-maps figure.on figcaption').textContent`); sel != "fox" {
		t.Errorf("selected map %q, want fox", sel)
	}
	if sub := eval[string](t, ctx, `document.getElementById('subtitle').textContent`); sub != "tiny <sd>" {
		t.Errorf("subtitle %q", sub)
	}
}

// TestDiffusionWithoutAttention: a run with no captured maps says so and
// still shows the steps.
func TestDiffusionWithoutAttention(t *testing.T) {
	e := sdResult(t)
	e.Attention = nil
	ctx := openPage(t, func(w io.Writer) error { return WriteDiffusionHTML(w, "x", e) })
	if hidden := eval[bool](t, ctx, `document.getElementById('sd-noattn').hidden`); hidden {
		t.Error("the no-attention note is hidden")
	}
	if n := eval[float64](t, ctx, `document.querySelectorAll('#sd-maps canvas').length`); n != 0 {
		t.Errorf("%v maps without attention", n)
	}
}
