package t5

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/loupe-ml/loupe/internal/hfckpt"
)

// Config is the architecture of a T5 model, read from a Hugging Face
// config.json (T5Config fields).
type Config struct {
	DModel        int // d_model
	DKV           int // d_kv: the width of one attention head
	DFF           int // d_ff
	EncoderLayers int // num_layers
	DecoderLayers int // num_decoder_layers (default num_layers)
	Heads         int // num_heads
	VocabSize     int // vocab_size
	Buckets       int // relative_attention_num_buckets
	MaxDistance   int // relative_attention_max_distance
	LayerNormEps  float32
	// Activation is the feed-forward activation: "relu", "gelu" (erf
	// form), "gelu_new" (tanh form) or "silu".
	Activation string
	// Gated: the feed-forward is wo(act(wi_0(x)) · wi_1(x)) (T5 v1.1,
	// Flan-T5: feed_forward_proj "gated-gelu" or "gated-relu") instead of
	// wo(act(wi(x))).
	Gated bool
	// TieWordEmbeddings: lm_head is the shared token embedding and the
	// decoder output is scaled by d_model^-0.5 before it
	// (tie_word_embeddings, default true; false for T5 v1.1 and Flan-T5).
	TieWordEmbeddings bool
	// EncoderOnly: the checkpoint is a T5EncoderModel (architectures
	// ["T5EncoderModel"], or is_encoder_decoder false), as sentence-T5
	// models publish it: shared.weight and the encoder only. Encode works;
	// a Decoder fails with ErrEncoderOnly. DecoderLayers is 0.
	EncoderOnly bool

	// Special tokens, -1 when absent.
	PadTokenID          int
	EOSTokenID          int
	DecoderStartTokenID int // default pad_token_id, as transformers' T5 shifts targets right with it
}

// Inner is the width of the attention projections, Heads·DKV (d_model for
// t5-small, not always).
func (c Config) Inner() int { return c.Heads * c.DKV }

// FeedForwardProj is the config.json spelling of the feed-forward.
func (c Config) FeedForwardProj() string {
	act := c.Activation
	if c.Gated {
		if act == "gelu_new" {
			act = "gelu" // transformers maps "gated-gelu" to gelu_new
		}
		return "gated-" + act
	}
	return act
}

type hfConfig struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures"`
	DModel        *int     `json:"d_model"`
	DKV           *int     `json:"d_kv"`
	DFF           *int     `json:"d_ff"`
	NumLayers     *int     `json:"num_layers"`
	NumDecLayers  *int     `json:"num_decoder_layers"`
	NumHeads      *int     `json:"num_heads"`
	VocabSize     *int     `json:"vocab_size"`
	Buckets       *int     `json:"relative_attention_num_buckets"`
	MaxDistance   *int     `json:"relative_attention_max_distance"`
	Eps           *float64 `json:"layer_norm_epsilon"`
	FFProj        *string  `json:"feed_forward_proj"`
	TieWord       *bool    `json:"tie_word_embeddings"`
	IsEncDec      *bool    `json:"is_encoder_decoder"`

	// pad_token_id and eos_token_id are read by hfckpt.SetTokenIDs.
	DecoderStartTokenID any `json:"decoder_start_token_id"`
}

// Architectures whose weights Load understands.
var architectures = []string{"T5ForConditionalGeneration", "T5Model", "T5WithLMHeadModel", "T5EncoderModel"}

// Sanity bounds, far above any released model, so that a corrupt
// config.json cannot make Load allocate without bound.
const (
	maxLayers  = 1024
	maxHeads   = 1024
	maxDModel  = 1 << 16
	maxFFN     = 1 << 18
	maxVocab   = 1 << 22
	maxBuckets = 1 << 12
	maxDist    = 1 << 20
)

// LoadConfig reads and checks a T5 config.json.
func LoadConfig(path string) (Config, error) {
	return hfckpt.ReadConfig("t5", path, ParseConfig)
}

