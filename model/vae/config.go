package vae

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Config is diffusers' AutoencoderKL configuration (vae/config.json).
// Missing fields take AutoencoderKL's defaults; fields this package does
// not use (force_upcast, sample_size, _diffusers_version) are ignored.
type Config struct {
	ClassName        string   `json:"_class_name"`
	InChannels       int      `json:"in_channels"`  // 3: RGB
	OutChannels      int      `json:"out_channels"` // 3
	DownBlockTypes   []string `json:"down_block_types"`
	UpBlockTypes     []string `json:"up_block_types"`
	BlockOutChannels []int    `json:"block_out_channels"` // SD: [128, 256, 512, 512]
	LayersPerBlock   int      `json:"layers_per_block"`   // SD: 2 (the decoder has one more)
	ActFn            string   `json:"act_fn"`             // "silu"
	LatentChannels   int      `json:"latent_channels"`    // 4
	NormNumGroups    int      `json:"norm_num_groups"`    // 32
	// ScalingFactor multiplies the latents the UNet sees: 0.18215 for SD
	// 1.x/2.x, 0.13025 for SDXL.
	ScalingFactor float64 `json:"scaling_factor"`
	// SampleSize is the image size the VAE was trained at (512 for SD
	// 1.x); DecodeTiled cuts latents into tiles of SampleSize/Factor().
	// A [height, width] list in the file counts by its first entry, as
	// diffusers reads it.
	SampleSize int `json:"-"`
	// ShiftFactor, when set, is subtracted before scaling (SD3, FLUX).
	ShiftFactor *float64 `json:"shift_factor"`
	// LatentsMean and LatentsStd (Playground v2.5) are read but not
	// supported: a config with them is an error in Validate.
	LatentsMean []float64 `json:"latents_mean"`
	LatentsStd  []float64 `json:"latents_std"`
	// UseQuantConv and UsePostQuantConv say whether the 1×1 convolutions
	// quant_conv and post_quant_conv exist (true by default).
	UseQuantConv         bool `json:"use_quant_conv"`
	UsePostQuantConv     bool `json:"use_post_quant_conv"`
	MidBlockAddAttention bool `json:"mid_block_add_attention"` // true by default
}

// DefaultConfig returns Stable Diffusion 1.x's VAE configuration
// (runwayml/stable-diffusion-v1-5's vae/config.json).
func DefaultConfig() Config {
	c := defaults()
	c.DownBlockTypes = []string{"DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"}
	c.UpBlockTypes = []string{"UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"}
	c.BlockOutChannels = []int{128, 256, 512, 512}
	c.LayersPerBlock = 2
	c.SampleSize = 512
	return c
}

// defaults are AutoencoderKL.__init__'s defaults.
func defaults() Config {
	return Config{
		InChannels: 3, OutChannels: 3,
		DownBlockTypes: []string{"DownEncoderBlock2D"}, UpBlockTypes: []string{"UpDecoderBlock2D"},
		BlockOutChannels: []int{64}, LayersPerBlock: 1, ActFn: "silu", LatentChannels: 4,
		NormNumGroups: 32, ScalingFactor: 0.18215, SampleSize: 32,
		UseQuantConv: true, UsePostQuantConv: true, MidBlockAddAttention: true,
	}
}

// ReadConfig reads and validates vae/config.json.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("vae: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("vae: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and validates config.json bytes.
func ParseConfig(b []byte) (Config, error) {
	c := defaults()
	c.DownBlockTypes, c.UpBlockTypes, c.BlockOutChannels = nil, nil, nil
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	var ss struct {
		SampleSize json.RawMessage `json:"sample_size"`
	}
	json.Unmarshal(b, &ss) // b is known to be a JSON object by now
	if len(ss.SampleSize) > 0 && string(ss.SampleSize) != "null" {
		var n int
		var list []int
		if json.Unmarshal(ss.SampleSize, &n) == nil {
			c.SampleSize = n
		} else if json.Unmarshal(ss.SampleSize, &list) == nil && len(list) > 0 {
			c.SampleSize = list[0]
		} else {
			return Config{}, fmt.Errorf("config.json: sample_size %s, want a size or [height, width]", ss.SampleSize)
		}
	}
	d := defaults()
	if c.DownBlockTypes == nil {
		c.DownBlockTypes = d.DownBlockTypes
	}
	if c.UpBlockTypes == nil {
		c.UpBlockTypes = d.UpBlockTypes
	}
	if c.BlockOutChannels == nil {
		c.BlockOutChannels = d.BlockOutChannels
	}
	return c, c.Validate()
}

