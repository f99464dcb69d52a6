package vae

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/diffusion/sdfiles"
)

// Source provides named float32 tensors, such as an open checkpoint or a
// renaming view of a single-file Stable Diffusion checkpoint.
type Source interface {
	// Shape returns the shape of the tensor called name and whether it exists.
	Shape(name string) ([]int, bool)
	// Float32 returns the tensor's values, row-major (converted from F16
	// or BF16 if stored so).
	Float32(name string) ([]float32, error)
}

// Conv is a torch.nn.Conv2d with square kernel K: W [Out, In, K, K], B [Out].
type Conv struct {
	W, B       []float32
	In, Out, K int
}

// Norm is a torch.nn.GroupNorm's affine parameters, [C] each.
type Norm struct{ G, B []float32 }

// Linear is a torch.nn.Linear with W [Out, In] and B [Out].
type Linear struct{ W, B []float32 }

// Resnet is a ResnetBlock2D without time embedding:
// x + conv2(silu(norm2(conv1(silu(norm1(x)))))), with x through the 1×1
// Shortcut when the channel count changes.
type Resnet struct {
	Norm1    Norm
	Conv1    Conv
	Norm2    Norm
	Conv2    Conv
	Shortcut *Conv // conv_shortcut, nil when in == out
}

// Attention is the mid-block's single-head self-attention over all pixels
// (diffusers' Attention with a GroupNorm and a residual connection).
type Attention struct {
	Norm         Norm   // group_norm
	Q, K, V, Out Linear // to_q, to_k, to_v, to_out.0 (or query, key, value, proj_attn)
	C            int
}

// Mid is UNetMidBlock2D: resnet, attention (nil without
// mid_block_add_attention), resnet.
type Mid struct {
	Res1 Resnet
	Attn *Attention
	Res2 Resnet
}

// Block is a DownEncoderBlock2D (Resnets then the stride-2 Sample) or an
// UpDecoderBlock2D (Resnets then nearest ×2 and the Sample convolution).
type Block struct {
	Resnets []Resnet
	Sample  *Conv // downsamplers.0.conv or upsamplers.0.conv; nil for the last block
}

// Encoder maps pixels to 2·latent_channels moments.
type Encoder struct {
	ConvIn  Conv
	Down    []Block
	Mid     Mid
	NormOut Norm // conv_norm_out, followed by SiLU
	ConvOut Conv
}

// Decoder maps latents to pixels.
type Decoder struct {
	ConvIn  Conv
	Mid     Mid
	Up      []Block
	NormOut Norm
	ConvOut Conv
}

// Weights holds every AutoencoderKL parameter as float32.
type Weights struct {
	Encoder       Encoder
	Decoder       Decoder
	QuantConv     *Conv // nil without use_quant_conv
	PostQuantConv *Conv // nil without use_post_quant_conv
}

type loader struct {
	src  Source
	used map[string]bool
	err  error
}

func (l *loader) fail(format string, args ...any) {
	if l.err == nil {
		l.err = fmt.Errorf(format, args...)
	}
}

