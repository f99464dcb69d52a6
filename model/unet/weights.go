package unet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/internal/kernels"
	"github.com/loupe-ml/loupe/safetensors"
)

// Source provides named tensors, such as an open checkpoint or a renamed
// single-file CompVis checkpoint. Names are diffusers' (conv_in.weight,
// down_blocks.0.resnets.0.norm1.weight, ...).
type Source interface {
	// Shape returns the shape of the tensor called name and whether it exists.
	Shape(name string) ([]int, bool)
	// Float32 returns the tensor's values, row-major.
	Float32(name string) ([]float32, error)
}

// HalfSource is implemented by sources that can hand out F16 and BF16
// tensors as their stored little-endian bytes (an open checkpoint can:
// views of the mapped file). The model then keeps those weights in that
// precision and converts each one to float32 when its layer runs.
type HalfSource interface {
	Source
	// Half returns the tensor's dtype ("F16" or "BF16") and bytes, and
	// false if the tensor is stored in another type.
	Half(name string) (dtype string, b []byte, ok bool)
}

// mat is a weight matrix [rows, cols] (a Linear's [out, in], a
// convolution's [out, in·kh·kw]), float32 in memory or kept as stored
// 16-bit parts that are stacked along the rows (fused q, k, v).
type mat struct {
	rows, cols int
	f          []float32
	parts      []halfMat
}

// halfMat is one stored F16 or BF16 tensor.
type halfMat struct {
	dtype string
	b     []byte
}

// get returns the matrix as float32: the stored values, or the 16-bit
// parts converted into *buf (grown as needed).
func (m *mat) get(buf *[]float32) []float32 {
	if m.parts == nil {
		return m.f
	}
	n := m.rows * m.cols
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	dst := (*buf)[:n]
	off := 0
	for _, p := range m.parts {
		k := len(p.b) / 2
		p.convert(dst[off : off+k])
		off += k
	}
	return dst
}

// convert widens the stored values into dst (len(b)/2 values).
func (h halfMat) convert(dst []float32) { safetensors.Widen(dst, h.dtype, h.b) }

// linear is an nn.Linear (or a 1×1 convolution): y = x·Wᵀ + b.
type linear struct {
	w mat       // [out, in]
	b []float32 // [out] or nil
}

// conv is an nn.Conv2d with a bias.
type conv struct {
	w mat       // [OutC, InC·KH·KW]
	b []float32 // [OutC]
	g kernels.ConvGeom
}

// norm is a GroupNorm's or LayerNorm's affine parameters.
type norm struct{ g, b []float32 }

// resnet is diffusers' ResnetBlock2D (time_embedding_norm "default").
type resnet struct {
	in, out  int
	norm1    norm   // GroupNorm(groups, in)
	conv1    conv   // 3×3 in → out
	temb     linear // time_emb_proj: time_embed_dim → out
	norm2    norm   // GroupNorm(groups, out)
	conv2    conv   // 3×3 out → out
	shortcut *conv  // conv_shortcut 1×1 in → out, when in ≠ out
	scale    float32
}

// tblock is a BasicTransformerBlock: self-attention, cross-attention on
// the text, GEGLU feed-forward, each after a LayerNorm and added back.
type tblock struct {
	norm1, norm2, norm3 norm
	qkv                 linear // attn1.to_q, to_k, to_v stacked: [3·C, C], no bias
	out1                linear // attn1.to_out.0 [C, C]
	q2                  linear // attn2.to_q [C, C]
	kv2                 linear // attn2.to_k, to_v stacked: [2·C, cross]
	out2                linear // attn2.to_out.0 [C, C]
	ff1                 linear // ff.net.0.proj [2·4C, C]: value half, then gate half
	ff2                 linear // ff.net.2 [C, 4C]
	name                string // module path of attn2, for cross-attention maps
}

// transformer is a Transformer2DModel on continuous input.
type transformer struct {
	ch, heads int
	norm      norm   // GroupNorm(groups, C, eps 1e-6)
	projIn    linear // [C, C]: a 1×1 conv or (use_linear_projection) a Linear
	blocks    []tblock
	projOut   linear // [C, C]
}

// level is one down or up block: ResNets, each optionally followed by a
// transformer, then a down- or upsampling convolution.
type level struct {
	resnets []resnet
	attns   []transformer // empty for DownBlock2D and UpBlock2D
	sample  *conv         // Downsample2D's stride-2 conv or Upsample2D's conv, or nil
}

// Weights holds every parameter of a UNet2DConditionModel.
type Weights struct {
	convIn       conv
	time1, time2 linear // time_embedding.linear_1, linear_2
	down         []level
	midResnets   []resnet // mid_block.resnets (2)
	midAttn      transformer
	up           []level
	normOut      norm // conv_norm_out
	convOut      conv
	precision    string // "F32", or the "F16"/"BF16" the large matrices are kept in
	tensors      int    // number of tensors loaded
}

