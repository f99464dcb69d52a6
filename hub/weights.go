package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Weights is the file name that stands for a model's weights in a request:
// a required or optional "model.safetensors" (or "DIR/model.safetensors") is
// satisfied by the first of weightsFallbacks that the repository has when
// it has no model.safetensors, as transformers falls back. For a shard index,
// every shard it lists is fetched too.
const Weights = "model.safetensors"

// weightsFallbacks are tried in order after model.safetensors.
var weightsFallbacks = []string{"model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"}

// maxIndexSize bounds a shard index read to list its shards.
const maxIndexSize = 256 << 20

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
		shards, err := readShardList(r.path)
		if err != nil {
			return nil, fmt.Errorf("hub: %s@%s: %s: %w", repo, revision, file, err)
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

// readShardList returns the distinct shard file names of an index's
// weight_map, sorted, each checked to be a plain name in the index's folder.
func readShardList(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxIndexSize {
		return nil, fmt.Errorf("index of %d bytes is larger than %d", st.Size(), maxIndexSize)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var x struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("not a shard index: %v", err)
	}
	if len(x.WeightMap) == 0 {
		return nil, fmt.Errorf("the index has no weight_map")
	}
	var shards []string
	for _, s := range x.WeightMap {
		if strings.Contains(s, "/") || checkFilename(s) != nil {
			return nil, fmt.Errorf("weight_map names %q, not a file name in the index's folder", s)
		}
		shards = append(shards, s)
	}
	slices.Sort(shards)
	return slices.Compact(shards), nil
}
