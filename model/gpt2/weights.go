package gpt2

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/internal/hfckpt"
)

// Block holds one transformer block's parameters. Linear layers keep the
// Hugging Face Conv1D layout: weights are [in, out] row-major, so a layer is
// y = x·W + b.
type Block struct {
	LN1G, LN1B []float32 // ln_1 gain and bias [C]
	AttnW      []float32 // attn.c_attn.weight [C, 3C]: q, k, v along the last axis
	AttnB      []float32 // attn.c_attn.bias [3C]
	AttnProjW  []float32 // attn.c_proj.weight [C, C]
	AttnProjB  []float32 // attn.c_proj.bias [C]
	LN2G, LN2B []float32 // ln_2 gain and bias [C]
	FCW        []float32 // mlp.c_fc.weight [C, 4C]
	FCB        []float32 // mlp.c_fc.bias [4C]
	ProjW      []float32 // mlp.c_proj.weight [4C, C]
	ProjB      []float32 // mlp.c_proj.bias [C]
}

// Weights holds all parameters of a GPT-2 model. Loaded from an F32
// checkpoint, the slices point into the memory-mapped file. A model loaded
// from a loupe quantize directory has no float32 copy of its quantized
// matrices: only WPE, the LayerNorms and the biases are set (and WTE when
// the LM head is untied); the differentiable pass dequantizes the rest on
// first use (see ForwardPass).
type Weights struct {
	WTE        []float32 // token embedding [V, C]
	WPE        []float32 // position embedding [P, C]
	Blocks     []Block   // NLayer blocks
	LNFG, LNFB []float32 // final LayerNorm ln_f [C]
	// LMHead is the output projection [V, C] (logits = h·LMHeadᵀ). It is
	// WTE itself unless the checkpoint stores a different lm_head.weight.
	LMHead []float32
}

// Model is a GPT-2 network: its configuration and weights. A Model is
// read-only once loaded and may be shared by many States and goroutines.
type Model struct {
	Config  Config
	Weights Weights

	file *checkpoint.Checkpoint // the mapped files F32 weights live in, nil for Random
	// mapped holds the first element of every weight used in place from
	// the file's mapping (Quantize releases their pages).
	mapped map[*float32]bool
	quant  *quantized // the int8, bf16 or f16 inference weights, nil for float32 (Quantize)
}

// Close releases the memory-mapped checkpoint files. The model and every
// slice of its Weights must not be used afterwards.
func (m *Model) Close() error {
	if m.file == nil {
		return nil
	}
	f := m.file
	m.file = nil
	return f.Close()
}

// tensorSpec is one expected tensor: its Hugging Face name (without the
// "transformer." prefix), its shape and where it goes.
type tensorSpec struct {
	name  string
	shape []int
	dst   *[]float32
}

// specs lists every parameter tensor a GPT-2 checkpoint must hold, in
// forward order, pointing into w (whose Blocks it sizes unless they already
// number NLayer).
func specs(c Config, w *Weights) []tensorSpec {
	C, V, P := c.NEmbd, c.VocabSize, c.NPositions
	if len(w.Blocks) != c.NLayer {
		w.Blocks = make([]Block, c.NLayer)
	}
	s := []tensorSpec{
		{"wte.weight", []int{V, C}, &w.WTE},
		{"wpe.weight", []int{P, C}, &w.WPE},
	}
	for l := range w.Blocks {
		b := &w.Blocks[l]
		p := "h." + strconv.Itoa(l) + "."
		s = append(s,
			tensorSpec{p + "ln_1.weight", []int{C}, &b.LN1G},
			tensorSpec{p + "ln_1.bias", []int{C}, &b.LN1B},
			tensorSpec{p + "attn.c_attn.weight", []int{C, 3 * C}, &b.AttnW},
			tensorSpec{p + "attn.c_attn.bias", []int{3 * C}, &b.AttnB},
			tensorSpec{p + "attn.c_proj.weight", []int{C, C}, &b.AttnProjW},
			tensorSpec{p + "attn.c_proj.bias", []int{C}, &b.AttnProjB},
			tensorSpec{p + "ln_2.weight", []int{C}, &b.LN2G},
			tensorSpec{p + "ln_2.bias", []int{C}, &b.LN2B},
			tensorSpec{p + "mlp.c_fc.weight", []int{C, 4 * C}, &b.FCW},
			tensorSpec{p + "mlp.c_fc.bias", []int{4 * C}, &b.FCB},
			tensorSpec{p + "mlp.c_proj.weight", []int{4 * C, C}, &b.ProjW},
			tensorSpec{p + "mlp.c_proj.bias", []int{C}, &b.ProjB},
		)
	}
	return append(s,
		tensorSpec{"ln_f.weight", []int{C}, &w.LNFG},
		tensorSpec{"ln_f.bias", []int{C}, &w.LNFB})
}

