package hub

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/checkpoint"
)

// weightRepos adds repositories without model.safetensors to the fake hub:
// one with pytorch_model.bin only, one with safetensors shards, one with
// torch shards, one whose index lists a shard it does not have, and one
// with no weights at all.
func weightRepos(h *fakeHub) {
	shard1 := bytes.Repeat([]byte("s1"), 3000)
	shard2 := bytes.Repeat([]byte("s2"), 2000)
	h.repos["acme/bin"] = &fakeRepo{commit: commitA, files: map[string][]byte{"config.json": config, "pytorch_model.bin": weights},
		lfs: map[string]bool{"pytorch_model.bin": true}}
	h.repos["acme/sharded"] = &fakeRepo{commit: commitA, files: map[string][]byte{
		"config.json": config,
		"model.safetensors.index.json": []byte(`{"metadata": {"total_size": 10000}, "weight_map": {
			"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}`),
		"model-00001-of-00002.safetensors": shard1,
		"model-00002-of-00002.safetensors": shard2,
		"pytorch_model.bin":                weights, // not fetched: the shards come first
	}, lfs: map[string]bool{"model-00001-of-00002.safetensors": true, "model-00002-of-00002.safetensors": true}}
	h.repos["acme/binsharded"] = &fakeRepo{commit: commitA, files: map[string][]byte{
		"config.json":                      config,
		"pytorch_model.bin.index.json":     []byte(`{"weight_map": {"a": "pytorch_model-00001-of-00002.bin", "b": "pytorch_model-00002-of-00002.bin"}}`),
		"pytorch_model-00001-of-00002.bin": shard1,
		"pytorch_model-00002-of-00002.bin": shard2,
	}}
	h.repos["acme/broken"] = &fakeRepo{commit: commitA, files: map[string][]byte{
		"config.json":                      config,
		"model.safetensors.index.json":     []byte(`{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}`),
		"model-00001-of-00002.safetensors": shard1,
	}}
	h.repos["acme/escape"] = &fakeRepo{commit: commitA, files: map[string][]byte{
		"config.json":                  config,
		"model.safetensors.index.json": []byte(`{"weight_map": {"a": "../../etc/passwd"}}`),
	}}
	h.repos["acme/noweights"] = &fakeRepo{commit: commitA, files: map[string][]byte{"config.json": config}}
	h.repos["acme/subfolder"] = &fakeRepo{commit: commitA, files: map[string][]byte{
		"config.json": config,
		"0_Transformer/model.safetensors.index.json":     []byte(`{"weight_map": {"a": "model-00001-of-00001.safetensors"}}`),
		"0_Transformer/model-00001-of-00001.safetensors": shard1,
	}}
}

func heads(h *fakeHub) []string {
	var out []string
	for _, r := range h.requests() {
		if strings.HasPrefix(r, "HEAD ") {
			out = append(out, r[strings.LastIndex(r, "/")+1:])
		}
	}
	return out
}

