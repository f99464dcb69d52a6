package bart

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/loupe-ml/loupe/internal/hfckpt"
)

// Config is the architecture of a BART or Marian model, read from a
// Hugging Face config.json (BartConfig or MarianConfig fields).
type Config struct {
	ModelType string // "bart", "mbart" or "marian"

	DModel         int // d_model
	EncoderLayers  int // encoder_layers
	DecoderLayers  int // decoder_layers
	EncoderHeads   int // encoder_attention_heads
	DecoderHeads   int // decoder_attention_heads
	EncoderFFN     int // encoder_ffn_dim
	DecoderFFN     int // decoder_ffn_dim
	MaxPositions   int // max_position_embeddings: source and target positions
	VocabSize      int // vocab_size: the source (and shared) vocabulary
	DecoderVocab   int // target vocabulary: decoder_vocab_size for Marian without shared embeddings, else vocab_size
	ScaleEmbedding bool
	// Activation is the feed-forward activation: "gelu" (exact erf form),
	// "gelu_new" (tanh form), "relu" or "silu" (swish).
	Activation string
	// ShareEmbeddings: encoder and decoder read one token embedding
	// (share_encoder_decoder_embeddings; always for BART).
	ShareEmbeddings bool
	// TieWordEmbeddings: lm_head is the decoder's token embedding
	// (tie_word_embeddings, default true).
	TieWordEmbeddings bool
	// LayerNormEmbedding: a LayerNorm after the embeddings of both stacks
	// (BART's layernorm_embedding; Marian has none).
	LayerNormEmbedding bool
	// SinusoidalPositions: Marian's computed sinusoidal positions; BART
	// learns a table of MaxPositions+2 rows, read at position+2.
	SinusoidalPositions bool
	// PreLayerNorm: mBART's layers, x + f(LN(x)) instead of LN(x + f(x)),
	// with a final LayerNorm after each stack (encoder.layer_norm,
	// decoder.layer_norm).
	PreLayerNorm bool
	LayerNormEps float32 // 1e-5 (nn.LayerNorm's default)

	// Special tokens, -1 when absent.
	PadTokenID          int
	BOSTokenID          int
	EOSTokenID          int
	DecoderStartTokenID int
	ForcedBOSTokenID    int
	ForcedEOSTokenID    int
}

// EncoderHeadDim is the width of one encoder attention head.
func (c Config) EncoderHeadDim() int { return c.DModel / c.EncoderHeads }

// DecoderHeadDim is the width of one decoder attention head.
func (c Config) DecoderHeadDim() int { return c.DModel / c.DecoderHeads }

// posOffset is the row of position 0 in a learned position table (BART
// keeps two extra rows in front).
func (c Config) posOffset() int {
	if c.SinusoidalPositions {
		return 0
	}
	return 2
}

// hfConfig mirrors the config.json fields loupe reads. Pointers tell a
// missing field from a zero.
type hfConfig struct {
	ModelType        string   `json:"model_type"`
	Architectures    []string `json:"architectures"`
	DModel           *int     `json:"d_model"`
	EncoderLayers    *int     `json:"encoder_layers"`
	DecoderLayers    *int     `json:"decoder_layers"`
	EncoderHeads     *int     `json:"encoder_attention_heads"`
	DecoderHeads     *int     `json:"decoder_attention_heads"`
	EncoderFFN       *int     `json:"encoder_ffn_dim"`
	DecoderFFN       *int     `json:"decoder_ffn_dim"`
	MaxPositions     *int     `json:"max_position_embeddings"`
	VocabSize        *int     `json:"vocab_size"`
	DecoderVocabSize *int     `json:"decoder_vocab_size"`
	Activation       *string  `json:"activation_function"`
	ScaleEmbedding   *bool    `json:"scale_embedding"`
	Share            *bool    `json:"share_encoder_decoder_embeddings"`
	TieWord          *bool    `json:"tie_word_embeddings"`
	// Fields of older (fairseq-era) configs that transformers' BART and
	// Marian classes no longer read: accepted when they describe what those
	// classes compute, refused otherwise.
	NormalizeBefore    *bool `json:"normalize_before"`
	AddFinalLayerNorm  *bool `json:"add_final_layer_norm"`
	AddBiasLogits      *bool `json:"add_bias_logits"`
	NormalizeEmbedding *bool `json:"normalize_embedding"`
	StaticPositions    *bool `json:"static_position_embeddings"`
	// The token ids are read by hfckpt.SetTokenIDs.
}