// Load reads a GPT-2 checkpoint directory in Hugging Face layout:
// config.json and the weights, the first of model.safetensors,
// model.safetensors.index.json (shards), pytorch_model.bin and
// pytorch_model.bin.index.json that the directory holds (see package
// checkpoint). See the package documentation for the accepted tensor names.
// F32 weights are used in place in the memory-mapped files, whatever the
// format; F16 and BF16 weights are converted to float32.
func Load(dir string) (*Model, error) { return LoadWith(dir, LoadOptions{}) }

// LoadOptions control LoadWith. The zero value is Load.
type LoadOptions struct {
	// Quantize is the compute precision of the inference pass: Float32
	// ("none" or "float32"), Int8 or BF16 (see Model.Quantize), or ""
	// for the checkpoint's own (float32, or the precision of a loupe
	// quantize directory). With Int8 or BF16 the weights are converted
	// tensor by tensor as they are read, and a float32 checkpoint's
	// mapped pages are released after each, so that the float32 weights
	// are never all resident at once. A loupe quantize directory is loaded
	// as stored, without conversion; asking it for another precision
	// (float32 included) is an error naming both.
	Quantize string
}

// LoadWith is Load with options.
func LoadWith(dir string, opt LoadOptions) (*Model, error) {
	precision, err := ParsePrecision(opt.Quantize)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(hfckpt.ConfigPath(dir))
	if err != nil {
		return nil, err
	}
	if cfg.Quantization != "" && opt.Quantize != "" && precision != cfg.Quantization {
		return nil, fmt.Errorf("gpt2: %s stores %s weights (written by loupe quantize): precision %s asked for; quantize the float32 checkpoint for another precision", dir, cfg.Quantization, precisionName(precision))
	}
	f, err := hfckpt.Open("gpt2", dir)
	if err != nil {
		return nil, err
	}
	path := f.Path()
	m := &Model{Config: cfg, file: f}
	if cfg.Quantization != "" {
		if err := m.loadQuantized(path); err != nil {
			f.Close()
			return nil, err
		}
		m.prefaultRest()
		return m, nil
	}
	if err := m.loadWeights(path); err != nil {
		f.Close()
		return nil, err
	}
	if precision == Float32 {
		prefault(m.regions())
		return m, nil
	}
	if err := m.Quantize(precision); err != nil {
		f.Close()
		return nil, err
	}
	m.prefaultRest()
	return m, nil
}

// prefaultRest reads in the float32 tensors a quantized inference pass
// still reads in full: LayerNorms, biases and the position embeddings
// (token embedding rows, where float32, are read one by one as tokens
// come).
func (m *Model) prefaultRest() {
	w := &m.Weights
	rest := [][]float32{w.WPE, w.LNFG, w.LNFB}
	for _, b := range w.Blocks {
		rest = append(rest, b.LN1G, b.LN1B, b.LN2G, b.LN2B, b.AttnB, b.AttnProjB, b.FCB, b.ProjB)
	}
	prefault(rest)
}

// noteMapped records that data, tensor name's values, is used in place in
// the file's memory mapping (an F32 tensor stored as one run).
func (m *Model) noteMapped(name string, data []float32) {
	raw, ok := m.file.Stored(name)
	if !ok || len(data) == 0 || len(raw) != 4*len(data) || unsafe.Pointer(&raw[0]) != unsafe.Pointer(&data[0]) {
		return
	}
	if m.mapped == nil {
		m.mapped = map[*float32]bool{}
	}
	m.mapped[&data[0]] = true
}

// loadWeights maps every expected tensor of m.file into m.Weights.
func (m *Model) loadWeights(path string) error {
	f := m.file
	prefix := ""
	if _, ok := f.Info("transformer.wte.weight"); ok {
		prefix = "transformer."
	}
	used := map[string]bool{}
	for _, s := range specs(m.Config, &m.Weights) {
		name := prefix + s.name
		info, ok := f.Info(name)
		if !ok {
			return fmt.Errorf("gpt2: %s: tensor %q is missing (config.json has n_layer %d)", path, name, m.Config.NLayer)
		}
		if !slices.Equal(info.Shape, s.shape) {
			return fmt.Errorf("gpt2: %s: tensor %q has shape %v, want %v (from config.json)", path, name, info.Shape, s.shape)
		}
		data, err := f.Float32(name)
		if err != nil {
			return fmt.Errorf("gpt2: %w", err)
		}
		if info.DType != "F32" {
			// Converted to a float32 copy: the stored F16/BF16 pages are
			// not needed any more.
			if raw, ok := f.Stored(name); ok {
				releaseBytes(raw)
			}
		}
		*s.dst = data
		m.noteMapped(name, data)
		used[name] = true
	}
	m.Weights.LMHead = m.Weights.WTE
	if info, ok := f.Info("lm_head.weight"); ok {
		want := []int{m.Config.VocabSize, m.Config.NEmbd}
		if !slices.Equal(info.Shape, want) {
			return fmt.Errorf("gpt2: %s: tensor %q has shape %v, want %v (from config.json)", path, "lm_head.weight", info.Shape, want)
		}
		data, err := f.Float32("lm_head.weight")
		if err != nil {
			return fmt.Errorf("gpt2: %w", err)
		}
		used["lm_head.weight"] = true
		if len(data) > 0 && &data[0] == &m.Weights.WTE[0] {
			// A tied head saved once (torch.save shares the storage): the
			// same memory already.
		} else if slices.Equal(data, m.Weights.WTE) {
			// A tied head saved twice: keep one copy in memory.
			if raw, inFile := f.Stored("lm_head.weight"); inFile && info.DType == "F32" {
				releaseBytes(raw) // drop the pages the comparison read
			}
		} else {
			m.Weights.LMHead = data
			m.noteMapped("lm_head.weight", data)
		}
	}
	return hfckpt.Unexpected("gpt2", path, f.Names(), func(name string) bool {
		return used[name] || strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias")
	}, "a GPT-2 parameter for this config.json")
}