// get reads tensor name with the given shape; alt lists shapes of the same
// size that are accepted too (a 1×1 convolution standing for a linear).
func (l *loader) get(name string, shape []int, alt ...[]int) []float32 {
	if l.err != nil {
		return nil
	}
	have, ok := l.src.Shape(name)
	if !ok {
		l.fail("vae: tensor %q is missing (want shape %v)", name, shape)
		return nil
	}
	if !slices.Equal(have, shape) && !slices.ContainsFunc(alt, func(a []int) bool { return slices.Equal(have, a) }) {
		l.fail("vae: tensor %q has shape %v, want %v", name, have, shape)
		return nil
	}
	data, err := l.src.Float32(name)
	if err != nil {
		l.fail("vae: tensor %q: %w", name, err)
		return nil
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(data) != n {
		l.fail("vae: tensor %q holds %d values, want %d for shape %v", name, len(data), n, shape)
		return nil
	}
	l.used[name] = true
	return data
}

func (l *loader) has(name string) bool {
	_, ok := l.src.Shape(name)
	return ok
}

func (l *loader) conv(p string, in, out, k int) Conv {
	return Conv{W: l.get(p+".weight", []int{out, in, k, k}), B: l.get(p+".bias", []int{out}), In: in, Out: out, K: k}
}

func (l *loader) norm(p string, c int) Norm {
	return Norm{G: l.get(p+".weight", []int{c}), B: l.get(p+".bias", []int{c})}
}

func (l *loader) resnet(p string, in, out int) Resnet {
	r := Resnet{
		Norm1: l.norm(p+".norm1", in), Conv1: l.conv(p+".conv1", in, out, 3),
		Norm2: l.norm(p+".norm2", out), Conv2: l.conv(p+".conv2", out, out, 3),
	}
	if in != out {
		s := l.conv(p+".conv_shortcut", in, out, 1)
		r.Shortcut = &s
	}
	return r
}

// attention reads the mid-block attention under diffusers' names (to_q,
// to_k, to_v, to_out.0) or the deprecated ones older VAE checkpoints carry
// (query, key, value, proj_attn), as diffusers' _convert_deprecated_attention_blocks
// renames them. Weights may be [C, C] or [C, C, 1, 1] (the original 1×1
// convolutions).
func (l *loader) attention(p string, c int) *Attention {
	a := &Attention{Norm: l.norm(p+".group_norm", c), C: c}
	names := [4][2]string{{"to_q", "query"}, {"to_k", "key"}, {"to_v", "value"}, {"to_out.0", "proj_attn"}}
	dst := [4]*Linear{&a.Q, &a.K, &a.V, &a.Out}
	for i, n := range names {
		name := n[0]
		if !l.has(p+"."+name+".weight") && l.has(p+"."+n[1]+".weight") {
			name = n[1]
		}
		dst[i].W = l.get(p+"."+name+".weight", []int{c, c}, []int{c, c, 1, 1}, []int{c, c, 1})
		dst[i].B = l.get(p+"."+name+".bias", []int{c})
	}
	return a
}

func (l *loader) mid(p string, c int, attn bool) Mid {
	m := Mid{Res1: l.resnet(p+".resnets.0", c, c)}
	if attn {
		m.Attn = l.attention(p+".attentions.0", c)
	}
	m.Res2 = l.resnet(p+".resnets.1", c, c)
	return m
}

// LoadWeights reads every AutoencoderKL parameter for cfg from src under
// diffusers' names (encoder.*, decoder.*, quant_conv, post_quant_conv),
// checking presence and shape. When src can list its tensors (a Names
// method), a tensor that is not a parameter is an error.
func LoadWeights(cfg Config, src Source) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	l := &loader{src: src, used: map[string]bool{}}
	boc := cfg.BlockOutChannels
	nb := len(boc)
	L := cfg.LayersPerBlock
	lat := cfg.LatentChannels
	w := &Weights{}

	e := &w.Encoder
	e.ConvIn = l.conv("encoder.conv_in", cfg.InChannels, boc[0], 3)
	out := boc[0]
	for i := range nb {
		in := out
		out = boc[i]
		var b Block
		for j := range L {
			c := out
			if j == 0 {
				c = in
			}
			b.Resnets = append(b.Resnets, l.resnet("encoder.down_blocks."+strconv.Itoa(i)+".resnets."+strconv.Itoa(j), c, out))
		}
		if i != nb-1 {
			s := l.conv("encoder.down_blocks."+strconv.Itoa(i)+".downsamplers.0.conv", out, out, 3)
			b.Sample = &s
		}
		e.Down = append(e.Down, b)
	}
	e.Mid = l.mid("encoder.mid_block", boc[nb-1], cfg.MidBlockAddAttention)
	e.NormOut = l.norm("encoder.conv_norm_out", boc[nb-1])
	e.ConvOut = l.conv("encoder.conv_out", boc[nb-1], 2*lat, 3)
	if cfg.UseQuantConv {
		q := l.conv("quant_conv", 2*lat, 2*lat, 1)
		w.QuantConv = &q
	}
	if cfg.UsePostQuantConv {
		q := l.conv("post_quant_conv", lat, lat, 1)
		w.PostQuantConv = &q
	}

	d := &w.Decoder
	d.ConvIn = l.conv("decoder.conv_in", lat, boc[nb-1], 3)
	d.Mid = l.mid("decoder.mid_block", boc[nb-1], cfg.MidBlockAddAttention)
	out = boc[nb-1]
	for i := range nb {
		in := out
		out = boc[nb-1-i]
		var b Block
		for j := range L + 1 {
			c := out
			if j == 0 {
				c = in
			}
			b.Resnets = append(b.Resnets, l.resnet("decoder.up_blocks."+strconv.Itoa(i)+".resnets."+strconv.Itoa(j), c, out))
		}
		if i != nb-1 {
			s := l.conv("decoder.up_blocks."+strconv.Itoa(i)+".upsamplers.0.conv", out, out, 3)
			b.Sample = &s
		}
		d.Up = append(d.Up, b)
	}
	d.NormOut = l.norm("decoder.conv_norm_out", boc[0])
	d.ConvOut = l.conv("decoder.conv_out", boc[0], cfg.OutChannels, 3)
	if l.err != nil {
		return nil, l.err
	}
	if n, ok := src.(interface{ Names() []string }); ok {
		for _, name := range n.Names() {
			if !l.used[name] {
				return nil, fmt.Errorf("vae: unexpected tensor %q (config.json has %d blocks, layers_per_block %d)", name, nb, L)
			}
		}
	}
	return w, nil
}

// Model is an AutoencoderKL. It is read-only once loaded and safe for
// concurrent use.
type Model struct {
	Config  Config
	Weights Weights
	closer  interface{ Close() error }
}

// FromSource builds a model from a configuration and tensors with
// diffusers' names.
func FromSource(cfg Config, src Source) (*Model, error) {
	w, err := LoadWeights(cfg, src)
	if err != nil {
		return nil, err
	}
	return &Model{Config: cfg, Weights: *w}, nil
}

// Close releases the mapped weights file; the model must not be used
// afterwards.
func (m *Model) Close() error {
	if m.closer == nil {
		return nil
	}
	err := m.closer.Close()
	m.closer = nil
	return err
}

type ckptSource struct{ c *checkpoint.Checkpoint }

func (s ckptSource) Shape(name string) ([]int, bool) {
	info, ok := s.c.Info(name)
	return info.Shape, ok
}
func (s ckptSource) Float32(name string) ([]float32, error) { return s.c.Float32(name) }
func (s ckptSource) Names() []string                        { return s.c.Names() }

// Load reads a VAE directory (a diffusers pipeline's vae/): config.json and
// diffusion_pytorch_model.safetensors, or with variant "fp16" (or "bf16")
// diffusion_pytorch_model.fp16.safetensors first, in the order of
// sdfiles.WeightFiles (an index of shards, .bin files too). F16 and BF16
// weights are converted to float32 as they load.
func Load(dir, variant string) (*Model, error) {
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	c, err := sdfiles.OpenWeights(dir, "diffusion_pytorch_model", variant)
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	m, err := FromSource(cfg, ckptSource{c})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w (in %s)", err, c.Path())
	}
	m.closer = c
	return m, nil
}