// Factor is the ratio of pixels to latents along each side:
// 2^(len(block_out_channels)−1), 8 for Stable Diffusion.
func (c Config) Factor() int { return 1 << (len(c.BlockOutChannels) - 1) }

// Validate checks that the configuration describes a model this package
// runs, naming the field that does not.
func (c Config) Validate() error {
	switch c.ClassName {
	case "", "AutoencoderKL":
	default:
		return fmt.Errorf("config.json: _class_name %q, want AutoencoderKL", c.ClassName)
	}
	n := len(c.BlockOutChannels)
	if n < 1 || n > 8 {
		return fmt.Errorf("config.json: block_out_channels has %d entries, want 1 to 8", n)
	}
	for _, p := range []struct {
		name string
		v    int
	}{
		{"in_channels", c.InChannels}, {"out_channels", c.OutChannels}, {"layers_per_block", c.LayersPerBlock},
		{"latent_channels", c.LatentChannels}, {"norm_num_groups", c.NormNumGroups},
	} {
		if p.v <= 0 || p.v > 1<<12 {
			return fmt.Errorf("config.json: %s = %d, want a positive size up to %d", p.name, p.v, 1<<12)
		}
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 || ch > 1<<14 {
			return fmt.Errorf("config.json: block_out_channels[%d] = %d, want a positive size up to %d", i, ch, 1<<14)
		}
		if ch%c.NormNumGroups != 0 {
			return fmt.Errorf("config.json: block_out_channels[%d] = %d is not a multiple of norm_num_groups %d", i, ch, c.NormNumGroups)
		}
	}
	if len(c.DownBlockTypes) != n || len(c.UpBlockTypes) != n {
		return fmt.Errorf("config.json: %d down_block_types and %d up_block_types for %d block_out_channels, want as many of each", len(c.DownBlockTypes), len(c.UpBlockTypes), n)
	}
	for i, t := range c.DownBlockTypes {
		if t != "DownEncoderBlock2D" {
			return fmt.Errorf("config.json: down_block_types[%d] = %q, want DownEncoderBlock2D", i, t)
		}
	}
	for i, t := range c.UpBlockTypes {
		if t != "UpDecoderBlock2D" {
			return fmt.Errorf("config.json: up_block_types[%d] = %q, want UpDecoderBlock2D", i, t)
		}
	}
	switch c.ActFn {
	case "silu", "swish":
	default:
		return fmt.Errorf("config.json: act_fn %q, want silu", c.ActFn)
	}
	if !(c.ScalingFactor > 0) || math.IsInf(c.ScalingFactor, 0) {
		return fmt.Errorf("config.json: scaling_factor = %g, want > 0", c.ScalingFactor)
	}
	if c.ShiftFactor != nil && (math.IsNaN(*c.ShiftFactor) || math.IsInf(*c.ShiftFactor, 0)) {
		return fmt.Errorf("config.json: shift_factor = %g, want a finite number", *c.ShiftFactor)
	}
	if c.SampleSize < 1 || c.SampleSize > 1<<16 {
		return fmt.Errorf("config.json: sample_size = %d, want a positive size", c.SampleSize)
	}
	if c.LatentsMean != nil || c.LatentsStd != nil {
		return fmt.Errorf("config.json: latents_mean/latents_std (per-channel latent statistics) are not supported")
	}
	return nil
}
