package retrieval_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/defaults"
	"github.com/loupe-ml/loupe/index"
	"github.com/loupe-ml/loupe/retrieval"
	"github.com/loupe-ml/loupe/search"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "rag-example")
	defer os.RemoveAll(dir)
	corpus := filepath.Join(dir, "genesis.txt")
	os.WriteFile(corpus, []byte("In the beginning God created the heaven and the earth. "+
		"And the earth was without form, and void; and darkness was upon the face of the deep. "+
		"And the Spirit of God moved upon the face of the waters. And God said, Let there be light: and there was light."), 0o644)

	// A store of 16-token chunks, cut with the default GPT-2's tokenizer
	// and embedded with the default word2vec model, searched exactly.
	opts := retrieval.BuildOptions{ChunkTokens: 16, LM: defaults.GPT2, EmbedModel: defaults.Embed, Index: index.DefaultOptions()}
	opts.Index.Kind = index.Flat
	res, err := retrieval.Build(ctx, filepath.Join(dir, "gen.rag"), []string{corpus}, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d chunks of %d tokens\n", res.Chunks, res.Tokens)

	s, err := retrieval.Open(ctx, filepath.Join(dir, "gen.rag"), retrieval.OpenOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	// BM25 ranking: the chunk holding the words, and what follows it.
	hits, err := s.Retrieve(ctx, "darkness upon the deep", 1, search.SearchOptions{Mode: search.ModeBM25})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("chunk %d at token %d: %q\ncontinuation: %q\n", hits[0].Chunk, hits[0].Offset, hits[0].Text, hits[0].Continuation)
	// Output:
	// 4 chunks of 58 tokens
	// chunk 1 at token 16: " form, and void; and darkness was upon the face of the deep. And"
	// continuation: " the Spirit of God moved upon the face of the waters. And God said,"
}
