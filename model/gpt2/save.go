package gpt2

import (
	"fmt"
	"github.com/loupe-ml/loupe/internal/hfckpt"
	"github.com/loupe-ml/loupe/safetensors"
)

// Save writes m as a Hugging Face checkpoint directory (config.json and
// model.safetensors with the tensor names of GPT2LMHeadModel's transformer,
// without the "transformer." prefix) that Load and transformers read.
// dtype is "F32", "F16" or "BF16" (the stored form).
func (m *Model) Save(dir, dtype string) error {
	c := m.Config
	if m.storedQuantized() {
		return fmt.Errorf("gpt2: Save: %w", ErrStoredQuantized)
	}
	w := m.Weights
	blocks := w.Blocks
	sp := specs(c, &w)
	copy(w.Blocks, blocks)
	ts := make([]safetensors.Tensor, 0, len(sp)+1)
	for _, s := range sp {
		ts = append(ts, safetensors.Tensor{Name: s.name, Shape: s.shape, Data: *s.dst, DType: dtype})
	}
	if len(m.Weights.LMHead) > 0 && &m.Weights.LMHead[0] != &m.Weights.WTE[0] {
		ts = append(ts, safetensors.Tensor{Name: "lm_head.weight", Shape: []int{c.VocabSize, c.NEmbd}, Data: m.Weights.LMHead, DType: dtype})
	}
	return hfckpt.Save("gpt2", dir, configMap(c), ts)
}

// configMap is the config.json Save writes for c.
func configMap(c Config) map[string]any {
	cfg := map[string]any{
		"architectures": []string{"GPT2LMHeadModel"}, "model_type": "gpt2",
		"n_layer": c.NLayer, "n_head": c.NHead, "n_embd": c.NEmbd,
		"n_positions": c.NPositions, "n_ctx": c.NPositions, "vocab_size": c.VocabSize,
		"layer_norm_epsilon": c.LayerNormEps, "activation_function": c.Activation,
	}
	if c.EOSTokenID >= 0 {
		cfg["eos_token_id"] = c.EOSTokenID
	}
	if c.BOSTokenID >= 0 {
		cfg["bos_token_id"] = c.BOSTokenID
	}
	return cfg
}
