package hub

import (
	"context"
	"fmt"
	"strings"
)

// ModelFiles are what Download fetches when no files are named: config.json
// (required), then, where the repository has them, the weights and the
// tokenizer and sentence-transformers files that GPT-2, BERT and
// sentence-transformers models need. model.safetensors stands for the weights:
// its shard index and shards, or pytorch_model.bin and its shards, are fetched
// in its place when the repository has those instead.
var ModelFiles = []string{
	"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt",
	"vocab.txt", "tokenizer_config.json", "modules.json", "config_sentence_transformers.json",
	"sentence_bert_config.json", "1_Pooling/config.json", "special_tokens_map.json",
}

// DownloadOptions says what Download fetches.
type DownloadOptions struct {
	// Revision is a branch, tag or commit hash; empty means the one in the
	// reference, else main. A reference that names another one is an error.
	Revision string
	// Files are fetched exactly (all required); nil means ModelFiles.
	Files []string
}

// Download fetches ref (NAME, ORG/NAME or ORG/NAME@REVISION) into the cache,
// as huggingface_hub's snapshot_download does for the files asked for, and
// returns the snapshot.
func (c *Client) Download(ctx context.Context, ref string, opt DownloadOptions) (*SnapshotResult, error) {
	repo, rev, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	if opt.Revision != "" {
		if strings.Contains(ref, "@") && rev != opt.Revision {
			return nil, fmt.Errorf("hub: %s and revision %s name different revisions", ref, opt.Revision)
		}
		rev = opt.Revision
	}
	required, optional := ModelFiles[:1], ModelFiles[1:]
	if len(opt.Files) > 0 {
		required, optional = opt.Files, nil
	}
	res, err := c.Snapshot(ctx, repo, rev, required, optional)
	if err != nil {
		return nil, err
	}
	if res.Files == nil {
		res.Files = []string{}
	}
	return res, nil
}
