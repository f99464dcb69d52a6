// Package hub resolves Hugging Face model ids to local directories, reading
// and writing the same cache that Python's huggingface_hub (and therefore
// transformers and sentence-transformers) uses, so a model downloaded by
// either is found by the other.
//
// The simplest use takes its settings from the environment as
// huggingface_hub does:
//
//	dir, err := hub.NewClient().ModelDir(ctx, "gpt2", []string{"config.json", "model.safetensors"}, []string{"tokenizer.json"})
//
// A reference is a local directory (returned as is once the required files are
// found in it) or a hub id: "NAME", "ORG/NAME", optionally followed by
// "@REVISION" (a branch, a tag or a commit hash; "main" by default).
//
// # Weights in other forms
//
// A requested "model.safetensors" (or "DIR/model.safetensors") stands for the
// model's weights. When the repository (or a local directory) has no such
// file, the first of model.safetensors.index.json, pytorch_model.bin and
// pytorch_model.bin.index.json that it has is fetched instead, and for an
// index every shard its weight_map lists, the order transformers uses. That
// order is checkpoint.Files, owned by package checkpoint, which opens the
// result in the same order and parses the shard index for hub. The files
// fetched are listed in SnapshotResult.Files.
//
// # Cache layout
//
// The cache directory is $HF_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub. Each model
// has a folder named after the id as typed, "models--ORG--NAME", holding
//
//	blobs/<etag>                   file contents, named by their ETag (the sha256 of
//	                               LFS files, the git blob id of others)
//	blobs/<etag>.incomplete        a download in progress, resumed by the next attempt
//	refs/<revision>                the commit hash a branch or tag resolved to
//	snapshots/<commit>/<file>      a relative symlink to ../../blobs/<etag>
//	.no_exist/<commit>/<file>      an empty file recording that the repo has no such file
//
// # Protocol
//
// Files are fetched from {endpoint}/{repo}/resolve/{revision}/{file}
// (endpoint https://huggingface.co, or $HF_ENDPOINT). A HEAD request, which
// follows only relative redirects (renamed repositories), gives the commit
// (X-Repo-Commit), the ETag (X-Linked-Etag, else ETag) and the size
// (X-Linked-Size, else Content-Length); an absolute redirect names the
// content server to download from, without the Authorization header. Once a
// branch has been resolved to a commit, the other files of the same model are
// fetched at that commit, and files already in the snapshot are not requested
// again. Downloads go to blobs/<etag>.incomplete, resume with a Range
// request, are checked against the sha256 when the ETag is one, and are
// renamed into place only when complete.
//
// With HF_HUB_OFFLINE=1 (or Client.Offline) no request is made: references
// resolve through refs/ and snapshots/ alone. When the network is
// unreachable, the cache is used the same way.
//
// HF_TOKEN (else the file $HF_TOKEN_PATH or $HF_HOME/token) is sent as a
// bearer token, for private and gated repositories.
//
// A Client is safe for concurrent use. On Unix, processes downloading the same
// blob take turns through a lock file, .locks/models--ORG--NAME/<etag>.lock
// under the cache directory, as huggingface_hub does.
package hub
