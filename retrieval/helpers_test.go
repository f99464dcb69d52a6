package retrieval

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/tokenizer"
)

func defaultTokenizer(t testing.TB) *tokenizer.BPE {
	t.Helper()
	tok, err := LoadTokenizer(context.Background(), defaults.GPT2, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// corpus writes a tiny corpus of three files (two in a subdirectory) and
// returns its directory.
func corpus(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "corpus")
	files := map[string]string{
		"genesis.txt": "In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep. And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and there was light.",
		"b/psalm.txt": "The LORD is my shepherd; I shall not want. He maketh me to lie down in green pastures: he leadeth me beside the still waters. He restoreth my soul: he leadeth me in the paths of righteousness for his name's sake.",
		"b/john.txt":  "In the beginning was the Word, and the Word was with God, and the Word was God. The same was in the beginning with God. All things were made by him; and without him was not any thing made that was made.",
		".hidden":     "never read",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildOpts are Build's options for the tests: the default models, a flat
// (exact) index, small chunks.
func buildOpts(chunk int) BuildOptions {
	o := BuildOptions{ChunkTokens: chunk, LM: defaults.GPT2, EmbedModel: defaults.Embed, Index: index.DefaultOptions()}
	o.Index.Kind = index.Flat
	o.Embed.Warn = func(string) {}
	return o
}

// buildStore builds the corpus into a store and opens it.
func buildStore(t testing.TB, chunk int) (*Store, *BuildResult, string) {
	t.Helper()
	src := corpus(t)
	dir := filepath.Join(t.TempDir(), "store")
	res, err := Build(context.Background(), dir, []string{src}, buildOpts(chunk))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, OpenOptions{Embed: buildOpts(chunk).Embed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, res, src
}

func hasPrefixEntry(t testing.TB, dir, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names
}
