package t5

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

func attnSpecs(p string, C, I int, a *Attention) []hfckpt.Spec {
	return []hfckpt.Spec{
		hfckpt.Tensor(p+"q.weight", &a.QW, I, C), hfckpt.Tensor(p+"k.weight", &a.KW, I, C),
		hfckpt.Tensor(p+"v.weight", &a.VW, I, C), hfckpt.Tensor(p+"o.weight", &a.OW, C, I),
	}
}

func ffSpecs(p string, c Config, f *FeedForward) []hfckpt.Spec {
	C, F := c.DModel, c.DFF
	if c.Gated {
		return []hfckpt.Spec{hfckpt.Tensor(p+"wi_0.weight", &f.WI, F, C), hfckpt.Tensor(p+"wi_1.weight", &f.WI1, F, C), hfckpt.Tensor(p+"wo.weight", &f.WO, C, F)}
	}
	return []hfckpt.Spec{hfckpt.Tensor(p+"wi.weight", &f.WI, F, C), hfckpt.Tensor(p+"wo.weight", &f.WO, C, F)}
}

// specs lists every tensor by its Hugging Face name (T5ForConditionalGeneration),
// sizing w's layer slices: shared.weight, then the stacks, then
// lm_head.weight when untied.
func specs(c Config, w *Weights) []hfckpt.Spec {
	C, I := c.DModel, c.Inner()
	if len(w.Encoder) != c.EncoderLayers {
		w.Encoder = make([]EncoderLayer, c.EncoderLayers)
	}
	if len(w.Decoder) != c.DecoderLayers {
		w.Decoder = make([]DecoderLayer, c.DecoderLayers)
	}
	s := []hfckpt.Spec{hfckpt.Tensor("shared.weight", &w.Embed, c.VocabSize, C)}
	for l := range w.Encoder {
		L := &w.Encoder[l]
		p := "encoder.block." + strconv.Itoa(l) + ".layer."
		s = append(s, attnSpecs(p+"0.SelfAttention.", C, I, &L.SelfAttn)...)
		if l == 0 {
			s = append(s, hfckpt.Tensor(p+"0.SelfAttention.relative_attention_bias.weight", &w.EncRelBias, c.Buckets, c.Heads))
		}
		s = append(s, hfckpt.Tensor(p+"0.layer_norm.weight", &L.SelfLN, C))
		s = append(s, ffSpecs(p+"1.DenseReluDense.", c, &L.FF)...)
		s = append(s, hfckpt.Tensor(p+"1.layer_norm.weight", &L.FFLN, C))
	}
	s = append(s, hfckpt.Tensor("encoder.final_layer_norm.weight", &w.EncFinalLN, C))
	if c.EncoderOnly {
		return s
	}
	for l := range w.Decoder {
		L := &w.Decoder[l]
		p := "decoder.block." + strconv.Itoa(l) + ".layer."
		s = append(s, attnSpecs(p+"0.SelfAttention.", C, I, &L.SelfAttn)...)
		if l == 0 {
			s = append(s, hfckpt.Tensor(p+"0.SelfAttention.relative_attention_bias.weight", &w.DecRelBias, c.Buckets, c.Heads))
		}
		s = append(s, hfckpt.Tensor(p+"0.layer_norm.weight", &L.SelfLN, C))
		s = append(s, attnSpecs(p+"1.EncDecAttention.", C, I, &L.CrossAttn)...)
		s = append(s, hfckpt.Tensor(p+"1.layer_norm.weight", &L.CrossLN, C))
		s = append(s, ffSpecs(p+"2.DenseReluDense.", c, &L.FF)...)
		s = append(s, hfckpt.Tensor(p+"2.layer_norm.weight", &L.FFLN, C))
	}
	s = append(s, hfckpt.Tensor("decoder.final_layer_norm.weight", &w.DecFinalLN, C))
	if !c.TieWordEmbeddings {
		s = append(s, hfckpt.Tensor("lm_head.weight", &w.LMHead, c.VocabSize, C))
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
// the tensor. An encoder-only checkpoint (Config.EncoderOnly: a
// T5EncoderModel, such as a sentence-T5 Transformer module) needs only
// shared.weight and the encoder; decoder tensors and lm_head.weight in it
// are ignored, as transformers does.
func Load(dir string) (*Model, error) {
	return hfckpt.Load("t5", dir, LoadConfig, func(cfg Config, f *checkpoint.Checkpoint) (*Model, error) {
		m := &Model{Config: cfg, file: f}
		if err := m.loadWeights(); err != nil {
			return nil, err
		}
		m.prepare()
		return m, nil
	})
}

func (m *Model) loadWeights() error {
	f, c, w := m.file, m.Config, &m.Weights
	r := hfckpt.NewReader("t5", f, fmt.Sprintf("(config.json: %d+%d layers, feed_forward_proj %q)", c.EncoderLayers, c.DecoderLayers, c.FeedForwardProj()))
	read, has := r.Read, r.Has
	for _, s := range specs(c, w) {
		name := s.Name
		if name == "shared.weight" && !has(name) && has("encoder.embed_tokens.weight") {
			name = "encoder.embed_tokens.weight"
		}
		d, err := read(name, s.Shape)
		if err != nil {
			return err
		}
		*s.Dst = d
	}
	// Tied copies and tensors transformers ignores.
	r.Use("encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
		"decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight")
	if c.EncoderOnly {
		// transformers' T5EncoderModel ignores a decoder and lm_head.
		for _, n := range f.Names() {
			if strings.HasPrefix(n, "decoder.") || n == "lm_head.weight" {
				r.Use(n)
			}
		}
		return r.Unexpected("a T5 encoder parameter for this config.json")
	}
	if c.TieWordEmbeddings {
		w.LMHead = w.Embed
		r.Use("lm_head.weight")
	}
	return r.Unexpected("a T5 parameter for this config.json")
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
		*s.Dst = randomValues(s.Name, s.Size(), seed, cfg.DKV)
	}
	if cfg.TieWordEmbeddings {
		w.LMHead = w.Embed
	}
	m.prepare()
	return m, nil
}

// randomValues is the deterministic fill of Random for tensor name.
func randomValues(name string, n int, seed uint64, dkv int) []float32 {
	v := make([]float32, n)
	switch {
	case strings.HasSuffix(name, "layer_norm.weight"):
		hfckpt.Uniform(v, name, seed, 1, 0.25)
	case strings.HasSuffix(name, "relative_attention_bias.weight"):
		hfckpt.Uniform(v, name, seed, 0, 1)
	case strings.HasSuffix(name, ".q.weight"):
		hfckpt.Uniform(v, name, seed, 0, 0.2/math.Sqrt(float64(dkv)))
	default:
		hfckpt.Uniform(v, name, seed, 0, 0.2)
	}
	return v
}

// Save writes m as a Hugging Face checkpoint directory that Load and
// transformers (T5ForConditionalGeneration) read: config.json and
// model.safetensors (shared.weight, the stacks, lm_head.weight when
// untied). dtype is "F32", "F16" or "BF16". Both files are written
// atomically.
func (m *Model) Save(dir, dtype string) error {
	c := m.Config
	arch := "T5ForConditionalGeneration"
	if c.EncoderOnly {
		arch = "T5EncoderModel"
	}
	cfg := map[string]any{
		"architectures": []string{arch}, "model_type": "t5", "is_encoder_decoder": true,
		"d_model": c.DModel, "d_kv": c.DKV, "d_ff": c.DFF, "num_layers": c.EncoderLayers,
		"num_decoder_layers": c.DecoderLayers, "num_heads": c.Heads, "vocab_size": c.VocabSize,
		"relative_attention_num_buckets": c.Buckets, "relative_attention_max_distance": c.MaxDistance,
		"layer_norm_epsilon": c.LayerNormEps, "feed_forward_proj": c.FeedForwardProj(),
		"tie_word_embeddings": c.TieWordEmbeddings,
	}
	if c.EncoderOnly {
		delete(cfg, "num_decoder_layers")
	}
	hfckpt.PutTokenIDs(cfg, map[string]int{"pad_token_id": c.PadTokenID, "eos_token_id": c.EOSTokenID, "decoder_start_token_id": c.DecoderStartTokenID})
	w := m.Weights // a copy whose layer slices specs points into
	var ts []safetensors.Tensor
	for _, s := range specs(c, &w) {
		ts = append(ts, safetensors.Tensor{Name: s.Name, Shape: s.Shape, Data: *s.Dst, DType: dtype})
	}
	return hfckpt.Save("t5", dir, cfg, ts)
}
