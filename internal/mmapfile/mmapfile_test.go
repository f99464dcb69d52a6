package mmapfile

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestMap(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("loupe"), 1000)
	path := filepath.Join(dir, "w.bin")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	b, unmap, err := Map(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("mapped %d bytes, not the file's contents", len(b))
	}
	b[0] = 'X' // private: the file must not change
	if unmap != nil {
		if err := unmap(); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatal("a write to the private mapping reached the file")
	}

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	if b, unmap, err := Map(empty); err != nil || len(b) != 0 || unmap != nil {
		t.Fatalf("empty file: %d bytes, unmap %v, err %v", len(b), unmap != nil, err)
	}
	if _, _, err := Map(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file: no error")
	}
	if _, _, err := Map(dir); err == nil {
		t.Fatal("directory: no error")
	}
}
