package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenizeUTF8: text that is not UTF-8 is an error (naming the line for
// --input), as loupe generate does, not tokenized byte by byte.
func TestTokenizeUTF8(t *testing.T) {
	model := filepath.Join("..", "..", "explain", "testdata", "tiny")
	out, _, err := runCmd(t, "tokenize", "--model", model, "the hat")
	if err != nil || !strings.Contains(out, "tokens") {
		t.Fatalf("valid text: %q %v", out, err)
	}
	if _, _, err := runCmd(t, "tokenize", "--model", model, "caf\xe9"); err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("non-UTF-8 argument: %v", err)
	}
	in := filepath.Join(t.TempDir(), "in.jsonl")
	os.WriteFile(in, []byte("\"ok\"\n\"caf\xe9\"\n"), 0o644)
	_, _, err = runCmd(t, "tokenize", "--model", model, "--input", in)
	if err == nil || !strings.Contains(err.Error(), "line 2 is not valid UTF-8") {
		t.Errorf("non-UTF-8 line: %v", err)
	}
}
