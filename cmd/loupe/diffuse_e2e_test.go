package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/pipeline"
	"github.com/loupe-ml/loupe/internal/sdtest"
	"github.com/loupe-ml/loupe/npy"
)

// TestDiffuseEndToEnd runs loupe diffuse on the tiny random-weight pipeline
// of diffusion/pipeline's reference (text-to-image, then image-to-image from
// its output) and checks the files: the PNG and its text chunks, one .npy
// per step, the explorable, and the JSON report.
func TestDiffuseEndToEnd(t *testing.T) {
	ref, err := sdtest.ReadReference(filepath.Join("..", "..", "diffusion", "pipeline", "testdata", "pipeline_models.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "sd")
	sched := []byte(`{"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012, "skip_prk_steps": true, "steps_offset": 1, "set_alpha_to_one": false}`)
	if err := sdtest.WritePipeline(model, filepath.Join("..", "..", "tokenizer", "clip", "testdata", "vocab"), ref, sched); err != nil {
		t.Fatal(err)
	}
	out, lat, html := filepath.Join(dir, "fox.png"), filepath.Join(dir, "lat"), filepath.Join(dir, "fox.html")
	stdout, _, err := runCmd(t, "diffuse", "--model", model, "--out", out, "--steps", "3", "--width", "48", "--height", "32",
		"--seed", "9", "--negative", "blurry", "--save-latents", lat, "--explain-html", html, "--format", "json", "a red fox")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Output   string `json:"output"`
		Settings struct {
			Scheduler  string `json:"scheduler"`
			ModelCalls int    `json:"model_calls"`
			Width      int    `json:"width"`
			Seed       uint64 `json:"seed"`
		} `json:"settings"`
		Timings map[string]float64 `json:"timings"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: %q", err, stdout)
	}
	// PNDM (the config's class) makes steps + 1 model calls
	if rep.Output != out || rep.Settings.Scheduler != "pndm" || rep.Settings.ModelCalls != 4 || rep.Settings.Width != 48 || rep.Settings.Seed != 9 {
		t.Errorf("report %+v", rep)
	}
	for _, k := range []string{"load_s", "text_encode_s", "denoise_s", "per_step_s", "decode_s", "total_s"} {
		if _, ok := rep.Timings[k]; !ok {
			t.Errorf("timings lack %s: %v", k, rep.Timings)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	text, err := pipeline.ReadPNGText(b)
	if err != nil || len(text) != 2 || !strings.HasPrefix(text[0].Text, "a red fox\nNegative prompt: blurry\nSteps: 3, Sampler: pndm, CFG scale: 7.5, Seed: 9, Size: 48x32, Model: ") {
		t.Errorf("text chunks %q (%v)", text, err)
	}
	for step := range 6 { // the noise, then one per model call
		f := filepath.Join(lat, fmt.Sprintf("step_%03d.npy", step))
		b, err := os.ReadFile(f)
		if step == 5 {
			if err == nil {
				t.Error("step_005.npy written for 4 model calls")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		h, err := npy.ParseHeader(b)
		if err != nil || fmt.Sprint(h.Shape) != "[1 4 4 6]" {
			t.Errorf("%s: shape %v (%v)", f, h.Shape, err)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), `id="loupe-data"`) || !strings.Contains(string(page), "data:image/png;base64,") {
		t.Errorf("explorable: %v", err)
	}
	// image-to-image from the PNG just written, human output
	stdout, _, err = runCmd(t, "diffuse", "--model", model, "--out", filepath.Join(dir, "b.png"), "--steps", "4", "--init-image", out,
		"--strength", "0.5", "--scheduler", "euler-a", "a watercolour fox")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "wrote "+filepath.Join(dir, "b.png")+": 48×32, euler-a, 4 steps") || !strings.Contains(stdout, "image encode") {
		t.Errorf("output %q", stdout)
	}
	if _, err := pipeline.ReadImage(filepath.Join(dir, "b.png")); err != nil {
		t.Error(err)
	}
}