// Architectures whose weights Load understands, per model_type.
var architectures = map[string][]string{
	"bart":   {"BartForConditionalGeneration", "BartModel"},
	"mbart":  {"MBartForConditionalGeneration", "MBartModel"},
	"marian": {"MarianMTModel", "MarianModel"},
}

// Sanity bounds, far above any released model, so that a corrupt
// config.json cannot make Load allocate without bound.
const (
	maxLayers    = 1024
	maxHeads     = 1024
	maxDModel    = 1 << 16
	maxFFN       = 1 << 18
	maxPositions = 1 << 20
	maxVocab     = 1 << 22
)

// LoadConfig reads and checks a BART or Marian config.json.
func LoadConfig(path string) (Config, error) {
	return hfckpt.ReadConfig("bart", path, ParseConfig)
}

// ParseConfig parses the contents of a BART or Marian config.json, with
// transformers' defaults (BartConfig, MarianConfig) for missing fields.
// Errors name the field at fault and start with "config.json:".
func ParseConfig(b []byte) (Config, error) {
	var h hfConfig
	if err := json.Unmarshal(b, &h); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	var c Config
	switch h.ModelType {
	case "bart":
		c = Config{ModelType: "bart", DModel: 1024, EncoderLayers: 12, DecoderLayers: 12, EncoderHeads: 16, DecoderHeads: 16,
			EncoderFFN: 4096, DecoderFFN: 4096, MaxPositions: 1024, VocabSize: 50265, Activation: "gelu",
			ShareEmbeddings: true, TieWordEmbeddings: true, LayerNormEmbedding: true,
			PadTokenID: 1, BOSTokenID: 0, EOSTokenID: 2, DecoderStartTokenID: 2, ForcedBOSTokenID: -1, ForcedEOSTokenID: 2}
	case "mbart":
		c = Config{ModelType: "mbart", DModel: 1024, EncoderLayers: 12, DecoderLayers: 12, EncoderHeads: 16, DecoderHeads: 16,
			EncoderFFN: 4096, DecoderFFN: 4096, MaxPositions: 1024, VocabSize: 50265, Activation: "gelu",
			ShareEmbeddings: true, TieWordEmbeddings: true, LayerNormEmbedding: true, PreLayerNorm: true,
			PadTokenID: 1, BOSTokenID: 0, EOSTokenID: 2, DecoderStartTokenID: -1, ForcedBOSTokenID: -1, ForcedEOSTokenID: 2}
	case "marian":
		c = Config{ModelType: "marian", DModel: 1024, EncoderLayers: 12, DecoderLayers: 12, EncoderHeads: 16, DecoderHeads: 16,
			EncoderFFN: 4096, DecoderFFN: 4096, MaxPositions: 1024, VocabSize: 58101, Activation: "gelu",
			ShareEmbeddings: true, TieWordEmbeddings: true, SinusoidalPositions: true,
			PadTokenID: 58100, BOSTokenID: -1, EOSTokenID: 0, DecoderStartTokenID: 58100, ForcedBOSTokenID: -1, ForcedEOSTokenID: 0}
	case "":
		return Config{}, errors.New("config.json: missing model_type (want bart, mbart or marian)")
	default:
		return Config{}, fmt.Errorf("config.json: model_type %q is not supported (want bart, mbart or marian)", h.ModelType)
	}
	c.LayerNormEps = 1e-5
	for _, a := range h.Architectures {
		if !slices.Contains(architectures[c.ModelType], a) {
			return Config{}, fmt.Errorf("config.json: architecture %q is not a %s architecture loupe reads (want one of %v)", a, c.ModelType, architectures[c.ModelType])
		}
	}
	if err := hfckpt.SetInts([]hfckpt.IntField{
		{Name: "d_model", P: h.DModel, Dst: &c.DModel, Limit: maxDModel},
		{Name: "encoder_layers", P: h.EncoderLayers, Dst: &c.EncoderLayers, Limit: maxLayers},
		{Name: "decoder_layers", P: h.DecoderLayers, Dst: &c.DecoderLayers, Limit: maxLayers},
		{Name: "encoder_attention_heads", P: h.EncoderHeads, Dst: &c.EncoderHeads, Limit: maxHeads},
		{Name: "decoder_attention_heads", P: h.DecoderHeads, Dst: &c.DecoderHeads, Limit: maxHeads},
		{Name: "encoder_ffn_dim", P: h.EncoderFFN, Dst: &c.EncoderFFN, Limit: maxFFN},
		{Name: "decoder_ffn_dim", P: h.DecoderFFN, Dst: &c.DecoderFFN, Limit: maxFFN},
		{Name: "max_position_embeddings", P: h.MaxPositions, Dst: &c.MaxPositions, Limit: maxPositions},
		{Name: "vocab_size", P: h.VocabSize, Dst: &c.VocabSize, Limit: maxVocab},
	}); err != nil {
		return Config{}, err
	}
	if c.DModel%c.EncoderHeads != 0 {
		return Config{}, fmt.Errorf("config.json: d_model %d is not a multiple of encoder_attention_heads %d", c.DModel, c.EncoderHeads)
	}
	if c.DModel%c.DecoderHeads != 0 {
		return Config{}, fmt.Errorf("config.json: d_model %d is not a multiple of decoder_attention_heads %d", c.DModel, c.DecoderHeads)
	}
	if c.SinusoidalPositions && c.DModel%2 != 0 {
		return Config{}, fmt.Errorf("config.json: d_model %d is odd: sinusoidal positions need an even width", c.DModel)
	}
	if h.Activation != nil {
		switch a := *h.Activation; a {
		case "gelu":
			c.Activation = "gelu"
		case "gelu_new", "gelu_pytorch_tanh", "gelu_fast":
			c.Activation = "gelu_new"
		case "relu":
			c.Activation = "relu"
		case "swish", "silu":
			c.Activation = "silu"
		default:
			return Config{}, fmt.Errorf("config.json: activation_function %q is not supported (want gelu, gelu_new, relu, swish or silu)", a)
		}
	}
	if h.ScaleEmbedding != nil {
		c.ScaleEmbedding = *h.ScaleEmbedding
	}
	if h.TieWord != nil {
		c.TieWordEmbeddings = *h.TieWord
	}
	if h.Share != nil {
		if c.ModelType != "marian" && !*h.Share {
			return Config{}, fmt.Errorf("config.json: share_encoder_decoder_embeddings false is not a %s setting (it always shares its token embedding)", c.ModelType)
		}
		c.ShareEmbeddings = *h.Share
	}
	c.DecoderVocab = c.VocabSize
	if h.DecoderVocabSize != nil {
		v := *h.DecoderVocabSize
		if v <= 0 || v > maxVocab {
			return Config{}, fmt.Errorf("config.json: decoder_vocab_size = %d, want an integer in [1, %d]", v, maxVocab)
		}
		switch {
		case c.ModelType == "marian" && !c.ShareEmbeddings:
			c.DecoderVocab = v
		case v != c.VocabSize:
			return Config{}, fmt.Errorf("config.json: decoder_vocab_size %d differs from vocab_size %d with shared embeddings", v, c.VocabSize)
		}
	}
	// Legacy fields: what the transformers classes compute regardless.
	type legacy struct {
		name string
		p    *bool
		want bool
		why  string
	}
	for _, f := range []legacy{
		{"normalize_before", h.NormalizeBefore, c.PreLayerNorm, fmt.Sprintf("transformers' %s layers are %s (mBART-style pre-LayerNorm needs model_type mbart)", c.ModelType, map[bool]string{false: "post-LayerNorm", true: "pre-LayerNorm"}[c.PreLayerNorm])},
		{"add_final_layer_norm", h.AddFinalLayerNorm, c.PreLayerNorm, fmt.Sprintf("%s models have final encoder/decoder LayerNorms = %v", c.ModelType, c.PreLayerNorm)},
		{"add_bias_logits", h.AddBiasLogits, false, "a logits bias other than final_logits_bias is not supported"},
		{"normalize_embedding", h.NormalizeEmbedding, c.LayerNormEmbedding, fmt.Sprintf("%s models have layernorm_embedding = %v", c.ModelType, c.LayerNormEmbedding)},
		{"static_position_embeddings", h.StaticPositions, c.SinusoidalPositions, fmt.Sprintf("%s models have static (sinusoidal) positions = %v", c.ModelType, c.SinusoidalPositions)},
	} {
		if f.p != nil && *f.p != f.want {
			return Config{}, fmt.Errorf("config.json: %s = %v is not supported: %s", f.name, *f.p, f.why)
		}
	}
	if err := hfckpt.SetTokenIDs(b, []hfckpt.TokenField{
		{Name: "pad_token_id", Dst: &c.PadTokenID, Vocab: c.VocabSize},
		{Name: "bos_token_id", Dst: &c.BOSTokenID, Vocab: c.DecoderVocab},
		{Name: "eos_token_id", Dst: &c.EOSTokenID, Vocab: c.DecoderVocab},
		{Name: "decoder_start_token_id", Dst: &c.DecoderStartTokenID, Vocab: c.DecoderVocab},
		{Name: "forced_bos_token_id", Dst: &c.ForcedBOSTokenID, Vocab: c.DecoderVocab},
		{Name: "forced_eos_token_id", Dst: &c.ForcedEOSTokenID, Vocab: c.DecoderVocab},
	}); err != nil {
		return Config{}, err
	}
	return c, nil
}

