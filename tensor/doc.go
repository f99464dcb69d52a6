// Package tensor provides a dense, row-major float32 array with a shape, and
// the operations transformer models are built from: matrix products (2-D and
// batched 3-D, with optional transposes), bias addition broadcast over rows,
// embedding gather, reshape, transpose of the last two axes, split along the
// last axis, concatenation (for a KV cache), and softmax, layer norm and GELU.
// The arithmetic runs on internal/kernels.
//
// Shapes are checked before any kernel runs: a mismatch is an error naming
// the operation and both shapes, for example
//
//	tensor: MatMul: [2 3] x [4 5]: inner dimensions 3 and 4 differ
//
// and never an index panic. Operations that return a new tensor allocate it;
// the ...Into forms write into a tensor the caller owns, for loops that must
// not allocate.
//
//	x, _ := tensor.FromSlice(data, 4, 768)     // [T, C], shares data
//	y, err := tensor.MatMul(x, w, false, false) // [T, C] x [C, 3C] = [T, 3C]
//	err = tensor.AddBias(y, b)                  // y[t, :] += b
//	q, k, v := parts[0], parts[1], parts[2]     // parts, _ := tensor.SplitLast(y, 3)
//
// A Tensor is a small header around a slice: Reshape and FromSlice share
// memory with their input. Tensors are not safe for concurrent mutation.
package tensor
