package bert

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is the part of a Hugging Face BertConfig (config.json) that the
// forward pass needs. Zero fields read from a file take BertConfig's defaults.
type Config struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`             // H
	NumHiddenLayers       int     `json:"num_hidden_layers"`       // L
	NumAttentionHeads     int     `json:"num_attention_heads"`     // nh; head size hs = H/nh
	IntermediateSize      int     `json:"intermediate_size"`       // I, the MLP width
	MaxPositionEmbeddings int     `json:"max_position_embeddings"` // longest sequence
	TypeVocabSize         int     `json:"type_vocab_size"`         // segment ids 0..TypeVocabSize-1
	LayerNormEps          float64 `json:"layer_norm_eps"`          // 1e-12 for BERT
	// HiddenAct is "gelu" (exact erf form, BERT's), "gelu_new" or
	// "gelu_pytorch_tanh" (tanh approximation) or "relu".
	HiddenAct string `json:"hidden_act"`
	// PositionEmbeddingType must be "absolute" (or empty).
	PositionEmbeddingType string `json:"position_embedding_type"`
	// ModelType must be "bert" (or absent). Other encoders (roberta with its
	// offset positions, distilbert, mpnet, …) compute differently and are
	// rejected rather than run wrongly.
	ModelType string `json:"model_type"`
}

// ReadConfig reads and validates a config.json.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("bert: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return Config{}, fmt.Errorf("bert: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes config.json bytes, fills BertConfig's defaults for
// missing fields and validates the result.
func ParseConfig(b []byte) (Config, error) {
	c := Config{
		VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12,
		IntermediateSize: 3072, MaxPositionEmbeddings: 512, TypeVocabSize: 2,
		LayerNormEps: 1e-12, HiddenAct: "gelu", PositionEmbeddingType: "absolute",
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("config.json: %w", err)
	}
	return c, c.Validate()
}

// Validate checks that the configuration describes a model this package runs.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize},
	}
	for _, p := range pos {
		if p.v <= 0 || p.v > 1<<24 {
			return fmt.Errorf("config.json: %s = %d, want a positive size", p.name, p.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("config.json: hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if !(c.LayerNormEps > 0) {
		return fmt.Errorf("config.json: layer_norm_eps = %g, want > 0", c.LayerNormEps)
	}
	switch c.HiddenAct {
	case "gelu", "gelu_new", "gelu_pytorch_tanh", "relu":
	default:
		return fmt.Errorf("config.json: hidden_act %q is not supported (want gelu, gelu_new, gelu_pytorch_tanh or relu)", c.HiddenAct)
	}
	if c.ModelType != "bert" && c.ModelType != "" {
		return fmt.Errorf("config.json: model_type %q is not supported (loupe runs BERT encoders, model_type \"bert\")", c.ModelType)
	}
	if c.PositionEmbeddingType != "absolute" && c.PositionEmbeddingType != "" {
		return fmt.Errorf("config.json: position_embedding_type %q is not supported (only \"absolute\")", c.PositionEmbeddingType)
	}
	return nil
}

// HeadSize is hs = HiddenSize / NumAttentionHeads.
func (c Config) HeadSize() int { return c.HiddenSize / c.NumAttentionHeads }