// TestWeightsFallback: a request for model.safetensors is met, in the
// order transformers uses, by the shard index and its shards, by
// pytorch_model.bin, or by the torch index and its shards.
func TestWeightsFallback(t *testing.T) {
	h, c := setup(t)
	weightRepos(h)
	ctx := context.Background()
	for _, tc := range []struct {
		repo  string
		files []string // res.Files after config.json
		heads []string // HEAD requests, in order
	}{
		{"openai-community/gpt2", []string{"model.safetensors"}, []string{"config.json", "model.safetensors"}},
		{"acme/bin", []string{"pytorch_model.bin"}, []string{"config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"}},
		{"acme/sharded", []string{"model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"},
			[]string{"config.json", "model.safetensors", "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}},
		{"acme/binsharded", []string{"pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"},
			[]string{"config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}},
	} {
		t.Run(tc.repo, func(t *testing.T) {
			h.resetLog()
			res, err := c.Snapshot(ctx, tc.repo, "main", []string{"config.json", "model.safetensors"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := append([]string{"config.json"}, tc.files...); !slices.Equal(res.Files, want) {
				t.Errorf("files %v, want %v", res.Files, want)
			}
			if got := heads(h); !slices.Equal(got, tc.heads) {
				t.Errorf("HEAD requests %v, want %v", got, tc.heads)
			}
			repo := h.repos[tc.repo]
			for _, f := range tc.files {
				got, err := os.ReadFile(filepath.Join(res.Dir, f))
				if err != nil || !bytes.Equal(got, repo.files[f]) {
					t.Errorf("%s: %d bytes, %v; want the %d served", f, len(got), err, len(repo.files[f]))
				}
			}
			// Again: the snapshot answers, with no download.
			h.resetLog()
			res2, err := c.Snapshot(ctx, tc.repo, "main", []string{"config.json", "model.safetensors"}, nil)
			if err != nil || !slices.Equal(res2.Files, res.Files) {
				t.Errorf("second run: %v, %v", res2, err)
			}
			for _, r := range h.requests() {
				if strings.HasPrefix(r, "GET") {
					t.Errorf("second run downloaded: %s", r)
				}
			}
			// Offline, from the cache alone (model.safetensors is recorded
			// in .no_exist, so the cached fallback is used).
			off := &Client{CacheDir: c.CacheDir, Endpoint: "http://127.0.0.1:1", Offline: true}
			dir, err := off.ModelDir(ctx, tc.repo, []string{"config.json", "model.safetensors"}, nil)
			if err != nil || dir != res.Dir {
				t.Errorf("offline: %s, %v; want %s", dir, err, res.Dir)
			}
			// As an optional file, the fallback is fetched too.
			res3, err := c.Snapshot(ctx, tc.repo, "main", []string{"config.json"}, []string{"model.safetensors", "vocab.txt"})
			if err != nil || !slices.Equal(res3.Files, res.Files) || !slices.Equal(res3.Missing, []string{"vocab.txt"}) {
				t.Errorf("optional: files %v, missing %v, %v", res3.Files, res3.Missing, err)
			}
		})
	}
}

// TestWeightsOrder: hub asks for the weights files in checkpoint's order,
// the order checkpoint.Open reads a directory in, so that what hub fetches
// is what the reader opens.
func TestWeightsOrder(t *testing.T) {
	h, c := setup(t)
	weightRepos(h)
	if _, err := c.Snapshot(context.Background(), "acme/noweights", "main", nil, []string{"model.safetensors"}); err != nil {
		t.Fatal(err)
	}
	if got := heads(h); !slices.Equal(got, checkpoint.Files) {
		t.Errorf("HEAD requests %v, want checkpoint.Files %v", got, checkpoint.Files)
	}
}

// TestWeightsFallbackSubfolder: DIR/model.safetensors falls back inside DIR,
// and the shards of DIR/model.safetensors.index.json are fetched from DIR.
func TestWeightsFallbackSubfolder(t *testing.T) {
	h, c := setup(t)
	weightRepos(h)
	res, err := c.Snapshot(context.Background(), "acme/subfolder", "main", []string{"config.json", "0_Transformer/model.safetensors"}, nil)
	want := []string{"config.json", "0_Transformer/model.safetensors.index.json", "0_Transformer/model-00001-of-00001.safetensors"}
	if err != nil || !slices.Equal(res.Files, want) {
		t.Fatalf("files %v, %v; want %v", res, err, want)
	}
	if b, err := os.ReadFile(filepath.Join(res.Dir, "0_Transformer", "model-00001-of-00001.safetensors")); err != nil || len(b) != 6000 {
		t.Errorf("shard: %d bytes, %v", len(b), err)
	}
}

func TestWeightsFallbackErrors(t *testing.T) {
	h, c := setup(t)
	weightRepos(h)
	ctx := context.Background()
	_, err := c.ModelDir(ctx, "acme/broken", []string{"config.json", "model.safetensors"}, nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "shard model-00002-of-00002.safetensors listed by model.safetensors.index.json") ||
		!strings.Contains(err.Error(), "acme/broken") {
		t.Errorf("missing shard: %v", err)
	}
	_, err = c.ModelDir(ctx, "acme/escape", []string{"config.json", "model.safetensors"}, nil)
	if !errors.Is(err, checkpoint.ErrIndex) || !strings.Contains(err.Error(), `"../../etc/passwd" is not a file name`) ||
		strings.Count(err.Error(), "model.safetensors.index.json") != 1 {
		t.Errorf("escaping shard name: %v", err)
	}
	_, err = c.ModelDir(ctx, "acme/noweights", []string{"config.json", "model.safetensors"}, nil)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "has no file model.safetensors") ||
		!strings.Contains(err.Error(), "nor model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json") {
		t.Errorf("no weights: %v", err)
	}
	res, err := c.Snapshot(ctx, "acme/noweights", "main", []string{"config.json"}, []string{"model.safetensors"})
	if err != nil || !slices.Equal(res.Missing, []string{"model.safetensors"}) {
		t.Errorf("optional, no weights: %v, %v", res, err)
	}
	// Offline with nothing cached: the error is about model.safetensors.
	off := &Client{CacheDir: t.TempDir(), Endpoint: "http://127.0.0.1:1", Offline: true}
	if _, err := off.ModelDir(ctx, "acme/bin", []string{"model.safetensors"}, nil); !errors.Is(err, ErrOffline) {
		t.Errorf("offline, empty cache: %v", err)
	}
}

// TestLocalDirWeights: a local directory with pytorch_model.bin or a shard
// index satisfies a required model.safetensors.
func TestLocalDirWeights(t *testing.T) {
	c := &Client{CacheDir: t.TempDir(), Offline: true}
	for _, f := range []string{"pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json"} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644)
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
		if got, err := c.ModelDir(context.Background(), dir, []string{"config.json", "model.safetensors"}, nil); err != nil || got != dir {
			t.Errorf("%s: %s, %v", f, got, err)
		}
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("x"), 0o644)
	if _, err := c.ModelDir(context.Background(), dir, []string{"sub/model.safetensors"}, nil); err == nil || !strings.Contains(err.Error(), "sub/model.safetensors") {
		t.Errorf("weights in the wrong folder: %v", err)
	}
}
