package sdfiles_test

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/diffusion/sdfiles"
	"github.com/loupe-ml/loupe/model/clip"
	"github.com/loupe-ml/loupe/model/vae"
	"github.com/loupe-ml/loupe/safetensors"
)

// tensors is a diffusers-named state dict in memory; it is a Source for
// the models.
type tensors struct {
	shapes map[string][]int
	values map[string][]float32
}

func newTensors() tensors {
	return tensors{shapes: map[string][]int{}, values: map[string][]float32{}}
}

func (s tensors) Shape(name string) ([]int, bool)        { sh, ok := s.shapes[name]; return sh, ok }
func (s tensors) Float32(name string) ([]float32, error) { return s.values[name], nil }
func (s tensors) Names() []string {
	var n []string
	for k := range s.shapes {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

func (s tensors) add(g *noise.Generator, name string, scale float32, gain bool, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	x := g.Randn(n)
	for i := range x {
		x[i] *= scale
		if gain {
			x[i]++
		}
	}
	s.shapes[name], s.values[name] = shape, x
}

// rounded returns the tensors rounded to dtype's precision.
func (s tensors) rounded(dtype string) tensors {
	r := newTensors()
	for n, v := range s.values {
		c := slices.Clone(v)
		for i, x := range c {
			switch dtype {
			case "F16":
				c[i] = safetensors.HalfToFloat32(safetensors.Float32ToHalf(x))
			case "BF16":
				c[i] = safetensors.BFloat16ToFloat32(safetensors.Float32ToBFloat16(x))
			}
		}
		r.shapes[n], r.values[n] = s.shapes[n], c
	}
	return r
}

// ---------------------------------------------------------------------------
// Backward renaming, diffusers → CompVis, written from diffusers'
// DIFFUSERS_TO_LDM_MAPPING and the loops of convert_ldm_vae_checkpoint,
// convert_ldm_unet_checkpoint and convert_open_clip_checkpoint, run in
// reverse. It is deliberately table-driven where sdfiles parses, so that
// the two are not the same code.

// ldmVAE returns the CompVis name and shape of a diffusers VAE tensor;
// nUp is the number of up blocks.
func ldmVAE(name string, shape []int, nUp int) (string, []int) {
	r := strings.NewReplacer(
		"encoder.conv_norm_out.", "encoder.norm_out.", "decoder.conv_norm_out.", "decoder.norm_out.",
		"mid_block.resnets.0.", "mid.block_1.", "mid_block.resnets.1.", "mid.block_2.",
		"mid_block.attentions.0.group_norm.", "mid.attn_1.norm.",
		"mid_block.attentions.0.to_q.", "mid.attn_1.q.", "mid_block.attentions.0.to_k.", "mid.attn_1.k.",
		"mid_block.attentions.0.to_v.", "mid.attn_1.v.", "mid_block.attentions.0.to_out.0.", "mid.attn_1.proj_out.",
		"conv_shortcut", "nin_shortcut", ".downsamplers.0.", ".downsample.", ".upsamplers.0.", ".upsample.",
		".resnets.", ".block.",
	)
	out := r.Replace(name)
	if strings.HasPrefix(out, "encoder.down_blocks.") {
		out = "encoder.down." + strings.TrimPrefix(out, "encoder.down_blocks.")
	}
	if rest, ok := strings.CutPrefix(out, "decoder.up_blocks."); ok {
		i, _ := strconv.Atoi(rest[:strings.IndexByte(rest, '.')])
		out = "decoder.up." + strconv.Itoa(nUp-1-i) + rest[strings.IndexByte(rest, '.'):]
	}
	if strings.Contains(out, "mid.attn_1.") && !strings.Contains(out, ".norm.") && len(shape) == 2 {
		shape = []int{shape[0], shape[1], 1, 1}
	}
	return "first_stage_model." + out, shape
}

// unetGeom describes the tiny UNet of the test.
type unetGeom struct {
	boc        []int
	layers     int
	attnDown   []bool // CrossAttnDownBlock2D per level
	attnUp     []bool // CrossAttnUpBlock2D per up block
	cross, in  int
	linearProj bool
}

// ldmUNet returns the CompVis name of a diffusers UNet tensor.
func ldmUNet(name string, g unetGeom) string {
	per := g.layers + 1
	top := map[string]string{
		"time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
		"conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
	}
	resnet := strings.NewReplacer("norm1.", "in_layers.0.", "conv1.", "in_layers.2.", "norm2.", "out_layers.0.",
		"conv2.", "out_layers.3.", "time_emb_proj.", "emb_layers.1.", "conv_shortcut.", "skip_connection.")
	p := strings.Split(name, ".")
	if t, ok := top[strings.Join(p[:len(p)-1], ".")]; ok {
		return "model.diffusion_model." + t + "." + p[len(p)-1]
	}
	var out string
	switch p[0] {
	case "down_blocks":
		b, _ := strconv.Atoi(p[1])
		switch p[2] {
		case "resnets", "attentions":
			j, _ := strconv.Atoi(p[3])
			sub := "0"
			rest := strings.Join(p[4:], ".")
			if p[2] == "attentions" {
				sub = "1"
			} else {
				rest = resnet.Replace(rest)
			}
			out = fmt.Sprintf("input_blocks.%d.%s.%s", 1+b*per+j, sub, rest)
		case "downsamplers":
			out = fmt.Sprintf("input_blocks.%d.0.op.%s", 1+b*per+g.layers, p[5])
		}
	case "mid_block":
		rest := strings.Join(p[3:], ".")
		switch p[1] + p[2] {
		case "resnets0":
			out = "middle_block.0." + resnet.Replace(rest)
		case "attentions0":
			out = "middle_block.1." + rest
		case "resnets1":
			out = "middle_block.2." + resnet.Replace(rest)
		}
	case "up_blocks":
		b, _ := strconv.Atoi(p[1])
		switch p[2] {
		case "resnets":
			j, _ := strconv.Atoi(p[3])
			out = fmt.Sprintf("output_blocks.%d.0.%s", b*per+j, resnet.Replace(strings.Join(p[4:], ".")))
		case "attentions":
			j, _ := strconv.Atoi(p[3])
			out = fmt.Sprintf("output_blocks.%d.1.%s", b*per+j, strings.Join(p[4:], "."))
		case "upsamplers":
			sub := 1
			if g.attnUp[b] {
				sub = 2
			}
			out = fmt.Sprintf("output_blocks.%d.%d.conv.%s", b*per+g.layers, sub, p[5])
		}
	}
	if out == "" {
		panic("test: no CompVis name for " + name)
	}
	return "model.diffusion_model." + out
}

// diffusersUNet draws a UNet2DConditionModel state dict for g.
func diffusersUNet(gen *noise.Generator, g unetGeom) tensors {
	s := newTensors()
	c0 := g.boc[0]
	T := 4 * c0
	conv := func(p string, in, out, k int) {
		s.add(gen, p+".weight", 0.1, false, out, in, k, k)
		s.add(gen, p+".bias", 0.02, false, out)
	}
	norm := func(p string, c int) {
		s.add(gen, p+".weight", 0.1, true, c)
		s.add(gen, p+".bias", 0.1, false, c)
	}
	lin := func(p string, in, out int, bias bool) {
		s.add(gen, p+".weight", 0.1, false, out, in)
		if bias {
			s.add(gen, p+".bias", 0.02, false, out)
		}
	}
	resnet := func(p string, in, out int) {
		norm(p+".norm1", in)
		conv(p+".conv1", in, out, 3)
		lin(p+".time_emb_proj", T, out, true)
		norm(p+".norm2", out)
		conv(p+".conv2", out, out, 3)
		if in != out {
			conv(p+".conv_shortcut", in, out, 1)
		}
	}
	attn := func(p string, c int) {
		norm(p+".norm", c)
		if g.linearProj {
			lin(p+".proj_in", c, c, true)
			lin(p+".proj_out", c, c, true)
		} else {
			conv(p+".proj_in", c, c, 1)
			conv(p+".proj_out", c, c, 1)
		}
		t := p + ".transformer_blocks.0."
		for _, n := range []string{"norm1", "norm2", "norm3"} {
			norm(t+n, c) // LayerNorms: same parameter shapes
		}
		for _, a := range []string{"attn1", "attn2"} {
			kv := c
			if a == "attn2" {
				kv = g.cross
			}
			lin(t+a+".to_q", c, c, false)
			lin(t+a+".to_k", kv, c, false)
			lin(t+a+".to_v", kv, c, false)
			lin(t+a+".to_out.0", c, c, true)
		}
		lin(t+"ff.net.0.proj", c, 8*c, true)
		lin(t+"ff.net.2", 4*c, c, true)
	}
	conv("conv_in", g.in, c0, 3)
	lin("time_embedding.linear_1", c0, T, true)
	lin("time_embedding.linear_2", T, T, true)
	skips := []int{c0}
	out := c0
	for b, c := range g.boc {
		for j := range g.layers {
			in := out
			out = c
			resnet(fmt.Sprintf("down_blocks.%d.resnets.%d", b, j), in, out)
			if g.attnDown[b] {
				attn(fmt.Sprintf("down_blocks.%d.attentions.%d", b, j), out)
			}
			skips = append(skips, out)
		}
		if b != len(g.boc)-1 {
			conv(fmt.Sprintf("down_blocks.%d.downsamplers.0.conv", b), out, out, 3)
			skips = append(skips, out)
		}
	}
	top := g.boc[len(g.boc)-1]
	resnet("mid_block.resnets.0", top, top)
	attn("mid_block.attentions.0", top)
	resnet("mid_block.resnets.1", top, top)
	for b := range g.boc {
		c := g.boc[len(g.boc)-1-b]
		for j := range g.layers + 1 {
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			resnet(fmt.Sprintf("up_blocks.%d.resnets.%d", b, j), out+skip, c)
			out = c
			if g.attnUp[b] {
				attn(fmt.Sprintf("up_blocks.%d.attentions.%d", b, j), c)
			}
		}
		if b != len(g.boc)-1 {
			conv(fmt.Sprintf("up_blocks.%d.upsamplers.0.conv", b), c, c, 3)
		}
	}
	norm("conv_norm_out", c0)
	conv("conv_out", c0, g.in, 3)
	return s
}

// diffusersCLIP draws a tiny CLIPTextModel state dict.
func diffusersCLIP(gen *noise.Generator, layers, H, I, V int) tensors {
	s := newTensors()
	s.add(gen, "text_model.embeddings.token_embedding.weight", 1, false, V, H)
	s.add(gen, "text_model.embeddings.position_embedding.weight", 0.5, false, 77, H)
	for i := range layers {
		p := fmt.Sprintf("text_model.encoder.layers.%d.", i)
		for _, m := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
			s.add(gen, p+"self_attn."+m+".weight", 0.1, false, H, H)
			s.add(gen, p+"self_attn."+m+".bias", 0.02, false, H)
		}
		for _, ln := range []string{"layer_norm1", "layer_norm2"} {
			s.add(gen, p+ln+".weight", 0.1, true, H)
			s.add(gen, p+ln+".bias", 0.1, false, H)
		}
		s.add(gen, p+"mlp.fc1.weight", 0.1, false, I, H)
		s.add(gen, p+"mlp.fc1.bias", 0.02, false, I)
		s.add(gen, p+"mlp.fc2.weight", 0.1, false, H, I)
		s.add(gen, p+"mlp.fc2.bias", 0.02, false, H)
	}
	s.add(gen, "text_model.final_layer_norm.weight", 0.1, true, H)
	s.add(gen, "text_model.final_layer_norm.bias", 0.1, false, H)
	return s
}

// openCLIPTensors renames a CLIPTextModel state dict to SD 2.x's OpenCLIP
// names (cond_stage_model.model.*), fusing q, k, v into in_proj.
func openCLIPTensors(s tensors, layers, H int) []safetensors.Tensor {
	p := "cond_stage_model.model."
	ts := []safetensors.Tensor{
		{Name: p + "token_embedding.weight", Shape: s.shapes["text_model.embeddings.token_embedding.weight"], Data: s.values["text_model.embeddings.token_embedding.weight"]},
		{Name: p + "positional_embedding", Shape: s.shapes["text_model.embeddings.position_embedding.weight"], Data: s.values["text_model.embeddings.position_embedding.weight"]},
		{Name: p + "ln_final.weight", Shape: []int{H}, Data: s.values["text_model.final_layer_norm.weight"]},
		{Name: p + "ln_final.bias", Shape: []int{H}, Data: s.values["text_model.final_layer_norm.bias"]},
		{Name: p + "text_projection", Shape: []int{H, H}, Data: make([]float32, H*H)},
		{Name: p + "logit_scale", Shape: []int{}, Data: []float32{1}},
	}
	r := map[string]string{
		"layer_norm1.weight": "ln_1.weight", "layer_norm1.bias": "ln_1.bias", "layer_norm2.weight": "ln_2.weight", "layer_norm2.bias": "ln_2.bias",
		"mlp.fc1.weight": "mlp.c_fc.weight", "mlp.fc1.bias": "mlp.c_fc.bias", "mlp.fc2.weight": "mlp.c_proj.weight", "mlp.fc2.bias": "mlp.c_proj.bias",
		"self_attn.out_proj.weight": "attn.out_proj.weight", "self_attn.out_proj.bias": "attn.out_proj.bias",
	}
	for i := range layers {
		d := fmt.Sprintf("text_model.encoder.layers.%d.", i)
		o := fmt.Sprintf("%stransformer.resblocks.%d.", p, i)
		for dn, on := range r {
			ts = append(ts, safetensors.Tensor{Name: o + on, Shape: s.shapes[d+dn], Data: s.values[d+dn]})
		}
		for _, kind := range []string{"weight", "bias"} {
			var fused []float32
			for _, m := range []string{"q_proj", "k_proj", "v_proj"} {
				fused = append(fused, s.values[d+"self_attn."+m+"."+kind]...)
			}
			shape := []int{3 * H, H}
			if kind == "bias" {
				shape = []int{3 * H}
			}
			ts = append(ts, safetensors.Tensor{Name: o + "attn.in_proj_" + kind, Shape: shape, Data: fused})
		}
	}
	return ts
}

// vaeCase reads model/vae's reference model "tiny3" (block_out_channels
// [32, 32, 64], 2 layers, 32 groups: SD's group count, which a single file
// cannot tell): its config, its weights drawn as model/vae's test draws
// them, and the PyTorch outputs.
func vaeCase(t *testing.T) (vae.Config, tensors, *safetensors.File) {
	t.Helper()
	f, err := safetensors.Open(filepath.Join("..", "..", "model", "vae", "testdata", "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	md := f.Metadata()
	cfg, err := vae.ParseConfig([]byte(md["tiny3.config"]))
	if err != nil {
		t.Fatal(err)
	}
	var spec [][4]any
	var seeds []uint64
	if err := json.Unmarshal([]byte(md["tiny3.spec"]), &spec); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(md["tiny3.seeds"]), &seeds); err != nil {
		t.Fatal(err)
	}
	g := noise.NewGenerator(seeds[0])
	s := newTensors()
	for _, e := range spec {
		var shape []int
		for _, d := range e[1].([]any) {
			shape = append(shape, int(d.(float64)))
		}
		s.add(g, e[0].(string), float32(e[3].(float64)), e[2] == "g", shape...)
	}
	return cfg, s, f
}

var tinyUNet = unetGeom{
	boc: []int{32, 64}, layers: 1, attnDown: []bool{true, false}, attnUp: []bool{false, true},
	cross: 16, in: 4,
}

// writeSingleFile writes a CompVis-style single file holding the VAE, a
// text encoder (SD 1.x CLIP, or with v2 OpenCLIP of clipLayers+1 layers)
// and the UNet, in dtype, plus the extras real files carry.
func writeSingleFile(t *testing.T, dtype string, v2 bool, vw, cw, uw tensors, g unetGeom) string {
	t.Helper()
	var ts []safetensors.Tensor
	nUp := 0
	for _, n := range vw.Names() {
		if strings.HasPrefix(n, "decoder.up_blocks.") && strings.HasSuffix(n, ".resnets.0.conv1.weight") {
			nUp++
		}
	}
	for _, n := range vw.Names() {
		name, shape := ldmVAE(n, vw.shapes[n], nUp)
		ts = append(ts, safetensors.Tensor{Name: name, Shape: shape, Data: vw.values[n]})
	}
	for _, n := range uw.Names() {
		ts = append(ts, safetensors.Tensor{Name: ldmUNet(n, g), Shape: uw.shapes[n], Data: uw.values[n]})
	}
	if v2 {
		ts = append(ts, openCLIPTensors(cw, countLayers(cw), cw.shapes["text_model.final_layer_norm.weight"][0])...)
	} else {
		for _, n := range cw.Names() {
			ts = append(ts, safetensors.Tensor{Name: "cond_stage_model.transformer." + n, Shape: cw.shapes[n], Data: cw.values[n]})
		}
		ts = append(ts, safetensors.Tensor{Name: "cond_stage_model.transformer.text_model.embeddings.position_ids", Shape: []int{1, 77}, Data: make([]float32, 77)})
	}
	ts = append(ts,
		safetensors.Tensor{Name: "alphas_cumprod", Shape: []int{10}, Data: make([]float32, 10)},
		safetensors.Tensor{Name: "model_ema.decay", Shape: []int{}, Data: []float32{0.9999}},
		safetensors.Tensor{Name: "first_stage_model.loss.logvar", Shape: []int{}, Data: []float32{0}},
	)
	for i := range ts {
		ts[i].DType = dtype
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func countLayers(s tensors) int {
	n := 0
	for {
		if _, ok := s.shapes[fmt.Sprintf("text_model.encoder.layers.%d.layer_norm1.weight", n)]; !ok {
			return n
		}
		n++
	}
}

// sameTensors checks that src presents exactly want's names, shapes and
// values (rounded to dtype).
func sameTensors(t *testing.T, what string, src *sdfiles.Source, want tensors) {
	t.Helper()
	if got := src.Names(); !slices.Equal(got, want.Names()) {
		var extra, missing []string
		for _, n := range got {
			if _, ok := want.shapes[n]; !ok {
				extra = append(extra, n)
			}
		}
		for _, n := range want.Names() {
			if !slices.Contains(got, n) {
				missing = append(missing, n)
			}
		}
		t.Fatalf("%s: names differ: unexpected %v, missing %v", what, extra, missing)
	}
	for _, n := range want.Names() {
		sh, _ := src.Shape(n)
		if !slices.Equal(sh, want.shapes[n]) {
			t.Errorf("%s: %s has shape %v, want %v", what, n, sh, want.shapes[n])
			continue
		}
		v, err := src.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v, want.values[n]) {
			t.Errorf("%s: %s holds other values than the diffusers tensor", what, n)
		}
	}
}

func relErr(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
		s = max(s, math.Abs(float64(b[i])))
	}
	return d / s
}

func TestSingleFile(t *testing.T) {
	vcfg, vw, golden := vaeCase(t)
	gen := noise.NewGenerator(7)
	uw := diffusersUNet(gen, tinyUNet)
	for _, c := range []struct {
		name  string
		dtype string
		v2    bool
	}{{"v1-F32", "F32", false}, {"v1-F16", "F16", false}, {"v2-F32", "F32", true}} {
		t.Run(c.name, func(t *testing.T) {
			cg := noise.NewGenerator(8)
			layers := 2
			if c.v2 {
				layers = 3 // the last is dropped
			}
			cw := diffusersCLIP(cg, layers, 32, 64, 60)
			ug := tinyUNet
			if c.v2 {
				ug.cross = 32 // the text width
			}
			uwc := uw
			if c.v2 {
				uwc = diffusersUNet(noise.NewGenerator(7), ug)
			}
			path := writeSingleFile(t, c.dtype, c.v2, vw, cw, uwc, ug)
			f, err := sdfiles.OpenSingleFile(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := "v1"
			if c.v2 {
				want = "v2"
			}
			if f.Version != want {
				t.Errorf("Version %q, want %q", f.Version, want)
			}

			// VAE: the renamed tensors are the diffusers ones, the
			// inferred config has the geometry, and the model decodes as
			// PyTorch does.
			vsrc, vjson, err := f.VAE()
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, "VAE", vsrc, vw.rounded(c.dtype))
			gotCfg, err := vae.ParseConfig(vjson)
			if err != nil {
				t.Fatalf("inferred VAE config: %v\n%s", err, vjson)
			}
			if !slices.Equal(gotCfg.BlockOutChannels, vcfg.BlockOutChannels) || gotCfg.LayersPerBlock != vcfg.LayersPerBlock ||
				gotCfg.LatentChannels != vcfg.LatentChannels || gotCfg.NormNumGroups != vcfg.NormNumGroups || gotCfg.ScalingFactor != 0.18215 {
				t.Errorf("inferred VAE config %+v, want the geometry of %+v", gotCfg, vcfg)
			}
			vm, err := vae.FromSource(gotCfg, vsrc)
			if err != nil {
				t.Fatal(err)
			}
			if c.dtype == "F32" {
				latents, _ := golden.Float32("tiny3.latents")
				wantDec, _ := golden.Float32("tiny3.decoded")
				info, _ := golden.Info("tiny3.latents")
				dec, err := vm.Decode(latents, info.Shape[0], info.Shape[2], info.Shape[3])
				if err != nil {
					t.Fatal(err)
				}
				if e := relErr(dec, wantDec); e > 1e-4 {
					t.Errorf("single-file VAE decodes %.3g away from PyTorch", e)
				}
			}

			// Text encoder: same tensors, and the same output as the
			// diffusers-layout model.
			csrc, cjson, err := f.TextEncoder()
			if err != nil {
				t.Fatal(err)
			}
			cwant := cw
			if c.v2 {
				cwant = newTensors()
				for _, n := range cw.Names() {
					if !strings.HasPrefix(n, "text_model.encoder.layers.2.") {
						cwant.shapes[n], cwant.values[n] = cw.shapes[n], cw.values[n]
					}
				}
			}
			cwant = cwant.rounded(c.dtype)
			sameTensors(t, "text encoder", csrc, cwant)
			ccfg, err := clip.ParseConfig(cjson)
			if err != nil {
				t.Fatalf("inferred text encoder config: %v\n%s", err, cjson)
			}
			if ccfg.NumHiddenLayers != 2 || ccfg.HiddenSize != 32 || ccfg.IntermediateSize != 64 || ccfg.VocabSize != 60 ||
				(ccfg.HiddenAct == "gelu") != c.v2 {
				t.Errorf("inferred text encoder config %+v", ccfg)
			}
			m1, err := clip.FromSource(ccfg, csrc)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"F32": "F32", "F16": "F16"}[c.dtype]; m1.Precision() != want {
				t.Errorf("text encoder precision %s, want %s (16-bit tensors kept as stored)", m1.Precision(), want)
			}
			m2, err := clip.FromSource(ccfg, cwant)
			if err != nil {
				t.Fatal(err)
			}
			ids := [][]int{{0, 5, 17, 33, 59, 2, 1, 1, 1, 1}}
			o1, err := m1.Encode(ids, clip.Options{})
			if err != nil {
				t.Fatal(err)
			}
			o2, err := m2.Encode(ids, clip.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(o1.LastHidden, o2.LastHidden); e > 1e-6 {
				t.Errorf("single-file text encoder differs from the diffusers-layout one by %.3g", e)
			}

			// UNet: the renamed tensors are the diffusers ones and the
			// config has the geometry.
			usrc, ujson, err := f.UNet()
			if err != nil {
				t.Fatal(err)
			}
			sameTensors(t, "UNet", usrc, uwc.rounded(c.dtype))
			var ucfg struct {
				BlockOutChannels  []int    `json:"block_out_channels"`
				LayersPerBlock    int      `json:"layers_per_block"`
				DownBlockTypes    []string `json:"down_block_types"`
				UpBlockTypes      []string `json:"up_block_types"`
				CrossAttentionDim int      `json:"cross_attention_dim"`
				InChannels        int      `json:"in_channels"`
				AttentionHeadDim  any      `json:"attention_head_dim"`
			}
			if err := json.Unmarshal(ujson, &ucfg); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ucfg.BlockOutChannels, ug.boc) || ucfg.LayersPerBlock != 1 || ucfg.CrossAttentionDim != ug.cross || ucfg.InChannels != 4 ||
				!slices.Equal(ucfg.DownBlockTypes, []string{"CrossAttnDownBlock2D", "DownBlock2D"}) ||
				!slices.Equal(ucfg.UpBlockTypes, []string{"UpBlock2D", "CrossAttnUpBlock2D"}) {
				t.Errorf("inferred UNet config:\n%s", ujson)
			}
			if sc := f.SchedulerConfig(); !json.Valid(sc) || strings.Contains(string(sc), "v_prediction") != c.v2 {
				t.Errorf("scheduler config for %s:\n%s", f.Version, sc)
			}
		})
	}
}

func TestSingleFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ts []safetensors.Tensor) string {
		p := filepath.Join(dir, name)
		if err := safetensors.WriteFile(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := func(name string, shape ...int) safetensors.Tensor {
		n := 1
		for _, d := range shape {
			n *= d
		}
		return safetensors.Tensor{Name: name, Shape: shape, Data: make([]float32, n)}
	}
	for _, c := range []struct {
		name string
		path string
		want string
	}{
		{"ckpt", filepath.Join(dir, "x.ckpt"), "pickled"},
		{"no unet", write("a.safetensors", []safetensors.Tensor{one("first_stage_model.encoder.conv_in.weight", 8, 3, 3, 3)}), "not a Stable Diffusion"},
		{"sdxl", write("b.safetensors", []safetensors.Tensor{one("model.diffusion_model.input_blocks.0.0.weight", 8, 4, 3, 3),
			one("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight", 24, 8)}), "SDXL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := sdfiles.OpenSingleFile(c.path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	p := write("c.safetensors", []safetensors.Tensor{one("model.diffusion_model.input_blocks.0.0.weight", 8, 4, 3, 3),
		one("model.diffusion_model.input_blocks.1.0.in_layers.0.weight", 8),
		one("first_stage_model.encoder.mystery.weight", 8)})
	f, err := sdfiles.OpenSingleFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := f.VAE(); err == nil || !strings.Contains(err.Error(), "first_stage_model.encoder.mystery.weight") {
		t.Errorf("VAE with an unknown tensor: %v", err)
	}
	if _, _, err := f.TextEncoder(); err == nil || !strings.Contains(err.Error(), "no text encoder") {
		t.Errorf("TextEncoder of a file without one: %v", err)
	}
	if _, _, err := f.UNet(); err == nil {
		t.Errorf("UNet of a partial file succeeded")
	}
}

// TestStandaloneVAE reads a VAE file with CompVis names and no prefix (as
// vae-ft-mse-840000-ema-pruned.safetensors is), EMA extras included.
func TestStandaloneVAE(t *testing.T) {
	_, vw, golden := vaeCase(t)
	var ts []safetensors.Tensor
	for _, n := range vw.Names() {
		name, shape := ldmVAE(n, vw.shapes[n], 3)
		ts = append(ts, safetensors.Tensor{Name: strings.TrimPrefix(name, "first_stage_model."), Shape: shape, Data: vw.values[n]})
	}
	ts = append(ts, safetensors.Tensor{Name: "model_ema.decay", Shape: []int{}, Data: []float32{0.9999}})
	path := filepath.Join(t.TempDir(), "vae.safetensors")
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	f, err := sdfiles.OpenSingleFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != "vae" {
		t.Errorf("Version %q, want vae", f.Version)
	}
	src, cfgJSON, err := f.VAE()
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, "VAE", src, vw)
	cfg, err := vae.ParseConfig(cfgJSON)
	if err != nil {
		t.Fatal(err)
	}
	m, err := vae.FromSource(cfg, src)
	if err != nil {
		t.Fatal(err)
	}
	latents, _ := golden.Float32("tiny3.latents")
	want, _ := golden.Float32("tiny3.decoded")
	info, _ := golden.Info("tiny3.latents")
	got, err := m.Decode(latents, info.Shape[0], info.Shape[2], info.Shape[3])
	if err != nil {
		t.Fatal(err)
	}
	if e := relErr(got, want); e > 1e-4 {
		t.Errorf("standalone VAE decodes %.3g away from PyTorch", e)
	}
	if _, _, err := f.UNet(); err == nil || !strings.Contains(err.Error(), "VAE alone") {
		t.Errorf("UNet of a VAE file: %v", err)
	}
	if _, _, err := f.TextEncoder(); err == nil || !strings.Contains(err.Error(), "VAE alone") {
		t.Errorf("TextEncoder of a VAE file: %v", err)
	}
}