// ParseConfig parses the contents of a T5 config.json, with T5Config's
// defaults (t5-small) for missing fields. Errors name the field at fault
// and start with "config.json:".
func ParseConfig(b []byte) (Config, error) {
	var h hfConfig
	if err := json.Unmarshal(b, &h); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	switch h.ModelType {
	case "t5":
	case "":
		return Config{}, fmt.Errorf("config.json: missing model_type (want t5)")
	default:
		return Config{}, fmt.Errorf("config.json: model_type %q is not supported (want t5; mt5 and umt5 are not read yet)", h.ModelType)
	}
	for _, a := range h.Architectures {
		if !slices.Contains(architectures, a) {
			return Config{}, fmt.Errorf("config.json: architecture %q is not a T5 architecture loupe reads (want one of %v)", a, architectures)
		}
	}
	encoderOnly := h.IsEncDec != nil && !*h.IsEncDec
	if len(h.Architectures) > 0 && !slices.ContainsFunc(h.Architectures, func(a string) bool { return a != "T5EncoderModel" }) {
		encoderOnly = true
	}
	c := Config{DModel: 512, DKV: 64, DFF: 2048, EncoderLayers: 6, Heads: 8, VocabSize: 32128,
		Buckets: 32, MaxDistance: 128, LayerNormEps: 1e-6, Activation: "relu", TieWordEmbeddings: true,
		PadTokenID: 0, EOSTokenID: 1}
	if err := hfckpt.SetInts([]hfckpt.IntField{
		{Name: "d_model", P: h.DModel, Dst: &c.DModel, Limit: maxDModel},
		{Name: "d_kv", P: h.DKV, Dst: &c.DKV, Limit: maxDModel},
		{Name: "d_ff", P: h.DFF, Dst: &c.DFF, Limit: maxFFN},
		{Name: "num_layers", P: h.NumLayers, Dst: &c.EncoderLayers, Limit: maxLayers},
		{Name: "num_heads", P: h.NumHeads, Dst: &c.Heads, Limit: maxHeads},
		{Name: "vocab_size", P: h.VocabSize, Dst: &c.VocabSize, Limit: maxVocab},
		{Name: "relative_attention_num_buckets", P: h.Buckets, Dst: &c.Buckets, Limit: maxBuckets},
		{Name: "relative_attention_max_distance", P: h.MaxDistance, Dst: &c.MaxDistance, Limit: maxDist},
	}); err != nil {
		return Config{}, err
	}
	c.DecoderLayers = c.EncoderLayers
	c.EncoderOnly = encoderOnly
	if encoderOnly {
		c.DecoderLayers = 0
	} else if h.NumDecLayers != nil {
		if v := *h.NumDecLayers; v <= 0 || v > maxLayers {
			return Config{}, fmt.Errorf("config.json: num_decoder_layers = %d, want an integer in [1, %d]", v, maxLayers)
		}
		c.DecoderLayers = *h.NumDecLayers
	}
	if c.DKV*c.Heads > maxDModel {
		return Config{}, fmt.Errorf("config.json: num_heads·d_kv = %d, more than %d", c.DKV*c.Heads, maxDModel)
	}
	if c.Buckets < 4 {
		// Bidirectional buckets halve the count, then half of those are exact.
		return Config{}, fmt.Errorf("config.json: relative_attention_num_buckets = %d, want at least 4", c.Buckets)
	}
	if h.Eps != nil {
		if !(*h.Eps > 0 && *h.Eps < 1) {
			return Config{}, fmt.Errorf("config.json: layer_norm_epsilon = %g, want a small positive number", *h.Eps)
		}
		c.LayerNormEps = float32(*h.Eps)
	}
	if h.FFProj != nil {
		act, gated, err := parseFFProj(*h.FFProj)
		if err != nil {
			return Config{}, err
		}
		c.Activation, c.Gated = act, gated
	}
	if h.TieWord != nil {
		c.TieWordEmbeddings = *h.TieWord
	}
	if err := hfckpt.SetTokenIDs(b, []hfckpt.TokenField{
		{Name: "pad_token_id", Dst: &c.PadTokenID, Vocab: c.VocabSize},
		{Name: "eos_token_id", Dst: &c.EOSTokenID, Vocab: c.VocabSize},
	}); err != nil {
		return Config{}, err
	}
	c.DecoderStartTokenID = c.PadTokenID
	if h.DecoderStartTokenID != nil && !encoderOnly {
		id, err := hfckpt.TokenID("decoder_start_token_id", h.DecoderStartTokenID, c.VocabSize)
		if err != nil {
			return Config{}, err
		}
		if id >= 0 {
			c.DecoderStartTokenID = id
		}
	}
	return c, nil
}

