package bart

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

// Attention holds one attention module's projections, nn.Linear layout:
// weights [out, in] = [C, C] row-major, y = x·Wᵀ + b.
type Attention struct {
	QW, QB, KW, KB, VW, VB, OW, OB []float32
}

// EncoderLayer holds one post-LayerNorm encoder layer.
type EncoderLayer struct {
	SelfAttn           Attention
	SelfLNG, SelfLNB   []float32 // self_attn_layer_norm [C]
	FC1W, FC1B         []float32 // fc1 [F, C], [F]
	FC2W, FC2B         []float32 // fc2 [C, F], [C]
	FinalLNG, FinalLNB []float32 // final_layer_norm [C]
}

// DecoderLayer holds one post-LayerNorm decoder layer.
type DecoderLayer struct {
	SelfAttn           Attention
	SelfLNG, SelfLNB   []float32 // self_attn_layer_norm
	CrossAttn          Attention // encoder_attn
	CrossLNG, CrossLNB []float32 // encoder_attn_layer_norm
	FC1W, FC1B         []float32
	FC2W, FC2B         []float32
	FinalLNG, FinalLNB []float32
}

// Weights holds every parameter. Loaded from an F32 checkpoint, most slices
// point into the memory-mapped file.
type Weights struct {
	EncEmbed []float32 // encoder token embedding [V, C]
	DecEmbed []float32 // decoder token embedding [Vt, C] (EncEmbed itself when shared)
	// EncPos and DecPos are the position tables: learned [P+2, C] (BART,
	// position p at row p+2) or sinusoidal [P, C] (Marian; computed unless
	// the checkpoint stores them).
	EncPos, DecPos       []float32
	EncEmbLNG, EncEmbLNB []float32 // layernorm_embedding (BART), nil for Marian
	DecEmbLNG, DecEmbLNB []float32
	// EncFinalLNG... are mBART's final LayerNorms (encoder.layer_norm,
	// decoder.layer_norm), nil for BART and Marian.
	EncFinalLNG, EncFinalLNB []float32
	DecFinalLNG, DecFinalLNB []float32
	Encoder                  []EncoderLayer
	Decoder                  []DecoderLayer
	LMHead                   []float32 // [Vt, C]; DecEmbed itself when tied
	FinalLogitsBias          []float32 // [Vt]
}

// Model is a BART or Marian network. It is read-only once loaded and may be
// shared by many Decoders and goroutines.
type Model struct {
	Config  Config
	Weights Weights

	// selfQKV[l] is decoder layer l's q, k and v projections stacked into
	// one [3C, C] matrix (and bias [3C]): one matrix-vector product per
	// decoding step instead of three. encQKV is the same for the encoder.
	// The copies cost 3·C²·(encoder + decoder layers) floats (37 MB for
	// opus-mt-en-de); the separate q/k/v weights are not read afterwards.
	selfQKV, selfQKVB [][]float32
	encQKV, encQKVB   [][]float32

	file *checkpoint.Checkpoint // nil for Random
}

// Close releases the memory-mapped checkpoint. The model must not be used
// afterwards.
func (m *Model) Close() error {
	if m.file == nil {
		return nil
	}
	f := m.file
	m.file = nil
	return f.Close()
}

// tensorSpec is one expected tensor: its Hugging Face name (without the
// "model." prefix), its shape and where it goes.
type tensorSpec struct {
	name  string
	shape []int
	dst   *[]float32
}

func attnSpecs(p string, C int, a *Attention) []tensorSpec {
	return []tensorSpec{
		{p + "q_proj.weight", []int{C, C}, &a.QW}, {p + "q_proj.bias", []int{C}, &a.QB},
		{p + "k_proj.weight", []int{C, C}, &a.KW}, {p + "k_proj.bias", []int{C}, &a.KB},
		{p + "v_proj.weight", []int{C, C}, &a.VW}, {p + "v_proj.bias", []int{C}, &a.VB},
		{p + "out_proj.weight", []int{C, C}, &a.OW}, {p + "out_proj.bias", []int{C}, &a.OB},
	}
}