// regions lists every weight slice (for prefault).
func (m *Model) regions() [][]float32 {
	w := m.Weights
	blocks := w.Blocks
	sp := specs(m.Config, &w)
	copy(w.Blocks, blocks)
	out := make([][]float32, 0, len(sp)+1)
	for _, s := range sp {
		out = append(out, *s.dst)
	}
	return append(out, m.Weights.LMHead)
}

// WeightBytes is the size of the model's parameters stored as float32.
func (m *Model) WeightBytes() int64 {
	c := m.Config
	n := int64(c.VocabSize+c.NPositions)*int64(c.NEmbd) + 2*int64(c.NEmbd) +
		int64(c.NLayer)*int64(12*c.NEmbd*c.NEmbd+13*c.NEmbd)
	return 4 * n
}

// Random builds a model with deterministic pseudo-random weights: each
// tensor is filled from a splitmix64 stream seeded with the FNV-1a hash of
// its name xor seed; matrices get uniform values in [-scale/2, scale/2),
// biases in [-1/16, 1/16), LayerNorm gains in [7/8, 9/8). The values are
// bit-identical to those of testdata/reference.py, so tests and benchmarks
// can use models too large to commit as files.
func Random(cfg Config, seed uint64, scale float64) (*Model, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("gpt2: config: %w", err)
	}
	m := &Model{Config: cfg}
	for _, s := range specs(cfg, &m.Weights) {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		v := make([]float32, n)
		switch {
		case strings.HasSuffix(s.name, "ln_1.weight") || strings.HasSuffix(s.name, "ln_2.weight") || s.name == "ln_f.weight":
			hfckpt.Uniform(v, s.name, seed, 1, 0.25)
		case strings.HasSuffix(s.name, ".bias"):
			hfckpt.Uniform(v, s.name, seed, 0, 0.125)
		default:
			hfckpt.Uniform(v, s.name, seed, 0, scale)
		}
		*s.dst = v
	}
	m.Weights.LMHead = m.Weights.WTE
	return m, nil
}

// Sanity bounds on a config (far above every released GPT-2: gpt2-xl has
// 48 layers, 25 heads, 1600 wide, 1024 positions, 50257 tokens), so that a
// corrupt config.json cannot make Load allocate without bound.
const (
	maxLayers    = 1024
	maxHeads     = 1024
	maxEmbd      = 1 << 16
	maxPositions = 1 << 20
	maxVocab     = 1 << 22
)

// check validates a Config's sizes (ParseConfig calls it; Random checks a
// Config built by hand).
func (c Config) check() error {
	if c.NLayer <= 0 || c.NHead <= 0 || c.NEmbd <= 0 || c.NPositions <= 0 || c.VocabSize <= 0 {
		return fmt.Errorf("sizes must be positive: %+v", c)
	}
	if c.NEmbd%c.NHead != 0 {
		return fmt.Errorf("n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead)
	}
	for _, l := range []struct {
		name     string
		v, limit int
	}{
		{"n_layer", c.NLayer, maxLayers}, {"n_head", c.NHead, maxHeads}, {"n_embd", c.NEmbd, maxEmbd},
		{"n_positions", c.NPositions, maxPositions}, {"vocab_size", c.VocabSize, maxVocab},
	} {
		if l.v > l.limit {
			return fmt.Errorf("%s = %d is larger than loupe accepts (%d)", l.name, l.v, l.limit)
		}
	}
	if c.Activation != "gelu_new" && c.Activation != "gelu" {
		return fmt.Errorf("activation %q, want gelu_new or gelu", c.Activation)
	}
	if math.IsNaN(float64(c.LayerNormEps)) || c.LayerNormEps < 0 {
		return fmt.Errorf("layer norm epsilon %v", c.LayerNormEps)
	}
	return nil
}
