package train

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/tokenizer"
)

// tinyTokenizer is the byte-level BPE of explain's tiny test model.
func tinyTokenizer(t *testing.T) tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load("../explain/testdata/tiny")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenizeFiles(t *testing.T) {
	tok := tinyTokenizer(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	os.WriteFile(a, []byte("the hat\r\n\n  \nthe cat\n"), 0o644)
	os.WriteFile(b, []byte("a mat"), 0o644)
	enc := func(s string) []int32 {
		var out []int32
		for _, id := range tok.EncodeText(s, tokenizer.EncodeOptions{}).IDs {
			out = append(out, int32(id))
		}
		return out
	}
	const eot = 7
	lines, err := TokenizeFiles(tok, []string{a, b}, DocumentLines, eot, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(enc("the hat"), []int32{eot}, enc("the cat"), []int32{eot}, enc("a mat"), []int32{eot})
	if !slices.Equal(lines, want) {
		t.Errorf("lines: %v, want %v", lines, want)
	}
	files, err := TokenizeFiles(tok, []string{a, b}, DocumentFiles, eot, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = slices.Concat(enc("the hat\r\n\n  \nthe cat\n"), []int32{eot}, enc("a mat"), []int32{eot})
	if !slices.Equal(files, want) {
		t.Errorf("files: %v, want %v", files, want)
	}
	// A directory stands for its files, in name order.
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "2.txt"), []byte("a mat"), 0o644)
	os.WriteFile(filepath.Join(sub, "1.txt"), []byte("the hat"), 0o644)
	os.WriteFile(filepath.Join(sub, ".hidden"), []byte("the cat"), 0o644)
	fromDir, err := TokenizeFiles(tok, []string{sub}, DocumentFiles, eot, nil)
	if want := slices.Concat(enc("the hat"), []int32{eot}, enc("a mat"), []int32{eot}); err != nil || !slices.Equal(fromDir, want) {
		t.Errorf("directory: %v, %v; want %v", fromDir, err, want)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("caf\xe9"), 0o644)
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	for _, c := range []struct {
		paths []string
		docs  Documents
		eot   int
		want  string
	}{
		{[]string{bad}, DocumentFiles, eot, "not UTF-8"},
		{[]string{empty}, DocumentLines, eot, "no text"},
		{[]string{filepath.Join(dir, "none")}, DocumentLines, eot, "no such file"},
		{[]string{a}, "paragraphs", eot, "want files or lines"},
		{[]string{a}, DocumentLines, 1 << 20, "outside the tokenizer's vocabulary"},
	} {
		if _, err := TokenizeFiles(tok, c.paths, c.docs, c.eot, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %s: error %v, want %q", c.paths, c.docs, err, c.want)
		}
	}
	if id := EndOfText(tok); id < 0 || tok.Token(id) != "<|endoftext|>" {
		t.Errorf("EndOfText = %d", id)
	}
}

func TestHoldOut(t *testing.T) {
	ids := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, c := range []struct {
		f      float64
		nTrain int
	}{{0, 10}, {0.1, 9}, {0.25, 7}, {0.04, 10}} {
		tr, ev := HoldOut(ids, c.f)
		if len(tr) != c.nTrain || len(tr)+len(ev) != 10 || (len(ev) > 0 && ev[0] != int32(c.nTrain)) {
			t.Errorf("HoldOut(%v): %v | %v", c.f, tr, ev)
		}
	}
}
