package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiffuseErrors: bad sizes, unknown schedulers, unreadable init images,
// --strength alone and missing model parts are clear errors, found before
// any model loads.
func TestDiffuseErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("not a png"), 0o644)
	// a pipeline directory with everything but unet/ and vae/
	model := filepath.Join(dir, "sd")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "model_index.json"), []byte(`{"_class_name": "StableDiffusionPipeline",
 "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
 "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
 "vae": ["diffusers", "AutoencoderKL"]}`), 0o644)
	for _, f := range []string{"tokenizer/vocab.json", "tokenizer/merges.txt", "text_encoder/config.json",
		"text_encoder/model.safetensors", "scheduler/scheduler_config.json"} {
		os.MkdirAll(filepath.Dir(filepath.Join(model, f)), 0o755)
		os.WriteFile(filepath.Join(model, f), []byte("{}"), 0o644)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"diffuse", "x"}, "--model is required"},
		{[]string{"diffuse", "--model", model, "--width", "500", "x"}, "width 500: want a positive multiple of 8"},
		{[]string{"diffuse", "--model", model, "--height", "-8", "x"}, "height -8"},
		{[]string{"diffuse", "--model", model, "--steps", "0", "x"}, "steps 0"},
		{[]string{"diffuse", "--model", model, "--scheduler", "heun", "x"}, `unknown scheduler "heun"`},
		{[]string{"diffuse", "--model", model, "--init-image", bad, "x"}, "bad.png: not a readable image"},
		{[]string{"diffuse", "--model", model, "--init-image", filepath.Join(dir, "none.png"), "x"}, "none.png"},
		{[]string{"diffuse", "--model", model, "--strength", "0.5", "x"}, "--strength needs --init-image"},
		{[]string{"diffuse", "--model", model, "x"}, "component unet has no config.json"},
		{[]string{"diffuse", "--model", filepath.Join(dir, "nowhere"), "x"}, "nowhere"},
	} {
		_, _, err := runCmd(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat("image.png"); err == nil {
		t.Error("a failed run wrote image.png")
	}
}
