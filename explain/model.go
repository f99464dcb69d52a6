package explain

import (
	"fmt"

	"github.com/loupe-ml/loupe/model/gpt2"
)

// Config, Block and Weights are model/gpt2's: a Net reads a loaded
// gpt2.Model's parameters in place, without copying them.
type (
	// Config is a GPT-2 configuration.
	Config = gpt2.Config
	// Block is one transformer block's weights (Hugging Face Conv1D layout).
	Block = gpt2.Block
	// Weights holds all of a GPT-2's parameters.
	Weights = gpt2.Weights
)

// FromModel wraps a loaded GPT-2 in a differentiable Net sharing its weights.
func FromModel(m *gpt2.Model) (*Net, error) {
	if m == nil {
		return nil, fmt.Errorf("explain: nil model")
	}
	return NewNet(m.Config, &m.Weights)
}
