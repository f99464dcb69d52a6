// Package defaults holds loupe's default models, embedded in the binary so
// that loupe does its main job on a machine with no network:
//
//   - GPT2 ("loupe/kjv-gpt2"): a 4-layer GPT-2 trained by loupe train gpt2
//     on the King James Bible with a tokenizer from loupe tokenizer train
//     (every chapter whose number is a multiple of 10 held out);
//   - Embed ("loupe/kjv-word2vec"): loupe word2vec vectors of the same
//     text, as a sentence-transformers averaged-word-embedding model.
//
// Importing the package registers both names with package hub, so every
// loader that takes a model reference (generate.Load, embed.LoadRef,
// tokenizer.LoadRef, an index's recorded model) reads them like hub ids.
// On first use a model's files are written to the user cache directory
// (LOUPE_CACHE, else os.UserCacheDir()/loupe) in a folder named by a hash
// of their contents, so the memory-mapping loaders can open them; later
// runs reuse it. build.sh rebuilds the models from Debian's packages; the
// model card is docs/default-models.md.
package defaults

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sync"

	"github.com/loupe-ml/loupe/hub"
)

// The references of the default models.
const (
	GPT2  = "loupe/kjv-gpt2"
	Embed = "loupe/kjv-word2vec"
)

//go:embed gpt2 embed
var files embed.FS

// subdirs maps each reference to its folder of files.
var subdirs = map[string]string{GPT2: "gpt2", Embed: "embed"}

func init() {
	for ref, sub := range subdirs {
		hub.RegisterBuiltin(ref, func() (string, error) { return dir(sub) })
	}
}

// Dir returns a local directory holding the files of a default model (GPT2
// or Embed), writing them to the cache on first use.
func Dir(ref string) (string, error) {
	sub, ok := subdirs[ref]
	if !ok {
		return "", fmt.Errorf("defaults: no default model %q (have %s and %s)", ref, GPT2, Embed)
	}
	return dir(sub)
}

var (
	mu   sync.Mutex
	dirs = map[string]string{}
)

func dir(sub string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if d, ok := dirs[sub]; ok {
		if _, err := os.Stat(filepath.Join(d, complete)); err == nil {
			return d, nil
		}
		delete(dirs, sub) // the cache was cleaned (or LOUPE_CACHE moved) since: write it again
	}
	sum, err := contentHash(sub)
	if err != nil {
		return "", err
	}
	var firstErr error
	for _, base := range cacheBases() {
		d := filepath.Join(base, "defaults", sub+"-"+sum)
		if err := materialize(d, sub); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		dirs[sub] = d
		return d, nil
	}
	return "", fmt.Errorf("defaults: cannot write the %s model to a cache directory: %w", sub, firstErr)
}

// cacheBases lists where the files may go, in order of preference.
func cacheBases() []string {
	var out []string
	if d := os.Getenv("LOUPE_CACHE"); d != "" {
		out = append(out, d)
	}
	if d, err := os.UserCacheDir(); err == nil {
		out = append(out, filepath.Join(d, "loupe"))
	}
	return append(out, filepath.Join(os.TempDir(), "loupe-cache"))
}

// contentHash is a short hash of the names and contents of sub's files.
func contentHash(sub string) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(files, sub, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("defaults: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// complete marks a folder whose files are all written.
const complete = ".complete"

// materialize writes sub's files to d, unless a complete copy is there: into
// a temporary folder beside it, renamed into place, so that a reader (or
// another loupe process) never sees a partial model.
func materialize(d, sub string) error {
	if _, err := os.Stat(filepath.Join(d, complete)); err == nil {
		return nil
	}
	parent := filepath.Dir(d)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+sub+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(files, sub, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(sub, filepath.FromSlash(p))
		dst := filepath.Join(tmp, rel)
		if e.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := files.ReadFile(path.Clean(p))
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, complete), nil, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, d); err != nil {
		if _, serr := os.Stat(filepath.Join(d, complete)); serr == nil {
			return nil // another process won the race
		}
		if errors.Is(err, fs.ErrExist) {
			os.RemoveAll(d) // a partial copy from an older, interrupted loupe
			return os.Rename(tmp, d)
		}
		return err
	}
	return nil
}
