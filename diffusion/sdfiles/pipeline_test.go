package sdfiles

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/hub"
	"github.com/loupe-ml/loupe/safetensors"
)

// sd15Index is runwayml/stable-diffusion-v1-5's model_index.json.
const sd15Index = `{
  "_class_name": "StableDiffusionPipeline",
  "_diffusers_version": "0.6.0",
  "feature_extractor": ["transformers", "CLIPImageProcessor"],
  "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
  "scheduler": ["diffusers", "PNDMScheduler"],
  "text_encoder": ["transformers", "CLIPTextModel"],
  "tokenizer": ["transformers", "CLIPTokenizer"],
  "unet": ["diffusers", "UNet2DConditionModel"],
  "vae": ["diffusers", "AutoencoderKL"],
  "requires_safety_checker": true,
  "image_encoder": [null, null]
}`

func TestParseModelIndex(t *testing.T) {
	x, err := ParseModelIndex("model_index.json", []byte(sd15Index))
	if err != nil {
		t.Fatal(err)
	}
	if x.ClassName != "StableDiffusionPipeline" || x.DiffusersVersion != "0.6.0" || len(x.Components) != 7 ||
		x.Components["unet"] != (Component{"diffusers", "UNet2DConditionModel"}) {
		t.Errorf("parsed %+v", x)
	}
	if _, ok := x.Components["image_encoder"]; ok {
		t.Error("a [null, null] component was kept")
	}
	if err := x.CheckStableDiffusion(); err != nil {
		t.Error(err)
	}
	for _, c := range []struct {
		edit func(string) string
		want string
	}{
		{func(s string) string { return strings.Replace(s, "StableDiffusionPipeline", "FluxPipeline", 1) }, `_class_name "FluxPipeline"`},
		{func(s string) string { return strings.Replace(s, `"AutoencoderKL"`, `"AutoencoderTiny"`, 1) }, `component "vae" has class "AutoencoderTiny"`},
		{func(s string) string {
			return strings.Replace(s, `"unet": ["diffusers", "UNet2DConditionModel"],`, "", 1)
		}, `component "unet" is missing`},
		{func(s string) string {
			return strings.Replace(s, `["transformers", "CLIPTextModel"]`, `["diffusers", "CLIPTextModel"]`, 1)
		}, `from library "diffusers"`},
		{func(s string) string { return strings.Replace(s, `"PNDMScheduler"`, `"Euler"`, 1) }, `want a diffusers scheduler`},
	} {
		x, err := ParseModelIndex("m.json", []byte(c.edit(sd15Index)))
		if err != nil {
			t.Fatal(err)
		}
		if err := x.CheckStableDiffusion(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckStableDiffusion: %v, want an error containing %s", err, c.want)
		}
	}
	for _, c := range []struct{ json, want string }{
		{`{}`, "_class_name is missing"},
		{`{"_class_name": 3}`, "_class_name is missing"},
		{`{"_class_name": "X", "unet": ["diffusers"]}`, `component "unet" is a list of 1`},
		{`{"_class_name": "X", "unet": ["", "U"]}`, `empty library`},
		{`{"_class_name": "X", "../x": ["a", "b"]}`, `not a folder name`},
		{`[`, "m.json"},
	} {
		if _, err := ParseModelIndex("m.json", []byte(c.json)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseModelIndex(%s): %v, want an error containing %s", c.json, err, c.want)
		}
	}
}