// check validates a Config built by hand (Random).
func (c Config) check() error {
	if _, ok := architectures[c.ModelType]; !ok {
		return fmt.Errorf("model type %q is not bart, mbart or marian", c.ModelType)
	}
	for _, f := range []struct {
		name     string
		v, limit int
	}{
		{"DModel", c.DModel, maxDModel}, {"EncoderLayers", c.EncoderLayers, maxLayers}, {"DecoderLayers", c.DecoderLayers, maxLayers},
		{"EncoderHeads", c.EncoderHeads, maxHeads}, {"DecoderHeads", c.DecoderHeads, maxHeads},
		{"EncoderFFN", c.EncoderFFN, maxFFN}, {"DecoderFFN", c.DecoderFFN, maxFFN},
		{"MaxPositions", c.MaxPositions, maxPositions}, {"VocabSize", c.VocabSize, maxVocab}, {"DecoderVocab", c.DecoderVocab, maxVocab},
	} {
		if f.v <= 0 || f.v > f.limit {
			return fmt.Errorf("%s = %d, want an integer in [1, %d]", f.name, f.v, f.limit)
		}
	}
	if c.DModel%c.EncoderHeads != 0 || c.DModel%c.DecoderHeads != 0 {
		return fmt.Errorf("DModel %d is not a multiple of the head counts %d and %d", c.DModel, c.EncoderHeads, c.DecoderHeads)
	}
	if c.SinusoidalPositions && c.DModel%2 != 0 {
		return fmt.Errorf("DModel %d is odd: sinusoidal positions need an even width", c.DModel)
	}
	if c.ShareEmbeddings && c.DecoderVocab != c.VocabSize {
		return fmt.Errorf("DecoderVocab %d differs from VocabSize %d with shared embeddings", c.DecoderVocab, c.VocabSize)
	}
	switch c.Activation {
	case "gelu", "gelu_new", "relu", "silu":
	default:
		return fmt.Errorf("activation %q is not gelu, gelu_new, relu or silu", c.Activation)
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("LayerNormEps = %g, want a small positive number", c.LayerNormEps)
	}
	return nil
}
