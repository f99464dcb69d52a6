package unet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
)

// Config is diffusers' UNet2DConditionModel configuration (unet/config.json)
// as far as Stable Diffusion 1.x and 2.x use it. ParseConfig fills the
// per-block lists from scalars and checks that every other field of
// diffusers' signature holds the value these models use.
type Config struct {
	SampleSize          int      // sample_size: the latent size the model was trained at (64 for SD 1.x)
	InChannels          int      // in_channels (4)
	OutChannels         int      // out_channels (4)
	FlipSinToCos        bool     // flip_sin_to_cos: cos before sin in the timestep embedding
	FreqShift           float64  // freq_shift: downscale_freq_shift of the sinusoids
	DownBlockTypes      []string // CrossAttnDownBlock2D or DownBlock2D, one per level
	UpBlockTypes        []string // CrossAttnUpBlock2D or UpBlock2D, one per level
	BlockOutChannels    []int    // block_out_channels, one per level
	LayersPerBlock      []int    // layers_per_block: ResNet blocks per down level (up levels have one more)
	DownsamplePadding   int      // downsample_padding (1)
	MidBlockScaleFactor float64  // mid_block_scale_factor: the mid block's ResNet output_scale_factor
	NormNumGroups       int      // norm_num_groups (32)
	NormEps             float64  // norm_eps: the ResNet and output GroupNorm eps (1e-5)
	CrossAttentionDim   int      // cross_attention_dim: the text encoder's width (768, 1024)
	// Heads is the number of attention heads per level: diffusers reads
	// config.json's attention_head_dim as the number of heads (a naming
	// quirk it keeps for old configs): SD 1.x's 8, SD 2.x's [5, 10, 20, 20]
	// (64-wide heads at 320..1280 channels).
	Heads                     []int
	TransformerLayersPerBlock []int // transformer_layers_per_block: BasicTransformerBlocks per attention
	UseLinearProjection       bool  // use_linear_projection: proj_in/proj_out are nn.Linear (SD 2.x), else 1×1 convs
	UpcastAttention           bool  // upcast_attention: float32 attention in fp16 runs; loupe computes in float32 anyway
	MidBlockType              string
	ActFn                     string
	ResnetTimeScaleShift      string
	TimeEmbeddingType         string
}

// Levels returns the number of resolutions (len(block_out_channels)).
func (c Config) Levels() int { return len(c.BlockOutChannels) }

// TimeEmbedDim is the width of the timestep embedding: 4·block_out_channels[0].
func (c Config) TimeEmbedDim() int { return 4 * c.BlockOutChannels[0] }

// ReadConfig reads and checks unet/config.json.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("unet: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("unet: %s: %w", path, err)
	}
	return c, nil
}

// rawConfig holds config.json's fields as JSON, so that a field may be a
// number or a list (attention_head_dim, layers_per_block, ...).
type rawConfig map[string]json.RawMessage

// fixed lists diffusers' UNet2DConditionModel arguments that change the
// network of the blocks SD 1.x/2.x use, with the value those models give
// them, as JSON: anything else is an error naming the field. (Arguments
// that only other block types read, such as resnet_out_scale_factor or
// cross_attention_norm, and dropout, which inference ignores, are not
// checked.)
var fixed = []struct{ name, want string }{
	{"center_input_sample", "false"},
	{"dual_cross_attention", "false"},
	{"only_cross_attention", "false"},
	{"encoder_hid_dim", "null"},
	{"encoder_hid_dim_type", "null"},
	{"num_attention_heads", "null"},
	{"class_embed_type", "null"},
	{"addition_embed_type", "null"},
	{"addition_time_embed_dim", "null"},
	{"num_class_embeds", "null"},
	{"time_embedding_dim", "null"},
	{"time_embedding_act_fn", "null"},
	{"timestep_post_act", "null"},
	{"time_cond_proj_dim", "null"},
	{"conv_in_kernel", "3"},
	{"conv_out_kernel", "3"},
	{"projection_class_embeddings_input_dim", "null"},
	{"attention_type", `"default"`},
	{"class_embeddings_concat", "false"},
	{"reverse_transformer_layers_per_block", "null"},
}

