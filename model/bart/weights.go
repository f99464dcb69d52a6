package bart

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint"
	"github.com/loupe-ml/loupe/internal/hfckpt"
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

func attnSpecs(p string, C int, a *Attention) []hfckpt.Spec {
	return []hfckpt.Spec{
		hfckpt.Tensor(p+"q_proj.weight", &a.QW, C, C), hfckpt.Tensor(p+"q_proj.bias", &a.QB, C),
		hfckpt.Tensor(p+"k_proj.weight", &a.KW, C, C), hfckpt.Tensor(p+"k_proj.bias", &a.KB, C),
		hfckpt.Tensor(p+"v_proj.weight", &a.VW, C, C), hfckpt.Tensor(p+"v_proj.bias", &a.VB, C),
		hfckpt.Tensor(p+"out_proj.weight", &a.OW, C, C), hfckpt.Tensor(p+"out_proj.bias", &a.OB, C),
	}
}

// layerSpecs lists the tensors of every layer plus layernorm_embedding and
// learned positions (names without "model."), sizing w's layer slices.
func layerSpecs(c Config, w *Weights) []hfckpt.Spec {
	C := c.DModel
	if len(w.Encoder) != c.EncoderLayers {
		w.Encoder = make([]EncoderLayer, c.EncoderLayers)
	}
	if len(w.Decoder) != c.DecoderLayers {
		w.Decoder = make([]DecoderLayer, c.DecoderLayers)
	}
	var s []hfckpt.Spec
	if !c.SinusoidalPositions {
		P := c.MaxPositions + c.posOffset()
		s = append(s, hfckpt.Tensor("encoder.embed_positions.weight", &w.EncPos, P, C),
			hfckpt.Tensor("decoder.embed_positions.weight", &w.DecPos, P, C))
	}
	if c.LayerNormEmbedding {
		s = append(s,
			hfckpt.Tensor("encoder.layernorm_embedding.weight", &w.EncEmbLNG, C),
			hfckpt.Tensor("encoder.layernorm_embedding.bias", &w.EncEmbLNB, C),
			hfckpt.Tensor("decoder.layernorm_embedding.weight", &w.DecEmbLNG, C),
			hfckpt.Tensor("decoder.layernorm_embedding.bias", &w.DecEmbLNB, C))
	}
	if c.PreLayerNorm {
		s = append(s,
			hfckpt.Tensor("encoder.layer_norm.weight", &w.EncFinalLNG, C),
			hfckpt.Tensor("encoder.layer_norm.bias", &w.EncFinalLNB, C),
			hfckpt.Tensor("decoder.layer_norm.weight", &w.DecFinalLNG, C),
			hfckpt.Tensor("decoder.layer_norm.bias", &w.DecFinalLNB, C))
	}
	for l := range w.Encoder {
		L := &w.Encoder[l]
		p := "encoder.layers." + strconv.Itoa(l) + "."
		F := c.EncoderFFN
		s = append(s, attnSpecs(p+"self_attn.", C, &L.SelfAttn)...)
		s = append(s,
			hfckpt.Tensor(p+"self_attn_layer_norm.weight", &L.SelfLNG, C),
			hfckpt.Tensor(p+"self_attn_layer_norm.bias", &L.SelfLNB, C),
			hfckpt.Tensor(p+"fc1.weight", &L.FC1W, F, C), hfckpt.Tensor(p+"fc1.bias", &L.FC1B, F),
			hfckpt.Tensor(p+"fc2.weight", &L.FC2W, C, F), hfckpt.Tensor(p+"fc2.bias", &L.FC2B, C),
			hfckpt.Tensor(p+"final_layer_norm.weight", &L.FinalLNG, C),
			hfckpt.Tensor(p+"final_layer_norm.bias", &L.FinalLNB, C))
	}
	for l := range w.Decoder {
		L := &w.Decoder[l]
		p := "decoder.layers." + strconv.Itoa(l) + "."
		F := c.DecoderFFN
		s = append(s, attnSpecs(p+"self_attn.", C, &L.SelfAttn)...)
		s = append(s,
			hfckpt.Tensor(p+"self_attn_layer_norm.weight", &L.SelfLNG, C),
			hfckpt.Tensor(p+"self_attn_layer_norm.bias", &L.SelfLNB, C))
		s = append(s, attnSpecs(p+"encoder_attn.", C, &L.CrossAttn)...)
		s = append(s,
			hfckpt.Tensor(p+"encoder_attn_layer_norm.weight", &L.CrossLNG, C),
			hfckpt.Tensor(p+"encoder_attn_layer_norm.bias", &L.CrossLNB, C),
			hfckpt.Tensor(p+"fc1.weight", &L.FC1W, F, C), hfckpt.Tensor(p+"fc1.bias", &L.FC1B, F),
			hfckpt.Tensor(p+"fc2.weight", &L.FC2W, C, F), hfckpt.Tensor(p+"fc2.bias", &L.FC2B, C),
			hfckpt.Tensor(p+"final_layer_norm.weight", &L.FinalLNG, C),
			hfckpt.Tensor(p+"final_layer_norm.bias", &L.FinalLNB, C))
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
	return hfckpt.Load("bart", dir, LoadConfig, func(cfg Config, f *checkpoint.Checkpoint) (*Model, error) {
		m := &Model{Config: cfg, file: f}
		if err := m.loadWeights(); err != nil {
			return nil, err
		}
		m.prepare()
		return m, nil
	})
}

// loadWeights maps every tensor of m.file into m.Weights.
func (m *Model) loadWeights() error {
	f, c, w := m.file, m.Config, &m.Weights
	prefix := ""
	for _, probe := range []string{"model.shared.weight", "model.encoder.embed_tokens.weight", "model.encoder.layers.0.fc1.weight"} {
		if _, ok := f.Info(probe); ok {
			prefix = "model."
			break
		}
	}
	r := hfckpt.NewReader("bart", f, fmt.Sprintf("(config.json: %s, %d+%d layers)", c.ModelType, c.EncoderLayers, c.DecoderLayers))
	read, has := r.Read, r.Has
	for _, s := range layerSpecs(c, w) {
		d, err := read(prefix+s.Name, s.Shape)
		if err != nil {
			return err
		}
		*s.Dst = d
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
		r.Use(shared, encTok, decTok)
	} else {
		if w.EncEmbed, err = read(encTok, []int{V, C}); err != nil {
			return err
		}
		if w.DecEmbed, err = read(decTok, []int{Vt, C}); err != nil {
			return err
		}
		r.Use(shared) // transformers' Marian drops it when not sharing
	}
	if c.TieWordEmbeddings {
		w.LMHead = w.DecEmbed
		r.Use("lm_head.weight") // overwritten by the tie in transformers
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
	return r.Unexpected(fmt.Sprintf("a %s parameter for this config.json", c.ModelType))
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
		*s.Dst = randomValues(s.Name, s.Size(), seed)
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
func embedSpecs(c Config, w *Weights) []hfckpt.Spec {
	C := c.DModel
	var s []hfckpt.Spec
	if c.ShareEmbeddings {
		s = append(s, hfckpt.Tensor("shared.weight", &w.EncEmbed, c.VocabSize, C))
	} else {
		s = append(s, hfckpt.Tensor("encoder.embed_tokens.weight", &w.EncEmbed, c.VocabSize, C),
			hfckpt.Tensor("decoder.embed_tokens.weight", &w.DecEmbed, c.DecoderVocab, C))
	}
	if !c.TieWordEmbeddings {
		s = append(s, hfckpt.Tensor("lm_head.weight", &w.LMHead, c.DecoderVocab, C))
	}
	return append(s, hfckpt.Tensor("final_logits_bias", &w.FinalLogitsBias, 1, c.DecoderVocab))
}

// randomValues is the deterministic fill of Random for tensor name.
func randomValues(name string, n int, seed uint64) []float32 {
	v := make([]float32, n)
	switch {
	case strings.HasSuffix(name, "layer_norm.weight") || strings.HasSuffix(name, "layernorm_embedding.weight"): // also mBART's encoder/decoder.layer_norm
		hfckpt.Uniform(v, name, seed, 1, 0.25)
	case strings.HasSuffix(name, ".bias") || name == "final_logits_bias":
		hfckpt.Uniform(v, name, seed, 0, 0.125)
	default:
		hfckpt.Uniform(v, name, seed, 0, 0.2)
	}
	return v
}

// Save writes m as a Hugging Face checkpoint directory that Load and
// transformers (BartForConditionalGeneration, MarianMTModel) read:
// config.json and model.safetensors with "model."-prefixed names,
// lm_head.weight when untied and final_logits_bias; Marian's sinusoidal
// positions are not stored (transformers computes them). dtype is "F32",
// "F16" or "BF16". Both files are written atomically.
func (m *Model) Save(dir, dtype string) error {
	c := m.Config
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
	hfckpt.PutTokenIDs(cfg, map[string]int{"pad_token_id": c.PadTokenID, "bos_token_id": c.BOSTokenID, "eos_token_id": c.EOSTokenID,
		"decoder_start_token_id": c.DecoderStartTokenID, "forced_bos_token_id": c.ForcedBOSTokenID, "forced_eos_token_id": c.ForcedEOSTokenID})
	w := m.Weights // a copy whose layer slices layerSpecs points into
	specs := layerSpecs(c, &w)
	var ts []safetensors.Tensor
	for _, s := range specs {
		ts = append(ts, safetensors.Tensor{Name: "model." + s.Name, Shape: s.Shape, Data: *s.Dst, DType: dtype})
	}
	for _, s := range embedSpecs(c, &w) {
		name := s.Name
		if name != "lm_head.weight" && name != "final_logits_bias" {
			name = "model." + name
		}
		ts = append(ts, safetensors.Tensor{Name: name, Shape: s.Shape, Data: *s.Dst, DType: dtype})
	}
	return hfckpt.Save("bart", dir, cfg, ts)
}
