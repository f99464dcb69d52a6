package sdfiles

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/hub"
)

// Prefixes of the three models in a single-file (CompVis / LDM)
// checkpoint.
const (
	UNetPrefix       = "model.diffusion_model."
	VAEPrefix        = "first_stage_model."
	CLIPPrefix       = "cond_stage_model.transformer." // SD 1.x: transformers' CLIPTextModel
	OpenCLIPPrefix   = "cond_stage_model.model."       // SD 2.x: OpenCLIP ViT-H/14
	sdxlMarker       = "conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"
	sd2TextKey       = OpenCLIPPrefix + "transformer.resblocks.0.attn.in_proj_weight"
	sd2CrossAttnKey  = UNetPrefix + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"
	openCLIPLayerKey = OpenCLIPPrefix + "transformer.resblocks."
)

// SingleFile is an open single-file Stable Diffusion checkpoint: one
// safetensors file with the original CompVis names, the UNet under
// model.diffusion_model., the VAE under first_stage_model. and the text
// encoder under cond_stage_model. (SD 1.x's CLIPTextModel or SD 2.x's
// OpenCLIP). Its UNet, VAE and TextEncoder methods present each model
// under diffusers' names, with the configuration the file implies.
type SingleFile struct {
	c    *checkpoint.Checkpoint
	path string
	// Version is "v1" (SD 1.x: CLIP ViT-L/14, cross-attention width 768),
	// "v2" (SD 2.x: OpenCLIP ViT-H/14, width 1024) or "vae" for a
	// standalone VAE file with CompVis names and no prefix (such as
	// vae-ft-mse-840000-ema-pruned.safetensors), which has only VAE().
	Version string
}

// OpenSingleFile opens a .safetensors single-file checkpoint and tells SD
// 1.x from SD 2.x by its tensors, as diffusers' infer_diffusers_model_type
// does; a file of VAE tensors alone (encoder.*, decoder.*) opens as a
// standalone VAE. SDXL and other families are errors that say so; pickled .ckpt
// files are not read (convert them to safetensors).
func OpenSingleFile(path string) (*SingleFile, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".ckpt", ".pt", ".pth", ".bin":
		return nil, fmt.Errorf("sdfiles: %s: pickled checkpoints are not read; use the .safetensors file", path)
	}
	c, err := checkpoint.OpenFile(path)
	if err != nil {
		return nil, fmt.Errorf("sdfiles: %w", err)
	}
	f := &SingleFile{c: c, path: path}
	if err := f.detect(); err != nil {
		c.Close()
		return nil, err
	}
	return f, nil
}

func (f *SingleFile) detect() error {
	if _, ok := f.c.Info(sdxlMarker); ok {
		return fmt.Errorf("sdfiles: %s is an SDXL checkpoint (conditioner.embedders.1); only SD 1.x and 2.x single files are supported", f.path)
	}
	if _, ok := f.c.Info(UNetPrefix + "input_blocks.0.0.weight"); !ok {
		if _, ok := f.c.Info("encoder.conv_in.weight"); ok {
			f.Version = "vae" // a standalone VAE such as vae-ft-mse-840000-ema-pruned
			return nil
		}
		return fmt.Errorf("sdfiles: %s: no %sinput_blocks.0.0.weight (nor encoder.conv_in.weight of a standalone VAE): not a Stable Diffusion single-file checkpoint", f.path, UNetPrefix)
	}
	f.Version = "v1"
	if _, ok := f.c.Info(sd2TextKey); ok {
		f.Version = "v2"
	} else if info, ok := f.c.Info(sd2CrossAttnKey); ok && len(info.Shape) == 2 && info.Shape[1] == 1024 {
		f.Version = "v2"
	}
	return nil
}

// Close releases the mapped file.
func (f *SingleFile) Close() error { return f.c.Close() }

// Path returns the file's path.
func (f *SingleFile) Path() string { return f.path }