// layerSpecs lists the tensors of every layer plus layernorm_embedding and
// learned positions (names without "model."), sizing w's layer slices.
func layerSpecs(c Config, w *Weights) []tensorSpec {
	C := c.DModel
	if len(w.Encoder) != c.EncoderLayers {
		w.Encoder = make([]EncoderLayer, c.EncoderLayers)
	}
	if len(w.Decoder) != c.DecoderLayers {
		w.Decoder = make([]DecoderLayer, c.DecoderLayers)
	}
	var s []tensorSpec
	if !c.SinusoidalPositions {
		P := c.MaxPositions + c.posOffset()
		s = append(s, tensorSpec{"encoder.embed_positions.weight", []int{P, C}, &w.EncPos},
			tensorSpec{"decoder.embed_positions.weight", []int{P, C}, &w.DecPos})
	}
	if c.LayerNormEmbedding {
		s = append(s,
			tensorSpec{"encoder.layernorm_embedding.weight", []int{C}, &w.EncEmbLNG},
			tensorSpec{"encoder.layernorm_embedding.bias", []int{C}, &w.EncEmbLNB},
			tensorSpec{"decoder.layernorm_embedding.weight", []int{C}, &w.DecEmbLNG},
			tensorSpec{"decoder.layernorm_embedding.bias", []int{C}, &w.DecEmbLNB})
	}
	if c.PreLayerNorm {
		s = append(s,
			tensorSpec{"encoder.layer_norm.weight", []int{C}, &w.EncFinalLNG},
			tensorSpec{"encoder.layer_norm.bias", []int{C}, &w.EncFinalLNB},
			tensorSpec{"decoder.layer_norm.weight", []int{C}, &w.DecFinalLNG},
			tensorSpec{"decoder.layer_norm.bias", []int{C}, &w.DecFinalLNB})
	}
	for l := range w.Encoder {
		L := &w.Encoder[l]
		p := "encoder.layers." + strconv.Itoa(l) + "."
		F := c.EncoderFFN
		s = append(s, attnSpecs(p+"self_attn.", C, &L.SelfAttn)...)
		s = append(s,
			tensorSpec{p + "self_attn_layer_norm.weight", []int{C}, &L.SelfLNG},
			tensorSpec{p + "self_attn_layer_norm.bias", []int{C}, &L.SelfLNB},
			tensorSpec{p + "fc1.weight", []int{F, C}, &L.FC1W}, tensorSpec{p + "fc1.bias", []int{F}, &L.FC1B},
			tensorSpec{p + "fc2.weight", []int{C, F}, &L.FC2W}, tensorSpec{p + "fc2.bias", []int{C}, &L.FC2B},
			tensorSpec{p + "final_layer_norm.weight", []int{C}, &L.FinalLNG},
			tensorSpec{p + "final_layer_norm.bias", []int{C}, &L.FinalLNB})
	}
	for l := range w.Decoder {
		L := &w.Decoder[l]
		p := "decoder.layers." + strconv.Itoa(l) + "."
		F := c.DecoderFFN
		s = append(s, attnSpecs(p+"self_attn.", C, &L.SelfAttn)...)
		s = append(s,
			tensorSpec{p + "self_attn_layer_norm.weight", []int{C}, &L.SelfLNG},
			tensorSpec{p + "self_attn_layer_norm.bias", []int{C}, &L.SelfLNB})
		s = append(s, attnSpecs(p+"encoder_attn.", C, &L.CrossAttn)...)
		s = append(s,
			tensorSpec{p + "encoder_attn_layer_norm.weight", []int{C}, &L.CrossLNG},
			tensorSpec{p + "encoder_attn_layer_norm.bias", []int{C}, &L.CrossLNB},
			tensorSpec{p + "fc1.weight", []int{F, C}, &L.FC1W}, tensorSpec{p + "fc1.bias", []int{F}, &L.FC1B},
			tensorSpec{p + "fc2.weight", []int{C, F}, &L.FC2W}, tensorSpec{p + "fc2.bias", []int{C}, &L.FC2B},
			tensorSpec{p + "final_layer_norm.weight", []int{C}, &L.FinalLNG},
			tensorSpec{p + "final_layer_norm.bias", []int{C}, &L.FinalLNB})
	}
	return s
}

