package knnlm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/retrieval"
	"github.com/loupe-ml/loupe/tokenizer"
)

// Format and FormatVersion identify a datastore's manifest.
const (
	Format        = "loupe-knnlm"
	FormatVersion = 1
)

// Files of a datastore directory.
const (
	ManifestFile = "manifest.json"
	TokensFile   = "tokens.npy"
	IndexDir     = "index"
)

// Manifest describes a datastore: what built it and what it holds. It is
// the datastore's manifest.json.
type Manifest struct {
	Format  string `json:"format"`  // "loupe-knnlm"
	Version int    `json:"version"` // FormatVersion

	// Model is the reference the model was loaded from (a hub id or a
	// directory), for display; ModelFingerprint identifies its weights
	// (see ModelFingerprint) and is what Open checks.
	Model            string `json:"model"`
	ModelFingerprint string `json:"model_fingerprint"`
	// TokenizerFingerprint identifies the tokenizer (see
	// TokenizerFingerprint).
	TokenizerFingerprint string `json:"tokenizer_fingerprint"`

	Dim       int    `json:"dim"`        // key width: the model's n_embd
	VocabSize int    `json:"vocab_size"` // the model's vocabulary
	MaxLength int    `json:"max_length"` // window of the build (perplexity.Options)
	Stride    int    `json:"stride"`     // stride of the build
	Tokens    int    `json:"tokens"`     // tokens in tokens.npy
	Keys      int    `json:"keys"`       // keys in the index: Tokens-1 (positions 0..Tokens-2)
	Index     string `json:"index"`      // index kind: "flat" or "hnsw"
	Metric    string `json:"metric"`     // always "l2" (squared Euclidean)

	Seconds float64 `json:"build_seconds"` // time the build took
}

// ParseManifest decodes and checks a manifest.json. Errors name the field
// that is missing or out of range.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("knnlm: manifest: %w", err)
	}
	if err := m.check(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) check() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("knnlm: manifest: %s %v: want %s", field, v, want)
	}
	switch {
	case m.Format != Format:
		return bad("format", strconv.Quote(m.Format), strconv.Quote(Format))
	case m.Version != FormatVersion:
		return bad("version", m.Version, strconv.Itoa(FormatVersion))
	case m.ModelFingerprint == "":
		return bad("model_fingerprint", `""`, "the fingerprint of the model's weights")
	case m.TokenizerFingerprint == "":
		return bad("tokenizer_fingerprint", `""`, "the fingerprint of the tokenizer")
	case m.Dim < 1:
		return bad("dim", m.Dim, "a positive key width")
	case m.VocabSize < 1:
		return bad("vocab_size", m.VocabSize, "a positive vocabulary size")
	case m.MaxLength < 1:
		return bad("max_length", m.MaxLength, "a positive window")
	case m.Stride < 1 || m.Stride > m.MaxLength:
		return bad("stride", m.Stride, fmt.Sprintf("1 to max_length (%d)", m.MaxLength))
	case m.Tokens < 2:
		return bad("tokens", m.Tokens, "at least 2")
	case m.Keys != m.Tokens-1:
		return bad("keys", m.Keys, fmt.Sprintf("tokens-1 (%d)", m.Tokens-1))
	case m.Index != "flat" && m.Index != "hnsw":
		return bad("index", strconv.Quote(m.Index), `"flat" or "hnsw"`)
	case m.Metric != "l2":
		return bad("metric", strconv.Quote(m.Metric), `"l2"`)
	case math.IsNaN(m.Seconds) || m.Seconds < 0:
		return bad("build_seconds", m.Seconds, "0 or more")
	}
	return nil
}

// ReadManifest reads dir's manifest.json. A directory without one is not
// a datastore (or one whose build did not finish).
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("knnlm: %s is not a kNN-LM datastore (no %s)", dir, ManifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("knnlm: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, filepath.Join(dir, ManifestFile))
	}
	return m, nil
}

// ModelFingerprint identifies a model's weights for a datastore: a SHA-256
// (hex, 16 bytes) over its configuration, the token embedding wte (which
// is also the LM head), the final LayerNorm ln_f and the last block's MLP
// output projection, so that another model, or the same one fine-tuned, is
// told apart without hashing every weight.
func ModelFingerprint(m *gpt2.Model) string {
	h := sha256.New()
	c := m.Config
	fmt.Fprintf(h, "gpt2 layers=%d heads=%d embd=%d positions=%d vocab=%d eps=%g act=%s\n",
		c.NLayer, c.NHead, c.NEmbd, c.NPositions, c.VocabSize, c.LayerNormEps, c.Activation)
	w := &m.Weights
	hashFloats(h, w.WTE)
	hashFloats(h, w.LNFG)
	hashFloats(h, w.LNFB)
	if n := len(w.Blocks); n > 0 {
		hashFloats(h, w.Blocks[n-1].ProjW)
		hashFloats(h, w.Blocks[n-1].ProjB)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func hashFloats(h hash.Hash, v []float32) {
	var buf [4096]byte
	for len(v) > 0 {
		n := min(len(v), len(buf)/4)
		for i, x := range v[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(x))
		}
		h.Write(buf[:4*n])
		v = v[n:]
	}
}

// TokenizerFingerprint identifies a tokenizer by what it does:
// retrieval.Fingerprint, shared with the chunk stores (its vocabulary and
// how each entry's text is cut).
func TokenizerFingerprint(tok tokenizer.Tokenizer) string { return retrieval.Fingerprint(tok) }

// MismatchError is Open's refusal of a model or tokenizer other than the
// one the datastore was built with.
type MismatchError struct {
	Dir        string
	What       string // "model" or "tokenizer"
	Built      string // fingerprint recorded in the manifest
	Given      string // fingerprint of what was given
	BuiltModel string // the manifest's model reference
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("knnlm: datastore %s was built with another %s (%s, %s fingerprint %s); the %s given has fingerprint %s: rebuild the datastore with this model or use %s",
		e.Dir, e.What, e.BuiltModel, e.What, short(e.Built), e.What, short(e.Given), e.BuiltModel)
}

// short is the start of a fingerprint, for messages.
func short(fp string) string {
	const n = len("sha256:") + 12
	if len(fp) > n {
		return fp[:n] + "…"
	}
	return fp
}
