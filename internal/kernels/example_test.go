package kernels_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Multiply a 2×3 matrix by the transpose of a 2×3 matrix (as an nn.Linear
// layer stores its weights), adding into C.
func ExampleSgemm() {
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{ // [out=2, in=3]
		1, 0, 1,
		0, 1, 0,
	}
	c := []float32{
		10, 20,
		30, 40,
	}
	kernels.Sgemm(false, true, 2, 2, 3, 1, a, 3, w, 3, 1, c, 2)
	fmt.Println(c)
	// Output: [14 22 40 45]
}

func ExampleTopK() {
	logits := []float32{0.1, 2.5, -1, 2.5, 0.7}
	fmt.Println(kernels.TopK(logits, 3, nil)) // ties: earlier index first
	// Output: [1 3 4]
}

func ExampleSoftmaxRows() {
	// Two query positions over two keys with a causal mask: the first
	// position may only attend to itself.
	scores := []float32{
		1, 5,
		0, 0,
	}
	kernels.SoftmaxRows(scores, 2, 2, true, 0)
	fmt.Println(scores)
	// Output: [1 0 0.5 0.5]
}