type loader struct {
	src  Source
	hs   HalfSource
	used map[string]bool
	err  error
	prec string
}

func (l *loader) fail(format string, args ...any) {
	if l.err == nil {
		l.err = fmt.Errorf("unet: "+format, args...)
	}
}

// shape checks that name exists with the given shape.
func (l *loader) shape(name string, shape []int) bool {
	if l.err != nil {
		return false
	}
	have, ok := l.src.Shape(name)
	if !ok {
		l.fail("tensor %q is missing (want shape %v)", name, shape)
		return false
	}
	if !slices.Equal(have, shape) {
		l.fail("tensor %q has shape %v, want %v", name, have, shape)
		return false
	}
	return true
}

// vec loads a small tensor as float32.
func (l *loader) vec(name string, shape ...int) []float32 {
	if !l.shape(name, shape) {
		return nil
	}
	data, err := l.src.Float32(name)
	if err != nil {
		l.fail("tensor %q: %v", name, err)
		return nil
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(data) != n {
		l.fail("tensor %q holds %d values, want %d for shape %v", name, len(data), n, shape)
		return nil
	}
	l.used[name] = true
	return data
}

// matrix loads tensors stacked along their first axis as one [rows, cols]
// matrix, each of the given shape (its first dimension its rows). 16-bit
// tensors stay in stored precision when the source hands them out.
func (l *loader) matrix(names []string, shape ...int) mat {
	cols := 1
	for _, d := range shape[1:] {
		cols *= d
	}
	m := mat{rows: shape[0] * len(names), cols: cols}
	if l.err != nil {
		return m
	}
	if l.hs != nil {
		var parts []halfMat
		for _, name := range names {
			if !l.shape(name, shape) {
				return m
			}
			dt, b, ok := l.hs.Half(name)
			if !ok {
				parts = nil
				break
			}
			if len(b) != 2*shape[0]*cols {
				l.fail("tensor %q holds %d bytes, want %d for %s shape %v", name, len(b), 2*shape[0]*cols, dt, shape)
				return m
			}
			parts = append(parts, halfMat{dt, b})
		}
		if parts != nil {
			for _, name := range names {
				l.used[name] = true
			}
			m.parts = parts
			l.prec = parts[0].dtype
			return m
		}
	}
	if len(names) == 1 {
		m.f = l.vec(names[0], shape...)
		return m
	}
	m.f = make([]float32, 0, m.rows*cols)
	for _, name := range names {
		m.f = append(m.f, l.vec(name, shape...)...)
	}
	return m
}

func (l *loader) conv(p string, in, out, k, stride int) conv {
	return conv{
		w: l.matrix([]string{p + ".weight"}, out, in, k, k),
		b: l.vec(p+".bias", out),
		g: kernels.ConvGeom{InC: in, OutC: out, KH: k, KW: k, Stride: stride, Pad: k / 2},
	}
}

func (l *loader) linear(p string, in, out int, bias bool) linear {
	lin := linear{w: l.matrix([]string{p + ".weight"}, out, in)}
	if bias {
		lin.b = l.vec(p+".bias", out)
	}
	return lin
}

// proj loads proj_in/proj_out: a Linear [C, C] (use_linear_projection) or
// a 1×1 conv [C, C, 1, 1]. The two hold the same numbers, and checkpoints
// converted from CompVis files sometimes carry the other shape, so either
// is accepted.
func (l *loader) proj(p string, c int, useLinear bool) linear {
	shape := []int{c, c, 1, 1}
	if useLinear {
		shape = shape[:2]
	}
	if have, ok := l.src.Shape(p + ".weight"); ok && (slices.Equal(have, []int{c, c}) || slices.Equal(have, []int{c, c, 1, 1})) {
		shape = have
	}
	return linear{w: l.matrix([]string{p + ".weight"}, shape...), b: l.vec(p+".bias", c)}
}

func (l *loader) norm(p string, c int) norm {
	return norm{g: l.vec(p+".weight", c), b: l.vec(p+".bias", c)}
}

func (l *loader) resnet(p string, in, out, temb int, scale float64) resnet {
	r := resnet{
		in: in, out: out,
		norm1: l.norm(p+".norm1", in),
		conv1: l.conv(p+".conv1", in, out, 3, 1),
		temb:  l.linear(p+".time_emb_proj", temb, out, true),
		norm2: l.norm(p+".norm2", out),
		conv2: l.conv(p+".conv2", out, out, 3, 1),
		scale: float32(scale),
	}
	if in != out {
		s := l.conv(p+".conv_shortcut", in, out, 1, 1)
		r.shortcut = &s
	}
	return r
}

func (l *loader) transformer(p string, c, heads, layers, cross int, useLinear bool) transformer {
	t := transformer{ch: c, heads: heads,
		norm:   l.norm(p+".norm", c),
		projIn: l.proj(p+".proj_in", c, useLinear),
	}
	for i := range layers {
		b := p + ".transformer_blocks." + strconv.Itoa(i)
		t.blocks = append(t.blocks, tblock{
			norm1: l.norm(b+".norm1", c),
			qkv:   linear{w: l.matrix([]string{b + ".attn1.to_q.weight", b + ".attn1.to_k.weight", b + ".attn1.to_v.weight"}, c, c)},
			out1:  l.linear(b+".attn1.to_out.0", c, c, true),
			norm2: l.norm(b+".norm2", c),
			q2:    l.linear(b+".attn2.to_q", c, c, false),
			kv2:   linear{w: l.matrix([]string{b + ".attn2.to_k.weight", b + ".attn2.to_v.weight"}, c, cross)},
			out2:  l.linear(b+".attn2.to_out.0", c, c, true),
			norm3: l.norm(b+".norm3", c),
			ff1:   l.linear(b+".ff.net.0.proj", c, 8*c, true),
			ff2:   l.linear(b+".ff.net.2", 4*c, c, true),
			name:  b + ".attn2",
		})
	}
	t.projOut = l.proj(p+".proj_out", c, useLinear)
	return t
}

// LoadWeights reads every parameter for cfg from src, checking presence
// and shape; with a source that lists its tensors (a Names method), a
// tensor the configuration does not use is an error too.
func LoadWeights(cfg Config, src Source) (*Weights, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("unet: %w", err)
	}
	l := &loader{src: src, used: map[string]bool{}, prec: "F32"}
	if hs, ok := src.(HalfSource); ok {
		l.hs = hs
	}
	ch := cfg.BlockOutChannels
	n := len(ch)
	T := cfg.TimeEmbedDim()
	w := &Weights{
		convIn: l.conv("conv_in", cfg.InChannels, ch[0], 3, 1),
		time1:  l.linear("time_embedding.linear_1", ch[0], T, true),
		time2:  l.linear("time_embedding.linear_2", T, T, true),
	}
	// Down: level i takes ch[i-1] (ch[0] for the first) to ch[i].
	out := ch[0]
	for i := range n {
		in := out
		out = ch[i]
		p := "down_blocks." + strconv.Itoa(i)
		var lv level
		for j := range cfg.LayersPerBlock[i] {
			rin := in
			if j > 0 {
				rin = out
			}
			lv.resnets = append(lv.resnets, l.resnet(p+".resnets."+strconv.Itoa(j), rin, out, T, 1))
			if cfg.DownBlockTypes[i] == "CrossAttnDownBlock2D" {
				lv.attns = append(lv.attns, l.transformer(p+".attentions."+strconv.Itoa(j), out, cfg.Heads[i], cfg.TransformerLayersPerBlock[i], cfg.CrossAttentionDim, cfg.UseLinearProjection))
			}
		}
		if i < n-1 {
			c := l.conv(p+".downsamplers.0.conv", out, out, 3, 2)
			lv.sample = &c
		}
		w.down = append(w.down, lv)
	}
	// Mid: resnet, then (transformer, resnet) at ch[n-1].
	c := ch[n-1]
	w.midResnets = []resnet{
		l.resnet("mid_block.resnets.0", c, c, T, cfg.MidBlockScaleFactor),
		l.resnet("mid_block.resnets.1", c, c, T, cfg.MidBlockScaleFactor),
	}
	w.midAttn = l.transformer("mid_block.attentions.0", c, cfg.Heads[n-1], cfg.TransformerLayersPerBlock[n-1], cfg.CrossAttentionDim, cfg.UseLinearProjection)
	// Up: level i (reversed channels) has layers_per_block+1 resnets, the
	// j-th fed the running state concatenated with a skip connection.
	rev := func(v []int, i int) int { return v[n-1-i] }
	out = rev(ch, 0)
	for i := range n {
		prev := out
		out = rev(ch, i)
		in := rev(ch, min(i+1, n-1))
		p := "up_blocks." + strconv.Itoa(i)
		var lv level
		layers := rev(cfg.LayersPerBlock, i) + 1
		for j := range layers {
			skip := out
			if j == layers-1 {
				skip = in
			}
			rin := out
			if j == 0 {
				rin = prev
			}
			lv.resnets = append(lv.resnets, l.resnet(p+".resnets."+strconv.Itoa(j), rin+skip, out, T, 1))
			if cfg.UpBlockTypes[i] == "CrossAttnUpBlock2D" {
				lv.attns = append(lv.attns, l.transformer(p+".attentions."+strconv.Itoa(j), out, rev(cfg.Heads, i), rev(cfg.TransformerLayersPerBlock, i), cfg.CrossAttentionDim, cfg.UseLinearProjection))
			}
		}
		if i < n-1 {
			c := l.conv(p+".upsamplers.0.conv", out, out, 3, 1)
			lv.sample = &c
		}
		w.up = append(w.up, lv)
	}
	w.normOut = l.norm("conv_norm_out", ch[0])
	w.convOut = l.conv("conv_out", ch[0], cfg.OutChannels, 3, 1)
	if l.err != nil {
		return nil, l.err
	}
	if lister, ok := src.(interface{ Names() []string }); ok {
		for _, name := range lister.Names() {
			if !l.used[name] {
				return nil, fmt.Errorf("unet: unexpected tensor %q (is config.json the one for these weights?)", name)
			}
		}
	}
	w.precision = l.prec
	w.tensors = len(l.used)
	return w, nil
}

