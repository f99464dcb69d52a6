package sdfiles

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// unetGeometry is what the UNet's tensor names and shapes say about its
// configuration.
type unetGeometry struct {
	levels, layers int // down levels; resnets per down block (layers_per_block)
}

// UNet returns the UNet's tensors under diffusers' UNet2DConditionModel
// names and its unet/config.json, as diffusers' convert_ldm_unet_checkpoint
// renames them for the geometry the file has: time_embed.0/2 →
// time_embedding.linear_1/2, input_blocks.0.0 → conv_in,
// input_blocks.I.0 → down_blocks.B.resnets.J (in_layers.0/2 →
// norm1/conv1, emb_layers.1 → time_emb_proj, out_layers.0/3 →
// norm2/conv2, skip_connection → conv_shortcut), input_blocks.I.0.op →
// down_blocks.B.downsamplers.0.conv, input_blocks.I.1 →
// down_blocks.B.attentions.J (the transformer's own names are diffusers'),
// with B = (I−1) / (layers+1), J = (I−1) mod (layers+1);
// middle_block.0/1/2 → mid_block.resnets.0/attentions.0/resnets.1;
// output_blocks.I.0 → up_blocks.B.resnets.J, output_blocks.I.1 →
// attentions.J or (an upsampler) upsamplers.0, output_blocks.I.2.conv →
// upsamplers.0.conv, with B = I / (layers+1), J = I mod (layers+1);
// out.0/2 → conv_norm_out/conv_out.
//
// The configuration is SD 1.5's (or SD 2.1's for a v2 file:
// use_linear_projection, head dimension 64) with the geometry read from
// the shapes: in/out channels, block_out_channels, layers_per_block, which
// blocks have attention, cross_attention_dim and transformer depth.
func (f *SingleFile) UNet() (*Source, []byte, error) {
	if f.Version == "vae" {
		return nil, nil, fmt.Errorf("sdfiles: %s holds a VAE alone, no UNet", f.path)
	}
	keys := f.keysUnder(UNetPrefix)
	g, err := f.unetGeometry(keys)
	if err != nil {
		return nil, nil, fmt.Errorf("sdfiles: %s: %w", f.path, err)
	}
	m := map[string]entry{}
	for _, k := range keys {
		d, err := unetName(k, g.layers)
		if err != nil {
			return nil, nil, fmt.Errorf("sdfiles: %s: %s%s: %w", f.path, UNetPrefix, k, err)
		}
		sh, _ := f.shape(UNetPrefix + k)
		if prev, dup := m[d]; dup {
			return nil, nil, fmt.Errorf("sdfiles: %s: %s%s and %s both map to %s", f.path, UNetPrefix, k, prev.src, d)
		}
		m[d] = entry{src: UNetPrefix + k, shape: slices.Clone(sh)}
	}
	cfg, err := f.unetConfig(m, g)
	if err != nil {
		return nil, nil, fmt.Errorf("sdfiles: %s: %w", f.path, err)
	}
	return newSource(f.c, m), cfg, nil
}

// unetGeometry counts the down levels (downsampling ops + 1) and the
// resnets per level from the input_blocks indices, as the converter does.
func (f *SingleFile) unetGeometry(keys []string) (unetGeometry, error) {
	blocks := map[int]bool{}
	ops := 0
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, "input_blocks.")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(rest[:strings.IndexByte(rest+".", '.')])
		if err != nil {
			return unetGeometry{}, fmt.Errorf("UNet: tensor %s%s: bad block index", UNetPrefix, k)
		}
		blocks[i] = true
		if strings.HasSuffix(k, ".0.op.weight") {
			ops++
		}
	}
	n := len(blocks) // input_blocks 0 … n−1
	levels := ops + 1
	// n = 1 + levels·layers + (levels−1)
	if n < 2 || (n-levels)%levels != 0 {
		return unetGeometry{}, fmt.Errorf("UNet: %d input_blocks and %d downsamplers do not make whole levels", n, ops)
	}
	for i := range n {
		if !blocks[i] {
			return unetGeometry{}, fmt.Errorf("UNet: input_blocks.%d is missing", i)
		}
	}
	return unetGeometry{levels: levels, layers: (n - levels) / levels}, nil
}

var unetTop = map[string]string{
	"time_embed.0":     "time_embedding.linear_1",
	"time_embed.2":     "time_embedding.linear_2",
	"input_blocks.0.0": "conv_in",
	"out.0":            "conv_norm_out",
	"out.2":            "conv_out",
}

var unetResnet = strings.NewReplacer(
	"in_layers.0.", "norm1.", "in_layers.2.", "conv1.",
	"out_layers.0.", "norm2.", "out_layers.3.", "conv2.",
	"emb_layers.1.", "time_emb_proj.", "skip_connection.", "conv_shortcut.",
)

