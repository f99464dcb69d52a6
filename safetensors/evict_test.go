package safetensors

import (
	"path/filepath"
	"testing"
)

// TestEvict checks that giving a mapped file's pages back leaves the
// views obtained before, and new reads, with the file's values.
func TestEvict(t *testing.T) {
	const n = 1 << 18 // 1 MiB of float32: many pages
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(i%977) * 0.5
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := WriteFile(path, []Tensor{{Name: "w", Shape: []int{n}, Data: data}}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	view, err := f.Float32("w")
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		if err := f.Evict(); err != nil {
			t.Fatal(err)
		}
		again, err := f.Float32("w")
		if err != nil {
			t.Fatal(err)
		}
		for i := range data {
			if view[i] != data[i] || again[i] != data[i] {
				t.Fatalf("round %d: value %d is %v (view) / %v (new read), want %v", round, i, view[i], again[i], data[i])
			}
		}
	}
	var nilFile *File
	if err := nilFile.Evict(); err != nil {
		t.Errorf("nil file: %v", err)
	}
}
