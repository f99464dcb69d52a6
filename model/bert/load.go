package bert

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/safetensors"
)

// stSource adapts a safetensors file to Source.
type stSource struct{ f *safetensors.File }

// Shape implements Source.
func (s stSource) Shape(name string) ([]int, bool) {
	info, ok := s.f.Info(name)
	return info.Shape, ok
}

// Float32 implements Source.
func (s stSource) Float32(name string) ([]float32, error) { return s.f.Float32(name) }

// Load reads a BERT checkpoint from a directory holding config.json and
// model.safetensors (Hugging Face layout). The weights file stays mapped
// until Close.
func Load(dir string) (*Model, error) {
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, err2 := os.Stat(filepath.Join(dir, "pytorch_model.bin")); err2 == nil {
			return nil, fmt.Errorf("bert: %s has only pytorch_model.bin; loupe reads model.safetensors (convert the checkpoint)", dir)
		}
		return nil, fmt.Errorf("bert: %s: no model.safetensors", dir)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	m, err := FromSource(cfg, stSource{f})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	m.closer = f
	return m, nil
}
