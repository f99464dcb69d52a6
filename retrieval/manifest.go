package retrieval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/internal/atomicfile"
)

// ManifestFile is the name of a store's manifest in its directory.
const ManifestFile = "rag.json"

// manifestFormat and manifestVersion identify the manifest's format.
const (
	manifestFormat  = "loupe-rag"
	manifestVersion = 1
)

// ErrNotStore: a directory holds no chunk store (no manifest).
var ErrNotStore = errors.New("is not a chunk store (no " + ManifestFile + "; build one with loupe rag build)")

// Manifest is what a store's rag.json records: how its chunks were made
// and what it holds.
type Manifest struct {
	Format  string `json:"format"`  // "loupe-rag"
	Version int    `json:"version"` // 1
	// ChunkTokens is the chunk size N (and the most tokens of a
	// continuation), in tokens of the LM's tokenizer.
	ChunkTokens int `json:"chunk_tokens"`
	// LM identifies the tokenizer the chunks were cut with.
	LM TokenizerID `json:"lm"`
	// EmbedModel is the embedding model of the chunks (as the index
	// records it too).
	EmbedModel string `json:"embed_model"`
	// Chunks and Tokens count the chunks stored and the tokens they hold.
	Chunks int   `json:"chunks"`
	Tokens int64 `json:"tokens"`
	// Sources are the files the chunks came from, in the order added.
	Sources []SourceInfo `json:"sources"`
	// NextID is the index's next vector id when the manifest was written:
	// an index saved by an Update that was killed before it wrote the
	// manifest has another, and Open then counts the sources again from
	// the chunks' metadata.
	NextID uint64 `json:"next_id"`
}

// TokenizerID names an LM tokenizer: the model reference it was loaded
// from, and a fingerprint of the tokenizer itself (Fingerprint), which is
// what Open compares.
type TokenizerID struct {
	Model       string `json:"model"`
	Fingerprint string `json:"fingerprint"`
	VocabSize   int    `json:"vocab_size"`
}

// SourceInfo is one corpus file of a store.
type SourceInfo struct {
	Path   string `json:"path"`
	Chunks int    `json:"chunks"`
	Tokens int    `json:"tokens"`
}

// ParseManifest decodes and checks a manifest; name names it in errors.
// Unknown fields are an error, so that a newer format is not misread.
func ParseManifest(data []byte, name string) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("retrieval: %s: %w", name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("retrieval: %s: data after the JSON object", name)
	}
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("retrieval: %s: %s %v: want %s", name, field, v, want)
	}
	switch {
	case m.Format != manifestFormat:
		return nil, bad("format", fmt.Sprintf("%q", m.Format), fmt.Sprintf("%q", manifestFormat))
	case m.Version != manifestVersion:
		return nil, bad("version", m.Version, fmt.Sprint(manifestVersion, " (a newer loupe wrote this store?)"))
	case m.ChunkTokens < 1:
		return nil, bad("chunk_tokens", m.ChunkTokens, "a positive number")
	case m.LM.Fingerprint == "":
		return nil, bad("lm.fingerprint", `""`, "the LM tokenizer's fingerprint")
	case m.LM.VocabSize < 1:
		return nil, bad("lm.vocab_size", m.LM.VocabSize, "a positive number")
	case m.EmbedModel == "":
		return nil, bad("embed_model", `""`, "the embedding model")
	case m.Chunks < 0 || m.Tokens < 0:
		return nil, bad("chunks/tokens", fmt.Sprint(m.Chunks, "/", m.Tokens), "counts of 0 or more")
	}
	chunks, tokens := 0, int64(0)
	for i, s := range m.Sources {
		if s.Path == "" || s.Chunks < 0 || s.Tokens < 0 || s.Chunks > s.Tokens {
			return nil, bad(fmt.Sprintf("sources[%d]", i), fmt.Sprintf("%+v", s), "a path and counts with chunks ≤ tokens")
		}
		chunks += s.Chunks
		tokens += int64(s.Tokens)
	}
	if chunks != m.Chunks || tokens != m.Tokens {
		return nil, bad("chunks/tokens", fmt.Sprint(m.Chunks, "/", m.Tokens), fmt.Sprint("the sources' sums ", chunks, "/", tokens))
	}
	return &m, nil
}

// ReadManifest reads the manifest of the store in directory dir.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			return nil, fmt.Errorf("retrieval: store %s does not exist: %w", dir, serr)
		} else if serr != nil {
			return nil, fmt.Errorf("retrieval: %w", serr)
		}
		return nil, fmt.Errorf("retrieval: %s %w", dir, ErrNotStore)
	}
	if err != nil {
		return nil, fmt.Errorf("retrieval: %w", err)
	}
	return ParseManifest(data, path)
}

// write writes m to dir/rag.json atomically.
func (m *Manifest) write(dir string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, ManifestFile), append(data, '\n')); err != nil {
		return fmt.Errorf("retrieval: %w", err)
	}
	return nil
}
