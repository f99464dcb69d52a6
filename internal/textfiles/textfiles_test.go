package textfiles

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestList(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b.txt", "a/c.txt", "a/.hidden", ".git/x", "a/d/e.txt"} {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte("x"), 0o644)
	}
	got, err := List(dir)
	want := []string{filepath.Join(dir, "a/c.txt"), filepath.Join(dir, "a/d/e.txt"), filepath.Join(dir, "b.txt")}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List(dir) = %v, %v; want %v", got, err, want)
	}
	one := filepath.Join(dir, "b.txt")
	if got, err := List(one); err != nil || !slices.Equal(got, []string{one}) {
		t.Errorf("List(file) = %v, %v", got, err)
	}
	if _, err := List(filepath.Join(dir, "none")); err == nil {
		t.Error("missing path: no error")
	}
}