// ParseConfig decodes config.json bytes. Missing fields take
// UNet2DConditionModel's defaults; fields diffusers does not know are
// ignored, as diffusers ignores them.
func ParseConfig(b []byte) (Config, error) {
	var raw rawConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	if raw == nil {
		return Config{}, fmt.Errorf("config.json: not a JSON object")
	}
	c := Config{
		SampleSize: 64, InChannels: 4, OutChannels: 4, FlipSinToCos: true,
		DownBlockTypes:       []string{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"},
		UpBlockTypes:         []string{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"},
		BlockOutChannels:     []int{320, 640, 1280, 1280},
		DownsamplePadding:    1,
		MidBlockScaleFactor:  1,
		NormNumGroups:        32,
		NormEps:              1e-5,
		CrossAttentionDim:    1280,
		MidBlockType:         "UNetMidBlock2DCrossAttn",
		ActFn:                "silu",
		ResnetTimeScaleShift: "default",
		TimeEmbeddingType:    "positional",
	}
	layers, heads, tlayers := []int{2}, []int{8}, []int{1}
	var err error
	get := func(name string, dst any) {
		if err != nil {
			return
		}
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return
		}
		if e := json.Unmarshal(v, dst); e != nil {
			err = fmt.Errorf("config.json: %s: %s is not a valid value (%v)", name, v, e)
		}
	}
	// intList reads a number or a list of numbers.
	intList := func(name string, dst *[]int) {
		if err != nil {
			return
		}
		v, ok := raw[name]
		if !ok || string(v) == "null" {
			return
		}
		var one float64
		if json.Unmarshal(v, &one) == nil {
			if one != math.Trunc(one) {
				err = fmt.Errorf("config.json: %s = %s, want an integer", name, v)
				return
			}
			*dst = []int{int(one)}
			return
		}
		var list []float64
		if e := json.Unmarshal(v, &list); e != nil {
			err = fmt.Errorf("config.json: %s: %s is not an integer or a list of integers", name, v)
			return
		}
		out := make([]int, len(list))
		for i, x := range list {
			if x != math.Trunc(x) {
				err = fmt.Errorf("config.json: %s[%d] = %v, want an integer", name, i, x)
				return
			}
			out[i] = int(x)
		}
		*dst = out
	}
	get("sample_size", &c.SampleSize)
	get("in_channels", &c.InChannels)
	get("out_channels", &c.OutChannels)
	get("flip_sin_to_cos", &c.FlipSinToCos)
	get("freq_shift", &c.FreqShift)
	get("down_block_types", &c.DownBlockTypes)
	get("up_block_types", &c.UpBlockTypes)
	get("mid_block_type", &c.MidBlockType)
	get("block_out_channels", &c.BlockOutChannels)
	intList("layers_per_block", &layers)
	get("downsample_padding", &c.DownsamplePadding)
	get("mid_block_scale_factor", &c.MidBlockScaleFactor)
	get("act_fn", &c.ActFn)
	get("norm_num_groups", &c.NormNumGroups)
	get("norm_eps", &c.NormEps)
	get("use_linear_projection", &c.UseLinearProjection)
	get("upcast_attention", &c.UpcastAttention)
	get("resnet_time_scale_shift", &c.ResnetTimeScaleShift)
	get("time_embedding_type", &c.TimeEmbeddingType)
	intList("attention_head_dim", &heads)
	intList("transformer_layers_per_block", &tlayers)
	if err != nil {
		return Config{}, err
	}
	if v, ok := raw["cross_attention_dim"]; ok {
		var list []int
		if json.Unmarshal(v, &list) == nil {
			return Config{}, fmt.Errorf("config.json: cross_attention_dim %s: a list is not supported, want one width", v)
		}
		get("cross_attention_dim", &c.CrossAttentionDim)
	}
	if v, ok := raw["norm_num_groups"]; ok && string(v) == "null" {
		return Config{}, fmt.Errorf("config.json: norm_num_groups null is not supported, want a number of groups")
	}
	if v, ok := raw["mid_block_type"]; ok && string(v) == "null" {
		return Config{}, fmt.Errorf("config.json: mid_block_type null (no mid block) is not supported, want UNetMidBlock2DCrossAttn")
	}
	if err != nil {
		return Config{}, err
	}
	for _, f := range fixed {
		v, ok := raw[f.name]
		if !ok {
			continue
		}
		if f.name == "only_cross_attention" && sameJSON(v, allFalse(n0(raw))) {
			continue // a per-block list of false
		}
		if !sameJSON(v, f.want) {
			return Config{}, fmt.Errorf("config.json: %s = %s is not supported (Stable Diffusion 1.x/2.x use %s)", f.name, v, f.want)
		}
	}
	n := len(c.BlockOutChannels)
	expand := func(name string, v []int) ([]int, error) {
		if len(v) == 1 {
			out := make([]int, n)
			for i := range out {
				out[i] = v[0]
			}
			return out, nil
		}
		if len(v) != n {
			return nil, fmt.Errorf("config.json: %s has %d values, want 1 or %d (one per block_out_channels)", name, len(v), n)
		}
		return v, nil
	}
	if c.LayersPerBlock, err = expand("layers_per_block", layers); err != nil {
		return Config{}, err
	}
	if c.Heads, err = expand("attention_head_dim", heads); err != nil {
		return Config{}, err
	}
	if c.TransformerLayersPerBlock, err = expand("transformer_layers_per_block", tlayers); err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// n0 is the number of down blocks config.json lists (0 if unreadable).
func n0(raw rawConfig) int {
	var types []string
	json.Unmarshal(raw["down_block_types"], &types)
	return len(types)
}

// allFalse is a JSON list of n false values.
func allFalse(n int) string {
	b, _ := json.Marshal(make([]bool, n))
	return string(b)
}

// sameJSON reports whether the JSON value v equals want (numbers compared
// as numbers, so 1 and 1.0 agree).
func sameJSON(v json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(v, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// Validate checks that the configuration describes a UNet this package runs.
func (c Config) Validate() error {
	n := len(c.BlockOutChannels)
	if n < 1 || n > 8 {
		return fmt.Errorf("config.json: block_out_channels has %d levels, want 1..8", n)
	}
	if len(c.DownBlockTypes) != n {
		return fmt.Errorf("config.json: down_block_types has %d blocks, block_out_channels %d", len(c.DownBlockTypes), n)
	}
	if len(c.UpBlockTypes) != n {
		return fmt.Errorf("config.json: up_block_types has %d blocks, block_out_channels %d", len(c.UpBlockTypes), n)
	}
	pos := func(name string, v int) error {
		if v <= 0 || v > 1<<16 {
			return fmt.Errorf("config.json: %s = %d, want a positive size", name, v)
		}
		return nil
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"in_channels", c.InChannels}, {"out_channels", c.OutChannels}, {"norm_num_groups", c.NormNumGroups},
		{"cross_attention_dim", c.CrossAttentionDim}, {"sample_size", c.SampleSize}} {
		if err := pos(p.name, p.v); err != nil {
			return err
		}
	}
	for i := range n {
		ch := c.BlockOutChannels[i]
		if err := pos(fmt.Sprintf("block_out_channels[%d]", i), ch); err != nil {
			return err
		}
		if ch%c.NormNumGroups != 0 {
			return fmt.Errorf("config.json: block_out_channels[%d] = %d is not a multiple of norm_num_groups %d", i, ch, c.NormNumGroups)
		}
		if c.LayersPerBlock[i] < 1 || c.LayersPerBlock[i] > 64 {
			return fmt.Errorf("config.json: layers_per_block[%d] = %d, want 1..64", i, c.LayersPerBlock[i])
		}
		if c.TransformerLayersPerBlock[i] < 1 || c.TransformerLayersPerBlock[i] > 64 {
			return fmt.Errorf("config.json: transformer_layers_per_block[%d] = %d, want 1..64", i, c.TransformerLayersPerBlock[i])
		}
		if h := c.Heads[i]; h < 1 || ch%h != 0 {
			return fmt.Errorf("config.json: attention_head_dim[%d] = %d heads does not divide block_out_channels[%d] = %d", i, h, i, ch)
		}
		switch c.DownBlockTypes[i] {
		case "CrossAttnDownBlock2D", "DownBlock2D":
		default:
			return fmt.Errorf("config.json: down_block_types[%d] %q is not supported, want CrossAttnDownBlock2D or DownBlock2D", i, c.DownBlockTypes[i])
		}
		switch c.UpBlockTypes[i] {
		case "CrossAttnUpBlock2D", "UpBlock2D":
		default:
			return fmt.Errorf("config.json: up_block_types[%d] %q is not supported, want CrossAttnUpBlock2D or UpBlock2D", i, c.UpBlockTypes[i])
		}
	}
	if c.MidBlockType != "UNetMidBlock2DCrossAttn" {
		return fmt.Errorf("config.json: mid_block_type %q is not supported, want UNetMidBlock2DCrossAttn", c.MidBlockType)
	}
	switch c.ActFn {
	case "silu", "swish":
	default:
		return fmt.Errorf("config.json: act_fn %q is not supported, want silu", c.ActFn)
	}
	if c.ResnetTimeScaleShift != "default" {
		return fmt.Errorf("config.json: resnet_time_scale_shift %q is not supported, want default", c.ResnetTimeScaleShift)
	}
	if c.TimeEmbeddingType != "positional" {
		return fmt.Errorf("config.json: time_embedding_type %q is not supported, want positional", c.TimeEmbeddingType)
	}
	if c.BlockOutChannels[0]%2 != 0 {
		return fmt.Errorf("config.json: block_out_channels[0] = %d, want an even width for the sinusoidal timestep embedding", c.BlockOutChannels[0])
	}
	if !(c.NormEps > 0) {
		return fmt.Errorf("config.json: norm_eps = %g, want > 0", c.NormEps)
	}
	if !(c.MidBlockScaleFactor > 0) || math.IsInf(c.MidBlockScaleFactor, 0) {
		return fmt.Errorf("config.json: mid_block_scale_factor = %g, want > 0", c.MidBlockScaleFactor)
	}
	if math.IsNaN(c.FreqShift) || math.IsInf(c.FreqShift, 0) || c.FreqShift == float64(c.BlockOutChannels[0]/2) {
		return fmt.Errorf("config.json: freq_shift = %g, want a finite value other than %d", c.FreqShift, c.BlockOutChannels[0]/2)
	}
	if c.DownsamplePadding != 1 {
		return fmt.Errorf("config.json: downsample_padding = %d is not supported, want 1", c.DownsamplePadding)
	}
	return nil
}
