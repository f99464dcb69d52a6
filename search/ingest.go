package search

import (
	"context"

	"github.com/loupe-ml/loupe/embed"
	"github.com/loupe-ml/loupe/index"
)

// Source is what Ingest reads: the vector files of BatchFiles (Vectors,
// with optional IDs and Metadata), or, with Input set, the documents of
// that file (ReadRecordsFile's text or JSON lines) to embed.
type Source struct {
	index.BatchFiles
	Input string
}

// Ingest builds a new index in directory dir from src (build; with opts'
// Model, Index and Embed options) or adds src to the index there (with
// opts' Model, if any, and Embed), as index.Build and Update or Build and
// Update here do. add.Progress gets the stages "embedding" and "indexing"
// of documents, or "indexing" (build) or "adding" of vectors. It returns
// the index, open, what was added, and the function that closes the index
// (and the embedding model).
func Ingest(ctx context.Context, dir string, src Source, build bool, opts Options, add AddOptions, d DirOptions) (x *index.Index, res index.AddResult, done func() error, err error) {
	if src.Input == "" {
		b, err := src.BatchFiles.Read()
		if err != nil {
			return nil, res, nil, err
		}
		stage := map[bool]string{true: "indexing", false: "adding"}[build]
		if add.Progress != nil {
			b.Progress = func(done int) { add.Progress(stage, done, len(b.Vectors)/max(b.Dim, 1)) }
		}
		if build {
			x, res, err = index.Build(dir, opts.Index, b, d)
		} else {
			x, res, err = index.Update(dir, b, d)
		}
		if err != nil {
			return nil, res, nil, err
		}
		return x, res, x.Close, nil
	}
	docs, err := embed.ReadRecordsFile(src.Input, embed.ReadOptions{})
	if err != nil {
		return nil, res, nil, err
	}
	var s *Store
	var r AddResult
	if build {
		s, r, err = Build(ctx, dir, docs, opts, add, d)
	} else {
		s, r, err = Update(ctx, dir, docs, OpenOptions{Model: opts.Model, Embed: opts.Embed}, add, d)
	}
	if err != nil {
		return nil, res, nil, err
	}
	return s.Index(), index.AddResult{Added: r.Added, Replaced: r.Replaced, Seconds: r.IndexSeconds}, s.Close, nil
}
