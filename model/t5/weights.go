package t5

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/safetensors"
)

// Attention holds one attention module's projections, nn.Linear layout
// without biases: q, k, v [I, C], o [C, I], with I = Heads·DKV.
type Attention struct {
	QW, KW, VW, OW []float32
}

// FeedForward is DenseReluDense: wi [F, C] (wi_0 when gated), wi_1 [F, C]
// (gated only, else nil), wo [C, F].
type FeedForward struct {
	WI, WI1, WO []float32
}

// EncoderLayer holds one pre-norm encoder block.
type EncoderLayer struct {
	SelfAttn Attention   // layer.0.SelfAttention
	SelfLN   []float32   // layer.0.layer_norm [C]
	FF       FeedForward // layer.1.DenseReluDense
	FFLN     []float32   // layer.1.layer_norm
}

// DecoderLayer holds one pre-norm decoder block.
type DecoderLayer struct {
	SelfAttn  Attention   // layer.0.SelfAttention
	SelfLN    []float32   // layer.0.layer_norm
	CrossAttn Attention   // layer.1.EncDecAttention
	CrossLN   []float32   // layer.1.layer_norm
	FF        FeedForward // layer.2.DenseReluDense
	FFLN      []float32   // layer.2.layer_norm
}

// Weights holds every parameter. Loaded from an F32 checkpoint, most slices
// point into the memory-mapped file.
type Weights struct {
	Embed []float32 // shared.weight [V, C], read by both stacks
	// EncRelBias and DecRelBias are relative_attention_bias.weight of
	// block 0 of each stack, [Buckets, Heads]; every layer uses them.
	EncRelBias, DecRelBias []float32
	Encoder                []EncoderLayer
	Decoder                []DecoderLayer
	EncFinalLN, DecFinalLN []float32 // final_layer_norm [C]
	LMHead                 []float32 // [V, C]; Embed itself when tied
}

// Model is a T5 network. It is read-only once loaded and may be shared by
// many Decoders and goroutines.
type Model struct {
	Config  Config
	Weights Weights

	// encQKV[l] and selfQKV[l] are a layer's q, k and v projections stacked
	// into one [3I, C] matrix: one matrix product instead of three. wi[l]
	// (encoder) and decWI[l] are wi_0 and wi_1 stacked [2F, C] for gated
	// models, wi itself otherwise.
	encQKV, selfQKV [][]float32
	encWI, decWI    [][]float32

	file *checkpoint.Checkpoint // nil for Random
}

// Close releases the checkpoint file a loaded model maps. The model must
// not be used afterwards.
func (m *Model) Close() error {
	if m.file == nil {
		return nil
	}
	f := m.file
	m.file = nil
	return f.Close()
}

type tensorSpec struct {
	name  string
	shape []int
	dst   *[]float32
}

func attnSpecs(p string, C, I int, a *Attention) []tensorSpec {
	return []tensorSpec{
		{p + "q.weight", []int{I, C}, &a.QW}, {p + "k.weight", []int{I, C}, &a.KW},
		{p + "v.weight", []int{I, C}, &a.VW}, {p + "o.weight", []int{C, I}, &a.OW},
	}
}

func ffSpecs(p string, c Config, f *FeedForward) []tensorSpec {
	C, F := c.DModel, c.DFF
	if c.Gated {
		return []tensorSpec{{p + "wi_0.weight", []int{F, C}, &f.WI}, {p + "wi_1.weight", []int{F, C}, &f.WI1}, {p + "wo.weight", []int{C, F}, &f.WO}}
	}
	return []tensorSpec{{p + "wi.weight", []int{F, C}, &f.WI}, {p + "wo.weight", []int{C, F}, &f.WO}}
}

