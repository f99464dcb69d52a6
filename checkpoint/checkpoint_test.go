package checkpoint

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/safetensors"
)

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	es, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeST(t *testing.T, path string, ts ...safetensors.Tensor) {
	t.Helper()
	if err := safetensors.WriteFile(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

func TestTorchShards(t *testing.T) {
	c, err := Open("testdata/bin_sharded")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Names(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("names %v", got)
	}
	if filepath.Base(c.Path()) != TorchIndex || len(c.Paths()) != 2 {
		t.Errorf("path %s, shards %v", c.Path(), c.Paths())
	}
	for name, want := range map[string][]float32{"a": {1, 2, 3, 4}, "b": {0.5, -1.5, 65504}, "c": {5, 6, 7, 8}} {
		got, err := c.Float32(name)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s = %v, %v; want %v", name, got, err, want)
		}
	}
	if info, ok := c.Info("b"); !ok || info.DType != "F16" || !slices.Equal(info.Shape, []int{3}) {
		t.Errorf("info b = %+v", info)
	}
	if _, ok := c.Stored("a"); !ok {
		t.Errorf("a contiguous F32 tensor is not stored in place")
	}
}

// TestPreference: model.safetensors wins over the index, which wins over
// pytorch_model.bin, which wins over its index.
func TestPreference(t *testing.T) {
	dir := copyDir(t, "testdata/bin_sharded")
	shard2 := filepath.Join(dir, "pytorch_model-00002-of-00002.bin")
	b, _ := os.ReadFile(shard2)
	os.Remove(shard2)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "pytorch_model-00002-of-00002.bin, which is missing") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing shard: %v", err)
	}
	write(t, shard2, string(b))
	for _, s := range []struct {
		file string
		add  func()
	}{
		{TorchIndex, func() {}},
		{Torch, func() { write(t, filepath.Join(dir, Torch), string(b)) }},
		{SafetensorsIndex, func() {
			writeST(t, filepath.Join(dir, "s1.safetensors"), safetensors.Tensor{Name: "x", Shape: []int{1}, Data: []float32{1}})
			write(t, filepath.Join(dir, SafetensorsIndex), `{"weight_map": {"x": "s1.safetensors"}}`)
		}},
		{Safetensors, func() {
			writeST(t, filepath.Join(dir, Safetensors), safetensors.Tensor{Name: "y", Shape: []int{1}, Data: []float32{1}})
		}},
	} {
		s.add()
		c, err := Open(dir)
		if err != nil {
			t.Fatalf("%s: %v", s.file, err)
		}
		if filepath.Base(c.Path()) != s.file {
			t.Errorf("opened %s, want %s", c.Path(), s.file)
		}
		c.Close()
	}
	_, err := Open(t.TempDir())
	if !errors.Is(err, ErrNoWeights) || !errors.Is(err, os.ErrNotExist) ||
		!strings.Contains(err.Error(), "no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestSafetensorsShards(t *testing.T) {
	dir := t.TempDir()
	writeST(t, filepath.Join(dir, "model-00001-of-00002.safetensors"),
		safetensors.Tensor{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
		safetensors.Tensor{Name: "b", Shape: []int{1}, Data: []float32{3}, DType: "F16"})
	writeST(t, filepath.Join(dir, "model-00002-of-00002.safetensors"),
		safetensors.Tensor{Name: "c", Shape: []int{1}, Data: []float32{4}})
	index := func(s string) { write(t, filepath.Join(dir, SafetensorsIndex), s) }
	index(`{"metadata": {"total_size": 14}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}`)
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]float32{"a": {1, 2}, "b": {3}, "c": {4}} {
		if got, err := c.Float32(name); err != nil || !slices.Equal(got, want) {
			t.Errorf("%s = %v, %v", name, got, err)
		}
	}
	c.Close()
	if _, err := c.Float32("a"); err == nil {
		t.Errorf("Float32 after Close succeeded")
	}

	writeST(t, filepath.Join(dir, "extra.safetensors"), safetensors.Tensor{Name: "a", Shape: []int{1}, Data: []float32{9}})
	for _, tc := range []struct{ name, index, want string }{
		{"missing shard", `{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "nope.safetensors"}}`, "lists shard nope.safetensors, which is missing"},
		{"wrong shard", `{"weight_map": {"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}`, `tensor "a" is in shard model-00001-of-00002.safetensors but weight_map maps it to model-00002-of-00002.safetensors`},
		{"unlisted", `{"weight_map": {"a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}`, `holds tensor "b", which weight_map does not list`},
		{"listed but absent", `{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors", "d": "model-00002-of-00002.safetensors"}}`, `maps tensor "d" to model-00002-of-00002.safetensors, which has no such tensor`},
		{"duplicate key", `{"weight_map": {"a": "model-00001-of-00002.safetensors", "a": "extra.safetensors"}}`, `tensor "a" appears twice in weight_map`},
		{"path escape", `{"weight_map": {"a": "../model-00001-of-00002.safetensors"}}`, "is not a file name in the index's directory"},
		{"no weight_map", `{"metadata": {}}`, "no weight_map"},
		{"empty weight_map", `{"weight_map": {}}`, "weight_map is empty"},
		{"not json", `weights`, "not a JSON object"},
		{"number", `{"weight_map": {"a": 1}}`, `weight_map["a"] is not a file name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			index(tc.index)
			c, err := Open(dir)
			if err == nil {
				c.Close()
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), SafetensorsIndex) {
				t.Errorf("error %q, want it to name the index and contain %q", err, tc.want)
			}
		})
	}
	// The same tensor in two shards, both listed.
	writeST(t, filepath.Join(dir, "model-00002-of-00002.safetensors"),
		safetensors.Tensor{Name: "c", Shape: []int{1}, Data: []float32{4}},
		safetensors.Tensor{Name: "a", Shape: []int{2}, Data: []float32{1, 2}})
	index(`{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}}`)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), `tensor "a" is in shard model-00002-of-00002.safetensors but weight_map maps it to model-00001-of-00002.safetensors`) {
		t.Errorf("tensor in two shards: %v", err)
	}
}

func TestOpenFileKinds(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, Torch), "not a zip")
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "pytorch_model.bin") || !strings.Contains(err.Error(), "torchfile") {
		t.Errorf("bad pytorch_model.bin: %v", err)
	}
	write(t, filepath.Join(dir, Safetensors), "x")
	if _, err := Open(dir); err == nil || !errors.Is(err, safetensors.ErrFormat) {
		t.Errorf("bad model.safetensors: %v", err)
	}
}

// TestMetadata: a single safetensors file's __metadata__, an empty map for
// an index of shards.
func TestMetadata(t *testing.T) {
	dir := t.TempDir()
	one := filepath.Join(dir, "one.safetensors")
	if err := safetensors.WriteFile(one, []safetensors.Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}}, map[string]string{"format": "x", "k": "v"}); err != nil {
		t.Fatal(err)
	}
	c, err := OpenFile(one)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m := c.Metadata(); m["format"] != "x" || m["k"] != "v" || len(m) != 2 {
		t.Errorf("Metadata() = %v", m)
	}
	writeST(t, filepath.Join(dir, "model-00001-of-00001.safetensors"), safetensors.Tensor{Name: "a", Shape: []int{1}, Data: []float32{1}})
	write(t, filepath.Join(dir, SafetensorsIndex), `{"weight_map": {"a": "model-00001-of-00001.safetensors"}}`)
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if m := x.Metadata(); m == nil || len(m) != 0 {
		t.Errorf("index: Metadata() = %v, want an empty map", m)
	}
}
