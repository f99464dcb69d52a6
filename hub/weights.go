package hub

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/loupe-ml/loupe/checkpoint"
)

// Weights is the file name that stands for a model's weights in a request:
// a required or optional "model.safetensors" (or "DIR/model.safetensors") is
// satisfied by the first of weightsFallbacks that the repository has when
// it has no model.safetensors, as transformers falls back. For a shard index,
// every shard it lists is fetched too.
const Weights = checkpoint.Safetensors

// weightsFallbacks are tried in order after model.safetensors. The order is
// checkpoint's (checkpoint.Files), the one checkpoint.Open reads a model
// directory in, so that hub fetches the file the reader will choose.
var weightsFallbacks = checkpoint.Files[1:]

func isWeights(name string) bool { return path.Base(name) == Weights }

// absent reports whether err says that a file is not there (the repository
// has no such file, or it is not in the cache while offline).
func absent(err error) bool { return errors.Is(err, errNoEntry) || errors.Is(err, ErrOffline) }

// localWeights reports whether the local directory dir holds the weights
// that name (DIR/model.safetensors) stands for in another form.
func localWeights(dir, name string) bool {
	prefix := strings.TrimSuffix(name, Weights)
	for _, alt := range weightsFallbacks {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(prefix+alt))); err == nil {
			return true
		}
	}
	return false
}

// weightsFallback fetches, through get, the first of weightsFallbacks that
// the repository has next to name (DIR/model.safetensors), and for an index
// every shard it lists. It returns the files fetched, nil when the
// repository has none of them, and an error for any other failure (a shard
// the index lists that cannot be had, a malformed index).
func (c *Client) weightsFallback(get func(string) (*fileResult, error), repo, revision, name string) ([]string, error) {
	prefix := strings.TrimSuffix(name, Weights)
	for _, alt := range weightsFallbacks {
		file := prefix + alt
		r, err := get(file)
		if err != nil {
			if absent(err) {
				continue
			}
			return nil, err
		}
		got := []string{file}
		if !strings.HasSuffix(alt, ".index.json") {
			return got, nil
		}
		shards, err := readShardList(r.path, file)
		if err != nil {
			return nil, fmt.Errorf("hub: %s@%s: %w", repo, revision, err)
		}
		for _, s := range shards {
			if _, err := get(prefix + s); err != nil {
				return nil, fmt.Errorf("hub: %s@%s: shard %s listed by %s: %w", repo, revision, prefix+s, file, err)
			}
			got = append(got, prefix+s)
		}
		return got, nil
	}
	return nil, nil
}

// readShardList returns the distinct shard file names of the index at p
// (the repository's file name), sorted, each a plain name in the index's
// folder. checkpoint parses and checks the index, as it will when it reads
// the weights.
func readShardList(p, name string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.Size() > checkpoint.MaxIndexSize {
		return nil, fmt.Errorf("%s: index of %d bytes is larger than %d", name, st.Size(), checkpoint.MaxIndexSize)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	x, err := checkpoint.ParseIndex(name, b)
	if err != nil {
		return nil, err
	}
	shards := x.Shards()
	for _, s := range shards {
		if checkFilename(s) != nil {
			return nil, fmt.Errorf("%s: weight_map names %q, not a file name in the index's folder", name, s)
		}
	}
	return shards, nil
}