// specs lists every tensor by its Hugging Face name (T5ForConditionalGeneration),
// sizing w's layer slices: shared.weight, then the stacks, then
// lm_head.weight when untied.
func specs(c Config, w *Weights) []tensorSpec {
	C, I := c.DModel, c.Inner()
	if len(w.Encoder) != c.EncoderLayers {
		w.Encoder = make([]EncoderLayer, c.EncoderLayers)
	}
	if len(w.Decoder) != c.DecoderLayers {
		w.Decoder = make([]DecoderLayer, c.DecoderLayers)
	}
	s := []tensorSpec{{"shared.weight", []int{c.VocabSize, C}, &w.Embed}}
	for l := range w.Encoder {
		L := &w.Encoder[l]
		p := "encoder.block." + strconv.Itoa(l) + ".layer."
		s = append(s, attnSpecs(p+"0.SelfAttention.", C, I, &L.SelfAttn)...)
		if l == 0 {
			s = append(s, tensorSpec{p + "0.SelfAttention.relative_attention_bias.weight", []int{c.Buckets, c.Heads}, &w.EncRelBias})
		}
		s = append(s, tensorSpec{p + "0.layer_norm.weight", []int{C}, &L.SelfLN})
		s = append(s, ffSpecs(p+"1.DenseReluDense.", c, &L.FF)...)
		s = append(s, tensorSpec{p + "1.layer_norm.weight", []int{C}, &L.FFLN})
	}
	s = append(s, tensorSpec{"encoder.final_layer_norm.weight", []int{C}, &w.EncFinalLN})
	for l := range w.Decoder {
		L := &w.Decoder[l]
		p := "decoder.block." + strconv.Itoa(l) + ".layer."
		s = append(s, attnSpecs(p+"0.SelfAttention.", C, I, &L.SelfAttn)...)
		if l == 0 {
			s = append(s, tensorSpec{p + "0.SelfAttention.relative_attention_bias.weight", []int{c.Buckets, c.Heads}, &w.DecRelBias})
		}
		s = append(s, tensorSpec{p + "0.layer_norm.weight", []int{C}, &L.SelfLN})
		s = append(s, attnSpecs(p+"1.EncDecAttention.", C, I, &L.CrossAttn)...)
		s = append(s, tensorSpec{p + "1.layer_norm.weight", []int{C}, &L.CrossLN})
		s = append(s, ffSpecs(p+"2.DenseReluDense.", c, &L.FF)...)
		s = append(s, tensorSpec{p + "2.layer_norm.weight", []int{C}, &L.FFLN})
	}
	s = append(s, tensorSpec{"decoder.final_layer_norm.weight", []int{C}, &w.DecFinalLN})
	if !c.TieWordEmbeddings {
		s = append(s, tensorSpec{"lm_head.weight", []int{c.VocabSize, C}, &w.LMHead})
	}
	return s
}

// Load reads a T5 checkpoint directory in Hugging Face layout: config.json
// and the weights (model.safetensors, its shard index, pytorch_model.bin
// or its index; see package checkpoint), F32, F16 or BF16 (converted to
// float32 once). The token embedding is shared.weight (else
// encoder.embed_tokens.weight); the stacks' embed_tokens copies are
// accepted, as is lm_head.weight when tied (transformers overwrites it
// with the tie) and the decoder's unused
// block.0.layer.1.EncDecAttention.relative_attention_bias.weight of old
// checkpoints. Missing, mis-shaped or unexpected tensors are errors naming
// the tensor.
func Load(dir string) (*Model, error) {
	cfg, err := LoadConfig(configPath(dir))
	if err != nil {
		return nil, err
	}
	f, err := checkpoint.Open(dir)
	if err != nil {
		if errors.Is(err, checkpoint.ErrNoWeights) {
			return nil, fmt.Errorf("t5: %s: no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json (the weights files loupe reads)", dir)
		}
		return nil, fmt.Errorf("t5: %w", err)
	}
	m := &Model{Config: cfg, file: f}
	if err := m.loadWeights(); err != nil {
		f.Close()
		return nil, err
	}
	m.prepare()
	return m, nil
}

func (m *Model) loadWeights() error {
	f, c, w := m.file, m.Config, &m.Weights
	path := f.Path()
	used := map[string]bool{}
	has := func(name string) bool { _, ok := f.Info(name); return ok }
	read := func(name string, shape []int) ([]float32, error) {
		info, ok := f.Info(name)
		if !ok {
			return nil, fmt.Errorf("t5: %s: tensor %q is missing (config.json: %d+%d layers, feed_forward_proj %q)", path, name, c.EncoderLayers, c.DecoderLayers, c.FeedForwardProj())
		}
		if !slices.Equal(info.Shape, shape) {
			return nil, fmt.Errorf("t5: %s: tensor %q has shape %v, want %v (from config.json)", path, name, info.Shape, shape)
		}
		data, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("t5: %w", err)
		}
		used[name] = true
		return data, nil
	}
	for _, s := range specs(c, w) {
		name := s.name
		if name == "shared.weight" && !has(name) && has("encoder.embed_tokens.weight") {
			name = "encoder.embed_tokens.weight"
		}
		d, err := read(name, s.shape)
		if err != nil {
			return err
		}
		*s.dst = d
	}
	// Tied copies and tensors transformers ignores.
	for _, n := range []string{"encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
		"decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"} {
		if has(n) {
			used[n] = true
		}
	}
	if c.TieWordEmbeddings {
		w.LMHead = w.Embed
		if has("lm_head.weight") {
			used["lm_head.weight"] = true
		}
	}
	var unknown []string
	for _, name := range f.Names() {
		if !used[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		more := ""
		if len(unknown) > 3 {
			more = fmt.Sprintf(" and %d more", len(unknown)-3)
			unknown = unknown[:3]
		}
		return fmt.Errorf("t5: %s: unexpected tensor %q%s (not a T5 parameter for this config.json)", path, strings.Join(unknown, `", "`), more)
	}
	return nil
}