// entry says where a diffusers-named tensor lies in the file: the stored
// tensor src, presented with shape, and for a slice of a fused tensor the
// element offset and count.
type entry struct {
	src    string
	shape  []int
	off, n int // n 0: the whole tensor
}

// Source is a renaming view of a single-file checkpoint: one model's
// tensors under diffusers' names. It implements the Source interfaces of
// model/vae, model/clip and model/unet (Shape, Float32, Names), and Half for
// the 16-bit tensors model/clip keeps in stored precision.
type Source struct {
	c     *checkpoint.Checkpoint
	m     map[string]entry
	names []string
}

func newSource(c *checkpoint.Checkpoint, m map[string]entry) *Source {
	s := &Source{c: c, m: m}
	for n := range m {
		s.names = append(s.names, n)
	}
	slices.Sort(s.names)
	return s
}

// Shape returns the diffusers shape of a tensor.
func (s *Source) Shape(name string) ([]int, bool) {
	e, ok := s.m[name]
	return e.shape, ok
}

// Names lists the tensors under diffusers' names.
func (s *Source) Names() []string { return slices.Clone(s.names) }

// Stored returns the name of the file's tensor that holds name.
func (s *Source) Stored(name string) (string, bool) {
	e, ok := s.m[name]
	return e.src, ok
}

// Float32 returns a tensor's values as float32.
func (s *Source) Float32(name string) ([]float32, error) {
	e, ok := s.m[name]
	if !ok {
		return nil, fmt.Errorf("sdfiles: no tensor %q", name)
	}
	v, err := s.c.Float32(e.src)
	if err != nil {
		return nil, fmt.Errorf("sdfiles: %s (stored as %q): %w", name, e.src, err)
	}
	if e.n > 0 {
		if e.off+e.n > len(v) {
			return nil, fmt.Errorf("sdfiles: %s: %q holds %d values, want at least %d", name, e.src, len(v), e.off+e.n)
		}
		v = v[e.off : e.off+e.n]
	}
	return v, nil
}

// Half returns an F16 or BF16 tensor's stored bytes (ok false for other
// dtypes), so that a model can keep it in that precision.
func (s *Source) Half(name string) (dtype string, b []byte, ok bool) {
	e, found := s.m[name]
	if !found {
		return "", nil, false
	}
	info, _ := s.c.Info(e.src)
	if info.DType != "F16" && info.DType != "BF16" {
		return "", nil, false
	}
	b, err := s.c.Bytes(e.src)
	if err != nil {
		return "", nil, false
	}
	if e.n > 0 {
		if 2*(e.off+e.n) > len(b) {
			return "", nil, false
		}
		b = b[2*e.off : 2*(e.off+e.n)]
	}
	return info.DType, b, true
}

// keysUnder returns the file's tensor names that start with prefix, without it.
func (f *SingleFile) keysUnder(prefix string) []string {
	var k []string
	for _, n := range f.c.Names() {
		if rest, ok := strings.CutPrefix(n, prefix); ok {
			k = append(k, rest)
		}
	}
	return k
}

func (f *SingleFile) shape(name string) ([]int, bool) {
	info, ok := f.c.Info(name)
	return info.Shape, ok
}

// ---------------------------------------------------------------------------
// VAE