// Model is a UNet2DConditionModel ready to run. Forward calls are
// serialised: a Model reuses its activation buffers across calls.
type Model struct {
	Config  Config
	Weights *Weights
	closer  interface{ Close() error }

	mu sync.Mutex
	ws workspace
}

// Precision returns "F32" when the weights are float32 in memory, or the
// stored "F16" or "BF16" in which the large matrices are kept and from
// which each is converted when its layer runs.
func (m *Model) Precision() string { return m.Weights.precision }

// Trim releases what the model holds between calls: its activation
// buffers (made again by the next Forward) and, for a model loaded from
// a file, the resident pages of the mapped weights (read again from the
// page cache when next used). A pipeline trims the UNet once the
// denoising is done, so that the VAE's decoding does not add to it.
func (m *Model) Trim() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ws = workspace{}
	if e, ok := m.closer.(interface{ Evict() error }); ok {
		return e.Evict()
	}
	return nil
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

// FromSource builds a model from a configuration and tensors named as
// diffusers names them (a single-file CompVis checkpoint renamed to these
// names works). The source must stay valid while the model is used. If it
// lists its tensors (a Names() []string method), every listed tensor must
// be one the model uses: list only the UNet's.
func FromSource(cfg Config, src Source) (*Model, error) {
	w, err := LoadWeights(cfg, src)
	if err != nil {
		return nil, err
	}
	return &Model{Config: cfg, Weights: w}, nil
}

