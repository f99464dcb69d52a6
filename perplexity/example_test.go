package perplexity_test

import (
	"context"
	"fmt"
	"log"

	"github.com/loupe-ml/loupe/model/gpt2"
	"github.com/loupe-ml/loupe/perplexity"
)

// Score a token stream with the tiny test model, in disjoint windows of
// its 32 positions (the default stride would be 16).
func ExampleEvaluate() {
	m, err := gpt2.Load("../model/gpt2/testdata/tiny")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	ids := make([]int, 100)
	for i := range ids {
		ids[i] = (i*37 + 11) % 100
	}
	opt := perplexity.DefaultOptions(m.Config)
	opt.Stride = opt.MaxLength
	res, err := perplexity.Evaluate(context.Background(), m, ids, opt, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d tokens scored in %d windows, perplexity %.2f\n", res.Tokens, res.Windows, res.Perplexity)
	// Output: 96 tokens scored in 4 windows, perplexity 122.57
}