// writePipeline lays out a pipeline folder with empty configs and
// one-tensor weights files named as given per component.
func writePipeline(t *testing.T, dir string, weights map[string]string) {
	t.Helper()
	write := func(rel, body string) {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ModelIndexFile, sd15Index)
	for _, f := range []string{"text_encoder/config.json", "unet/config.json", "vae/config.json", "scheduler/scheduler_config.json",
		"tokenizer/vocab.json", "tokenizer/merges.txt"} {
		write(f, "{}")
	}
	for comp, file := range weights {
		p := filepath.Join(dir, comp, file)
		if err := safetensors.WriteFile(p, []safetensors.Tensor{{Name: comp + "." + file, Shape: []int{1}, Data: []float32{1}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenDir(t *testing.T) {
	dir := t.TempDir()
	writePipeline(t, dir, map[string]string{
		"text_encoder": "model.fp16.safetensors",
		"unet":         "diffusion_pytorch_model.fp16.safetensors",
		"vae":          "diffusion_pytorch_model.safetensors",
	})
	ctx := context.Background()
	cl := &hub.Client{CacheDir: t.TempDir(), Offline: true}
	if _, err := Open(ctx, dir, Options{Client: cl}); err == nil || !strings.Contains(err.Error(), "component text_encoder") ||
		!strings.Contains(err.Error(), "it has model.fp16.safetensors: ask for that variant") {
		t.Errorf("Open without a variant of a fp16-only text encoder: %v", err)
	}
	p, err := Open(ctx, dir, Options{Client: cl, Variant: "fp16"})
	if err != nil {
		t.Fatal(err)
	}
	// the vae has no fp16 file: its plain file is used, as diffusers does
	for comp, want := range map[string]string{"unet": "unet." + "diffusion_pytorch_model.fp16.safetensors", "vae": "vae.diffusion_pytorch_model.safetensors"} {
		c, err := OpenWeights(p.ComponentDir(comp), "diffusion_pytorch_model", p.Variant)
		if err != nil {
			t.Fatal(err)
		}
		if n := c.Names(); len(n) != 1 || n[0] != want {
			t.Errorf("%s opened %v, want %s", comp, n, want)
		}
		c.Close()
	}
	if _, err := OpenWeights(t.TempDir(), "diffusion_pytorch_model", ""); !errors.Is(err, checkpoint.ErrNoWeights) {
		t.Errorf("OpenWeights of an empty folder: %v", err)
	}
	if _, err := Open(ctx, dir, Options{Client: cl, Variant: "../x"}); err == nil {
		t.Error("a variant with a path was accepted")
	}
	os.Remove(filepath.Join(dir, "scheduler", "scheduler_config.json"))
	if _, err := Open(ctx, dir, Options{Client: cl, Variant: "fp16"}); err == nil || !strings.Contains(err.Error(), "scheduler has no scheduler_config.json") {
		t.Errorf("Open without a scheduler config: %v", err)
	}
}

// TestOpenHubCache resolves a hub id offline from a Hugging Face cache
// laid out as huggingface_hub writes it (refs/main and a snapshot).
func TestOpenHubCache(t *testing.T) {
	cache := t.TempDir()
	repo := filepath.Join(cache, "models--org--tiny-sd")
	commit := "0123456789abcdef0123456789abcdef01234567"
	snap := filepath.Join(repo, "snapshots", commit)
	writePipeline(t, snap, map[string]string{
		"text_encoder": "model.safetensors",
		"unet":         "diffusion_pytorch_model.safetensors",
		"vae":          "diffusion_pytorch_model.safetensors",
	})
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	cl := &hub.Client{CacheDir: cache, Offline: true}
	p, err := Open(context.Background(), "org/tiny-sd", Options{Client: cl})
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir != snap || p.ComponentDir("vae") != filepath.Join(snap, "vae") {
		t.Errorf("pipeline in %s, want %s", p.Dir, snap)
	}
	if _, err := Open(context.Background(), "org/other", Options{Client: cl}); err == nil || !errors.Is(err, hub.ErrOffline) && !errors.Is(err, hub.ErrNotFound) {
		t.Errorf("Open of an uncached id offline: %v", err)
	}
	os.Remove(filepath.Join(snap, "unet", "diffusion_pytorch_model.safetensors"))
	if _, err := Open(context.Background(), "org/tiny-sd", Options{Client: cl}); err == nil || !strings.Contains(err.Error(), "unet") {
		t.Errorf("Open of a cached pipeline without unet weights: %v", err)
	}
}

func FuzzParseModelIndex(f *testing.F) {
	f.Add([]byte(sd15Index))
	f.Add([]byte(`{"_class_name":"StableDiffusionPipeline","unet":[null,"x"],"vae":["diffusers","AutoencoderKL",1]}`))
	f.Add([]byte(`{"_class_name":"","a":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseModelIndex("f.json", b)
		if err != nil {
			return
		}
		if x.ClassName == "" {
			t.Fatal("accepted an empty _class_name")
		}
		for name, c := range x.Components {
			if c.Library == "" || c.Class == "" || strings.ContainsAny(name, `/\`) {
				t.Fatalf("accepted component %q %+v", name, c)
			}
		}
		_ = x.CheckStableDiffusion()
	})
}

// FuzzSingleFileNames maps arbitrary tensor names and shapes through the
// single-file renaming: it must return errors, never panic, and every
// name it accepts must be distinct.
func FuzzSingleFileNames(f *testing.F) {
	f.Add("model.diffusion_model.input_blocks.0.0.weight\nmodel.diffusion_model.input_blocks.1.0.in_layers.0.weight\nmodel.diffusion_model.input_blocks.2.0.op.weight\nmodel.diffusion_model.input_blocks.3.0.in_layers.0.weight\nfirst_stage_model.decoder.up.0.block.0.conv1.weight\nfirst_stage_model.encoder.mid.attn_1.q.weight", uint8(4))
	f.Add("model.diffusion_model.input_blocks.0.0.weight\ncond_stage_model.model.transformer.resblocks.0.ln_1.weight\ncond_stage_model.model.token_embedding.weight\nmodel.diffusion_model.output_blocks.0.1.conv.bias", uint8(2))
	f.Add("model.diffusion_model.input_blocks.0.0.weight\nmodel.diffusion_model.input_blocks.x.0.weight\nfirst_stage_model.decoder.up.-1.upsample.conv.weight", uint8(3))
	f.Fuzz(func(t *testing.T, names string, dims uint8) {
		var ts []safetensors.Tensor
		seen := map[string]bool{}
		for i, n := range strings.Split(names, "\n") {
			if n == "" || seen[n] || len(ts) > 64 {
				continue
			}
			seen[n] = true
			shape := make([]int, int(dims)%5)
			size := 1
			for j := range shape {
				shape[j] = 1 + (i+j)%3
				size *= shape[j]
			}
			ts = append(ts, safetensors.Tensor{Name: n, Shape: shape, Data: make([]float32, size)})
		}
		var buf bytes.Buffer
		if err := safetensors.Encode(&buf, ts, nil); err != nil {
			return
		}
		p := filepath.Join(t.TempDir(), "f.safetensors")
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		sf, err := OpenSingleFile(p)
		if err != nil {
			return
		}
		defer sf.Close()
		for _, get := range []func() (*Source, []byte, error){sf.UNet, sf.VAE, sf.TextEncoder} {
			src, _, err := get()
			if err != nil {
				continue
			}
			for _, n := range src.Names() {
				if _, err := src.Float32(n); err != nil {
					t.Fatalf("%s listed but unreadable: %v", n, err)
				}
			}
		}
	})
}

// FuzzRename runs the name mappings alone (fast): no panic, and a mapped
// name is never empty.
func FuzzRename(f *testing.F) {
	for _, k := range []string{"encoder.down.0.block.1.nin_shortcut.weight", "decoder.up.3.upsample.conv.bias", "decoder.mid.attn_1.proj_out.weight",
		"input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight", "output_blocks.2.2.conv.weight", "middle_block.1.proj_in.bias", "time_embed.0.weight", "a", "input_blocks..0"} {
		f.Add(k, uint8(2))
	}
	f.Fuzz(func(t *testing.T, k string, n uint8) {
		if d, err := vaeName(k, int(n%8)); err == nil && d == "" && !strings.HasPrefix(k, "loss") {
			t.Fatalf("vaeName(%q) = empty", k)
		}
		if d, err := unetName(k, int(n%4)); err == nil && d == "" {
			t.Fatalf("unetName(%q) = empty", k)
		}
	})
}

func TestResolveSingleFile(t *testing.T) {
	cache := t.TempDir()
	commit := "89abcdef0123456789abcdef0123456789abcdef"
	repo := filepath.Join(cache, "models--org--sd-single")
	snap := filepath.Join(repo, "snapshots", commit)
	if err := os.MkdirAll(filepath.Join(snap, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(snap, "sub", "v1.safetensors")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "refs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644); err != nil {
		t.Fatal(err)
	}
	cl := &hub.Client{CacheDir: cache, Offline: true}
	ctx := context.Background()
	for _, ref := range []string{"org/sd-single/sub/v1.safetensors", "org/sd-single@" + commit + "/sub/v1.safetensors", file} {
		p, err := ResolveSingleFile(ctx, cl, ref)
		if err != nil || p != file {
			t.Errorf("ResolveSingleFile(%s) = %s, %v; want %s", ref, p, err, file)
		}
		if !IsSingleFile(ref) {
			t.Errorf("IsSingleFile(%s) = false", ref)
		}
	}
	for _, ref := range []string{"org/sd-single/other.safetensors", "nofile.safetensors", "./x/y/z", snap} {
		if _, err := ResolveSingleFile(ctx, cl, ref); err == nil {
			t.Errorf("ResolveSingleFile(%s) succeeded", ref)
		}
	}
	if IsSingleFile("org/sd-pipeline") || IsSingleFile(snap) {
		t.Error("IsSingleFile of a pipeline reference")
	}
}
