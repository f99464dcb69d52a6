package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/npy"
)

// TestEmbedBlankLines: embed --input keeps one row per text line.
func TestEmbedBlankLines(t *testing.T) {
	model := filepath.Join("..", "..", "embed", "testdata", "st")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	os.WriteFile(in, []byte("a cat\n\nthe dog\nhello\n"), 0o644)
	out := filepath.Join(dir, "v.npy")
	embedFlags.input, embedFlags.output, embedFlags.similarity = "", "", false
	if _, _, err := runCmd(t, "embed", "--model", model, "--input", in, "--output", out); err != nil {
		t.Fatal(err)
	}
	data, rows, cols, err := npy.ReadFloat32(out)
	if err != nil || rows != 4 {
		t.Fatalf("%d rows (want 4, one per line), %v", rows, err)
	}
	// Row 2 is "the dog", as when embedded alone.
	embedFlags.input, embedFlags.output = "", ""
	one := filepath.Join(dir, "one.txt")
	os.WriteFile(one, []byte("the dog\n"), 0o644)
	out1 := filepath.Join(dir, "one.npy")
	if _, _, err := runCmd(t, "embed", "--model", model, "--input", one, "--output", out1); err != nil {
		t.Fatal(err)
	}
	d1, _, _, err := npy.ReadFloat32(out1)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < cols; j++ {
		if d := data[2*cols+j] - d1[j]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("row 2 is not line 3's text (column %d differs by %g)", j, d)
		}
	}
	embedFlags.input, embedFlags.output = "", ""
	_, _, err = runCmd(t, "embed", "--model", model, "caf\xe9")
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("non-UTF-8 argument: %v", err)
	}
	embedFlags.input, embedFlags.output = "", ""
	for _, o := range []string{filepath.Join(in, "v.npy"), filepath.Join(in, "v.jsonl")} {
		_, _, err = runCmd(t, "embed", "--model", model, "--input", one, "--output", o)
		if err == nil || strings.Contains(err.Error(), ".tmp-") || !strings.Contains(err.Error(), "--output") {
			t.Errorf("--output %s: %v (want an error naming --output, not the temporary file)", o, err)
		}
		embedFlags.input, embedFlags.output = "", ""
	}
}