type ckptSource struct{ c *checkpoint.Checkpoint }

func (s ckptSource) Shape(name string) ([]int, bool) {
	info, ok := s.c.Info(name)
	return info.Shape, ok
}
func (s ckptSource) Float32(name string) ([]float32, error) { return s.c.Float32(name) }
func (s ckptSource) Names() []string                        { return s.c.Names() }

func (s ckptSource) Half(name string) (string, []byte, bool) {
	info, ok := s.c.Info(name)
	if !ok || (info.DType != "F16" && info.DType != "BF16") {
		return "", nil, false
	}
	b, err := s.c.Bytes(name)
	if err != nil {
		return "", nil, false
	}
	return info.DType, b, true
}

// weightFiles are the names Load tries after checkpoint.Open's own
// (diffusion_pytorch_model.safetensors is not among those).
var weightFiles = []string{
	"diffusion_pytorch_model.safetensors",
	"diffusion_pytorch_model.safetensors.index.json",
	"diffusion_pytorch_model.fp16.safetensors",
	"diffusion_pytorch_model.bf16.safetensors",
	"diffusion_pytorch_model.bin",
	"diffusion_pytorch_model.fp16.bin",
}

// Load reads a diffusers unet/ directory: config.json and
// diffusion_pytorch_model.safetensors (or its .fp16 variant, or .bin), in
// F32, F16 or BF16. 16-bit weights stay in the mapped file.
func Load(dir string) (*Model, error) {
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var c *checkpoint.Checkpoint
	for _, f := range weightFiles {
		p := filepath.Join(dir, f)
		if _, statErr := os.Stat(p); statErr == nil {
			c, err = checkpoint.OpenFile(p)
			break
		}
	}
	if c == nil && err == nil {
		c, err = checkpoint.Open(dir)
		if errors.Is(err, checkpoint.ErrNoWeights) {
			return nil, fmt.Errorf("unet: %s: no diffusion_pytorch_model.safetensors, .fp16.safetensors or .bin", dir)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("unet: %w", err)
	}
	m, err := FromSource(cfg, ckptSource{c})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w (in %s)", err, c.Path())
	}
	m.closer = c
	return m, nil
}
