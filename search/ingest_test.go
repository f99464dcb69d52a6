package search

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/npy"
)

func TestIngest(t *testing.T) {
	ctx, tmp := context.Background(), t.TempDir()
	vecs := filepath.Join(tmp, "v.npy")
	if err := npy.WriteFloat32(vecs, []float32{1, 0, 0, 1, 1, 1}, 3, 2); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "idx")
	var stages []string
	add := AddOptions{Progress: func(stage string, done, total int) {
		if done == total {
			stages = append(stages, stage)
		}
	}}
	opts := Options{Index: testIndexOptions(index.Options{Kind: index.Flat})}
	x, res, done, err := Ingest(ctx, dir, Source{BatchFiles: index.BatchFiles{Vectors: vecs, IDs: []string{"4,5,6"}}}, true, opts, add, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || x.Len() != 3 {
		t.Errorf("build: added %d, len %d", res.Added, x.Len())
	}
	done()
	x, res, done, err = Ingest(ctx, dir, Source{BatchFiles: index.BatchFiles{Vectors: vecs}}, false, Options{}, add, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || x.Len() != 6 {
		t.Errorf("add: added %d, len %d", res.Added, x.Len())
	}
	done()
	if len(stages) != 2 || stages[0] != "indexing" || stages[1] != "adding" {
		t.Errorf("stages %v", stages)
	}

	// Documents are embedded with the model recorded at build.
	docs := filepath.Join(tmp, "docs.jsonl")
	if err := os.WriteFile(docs, []byte("{\"text\": \"bread\"}\n{\"text\": \"wine\", \"id\": 9}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(tmp, "docs")
	opts.Model = stModel(t)
	if _, _, done, err = Ingest(ctx, dir, Source{Input: docs}, true, opts, AddOptions{}, DirOptions{}); err != nil {
		t.Fatal(err)
	}
	done()
	x, res, done, err = Ingest(ctx, dir, Source{Input: docs}, false, Options{}, AddOptions{Replace: true}, DirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if res.Added != 1 || res.Replaced != 1 || x.Len() != 3 || x.Model() != stModel(t) {
		t.Errorf("documents: %+v, len %d, model %q", res, x.Len(), x.Model())
	}
}
