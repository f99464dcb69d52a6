package s2stest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/model/bart"
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

// MBart writes to a temporary directory a random mBART (tiny-bart's shape,
// model_type mbart, the weights of bart.Random with seed 3) whose
// sentencepiece.bpe.model is tokenizer/testdata/spm/bpe.model and whose
// vocabulary is the fairseq one transformers' MBartTokenizer (fifty false)
// or MBart50Tokenizer (fifty true, named in tokenizer_config.json) builds
// over it: the pieces, the language codes, <mask>.
func MBart(t testing.TB, root string, fifty bool) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(root, "tokenizer", "testdata", "spm", "bpe.model"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tokenizer.MBartModel), b, 0o644); err != nil {
		t.Fatal(err)
	}
	class := "MBartTokenizer"
	if fifty {
		class = "MBart50Tokenizer"
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"tokenizer_class": "`+class+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.LoadMBart(dir, fifty)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := os.ReadFile(filepath.Join(root, "model", "bart", "testdata", "tiny-bart", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(cb, &raw); err != nil {
		t.Fatal(err)
	}
	raw["model_type"], raw["architectures"] = "mbart", []string{"MBartForConditionalGeneration"}
	raw["normalize_before"], raw["add_final_layer_norm"] = true, true
	raw["vocab_size"] = tok.VocabSize()
	delete(raw, "forced_bos_token_id")
	cb, _ = json.MarshalIndent(raw, "", "  ")
	cfg, err := bart.ParseConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bart.Random(cfg, 3)
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
