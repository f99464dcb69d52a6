package retrieval

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/search"
)

func TestUpdate(t *testing.T) {
	src := corpus(t)
	dir := filepath.Join(t.TempDir(), "store")
	ctx := context.Background()
	gen, john, psalm := filepath.Join(src, "genesis.txt"), filepath.Join(src, "b", "john.txt"), filepath.Join(src, "b", "psalm.txt")
	if _, err := Build(ctx, dir, []string{gen}, buildOpts(16)); err != nil {
		t.Fatal(err)
	}
	o := UpdateOptions{Add: []string{filepath.Join(src, "b")}, Embed: buildOpts(16).Embed}
	res, err := Update(ctx, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *Store {
		t.Helper()
		s, err := Open(ctx, dir, OpenOptions{Embed: o.Embed})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	s := open()
	man := s.Manifest()
	if len(man.Sources) != 3 || man.Sources[0].Path != gen || man.Sources[1].Path != john || man.Sources[2].Path != psalm ||
		man.Chunks != s.Len() || man.Chunks != res.Chunks || man.ChunkTokens != 16 {
		t.Fatalf("after adding b/: %+v (store of %d)", man, s.Len())
	}
	got, err := s.Retrieve(ctx, "The LORD is my shepherd; I shall not want.", 1, search.SearchOptions{})
	if err != nil || got[0].Source != psalm || got[0].Chunk != 0 {
		t.Errorf("added chunks: %+v, %v", got, err)
	}
	before := *man

	// A file already held: refused, or with Replace chunked again.
	if _, err := Update(ctx, dir, UpdateOptions{Add: []string{gen}, Embed: o.Embed}); !errors.Is(err, ErrSourceExists) {
		t.Errorf("adding genesis again: %v", err)
	}
	res, err = Update(ctx, dir, UpdateOptions{Add: []string{gen}, Replace: true, Embed: o.Embed})
	if err != nil {
		t.Fatal(err)
	}
	if res.Chunks != before.Chunks || res.Tokens != before.Tokens || res.Sources[2].Path != gen || open().Len() != before.Chunks {
		t.Errorf("replace: %+v", res.Manifest)
	}

	// Deleting a source removes its chunks from searches.
	res, err = Update(ctx, dir, UpdateOptions{Delete: []string{psalm}, Embed: o.Embed})
	if err != nil {
		t.Fatal(err)
	}
	s = open()
	if s.Len() != before.Chunks-before.Sources[2].Chunks || s.Manifest().Chunks != s.Len() || len(s.Manifest().Sources) != 2 {
		t.Errorf("after deleting psalm: %+v (store of %d)", s.Manifest(), s.Len())
	}
	got, err = s.Retrieve(ctx, "The LORD is my shepherd; I shall not want.", 50, search.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if c.Source == psalm {
			t.Errorf("deleted source retrieved: %+v", c)
		}
	}
	for _, bad := range []UpdateOptions{{}, {Delete: []string{"nope.txt"}}, {Add: []string{filepath.Join(src, "missing")}}, {Delete: []string{gen, john}}} {
		bad.Embed = o.Embed
		if _, err := Update(ctx, dir, bad); err == nil {
			t.Errorf("update %+v: no error", bad)
		}
	}

	// A cancelled update changes nothing.
	b1, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	i1, _ := os.ReadFile(filepath.Join(dir, "index.loupe"))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Update(cctx, dir, UpdateOptions{Add: []string{psalm}, Embed: o.Embed}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled update: %v", err)
	}
	b2, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	i2, _ := os.ReadFile(filepath.Join(dir, "index.loupe"))
	if string(b1) != string(b2) || string(i1) != string(i2) {
		t.Error("a cancelled update changed the store")
	}

	// An update killed between saving the index and writing the manifest:
	// Open counts from the chunks.
	if _, err := Update(ctx, dir, UpdateOptions{Add: []string{psalm}, Embed: o.Embed}); err != nil {
		t.Fatal(err)
	}
	want := *open().Manifest()
	os.WriteFile(filepath.Join(dir, ManifestFile), b1, 0o644)
	got2 := open().Manifest()
	if got2.Chunks != want.Chunks || got2.Tokens != want.Tokens || got2.NextID != want.NextID || !reflect.DeepEqual(got2.Sources, want.Sources) {
		t.Errorf("stale manifest: opened %+v, want %+v", got2, want)
	}

	// Another LM's tokenizer is refused here too.
	other := filepath.Join("..", "tokenizer", "testdata", "gpt2")
	var te *TokenizerError
	if _, err := Update(ctx, dir, UpdateOptions{Add: []string{psalm}, Replace: true, LM: other}); !errors.As(err, &te) {
		t.Errorf("update with another tokenizer: %v", err)
	}
	if _, err := Update(ctx, t.TempDir(), UpdateOptions{Add: []string{psalm}}); !errors.Is(err, ErrNotStore) || strings.Contains(err.Error(), "lock") {
		t.Errorf("update of a non-store: %v", err)
	}
}