// VAE returns the autoencoder's tensors under diffusers' AutoencoderKL
// names and its vae/config.json, as diffusers' convert_ldm_vae_checkpoint
// and create_vae_diffusers_config_from_ldm make them: encoder.down.I.block.J
// → encoder.down_blocks.I.resnets.J (nin_shortcut → conv_shortcut),
// down.I.downsample → down_blocks.I.downsamplers.0, decoder.up.I →
// decoder.up_blocks.(N−1−I), mid.block_1/attn_1/block_2 →
// mid_block.resnets.0/attentions.0/resnets.1 (norm, q, k, v, proj_out →
// group_norm, to_q, to_k, to_v, to_out.0, 1×1 convolutions presented as
// [C, C] linear weights), norm_out → conv_norm_out. The geometry
// (block_out_channels, layers_per_block, channels) comes from the tensor
// shapes; norm_num_groups is SD's 32 and scaling_factor 0.18215.
func (f *SingleFile) VAE() (*Source, []byte, error) {
	prefix := VAEPrefix
	keys := f.keysUnder(prefix)
	if f.Version == "vae" {
		prefix = ""
		keys = nil
		for _, k := range f.c.Names() { // model_ema.* and other extras are not the VAE's
			if p, _, _ := strings.Cut(k, "."); p == "encoder" || p == "decoder" || p == "quant_conv" || p == "post_quant_conv" {
				keys = append(keys, k)
			}
		}
	} else if len(keys) == 0 {
		if keys = f.keysUnder("vae."); len(keys) > 0 {
			prefix = "vae."
		} else {
			return nil, nil, fmt.Errorf("sdfiles: %s has no VAE (%s*)", f.path, VAEPrefix)
		}
	}
	nUp := 0
	for _, k := range keys {
		if rest, ok := strings.CutPrefix(k, "decoder.up."); ok {
			i, err := strconv.Atoi(rest[:strings.IndexByte(rest+".", '.')])
			if err == nil {
				nUp = max(nUp, i+1)
			}
		}
	}
	m := map[string]entry{}
	for _, k := range keys {
		d, err := vaeName(k, nUp)
		if err != nil {
			return nil, nil, fmt.Errorf("sdfiles: %s: %s%s: %w", f.path, prefix, k, err)
		}
		if d == "" {
			continue
		}
		sh, _ := f.shape(prefix + k)
		if strings.Contains(d, ".attentions.0.to_") && strings.HasSuffix(d, ".weight") && len(sh) > 2 {
			sh = sh[:2] // conv_attn_to_linear: [C, C, 1, 1] → [C, C]
		}
		m[d] = entry{src: prefix + k, shape: slices.Clone(sh)}
	}
	cfg, err := vaeConfig(m, nUp)
	if err != nil {
		return nil, nil, fmt.Errorf("sdfiles: %s: %w", f.path, err)
	}
	return newSource(f.c, m), cfg, nil
}

// vaeName maps one LDM VAE key (without its prefix) to diffusers' name;
// "" for a tensor that has no diffusers counterpart and is dropped.
func vaeName(k string, nUp int) (string, error) {
	p := strings.Split(k, ".")
	if len(p) < 2 {
		return "", fmt.Errorf("not a VAE tensor name")
	}
	switch {
	case p[0] == "quant_conv" || p[0] == "post_quant_conv":
		return k, nil
	case p[0] != "encoder" && p[0] != "decoder":
		if p[0] == "loss" {
			return "", nil // the training loss's discriminator and LPIPS weights
		}
		return "", fmt.Errorf("unknown VAE tensor")
	}
	side, p := p[0], p[1:]
	switch p[0] {
	case "conv_in", "conv_out":
		return side + "." + strings.Join(p, "."), nil
	case "norm_out":
		return side + ".conv_norm_out." + strings.Join(p[1:], "."), nil
	case "mid":
		if len(p) < 3 {
			break
		}
		rest := strings.Join(p[2:], ".")
		switch p[1] {
		case "block_1":
			return side + ".mid_block.resnets.0." + resnetVAE(rest), nil
		case "block_2":
			return side + ".mid_block.resnets.1." + resnetVAE(rest), nil
		case "attn_1":
			r, ok := vaeAttn[p[2]]
			if !ok || len(p) != 4 {
				break
			}
			return side + ".mid_block.attentions.0." + r + "." + p[3], nil
		}
	case "down", "up":
		if len(p) < 4 || (side == "encoder") != (p[0] == "down") {
			break
		}
		i, err := strconv.Atoi(p[1])
		if err != nil || i < 0 {
			break
		}
		blocks, sampler := "down_blocks", "downsamplers"
		if p[0] == "up" {
			i = nUp - 1 - i
			blocks, sampler = "up_blocks", "upsamplers"
		}
		b := side + "." + blocks + "." + strconv.Itoa(i) + "."
		switch p[2] {
		case "block":
			if _, err := strconv.Atoi(p[3]); err != nil || len(p) < 5 {
				break
			}
			return b + "resnets." + p[3] + "." + resnetVAE(strings.Join(p[4:], ".")), nil
		case "downsample", "upsample":
			if p[3] == "conv" && len(p) == 5 {
				return b + sampler + ".0.conv." + p[4], nil
			}
		}
	}
	return "", fmt.Errorf("unknown VAE tensor")
}