// Load reads a BART or Marian checkpoint directory in Hugging Face layout:
// config.json and the weights (model.safetensors, its shard index,
// pytorch_model.bin or its index; see package checkpoint). Tensor names may
// carry the "model." prefix of ...ForConditionalGeneration / MarianMTModel
// or not (BartModel). Token embeddings are read from model.shared.weight,
// else model.encoder.embed_tokens.weight (and
// model.decoder.embed_tokens.weight when Marian does not share them);
// lm_head.weight is used when tie_word_embeddings is false;
// final_logits_bias is zero when absent. Missing, mis-shaped or unexpected
// tensors are errors naming the tensor.
func Load(dir string) (*Model, error) {
	cfg, err := LoadConfig(configPath(dir))
	if err != nil {
		return nil, err
	}
	f, err := checkpoint.Open(dir)
	if err != nil {
		if errors.Is(err, checkpoint.ErrNoWeights) {
			return nil, fmt.Errorf("bart: %s: no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json (the weights files loupe reads)", dir)
		}
		return nil, fmt.Errorf("bart: %w", err)
	}
	m := &Model{Config: cfg, file: f}
	if err := m.loadWeights(); err != nil {
		f.Close()
		return nil, err
	}
	m.prepare()
	return m, nil
}

// loadWeights maps every tensor of m.file into m.Weights.
func (m *Model) loadWeights() error {
	f, c, w := m.file, m.Config, &m.Weights
	path := f.Path()
	prefix := ""
	for _, probe := range []string{"model.shared.weight", "model.encoder.embed_tokens.weight", "model.encoder.layers.0.fc1.weight"} {
		if _, ok := f.Info(probe); ok {
			prefix = "model."
			break
		}
	}
	used := map[string]bool{}
	read := func(name string, shape []int) ([]float32, error) {
		info, ok := f.Info(name)
		if !ok {
			return nil, fmt.Errorf("bart: %s: tensor %q is missing (config.json: %s, %d+%d layers)", path, name, c.ModelType, c.EncoderLayers, c.DecoderLayers)
		}
		if !slices.Equal(info.Shape, shape) {
			return nil, fmt.Errorf("bart: %s: tensor %q has shape %v, want %v (from config.json)", path, name, info.Shape, shape)
		}
		data, err := f.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("bart: %w", err)
		}
		used[name] = true
		return data, nil
	}
	has := func(name string) bool { _, ok := f.Info(name); return ok }
	for _, s := range layerSpecs(c, w) {
		d, err := read(prefix+s.name, s.shape)
		if err != nil {
			return err
		}
		*s.dst = d
	}
	C, V, Vt := c.DModel, c.VocabSize, c.DecoderVocab
	shared, encTok, decTok := prefix+"shared.weight", prefix+"encoder.embed_tokens.weight", prefix+"decoder.embed_tokens.weight"
	var err error
	if c.ShareEmbeddings {
		name := shared
		if !has(shared) {
			name = encTok
			if !has(encTok) && has(decTok) {
				name = decTok
			}
		}
		if w.EncEmbed, err = read(name, []int{V, C}); err != nil {
			return fmt.Errorf("%w (or %q)", err, shared)
		}
		w.DecEmbed = w.EncEmbed
		// Copies of the tied embedding (transformers ties them to shared).
		for _, n := range []string{shared, encTok, decTok} {
			if has(n) {
				used[n] = true
			}
		}
	} else {
		if w.EncEmbed, err = read(encTok, []int{V, C}); err != nil {
			return err
		}
		if w.DecEmbed, err = read(decTok, []int{Vt, C}); err != nil {
			return err
		}
		if has(shared) {
			used[shared] = true // transformers' Marian drops it when not sharing
		}
	}
	if c.TieWordEmbeddings {
		w.LMHead = w.DecEmbed
		if has("lm_head.weight") {
			used["lm_head.weight"] = true // overwritten by the tie in transformers
		}
	} else if w.LMHead, err = read("lm_head.weight", []int{Vt, C}); err != nil {
		return fmt.Errorf("%w (tie_word_embeddings is false)", err)
	}
	if has("final_logits_bias") {
		if w.FinalLogitsBias, err = read("final_logits_bias", []int{1, Vt}); err != nil {
			return err
		}
	} else {
		w.FinalLogitsBias = make([]float32, Vt)
	}
	if c.SinusoidalPositions {
		// Stored by older checkpoints (transformers then loads them): use
		// them when present, else compute.
		for _, p := range []struct {
			name string
			dst  *[]float32
		}{{prefix + "encoder.embed_positions.weight", &w.EncPos}, {prefix + "decoder.embed_positions.weight", &w.DecPos}} {
			if has(p.name) {
				if *p.dst, err = read(p.name, []int{c.MaxPositions, C}); err != nil {
					return err
				}
			}
		}
		if w.EncPos == nil || w.DecPos == nil {
			sin := sinusoidal(c.MaxPositions, C)
			if w.EncPos == nil {
				w.EncPos = sin
			}
			if w.DecPos == nil {
				w.DecPos = sin
			}
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
		return fmt.Errorf("bart: %s: unexpected tensor %q%s (not a %s parameter for this config.json)", path, strings.Join(unknown, `", "`), more, c.ModelType)
	}
	return nil
}

