package word2vec_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/word2vec"
)

func ExampleVectors_MostSimilar() {
	// testdata/vectors.bin: gensim skip-gram vectors of a dictionary corpus.
	v, err := word2vec.Load("testdata/vectors.bin", word2vec.FormatAuto, 0)
	if err != nil {
		panic(err)
	}
	// 3CosAdd: man is to king as woman is to ?
	ns, err := v.MostSimilar([]string{"king", "woman"}, []string{"man"}, word2vec.QueryOptions{TopN: 3})
	if err != nil {
		panic(err)
	}
	for _, n := range ns {
		fmt.Printf("%s %.2f\n", n.Word, n.Score)
	}
	_, err = v.Similarity("king", "kingg")
	fmt.Println(err)
	// Output:
	// house 0.89
	// oxford 0.88
	// london 0.86
	// word2vec: word "kingg" not in vocabulary
}
