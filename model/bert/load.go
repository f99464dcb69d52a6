package bert

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/loupe-ml/loupe/checkpoint"
)

// ckptSource adapts an open checkpoint (safetensors, pytorch_model.bin or
// their shard indexes) to Source.
type ckptSource struct{ c *checkpoint.Checkpoint }

// Shape implements Source.
func (s ckptSource) Shape(name string) ([]int, bool) {
	info, ok := s.c.Info(name)
	return info.Shape, ok
}

// Float32 implements Source.
func (s ckptSource) Float32(name string) ([]float32, error) { return s.c.Float32(name) }

// Load reads a BERT checkpoint from a directory holding config.json and the
// weights in Hugging Face layout: the first of model.safetensors,
// model.safetensors.index.json (shards), pytorch_model.bin and
// pytorch_model.bin.index.json that it holds (see package checkpoint). The
// weights files stay mapped until Close.
func Load(dir string) (*Model, error) {
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	c, err := checkpoint.Open(dir)
	if err != nil {
		if errors.Is(err, checkpoint.ErrNoWeights) {
			return nil, fmt.Errorf("bert: %s: no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json (the weights files loupe reads)", dir)
		}
		return nil, fmt.Errorf("bert: %w", err)
	}
	m, err := FromSource(cfg, ckptSource{c})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%w (in %s)", err, c.Path())
	}
	m.closer = c
	return m, nil
}
