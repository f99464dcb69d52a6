package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/loupe-ml/loupe/diffusion/scheduler"
	"github.com/loupe-ml/loupe/diffusion/sdfiles"
	"github.com/loupe-ml/loupe/hub"
	clipm "github.com/loupe-ml/loupe/model/clip"
	"github.com/loupe-ml/loupe/model/vae"
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
	// Variant picks weights files named with it ("fp16", "bf16"), as
	// diffusers' variant= does; components without them use their plain
	// files. 16-bit weights are computed in float32.
	Variant string
}

// Load opens a Stable Diffusion 1.x or 2.x pipeline in diffusers' layout
// (model_index.json, tokenizer/, text_encoder/, scheduler/, unet/, vae/)
// from a directory or a Hugging Face hub id (package diffusion/sdfiles
// finds and fetches the files).
func Load(ctx context.Context, ref string, opt LoadOptions) (*Pipeline, error) {
	files, err := sdfiles.Open(ctx, ref, sdfiles.Options{Variant: opt.Variant, Client: opt.Hub})
	if err != nil {
		return nil, err
	}
	p := &Pipeline{}
	if p.Tokenizer, err = clipt.Load(files.ComponentDir("tokenizer")); err != nil {
		return nil, err
	}
	if p.Scheduler, err = scheduler.ReadConfig(filepath.Join(files.ComponentDir("scheduler"), "scheduler_config.json")); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			p.Close()
		}
	}()
	if p.TextEncoder, err = clipm.Load(files.ComponentDir("text_encoder")); err != nil {
		return nil, err
	}
	if err := loadUNet(p, files.ComponentDir("unet")); err != nil {
		return nil, err
	}
	v, err := vae.Load(files.ComponentDir("vae"), opt.Variant)
	if err != nil {
		return nil, err
	}
	p.Decoder, p.Encoder = VAE{v}, VAE{v}
	vc := v.Config
	p.LatentChannels, p.ScaleFactor, p.ScalingFactor = vc.LatentChannels, vc.Factor(), float32(vc.ScalingFactor)
	sample, in, out := unetShape(p.UNet)
	p.DefaultSize = sample * p.ScaleFactor
	switch {
	case in != vc.LatentChannels || out != vc.LatentChannels:
		return nil, fmt.Errorf("pipeline: %s: unet in/out channels %d/%d differ from the VAE's latent_channels %d", files.Dir, in, out, vc.LatentChannels)
	case p.TextEncoder.Config.VocabSize < p.Tokenizer.VocabSize():
		return nil, fmt.Errorf("pipeline: %s: the tokenizer has %d tokens, the text encoder's vocab_size is %d", files.Dir, p.Tokenizer.VocabSize(), p.TextEncoder.Config.VocabSize)
	}
	ok = true
	return p, nil
}

// Close releases the mapped weights.
func (p *Pipeline) Close() error {
	var errs []error
	if p.TextEncoder != nil {
		errs = append(errs, p.TextEncoder.Close())
	}
	seen := map[any]bool{}
	for _, m := range []any{p.UNet, p.Decoder, p.Encoder} {
		if c, ok := m.(interface{ Close() error }); ok && !seen[m] {
			seen[m] = true
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
