package hub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

func TestBuiltinModelDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	calls := 0
	name := fmt.Sprintf("test-builtin/model-%d", builtinRuns.Add(1)) // a new name per run (-count)
	RegisterBuiltin(name, func() (string, error) { calls++; return dir, nil })
	c := &Client{CacheDir: t.TempDir(), Offline: true}
	got, err := c.ModelDir(context.Background(), name, []string{"config.json"}, nil)
	if err != nil || got != dir || calls != 1 {
		t.Fatalf("ModelDir = %q, %v (%d calls), want %q", got, err, calls, dir)
	}
	if _, err := c.ModelDir(context.Background(), name, []string{"model.safetensors"}, nil); err == nil {
		t.Error("a required file the built-in model lacks: no error")
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a name twice did not panic")
		}
	}()
	RegisterBuiltin(name, func() (string, error) { return dir, nil })
}

var builtinRuns atomic.Int64
