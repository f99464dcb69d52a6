package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/diffusion/scheduler"
	"github.com/loupe-ml/loupe/hub"
	clipm "github.com/loupe-ml/loupe/model/clip"
	clipt "github.com/loupe-ml/loupe/tokenizer/clip"
)

// Defaults of a run, as loupe diffuse uses them.
const (
	DefaultSteps    = 20
	DefaultGuidance = 7.5
	DefaultSeed     = 42
	// DefaultStrength is diffusers' img2img default.
	DefaultStrength = 0.8
)

// LoadOptions control Load.
type LoadOptions struct {
	// Hub resolves hub ids (nil: a client with the environment's settings).
	Hub *hub.Client
}

// Files are the files Load needs from a diffusers-layout repository, and
// the optional ones.
var (
	requiredFiles = []string{
		"model_index.json",
		"tokenizer/vocab.json", "tokenizer/merges.txt",
		"text_encoder/config.json", "text_encoder/model.safetensors",
		"scheduler/scheduler_config.json",
		"unet/config.json", "unet/diffusion_pytorch_model.safetensors",
		"vae/config.json", "vae/diffusion_pytorch_model.safetensors",
	}
	optionalFiles = []string{"tokenizer/tokenizer_config.json", "tokenizer/special_tokens_map.json"}
)

// ErrNoUNet says that this build of loupe has no UNet implementation to
// load a pipeline's unet/ with.
var ErrNoUNet = errors.New("loupe has no UNet implementation yet (issue 16): it cannot run unet/")

// modelIndex is the part of model_index.json Load reads.
type modelIndex struct {
	ClassName string `json:"_class_name"`
}

// Load opens a Stable Diffusion pipeline in diffusers' layout
// (model_index.json, tokenizer/, text_encoder/, scheduler/, unet/, vae/)
// from a directory or a Hugging Face hub id.
func Load(ctx context.Context, ref string, opt LoadOptions) (*Pipeline, error) {
	c := opt.Hub
	if c == nil {
		c = hub.NewClient()
	}
	dir, err := c.ModelDir(ctx, ref, requiredFiles, optionalFiles)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "model_index.json"))
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	var idx modelIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("pipeline: %s: %w", filepath.Join(dir, "model_index.json"), err)
	}
	switch idx.ClassName {
	case "StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "":
	default:
		return nil, fmt.Errorf("pipeline: %s: _class_name %q is not supported (want StableDiffusionPipeline: SD 1.x or 2.x)", filepath.Join(dir, "model_index.json"), idx.ClassName)
	}
	p := &Pipeline{}
	if p.Tokenizer, err = clipt.Load(filepath.Join(dir, "tokenizer")); err != nil {
		return nil, err
	}
	if p.Scheduler, err = scheduler.ReadConfig(filepath.Join(dir, "scheduler", "scheduler_config.json")); err != nil {
		return nil, err
	}
	if p.TextEncoder, err = clipm.Load(filepath.Join(dir, "text_encoder")); err != nil {
		return nil, err
	}
	if err := loadModels(p, dir); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// loadModels loads the UNet and the VAE.
func loadModels(p *Pipeline, dir string) error {
	return fmt.Errorf("pipeline: %s: %w", filepath.Join(dir, "unet"), ErrNoUNet)
}

// Close releases the mapped weights.
func (p *Pipeline) Close() error {
	var errs []error
	if p.TextEncoder != nil {
		errs = append(errs, p.TextEncoder.Close())
	}
	for _, m := range []any{p.UNet, p.Decoder, p.Encoder} {
		if c, ok := m.(interface{ Close() error }); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
