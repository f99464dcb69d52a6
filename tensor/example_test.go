package tensor_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/tensor"
)

func ExampleMatMul() {
	x, _ := tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	w, _ := tensor.FromSlice([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	y, err := tensor.MatMul(x, w, false, false)
	fmt.Println(y.Shape(), y.Data(), err)

	_, err = tensor.MatMul(x, x, false, false)
	fmt.Println(err)
	// Output:
	// [2 2] [4 5 10 11] <nil>
	// tensor: MatMul: [2 3] x [2 3]: inner dimensions 3 and 2 differ
}
