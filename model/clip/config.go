package clip

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is the part of a Hugging Face CLIPTextConfig the forward pass
// needs. Missing fields take CLIPTextConfig's defaults.
type Config struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`       // H
	IntermediateSize      int     `json:"intermediate_size"` // I, the MLP width
	NumHiddenLayers       int     `json:"num_hidden_layers"` // L
	NumAttentionHeads     int     `json:"num_attention_heads"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"` // 77
	LayerNormEps          float64 `json:"layer_norm_eps"`
	// HiddenAct is "quick_gelu" (SD 1.x), "gelu" (erf, SD 2.x), "gelu_new"
	// or "gelu_pytorch_tanh".
	HiddenAct  string `json:"hidden_act"`
	BOSTokenID int    `json:"bos_token_id"`
	// EOSTokenID picks the pooled position: the first eos, or the largest
	// id for the legacy value 2 (as transformers does).
	EOSTokenID int    `json:"eos_token_id"`
	PadTokenID int    `json:"pad_token_id"`
	ModelType  string `json:"model_type"`
}

// HeadSize returns H / num_attention_heads.
func (c Config) HeadSize() int { return c.HiddenSize / c.NumAttentionHeads }

// ReadConfig reads and validates a text encoder's config.json.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("clip: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("clip: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes config.json bytes: a CLIPTextConfig, or a CLIPConfig
// whose text_config it reads. Defaults are CLIPTextConfig's.
func ParseConfig(b []byte) (Config, error) {
	var outer struct {
		ModelType  string          `json:"model_type"`
		TextConfig json.RawMessage `json:"text_config"`
	}
	if err := json.Unmarshal(b, &outer); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	if outer.ModelType == "clip" && len(outer.TextConfig) > 0 {
		b = outer.TextConfig
	}
	c := Config{
		VocabSize: 49408, HiddenSize: 512, IntermediateSize: 2048, NumHiddenLayers: 12,
		NumAttentionHeads: 8, MaxPositionEmbeddings: 77, LayerNormEps: 1e-5, HiddenAct: "quick_gelu",
		BOSTokenID: 49406, EOSTokenID: 49407, PadTokenID: 1,
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	return c, c.Validate()
}

// Validate checks that the configuration describes a model this package runs.
func (c Config) Validate() error {
	for _, p := range []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"intermediate_size", c.IntermediateSize},
		{"num_hidden_layers", c.NumHiddenLayers}, {"num_attention_heads", c.NumAttentionHeads},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	} {
		if p.v <= 0 || p.v > 1<<24 {
			return fmt.Errorf("config.json: %s = %d, want a positive size", p.name, p.v)
		}
	}
	if c.HiddenSize > 1<<16 {
		return fmt.Errorf("config.json: hidden_size = %d, want at most %d", c.HiddenSize, 1<<16)
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("config.json: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("config.json: layer_norm_eps = %g, want > 0", c.LayerNormEps)
	}
	switch c.HiddenAct {
	case "quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh":
	default:
		return fmt.Errorf("config.json: hidden_act %q, want quick_gelu, gelu, gelu_new or gelu_pytorch_tanh", c.HiddenAct)
	}
	switch c.ModelType {
	case "", "clip_text_model", "clip":
	default:
		return fmt.Errorf("config.json: model_type %q, want clip_text_model", c.ModelType)
	}
	return nil
}
