package hub

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

func TestBuiltinModelDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := 0
	RegisterBuiltin("test-builtin/model", func() (string, error) { calls++; return dir, nil })
	c := &Client{CacheDir: t.TempDir(), Offline: true}
	got, err := c.ModelDir(context.Background(), "test-builtin/model", []string{"config.json"}, nil)
	if err != nil || got != dir || calls != 1 {
		t.Fatalf("ModelDir = %q, %v (%d calls), want %q", got, err, calls, dir)
	}
	if _, err := c.ModelDir(context.Background(), "test-builtin/model", []string{"model.safetensors"}, nil); err == nil {
		t.Error("a required file the built-in model lacks: no error")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	RegisterBuiltin("test-builtin/model", func() (string, error) { return dir, nil })
}
