package tokenizer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/hub"
)

// TestLoad: Load picks the kind Detect reports, EncodeText agrees with the
// kind's own methods, and a directory without tokenizer files is an error
// that names it and wraps ErrNoTokenizer.
func TestLoad(t *testing.T) {
	bpe, err := Load("testdata/gpt2")
	if err != nil {
		t.Fatal(err)
	}
	b, ok := bpe.(*BPE)
	if !ok {
		t.Fatalf("testdata/gpt2: %T, want *BPE", bpe)
	}
	const s = "Hi<|endoftext|> there"
	for _, allow := range []bool{false, true} {
		e := bpe.EncodeText(s, EncodeOptions{AllowSpecial: allow})
		want := b.Encode(s)
		if allow {
			want = b.EncodeAllowSpecial(s)
		}
		if !reflect.DeepEqual(e.IDs, want) || len(e.Tokens) != len(want) || len(e.TypeIDs) != len(want) || len(e.AttentionMask) != len(want) {
			t.Errorf("BPE EncodeText(%q, %v) = %+v, want ids %v", s, allow, e, want)
		}
		for i, id := range want {
			if e.Tokens[i] != b.Token(id) || e.TypeIDs[i] != 0 || e.AttentionMask[i] != 1 {
				t.Errorf("BPE EncodeText(%q, %v): token %d = %q %d %d", s, allow, i, e.Tokens[i], e.TypeIDs[i], e.AttentionMask[i])
			}
		}
	}
	if e := bpe.EncodeText("", EncodeOptions{}); e.IDs == nil || e.Tokens == nil || e.TypeIDs == nil || e.AttentionMask == nil {
		t.Errorf("BPE EncodeText(\"\") = %#v, want empty slices, not nil", e)
	}
	if bpe.ModelMaxLength() != 0 {
		t.Errorf("BPE without tokenizer_config.json: ModelMaxLength %d, want 0", bpe.ModelMaxLength())
	}

	wp, err := Load("testdata/bert-base-uncased")
	if err != nil {
		t.Fatal(err)
	}
	w, ok := wp.(*WordPiece)
	if !ok {
		t.Fatalf("testdata/bert-base-uncased: %T, want *WordPiece", wp)
	}
	const q = "a [SEP] strawberries"
	if got, want := wp.EncodeText(q, EncodeOptions{}), w.Encode(q, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("WordPiece EncodeText = %+v, want %+v", got, want)
	}
	if got, want := wp.EncodeText(q, EncodeOptions{AllowSpecial: true}), w.EncodeAllowSpecial(q, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("WordPiece EncodeText AllowSpecial = %+v, want %+v", got, want)
	}
	if id, _ := w.ID("##berries"); wp.TokenText(id) != "berries" || wp.TokenText(-1) != "" {
		t.Errorf("TokenText(##berries) = %q", wp.TokenText(id))
	}

	dir := t.TempDir()
	for _, load := range []func(string) error{
		func(d string) error { _, err := Load(d); return err },
		func(d string) error { _, err := Detect(d); return err },
		func(d string) error { _, err := LoadRef(context.Background(), d, LoadOptions{}); return err },
	} {
		if err := load(dir); !errors.Is(err, ErrNoTokenizer) || !strings.Contains(err.Error(), dir+" has no tokenizer files") {
			t.Errorf("empty directory: %v", err)
		}
	}
}

// TestBPEModelMaxLength: LoadBPE takes model_max_length from
// tokenizer_config.json and ignores a file it cannot parse.
func TestBPEModelMaxLength(t *testing.T) {
	for cfg, want := range map[string]int{`{"model_max_length": 1024}`: 1024, `{"model_max_length": 1e30}`: 0, `{`: 0} {
		dir := t.TempDir()
		for _, f := range []string{"vocab.json", "merges.txt"} {
			if err := os.Symlink(filepath.Join(mustAbs(t, "testdata/gpt2"), f), filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644)
		tok, err := LoadBPE(dir)
		if err != nil {
			t.Fatalf("%s: %v", cfg, err)
		}
		if tok.ModelMaxLength() != want {
			t.Errorf("%s: ModelMaxLength %d, want %d", cfg, tok.ModelMaxLength(), want)
		}
	}
}

// TestLoadRef: a hub id resolves through the Hugging Face cache (offline
// here), and one whose snapshot has no tokenizer files is named in the error.
func TestLoadRef(t *testing.T) {
	cache := t.TempDir()
	const commit = "0123456789abcdef0123456789abcdef01234567"
	repo := func(name string, files ...string) {
		snap := filepath.Join(cache, "models--acme--"+name, "snapshots", commit)
		os.MkdirAll(snap, 0o755)
		os.MkdirAll(filepath.Join(cache, "models--acme--"+name, "refs"), 0o755)
		os.WriteFile(filepath.Join(cache, "models--acme--"+name, "refs", "main"), []byte(commit), 0o644)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join("testdata", "bert-base-uncased", f))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(snap, f), b, 0o644)
		}
	}
	repo("bert", "vocab.txt")
	repo("empty")
	opt := LoadOptions{Hub: &hub.Client{CacheDir: cache, Endpoint: "http://127.0.0.1:1", Offline: true}}
	tok, err := LoadRef(context.Background(), "acme/bert", opt)
	if err != nil {
		t.Fatal(err)
	}
	if e := tok.EncodeText("strawberries", EncodeOptions{}); !reflect.DeepEqual(e.IDs, []int{101, 13137, 20968, 102}) {
		t.Errorf("acme/bert: %v", e.IDs)
	}
	if _, err := LoadRef(context.Background(), "acme/empty", opt); !errors.Is(err, ErrNoTokenizer) ||
		!strings.Contains(err.Error(), "acme/empty has no tokenizer files") || strings.Contains(err.Error(), cache) {
		t.Errorf("acme/empty: %v, want an error naming the id, not the cache", err)
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
