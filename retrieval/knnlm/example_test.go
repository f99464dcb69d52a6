package knnlm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
	"github.com/loupe-ml/loupe/retrieval/knnlm"
	"github.com/loupe-ml/loupe/tokenizer"
)

// Build a datastore over a text with the tiny test model, then score
// another text with the kNN-LM.
func Example() {
	dir := filepath.Join("..", "..", "explain", "testdata", "tiny")
	m, _ := gpt2.Load(dir)
	defer m.Close()
	tok, _ := tokenizer.Load(dir)
	ids, _ := perplexity.Tokenize(tok, []string{"the hat and the cat sat on a mat. a hat is the hat of the cat."})

	tmp, _ := os.MkdirTemp("", "knnlm-example")
	defer os.RemoveAll(tmp)
	store := filepath.Join(tmp, "ds")
	man, err := knnlm.Build(context.Background(), m, tok, ids, store, knnlm.BuildOptions{Model: dir})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d keys of dimension %d\n", man.Keys, man.Dim)

	ds, err := knnlm.Open(store, m, tok)
	if err != nil {
		panic(err)
	}
	defer ds.Close()
	mixer, _ := ds.NewMixer(knnlm.Options{Lambda: 0.25, K: 8, Temperature: 1})
	opt := perplexity.DefaultOptions(m.Config)
	test, _ := perplexity.Tokenize(tok, []string{"the cat sat on the hat."})
	base, _ := perplexity.Evaluate(context.Background(), m, test, opt, nil)
	opt.Mixer = mixer
	knn, _ := perplexity.Evaluate(context.Background(), m, test, opt, nil)
	fmt.Println("kNN-LM lowers the perplexity:", knn.Perplexity < base.Perplexity)
	// Output:
	// 48 keys of dimension 32
	// kNN-LM lowers the perplexity: true
}
