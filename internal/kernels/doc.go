// Package kernels holds loupe's float32 numeric kernels: matrix multiply
// (Sgemm, with the matrix-vector case), vector primitives (Dot, Axpy, Scale,
// Add, Mul), and the row operations transformer models need (Softmax with an
// optional causal mask, LayerNorm, the two GELU forms, Argmax, TopK).
//
// All matrices are dense and row-major: element (i, j) of a matrix with
// leading dimension ld is at index i*ld+j.
//
// Each kernel has a pure-Go generic version whose loop states its contract.
// On amd64 faster assembly versions (AVX2+FMA, AVX-512F) are chosen once at
// start-up from the CPU's features; setting LOUPE_KERNELS=generic forces the
// generic versions everywhere. Impl reports the choice.
//
// Kernels panic on malformed arguments (slices too short for the given sizes)
// with a message naming the kernel; callers that handle user input check
// shapes first (the tensor package does) and return errors.
//
// Work is split across a pool of GOMAXPROCS worker goroutines started once;
// see Parallel.
package kernels