func resnetVAE(rest string) string {
	return strings.Replace(rest, "nin_shortcut", "conv_shortcut", 1)
}

var vaeAttn = map[string]string{"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}

// vaeConfig builds vae/config.json from the shapes of the renamed tensors.
func vaeConfig(m map[string]entry, n int) ([]byte, error) {
	get := func(name string, dims int) ([]int, error) {
		e, ok := m[name]
		if !ok || len(e.shape) != dims {
			return nil, fmt.Errorf("VAE: tensor %s missing or not %d-D", name, dims)
		}
		return e.shape, nil
	}
	if n < 1 {
		return nil, fmt.Errorf("VAE: no decoder.up.* blocks")
	}
	in, err := get("encoder.conv_in.weight", 4)
	if err != nil {
		return nil, err
	}
	out, err := get("decoder.conv_out.weight", 4)
	if err != nil {
		return nil, err
	}
	lat, err := get("decoder.conv_in.weight", 4)
	if err != nil {
		return nil, err
	}
	var boc []int
	for i := range n {
		s, err := get("encoder.down_blocks."+strconv.Itoa(i)+".resnets.0.conv1.weight", 4)
		if err != nil {
			return nil, err
		}
		boc = append(boc, s[0])
	}
	layers := 0
	for {
		if _, ok := m["encoder.down_blocks.0.resnets."+strconv.Itoa(layers)+".conv1.weight"]; !ok {
			break
		}
		layers++
	}
	types := func(t string) []string {
		s := make([]string, n)
		for i := range s {
			s[i] = t
		}
		return s
	}
	return json.MarshalIndent(map[string]any{
		"_class_name":        "AutoencoderKL",
		"in_channels":        in[1],
		"out_channels":       out[0],
		"down_block_types":   types("DownEncoderBlock2D"),
		"up_block_types":     types("UpDecoderBlock2D"),
		"block_out_channels": boc,
		"layers_per_block":   layers,
		"act_fn":             "silu",
		"latent_channels":    lat[1],
		"norm_num_groups":    32,
		"sample_size":        512,
		"scaling_factor":     0.18215,
	}, "", "  ")
}

// ---------------------------------------------------------------------------
// Text encoder

// TextEncoder returns the text encoder's tensors under transformers'
// CLIPTextModel names and its text_encoder/config.json. SD 1.x files hold a
// CLIPTextModel already (cond_stage_model.transformer.text_model.* →
// text_model.*). SD 2.x files hold OpenCLIP's ViT-H/14
// (cond_stage_model.model.*), renamed as diffusers'
// convert_open_clip_checkpoint does: resblocks.I → encoder.layers.I,
// ln_1/ln_2 → layer_norm1/2, mlp.c_fc/c_proj → mlp.fc1/fc2, attn.in_proj
// split into q_proj, k_proj, v_proj, positional_embedding, ln_final; the
// last of the 24 layers is left out (SD 2.x uses the penultimate layer, 23
// layers in diffusers' config).
func (f *SingleFile) TextEncoder() (*Source, []byte, error) {
	if f.Version == "vae" {
		return nil, nil, fmt.Errorf("sdfiles: %s holds a VAE alone, no text encoder", f.path)
	}
	if f.Version == "v2" {
		return f.openCLIP()
	}
	keys := f.keysUnder(CLIPPrefix)
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("sdfiles: %s has no text encoder (%s*)", f.path, CLIPPrefix)
	}
	m := map[string]entry{}
	for _, k := range keys {
		d := k
		if !strings.HasPrefix(d, "text_model.") {
			d = "text_model." + d // older transformers saved CLIPTextTransformer without text_model.
		}
		if strings.HasSuffix(d, "position_ids") {
			continue
		}
		sh, _ := f.shape(CLIPPrefix + k)
		m[d] = entry{src: CLIPPrefix + k, shape: slices.Clone(sh)}
	}
	tok, ok := m["text_model.embeddings.token_embedding.weight"]
	if !ok || len(tok.shape) != 2 {
		return nil, nil, fmt.Errorf("sdfiles: %s: no 2-D %stext_model.embeddings.token_embedding.weight", f.path, CLIPPrefix)
	}
	pos, ok := m["text_model.embeddings.position_embedding.weight"]
	if !ok || len(pos.shape) != 2 {
		return nil, nil, fmt.Errorf("sdfiles: %s: no 2-D %stext_model.embeddings.position_embedding.weight", f.path, CLIPPrefix)
	}
	fc1, ok := m["text_model.encoder.layers.0.mlp.fc1.weight"]
	if !ok || len(fc1.shape) != 2 {
		return nil, nil, fmt.Errorf("sdfiles: %s: no 2-D %stext_model.encoder.layers.0.mlp.fc1.weight", f.path, CLIPPrefix)
	}
	H := tok.shape[1]
	cfg, err := json.MarshalIndent(map[string]any{
		"architectures":           []string{"CLIPTextModel"},
		"model_type":              "clip_text_model",
		"vocab_size":              tok.shape[0],
		"hidden_size":             H,
		"intermediate_size":       fc1.shape[0],
		"num_hidden_layers":       countLayers(m, "text_model.encoder.layers."),
		"num_attention_heads":     max(1, H/64), // ViT-L/14: 768 / 64 = 12
		"max_position_embeddings": pos.shape[0],
		"hidden_act":              "quick_gelu",
		"layer_norm_eps":          1e-5,
		"bos_token_id":            0,
		"eos_token_id":            2,
		"pad_token_id":            1,
		"projection_dim":          768,
	}, "", "  ")
	return newSource(f.c, m), cfg, err
}

