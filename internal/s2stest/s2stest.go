package s2stest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/model/t5"
	"github.com/loupe-ml/loupe/tokenizer"
)

// T5 writes to a temporary directory a random T5 (tiny-t5's config with
// the vocabulary of tokenizer/testdata/spm/t5.model, pad 0, eos 1, the
// weights of t5.Random with seed 2) with that model as spiece.model, and
// the config.json fields of extra set on top (task_specific_params, say).
// root is the repository root relative to the test's directory.
func T5(t testing.TB, root string, extra map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(root, "tokenizer", "testdata", "spm", "t5.model"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spiece.model"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile(filepath.Join(root, "model", "t5", "testdata", "tiny-t5", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(cb, &raw); err != nil {
		t.Fatal(err)
	}
	raw["vocab_size"] = tok.VocabSize()
	raw["pad_token_id"], raw["eos_token_id"], raw["decoder_start_token_id"] = 0, 1, 0
	for k, v := range extra {
		raw[k] = v
	}
	cb, _ = json.MarshalIndent(raw, "", "  ")
	cfg, err := t5.ParseConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	m, err := t5.Random(cfg, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Save(dir, "F32"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cb, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