// prepare builds the stacked matrices the forward pass uses.
func (m *Model) prepare() {
	w := &m.Weights
	wi := func(f *FeedForward) []float32 {
		if m.Config.Gated {
			return slices.Concat(f.WI, f.WI1)
		}
		return f.WI
	}
	m.encQKV, m.encWI = make([][]float32, len(w.Encoder)), make([][]float32, len(w.Encoder))
	for l := range w.Encoder {
		a := &w.Encoder[l].SelfAttn
		m.encQKV[l] = slices.Concat(a.QW, a.KW, a.VW)
		m.encWI[l] = wi(&w.Encoder[l].FF)
	}
	m.selfQKV, m.decWI = make([][]float32, len(w.Decoder)), make([][]float32, len(w.Decoder))
	for l := range w.Decoder {
		a := &w.Decoder[l].SelfAttn
		m.selfQKV[l] = slices.Concat(a.QW, a.KW, a.VW)
		m.decWI[l] = wi(&w.Decoder[l].FF)
	}
}

// Random builds a model with deterministic pseudo-random weights: each
// tensor (by its Hugging Face name) is filled from a splitmix64 stream
// seeded with the FNV-1a hash of the name xor seed: layer_norm gains
// uniform in [7/8, 9/8), relative attention biases in [-1/2, 1/2), query
// projections in [-0.1, 0.1)/sqrt(d_kv) (T5's initialisation folds the
// attention scaling it lacks into q; without it attention over random
// weights is nearly one-hot and ill-conditioned), other matrices and the
// embedding in [-0.1, 0.1). The values are bit-identical
// to those of testdata/reference.py, so tests and benchmarks can use models
// too large to commit as files.
func Random(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("t5: config: %w", err)
	}
	m := &Model{Config: cfg}
	w := &m.Weights
	for _, s := range specs(cfg, w) {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		*s.dst = randomValues(s.name, n, seed, cfg.DKV)
	}
	if cfg.TieWordEmbeddings {
		w.LMHead = w.Embed
	}
	m.prepare()
	return m, nil
}

func randomValues(name string, n int, seed uint64, dkv int) []float32 {
	v := make([]float32, n)
	scale := 0.2
	if strings.HasSuffix(name, ".q.weight") {
		scale /= math.Sqrt(float64(dkv))
	}
	z := fnv1a64(name) ^ seed
	isGain := strings.HasSuffix(name, "layer_norm.weight")
	isRel := strings.HasSuffix(name, "relative_attention_bias.weight")
	for i := range v {
		z += 0x9E3779B97F4A7C15
		u := float64(mix64(z)>>40)*(1.0/(1<<24)) - 0.5
		switch {
		case isGain:
			v[i] = float32(1 + u*0.25)
		case isRel:
			v[i] = float32(u)
		default:
			v[i] = float32(u * scale)
		}
	}
	return v
}

func fnv1a64(s string) uint64 {
	h := uint64(0xCBF29CE484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001B3
	}
	return h
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Save writes m as a Hugging Face checkpoint directory that Load and
// transformers (T5ForConditionalGeneration) read: config.json and
// model.safetensors (shared.weight, the stacks, lm_head.weight when
// untied). dtype is "F32", "F16" or "BF16". Both files are written
// atomically.
func (m *Model) Save(dir, dtype string) error {
	c := m.Config
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	cfg := map[string]any{
		"architectures": []string{"T5ForConditionalGeneration"}, "model_type": "t5", "is_encoder_decoder": true,
		"d_model": c.DModel, "d_kv": c.DKV, "d_ff": c.DFF, "num_layers": c.EncoderLayers,
		"num_decoder_layers": c.DecoderLayers, "num_heads": c.Heads, "vocab_size": c.VocabSize,
		"relative_attention_num_buckets": c.Buckets, "relative_attention_max_distance": c.MaxDistance,
		"layer_norm_epsilon": c.LayerNormEps, "feed_forward_proj": c.FeedForwardProj(),
		"tie_word_embeddings": c.TieWordEmbeddings,
	}
	for k, v := range map[string]int{"pad_token_id": c.PadTokenID, "eos_token_id": c.EOSTokenID, "decoder_start_token_id": c.DecoderStartTokenID} {
		if v >= 0 {
			cfg[k] = v
		} else {
			cfg[k] = nil
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	w := m.Weights // a copy whose layer slices specs points into
	var ts []safetensors.Tensor
	for _, s := range specs(c, &w) {
		ts = append(ts, safetensors.Tensor{Name: s.name, Shape: s.shape, Data: *s.dst, DType: dtype})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("t5: %w", err)
	}
	return nil
}