func countLayers(m map[string]entry, prefix string) int {
	n := 0
	for {
		if _, ok := m[prefix+strconv.Itoa(n)+".layer_norm1.weight"]; !ok {
			return n
		}
		n++
	}
}

var openCLIPLayer = strings.NewReplacer(
	"ln_1.", "layer_norm1.", "ln_2.", "layer_norm2.",
	"mlp.c_fc.", "mlp.fc1.", "mlp.c_proj.", "mlp.fc2.",
	"attn.out_proj.", "self_attn.out_proj.",
)

func (f *SingleFile) openCLIP() (*Source, []byte, error) {
	p := OpenCLIPPrefix
	tok, ok := f.shape(p + "token_embedding.weight")
	if !ok || len(tok) != 2 {
		return nil, nil, fmt.Errorf("sdfiles: %s: no 2-D %stoken_embedding.weight", f.path, p)
	}
	H := tok[1]
	n := 0
	for {
		if _, ok := f.shape(openCLIPLayerKey + strconv.Itoa(n) + ".ln_1.weight"); !ok {
			break
		}
		n++
	}
	if n < 2 {
		return nil, nil, fmt.Errorf("sdfiles: %s: OpenCLIP text encoder with %d layers", f.path, n)
	}
	m := map[string]entry{}
	add := func(d, src string) error {
		sh, ok := f.shape(src)
		if !ok {
			return fmt.Errorf("sdfiles: %s: tensor %s is missing", f.path, src)
		}
		m[d] = entry{src: src, shape: slices.Clone(sh)}
		return nil
	}
	for d, s := range map[string]string{
		"text_model.embeddings.token_embedding.weight":    "token_embedding.weight",
		"text_model.embeddings.position_embedding.weight": "positional_embedding",
		"text_model.final_layer_norm.weight":              "ln_final.weight",
		"text_model.final_layer_norm.bias":                "ln_final.bias",
	} {
		if err := add(d, p+s); err != nil {
			return nil, nil, err
		}
	}
	I := 0
	for i := range n - 1 { // the last layer is not used
		lp := openCLIPLayerKey + strconv.Itoa(i) + "."
		dp := "text_model.encoder.layers." + strconv.Itoa(i) + "."
		for _, s := range []string{"ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias",
			"mlp.c_proj.weight", "mlp.c_proj.bias", "attn.out_proj.weight", "attn.out_proj.bias"} {
			if err := add(dp+openCLIPLayer.Replace(s), lp+s); err != nil {
				return nil, nil, err
			}
		}
		I = m[dp+"mlp.fc1.weight"].shape[0]
		for _, kind := range []string{"weight", "bias"} {
			src := lp + "attn.in_proj_" + kind
			sh, ok := f.shape(src)
			if !ok || sh[0] != 3*H {
				return nil, nil, fmt.Errorf("sdfiles: %s: tensor %s missing or not [%d, ...]", f.path, src, 3*H)
			}
			per := H
			if len(sh) == 2 {
				per = H * sh[1]
			}
			for j, q := range []string{"q_proj", "k_proj", "v_proj"} {
				shape := slices.Clone(sh)
				shape[0] = H
				m[dp+"self_attn."+q+"."+kind] = entry{src: src, shape: shape, off: j * per, n: per}
			}
		}
	}
	cfg, err := json.MarshalIndent(map[string]any{
		"architectures":           []string{"CLIPTextModel"},
		"model_type":              "clip_text_model",
		"vocab_size":              tok[0],
		"hidden_size":             H,
		"intermediate_size":       I,
		"num_hidden_layers":       n - 1,
		"num_attention_heads":     max(1, H/64), // ViT-H/14: 1024 / 64 = 16
		"max_position_embeddings": m["text_model.embeddings.position_embedding.weight"].shape[0],
		"hidden_act":              "gelu",
		"layer_norm_eps":          1e-5,
		"bos_token_id":            0,
		"eos_token_id":            2,
		"pad_token_id":            1,
		"projection_dim":          512,
	}, "", "  ")
	return newSource(f.c, m), cfg, err
}