// sinusoidal is Marian's position table [n, dim]: for j < dim/2, column j
// is sin(p / 10000^(2j/dim)) and column dim/2+j is cos of the same angle
// (halves, not interleaved as in BERT-style tables), computed in float64
// and rounded to float32 as transformers does with numpy.
func sinusoidal(n, dim int) []float32 {
	out := make([]float32, n*dim)
	half := dim / 2
	for j := range half {
		inv := math.Pow(10000, float64(2*j)/float64(dim))
		for p := range n {
			a := float64(p) / inv
			out[p*dim+j] = float32(math.Sin(a))
			out[p*dim+half+j] = float32(math.Cos(a))
		}
	}
	return out
}

// prepare builds the stacked q/k/v matrices the forward pass uses.
func (m *Model) prepare() {
	w := &m.Weights
	stack := func(a *Attention) (W, B []float32) {
		W = slices.Concat(a.QW, a.KW, a.VW)
		B = slices.Concat(a.QB, a.KB, a.VB)
		return W, B
	}
	m.encQKV, m.encQKVB = make([][]float32, len(w.Encoder)), make([][]float32, len(w.Encoder))
	for l := range w.Encoder {
		m.encQKV[l], m.encQKVB[l] = stack(&w.Encoder[l].SelfAttn)
	}
	m.selfQKV, m.selfQKVB = make([][]float32, len(w.Decoder)), make([][]float32, len(w.Decoder))
	for l := range w.Decoder {
		m.selfQKV[l], m.selfQKVB[l] = stack(&w.Decoder[l].SelfAttn)
	}
}

// Random builds a model with deterministic pseudo-random weights: each
// tensor (by its Hugging Face name without "model.") is filled from a
// splitmix64 stream seeded with the FNV-1a hash of the name xor seed:
// LayerNorm gains uniform in [7/8, 9/8), biases (and final_logits_bias) in
// [-1/16, 1/16), matrices and embeddings in [-0.1, 0.1). The values are
// bit-identical to those of testdata/reference.py, so tests and benchmarks
// can use models too large to commit as files.
func Random(cfg Config, seed uint64) (*Model, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("bart: config: %w", err)
	}
	m := &Model{Config: cfg}
	w := &m.Weights
	specs := layerSpecs(cfg, w)
	specs = append(specs, embedSpecs(cfg, w)...)
	for _, s := range specs {
		n := 1
		for _, d := range s.shape {
			n *= d
		}
		*s.dst = randomValues(s.name, n, seed)
	}
	if cfg.ShareEmbeddings {
		w.DecEmbed = w.EncEmbed
	}
	if cfg.TieWordEmbeddings {
		w.LMHead = w.DecEmbed
	}
	if cfg.SinusoidalPositions {
		w.EncPos = sinusoidal(cfg.MaxPositions, cfg.DModel)
		w.DecPos = w.EncPos
	}
	m.prepare()
	return m, nil
}