// unetName maps one LDM UNet key (without its prefix) to diffusers' name.
func unetName(k string, layers int) (string, error) {
	p := strings.Split(k, ".")
	if len(p) < 3 {
		return "", fmt.Errorf("unknown UNet tensor")
	}
	if d, ok := unetTop[p[0]+"."+p[1]]; ok && len(p) == 3 {
		return d + "." + p[2], nil
	}
	if d, ok := unetTop[p[0]+"."+p[1]+"."+p[2]]; ok && len(p) == 4 {
		return d + "." + p[3], nil
	}
	idx := func(s string) int {
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 {
			return -1
		}
		return i
	}
	per := layers + 1
	switch p[0] {
	case "input_blocks":
		i := idx(p[1])
		if i < 1 || len(p) < 4 {
			break
		}
		b, j := (i-1)/per, (i-1)%per
		rest := strings.Join(p[3:], ".")
		switch {
		case p[2] == "0" && p[3] == "op" && len(p) == 5:
			return "down_blocks." + strconv.Itoa(b) + ".downsamplers.0.conv." + p[4], nil
		case p[2] == "0":
			return "down_blocks." + strconv.Itoa(b) + ".resnets." + strconv.Itoa(j) + "." + unetResnet.Replace(rest), nil
		case p[2] == "1":
			return "down_blocks." + strconv.Itoa(b) + ".attentions." + strconv.Itoa(j) + "." + rest, nil
		}
	case "middle_block":
		rest := strings.Join(p[2:], ".")
		switch p[1] {
		case "0":
			return "mid_block.resnets.0." + unetResnet.Replace(rest), nil
		case "1":
			return "mid_block.attentions.0." + rest, nil
		case "2":
			return "mid_block.resnets.1." + unetResnet.Replace(rest), nil
		}
	case "output_blocks":
		i := idx(p[1])
		if i < 0 || len(p) < 4 {
			break
		}
		b, j := i/per, i%per
		rest := strings.Join(p[3:], ".")
		up := "up_blocks." + strconv.Itoa(b) + "."
		switch {
		case p[2] == "0":
			return up + "resnets." + strconv.Itoa(j) + "." + unetResnet.Replace(rest), nil
		case (p[2] == "1" || p[2] == "2") && p[3] == "conv" && len(p) == 5:
			return up + "upsamplers.0.conv." + p[4], nil
		case p[2] == "1":
			return up + "attentions." + strconv.Itoa(j) + "." + rest, nil
		}
	}
	return "", fmt.Errorf("unknown UNet tensor")
}

// unetConfig builds unet/config.json from the renamed tensors' shapes.
func (f *SingleFile) unetConfig(m map[string]entry, g unetGeometry) ([]byte, error) {
	get := func(name string, dims int) ([]int, error) {
		e, ok := m[name]
		if !ok || len(e.shape) != dims {
			return nil, fmt.Errorf("UNet: tensor %s missing or not %d-D", name, dims)
		}
		return e.shape, nil
	}
	in, err := get("conv_in.weight", 4)
	if err != nil {
		return nil, err
	}
	out, err := get("conv_out.weight", 4)
	if err != nil {
		return nil, err
	}
	var boc []int
	var down, up []string
	cross, depth := 0, 0
	linear := false
	for b := range g.levels {
		s, err := get("down_blocks."+strconv.Itoa(b)+".resnets.0.conv1.weight", 4)
		if err != nil {
			return nil, err
		}
		boc = append(boc, s[0])
		a := "down_blocks." + strconv.Itoa(b) + ".attentions.0."
		if _, ok := m[a+"proj_in.weight"]; ok {
			down = append(down, "CrossAttnDownBlock2D")
			k, err := get(a+"transformer_blocks.0.attn2.to_k.weight", 2)
			if err != nil {
				return nil, err
			}
			cross = k[1]
			linear = len(m[a+"proj_in.weight"].shape) == 2
			for depth = 0; ; depth++ {
				if _, ok := m[a+"transformer_blocks."+strconv.Itoa(depth)+".attn1.to_q.weight"]; !ok {
					break
				}
			}
		} else {
			down = append(down, "DownBlock2D")
		}
		if _, ok := m["up_blocks."+strconv.Itoa(b)+".attentions.0.proj_in.weight"]; ok {
			up = append(up, "CrossAttnUpBlock2D")
		} else {
			up = append(up, "UpBlock2D")
		}
	}
	if cross == 0 {
		return nil, fmt.Errorf("UNet: no cross-attention (down_blocks.*.attentions.0.transformer_blocks.0.attn2.to_k.weight)")
	}
	temb, err := get("time_embedding.linear_1.weight", 2)
	if err != nil {
		return nil, err
	}
	if temb[0] != 4*boc[0] {
		return nil, fmt.Errorf("UNet: time_embedding.linear_1.weight is %v, want [%d, %d]", temb, 4*boc[0], boc[0])
	}
	cfg := map[string]any{
		"_class_name":            "UNet2DConditionModel",
		"act_fn":                 "silu",
		"attention_head_dim":     8,
		"block_out_channels":     boc,
		"center_input_sample":    false,
		"cross_attention_dim":    cross,
		"down_block_types":       down,
		"downsample_padding":     1,
		"flip_sin_to_cos":        true,
		"freq_shift":             0,
		"in_channels":            in[1],
		"layers_per_block":       g.layers,
		"mid_block_scale_factor": 1,
		"norm_eps":               1e-5,
		"norm_num_groups":        32,
		"out_channels":           out[0],
		"sample_size":            64,
		"up_block_types":         up,
		"use_linear_projection":  linear,
	}
	if depth > 1 {
		cfg["transformer_layers_per_block"] = depth
	}
	if f.Version == "v2" {
		// SD 2.x: num_head_channels 64, so attention_head_dim lists each
		// level's head count (diffusers' misnamed field), as in
		// stabilityai/stable-diffusion-2-1's unet/config.json.
		heads := make([]int, len(boc))
		for i, c := range boc {
			heads[i] = max(1, c/64)
		}
		cfg["attention_head_dim"] = heads
		cfg["sample_size"] = 96
	}
	return json.MarshalIndent(cfg, "", "  ")
}
