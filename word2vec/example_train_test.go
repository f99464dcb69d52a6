package word2vec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/loupe-ml/loupe/word2vec"
)

// Train skip-gram vectors on a corpus file and ask for a word's nearest
// neighbours. With one thread and a fixed seed training is deterministic.
func Example() {
	// A small corpus, one sentence per line: sentences about animals and
	// sentences about food.
	dir, err := os.MkdirTemp("", "word2vec-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	topics := [][]string{{"cat", "dog", "horse", "cow"}, {"bread", "cheese", "apple", "rice"}}
	var b strings.Builder
	x := uint32(1)
	for i := range 400 {
		for j := range 8 {
			x = x*1664525 + 1013904223 // a tiny LCG picks the words
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(topics[i%2][x>>30])
		}
		b.WriteByte('\n')
	}
	corpus := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(corpus, []byte(b.String()), 0o644); err != nil {
		panic(err)
	}

	opt := word2vec.DefaultOptions(corpus) // gensim's defaults
	opt.SkipGram, opt.Dim, opt.MinCount, opt.Sample = true, 16, 1, 0
	opt.Threads, opt.Seed = 1, 1
	vecs, stats, err := word2vec.Train(context.Background(), opt)
	if err != nil {
		panic(err)
	}
	fmt.Println(stats.Vocab, "words,", stats.CorpusWords, "corpus words")

	ns, err := vecs.MostSimilar([]string{"cat"}, nil, word2vec.QueryOptions{TopN: 3})
	if err != nil {
		panic(err)
	}
	var near []string
	for _, n := range ns {
		near = append(near, n.Word)
	}
	slices.Sort(near)
	fmt.Println("nearest to cat:", near)

	// vecs.Save("vectors.bin", word2vec.FormatBinary) would write the C
	// tool's binary format, which gensim reads.

	// Output:
	// 8 words, 3200 corpus words
	// nearest to cat: [cow dog horse]
}
