package train

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/internal/atomicfile"
	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/tokenizer"
)

// SaveModel writes m to dir as a Hugging Face GPT-2 directory that
// transformers' GPT2LMHeadModel.from_pretrained and every loupe command
// load: config.json and model.safetensors (float32), the tokenizer files
// of tokDir (those of tokenizer.Files it holds; none when tokDir is ""),
// and generation_config.json with the model's bos/eos ids merged into gen
// (which may be nil: transformers' defaults).
func SaveModel(dir string, m *gpt2.Model, tokDir string, gen map[string]any) error {
	if err := m.Save(dir, "F32"); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if tokDir != "" {
		copied := 0
		for _, name := range tokenizer.Files {
			src := filepath.Join(tokDir, name)
			if _, err := os.Stat(src); err != nil {
				continue
			}
			if err := copyFile(filepath.Join(dir, name), src); err != nil {
				return fmt.Errorf("train: %w", err)
			}
			copied++
		}
		if copied == 0 {
			return fmt.Errorf("train: %s holds no tokenizer files", tokDir)
		}
	}
	g := map[string]any{"_from_model_config": true}
	for k, v := range gen {
		g[k] = v
	}
	if c := m.Config; c.EOSTokenID >= 0 {
		g["eos_token_id"] = c.EOSTokenID
	}
	if c := m.Config; c.BOSTokenID >= 0 {
		g["bos_token_id"] = c.BOSTokenID
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "generation_config.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

func copyFile(dst, src string) error {
	if a, err := filepath.Abs(dst); err == nil {
		if b, err := filepath.Abs(src); err == nil && a == b {
			return nil
		}
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return atomicfile.Write(dst, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}
