package gpt2

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/loupe-ml/loupe/safetensors"
)

// allLogits runs two sequences through m and returns their logits at every
// position.
func allLogits(t *testing.T, m *Model) [][]float32 {
	t.Helper()
	seqs := [][]int{{1, 5, 9, 2, 44, 7, 99, 0, 13}, {3, 3, 3, 60}}
	var out [][]float32
	for _, ids := range seqs {
		s := m.NewState(StateOptions{})
		if err := s.Forward([][]int{ids}, ForwardOptions{AllLogits: true}); err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]float32(nil), s.AllLogits(0)...))
	}
	return out
}

// sameBits fails unless a and b are bit-identical.
func sameBits(t *testing.T, what string, a, b [][]float32) {
	t.Helper()
	for i := range a {
		if len(a[i]) != len(b[i]) {
			t.Fatalf("%s: sequence %d: %d and %d logits", what, i, len(a[i]), len(b[i]))
		}
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				t.Fatalf("%s: sequence %d, logit %d: %v vs %v", what, i, j, a[i][j], b[i][j])
			}
		}
	}
}

// TestTorchCheckpoint: the same weights saved by torch.save
// (pytorch_model.bin, see testdata/gen_torch.py) and as safetensors give
// bit-identical logits; F32 weights are used in place in the mapped file and
// the tied lm_head is WTE itself.
func TestTorchCheckpoint(t *testing.T) {
	st := loadTiny(t, "tiny")
	pt := loadTiny(t, "tiny_bin")
	sameBits(t, "tiny vs tiny_bin", allLogits(t, st), allLogits(t, pt))
	if filepath.Base(pt.file.Path()) != "pytorch_model.bin" {
		t.Errorf("loaded %s", pt.file.Path())
	}
	if &pt.Weights.LMHead[0] != &pt.Weights.WTE[0] {
		t.Errorf("the tied lm_head.weight was not shared with wte")
	}
	for name, w := range map[string][]float32{"transformer.wte.weight": pt.Weights.WTE, "transformer.h.1.mlp.c_fc.weight": pt.Weights.Blocks[1].FCW} {
		raw, ok := pt.file.Stored(name)
		if !ok || unsafe.Pointer(&raw[0]) != unsafe.Pointer(&w[0]) {
			t.Errorf("%s was copied out of the mapped pytorch_model.bin", name)
		}
	}
	sameBits(t, "tiny_f16 vs tiny_bin_f16", allLogits(t, loadTiny(t, "tiny_f16")), allLogits(t, loadTiny(t, "tiny_bin_f16")))
}

// shard splits tiny/model.safetensors into two shards and an index in a new
// directory; edit may change the index before it is written.
func shard(t *testing.T, edit func(weightMap map[string]string)) string {
	t.Helper()
	src, err := safetensors.Open(filepath.Join("testdata", "tiny", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dir := t.TempDir()
	files := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}
	parts := make([][]safetensors.Tensor, 2)
	wm := map[string]string{}
	for _, n := range src.Names() {
		info, _ := src.Info(n)
		d, err := src.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		if strings.Contains(n, "h.1.") || strings.Contains(n, "ln_f") {
			i = 1
		}
		parts[i] = append(parts[i], safetensors.Tensor{Name: n, Shape: info.Shape, Data: append([]float32(nil), d...)})
		wm[n] = files[i]
	}
	for i, f := range files {
		if err := safetensors.WriteFile(filepath.Join(dir, f), parts[i], map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(wm)
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": wm})
	for name, data := range map[string][]byte{"model.safetensors.index.json": b, "config.json": nil} {
		if data == nil {
			data, _ = os.ReadFile(filepath.Join("testdata", "tiny", "config.json"))
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestShardedSafetensors(t *testing.T) {
	m, err := Load(shard(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	sameBits(t, "tiny vs sharded", allLogits(t, loadTiny(t, "tiny")), allLogits(t, m))

	_, err = Load(shard(t, func(wm map[string]string) { wm["transformer.ln_f.bias"] = "model-00001-of-00002.safetensors" }))
	if err == nil || !strings.Contains(err.Error(), `"transformer.ln_f.bias" is in shard model-00002-of-00002.safetensors but weight_map maps it to model-00001-of-00002.safetensors`) {
		t.Errorf("wrong shard: %v", err)
	}
	dir := shard(t, nil)
	os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "model-00002-of-00002.safetensors, which is missing") {
		t.Errorf("missing shard: %v", err)
	}
}

func TestNoWeightsListsFormats(t *testing.T) {
	dir := t.TempDir()
	b, _ := os.ReadFile(filepath.Join("testdata", "tiny", "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	_, err := Load(dir)
	if err == nil || !strings.Contains(err.Error(), "no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json") {
		t.Errorf("no weights: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("\x80\x02}q\x00."), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "legacy") || !strings.Contains(err.Error(), "pytorch_model.bin") {
		t.Errorf("legacy pytorch_model.bin: %v", err)
	}
}
