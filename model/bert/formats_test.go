package bert

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func forwardTiny(t *testing.T, dir string) ([]float32, []float32) {
	t.Helper()
	m, err := Load(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out, err := m.Forward(Input{IDs: [][]int{{2, 7, 9, 3, 11}, {2, 5, 3}}, TypeIDs: [][]int{{0, 0, 0, 1, 1}, {0, 0, 0}}})
	if err != nil {
		t.Fatal(err)
	}
	return append([]float32(nil), out.LastHidden...), append([]float32(nil), out.Pooled...)
}

// TestTorchFormats: tiny/'s weights saved by torch.save, whole and in two
// shards with an index (testdata/gen_torch.py), give bit-identical outputs.
func TestTorchFormats(t *testing.T) {
	wantH, wantP := forwardTiny(t, "tiny")
	for _, dir := range []string{"tiny_bin", "tiny_bin_sharded"} {
		h, p := forwardTiny(t, dir)
		for name, pair := range map[string][2][]float32{"last_hidden_state": {h, wantH}, "pooled": {p, wantP}} {
			got, want := pair[0], pair[1]
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%s %s: %d values, want %d", dir, name, len(got), len(want))
			}
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %s[%d] = %v, want %v", dir, name, i, got[i], want[i])
				}
			}
		}
	}
}

func TestTorchShardErrors(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("testdata", "tiny_bin_sharded")
	for _, f := range []string{"config.json", "pytorch_model-00001-of-00002.bin", "pytorch_model.bin.index.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	_, err := Load(dir)
	if err == nil || !strings.HasPrefix(err.Error(), "bert: ") || !strings.Contains(err.Error(), "pytorch_model-00002-of-00002.bin, which is missing") {
		t.Errorf("missing shard: %v", err)
	}
	os.Remove(filepath.Join(dir, "pytorch_model.bin.index.json"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json") {
		t.Errorf("no weights: %v", err)
	}
}