// IsSingleFile reports whether ref names a single-file checkpoint rather
// than a pipeline: a local file, or a reference ending in .safetensors or
// .ckpt (a hub file, ORG/NAME/FILE.safetensors).
func IsSingleFile(ref string) bool {
	if st, err := os.Stat(ref); err == nil {
		return !st.IsDir()
	}
	l := strings.ToLower(ref)
	return strings.HasSuffix(l, ".safetensors") || strings.HasSuffix(l, ".ckpt")
}

// ResolveSingleFile returns the local path of a single-file checkpoint:
// ref itself when it is an existing file, else a file of a hub repository
// written ORG/NAME/PATH or ORG/NAME@REVISION/PATH, taken from the Hugging
// Face cache or downloaded through c (nil: hub.NewClient()).
func ResolveSingleFile(ctx context.Context, c *hub.Client, ref string) (string, error) {
	if st, err := os.Stat(ref); err == nil {
		if st.IsDir() {
			return "", fmt.Errorf("sdfiles: %s is a directory, not a single-file checkpoint", ref)
		}
		return ref, nil
	}
	parts := strings.SplitN(ref, "/", 3)
	if len(parts) != 3 || strings.HasPrefix(ref, ".") || strings.HasPrefix(ref, "/") {
		return "", fmt.Errorf("sdfiles: %s: no such file, and not a hub file reference ORG/NAME[@REVISION]/FILE", ref)
	}
	repo, rev, err := hub.ParseRef(parts[0] + "/" + parts[1])
	if err != nil {
		return "", fmt.Errorf("sdfiles: %s: %w", ref, err)
	}
	if c == nil {
		c = hub.NewClient()
	}
	p, err := c.File(ctx, repo, rev, parts[2])
	if err != nil {
		return "", fmt.Errorf("sdfiles: %w", err)
	}
	return p, nil
}
