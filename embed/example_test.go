package embed_test

import (
	"context"
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/embed"
)

func ExampleLoad() {
	// A local sentence-transformers directory; a hub id such as
	// "sentence-transformers/all-MiniLM-L6-v2" works the same way.
	m, err := embed.Load(context.Background(), "testdata/st")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	vecs, err := m.Embed([]string{"A cat sat on the mat", "hello world"})
	if err != nil {
		fmt.Println(err)
		return
	}
	var dot, norm float64
	for i := range vecs[0] {
		dot += float64(vecs[0][i] * vecs[1][i])
		norm += float64(vecs[0][i] * vecs[0][i])
	}
	fmt.Printf("%d vectors of dim %d, %s pooling, norm %.3f\n", len(vecs), m.Dim(), m.Pooling(), math.Sqrt(norm))
	fmt.Printf("cosine similarity %.2f\n", dot)
	// Output:
	// 2 vectors of dim 32, mean pooling, norm 1.000
	// cosine similarity 0.92
}