// parseFFProj reads feed_forward_proj as transformers' T5Config does:
// "ACT" or "gated-ACT", where "gated-gelu" means gelu_new.
func parseFFProj(s string) (act string, gated bool, err error) {
	parts := strings.Split(s, "-")
	a := parts[len(parts)-1]
	if len(parts) > 2 || (len(parts) == 2 && parts[0] != "gated") {
		return "", false, fmt.Errorf("config.json: feed_forward_proj %q is not ACT or gated-ACT", s)
	}
	gated = len(parts) == 2
	switch a {
	case "relu", "gelu_new", "silu":
	case "gelu":
		if gated {
			a = "gelu_new"
		}
	case "gelu_pytorch_tanh", "gelu_fast":
		a = "gelu_new"
	case "swish":
		a = "silu"
	default:
		return "", false, fmt.Errorf("config.json: feed_forward_proj %q: activation %q is not supported (want relu, gelu, gelu_new or silu)", s, a)
	}
	return a, gated, nil
}

// check validates a Config built by hand (Random).
func (c Config) check() error {
	for _, f := range []struct {
		name     string
		v, limit int
	}{
		{"DModel", c.DModel, maxDModel}, {"DKV", c.DKV, maxDModel}, {"DFF", c.DFF, maxFFN},
		{"EncoderLayers", c.EncoderLayers, maxLayers},
		{"Heads", c.Heads, maxHeads}, {"VocabSize", c.VocabSize, maxVocab},
		{"Buckets", c.Buckets, maxBuckets}, {"MaxDistance", c.MaxDistance, maxDist},
	} {
		if f.v <= 0 || f.v > f.limit {
			return fmt.Errorf("%s = %d, want an integer in [1, %d]", f.name, f.v, f.limit)
		}
	}
	switch {
	case c.EncoderOnly && c.DecoderLayers != 0:
		return fmt.Errorf("DecoderLayers = %d for an EncoderOnly model, want 0", c.DecoderLayers)
	case !c.EncoderOnly && (c.DecoderLayers <= 0 || c.DecoderLayers > maxLayers):
		return fmt.Errorf("DecoderLayers = %d, want an integer in [1, %d]", c.DecoderLayers, maxLayers)
	}
	if c.Buckets < 4 {
		return fmt.Errorf("Buckets = %d, want at least 4", c.Buckets)
	}
	switch c.Activation {
	case "relu", "gelu", "gelu_new", "silu":
	default:
		return fmt.Errorf("activation %q is not relu, gelu, gelu_new or silu", c.Activation)
	}
	if c.Gated && c.Activation == "gelu" {
		return fmt.Errorf("gated gelu (erf form) has no feed_forward_proj spelling: transformers' gated-gelu is gelu_new")
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("LayerNormEps = %g, want a small positive number", c.LayerNormEps)
	}
	for _, id := range []int{c.PadTokenID, c.EOSTokenID, c.DecoderStartTokenID} {
		if id >= c.VocabSize {
			return fmt.Errorf("special token id %d outside the vocabulary of %d", id, c.VocabSize)
		}
	}
	return nil
}