// embedSpecs lists the embedding, head and bias tensors as Save names them.
func embedSpecs(c Config, w *Weights) []tensorSpec {
	C := c.DModel
	var s []tensorSpec
	if c.ShareEmbeddings {
		s = append(s, tensorSpec{"shared.weight", []int{c.VocabSize, C}, &w.EncEmbed})
	} else {
		s = append(s, tensorSpec{"encoder.embed_tokens.weight", []int{c.VocabSize, C}, &w.EncEmbed},
			tensorSpec{"decoder.embed_tokens.weight", []int{c.DecoderVocab, C}, &w.DecEmbed})
	}
	if !c.TieWordEmbeddings {
		s = append(s, tensorSpec{"lm_head.weight", []int{c.DecoderVocab, C}, &w.LMHead})
	}
	return append(s, tensorSpec{"final_logits_bias", []int{1, c.DecoderVocab}, &w.FinalLogitsBias})
}

// randomValues is the deterministic fill of Random for tensor name.
func randomValues(name string, n int, seed uint64) []float32 {
	v := make([]float32, n)
	z := fnv1a64(name) ^ seed
	isGain := strings.HasSuffix(name, "layer_norm.weight") || strings.HasSuffix(name, "layernorm_embedding.weight") // also mBART's encoder/decoder.layer_norm
	isBias := strings.HasSuffix(name, ".bias") || name == "final_logits_bias"
	for i := range v {
		z += 0x9E3779B97F4A7C15
		u := float64(mix64(z)>>40)*(1.0/(1<<24)) - 0.5
		switch {
		case isGain:
			v[i] = float32(1 + u*0.25)
		case isBias:
			v[i] = float32(u * 0.125)
		default:
			v[i] = float32(u * 0.2)
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
// transformers (BartForConditionalGeneration, MarianMTModel) read:
// config.json and model.safetensors with "model."-prefixed names,
// lm_head.weight when untied and final_logits_bias; Marian's sinusoidal
// positions are not stored (transformers computes them). dtype is "F32",
// "F16" or "BF16". Both files are written atomically.
func (m *Model) Save(dir, dtype string) error {
	c := m.Config
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bart: %w", err)
	}
	arch := map[string]string{"bart": "BartForConditionalGeneration", "mbart": "MBartForConditionalGeneration", "marian": "MarianMTModel"}[c.ModelType]
	act := map[string]string{"gelu": "gelu", "gelu_new": "gelu_new", "relu": "relu", "silu": "swish"}[c.Activation]
	cfg := map[string]any{
		"architectures": []string{arch}, "model_type": c.ModelType, "is_encoder_decoder": true,
		"d_model": c.DModel, "encoder_layers": c.EncoderLayers, "decoder_layers": c.DecoderLayers,
		"encoder_attention_heads": c.EncoderHeads, "decoder_attention_heads": c.DecoderHeads,
		"encoder_ffn_dim": c.EncoderFFN, "decoder_ffn_dim": c.DecoderFFN,
		"max_position_embeddings": c.MaxPositions, "vocab_size": c.VocabSize,
		"activation_function": act, "scale_embedding": c.ScaleEmbedding,
		"tie_word_embeddings": c.TieWordEmbeddings,
		"normalize_before":    c.PreLayerNorm, "add_final_layer_norm": c.PreLayerNorm,
	}
	if c.ModelType == "marian" {
		cfg["decoder_vocab_size"] = c.DecoderVocab
		cfg["share_encoder_decoder_embeddings"] = c.ShareEmbeddings
	}
	for k, v := range map[string]int{"pad_token_id": c.PadTokenID, "bos_token_id": c.BOSTokenID, "eos_token_id": c.EOSTokenID,
		"decoder_start_token_id": c.DecoderStartTokenID, "forced_bos_token_id": c.ForcedBOSTokenID, "forced_eos_token_id": c.ForcedEOSTokenID} {
		if v >= 0 {
			cfg[k] = v
		} else {
			cfg[k] = nil
		}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("bart: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("bart: %w", err)
	}
	w := m.Weights // a copy whose layer slices layerSpecs points into
	specs := layerSpecs(c, &w)
	var ts []safetensors.Tensor
	for _, s := range specs {
		ts = append(ts, safetensors.Tensor{Name: "model." + s.name, Shape: s.shape, Data: *s.dst, DType: dtype})
	}
	for _, s := range embedSpecs(c, &w) {
		name := s.name
		if name != "lm_head.weight" && name != "final_logits_bias" {
			name = "model." + name
		}
		ts = append(ts, safetensors.Tensor{Name: name, Shape: s.shape, Data: *s.dst, DType: dtype})
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("bart: %w", err)
	}
	return nil
}
