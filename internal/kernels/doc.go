// Package kernels holds loupe's float32 numeric kernels: matrix multiply
// (Sgemm, including the matrix-vector case of batch-1 decoding), vector
// primitives (Dot, Axpy, Scale, Add, Mul, SqDist), and the row operations
// transformer models need (Softmax/SoftmaxRows with an optional causal
// mask, LayerNorm, the two GELU forms, Argmax, TopK), plus the worker pool
// they split work across (Parallel).
//
// All matrices are dense and row-major: element (i, j) of a matrix with
// leading dimension ld is at index i*ld+j.
//
// # Kernel sets
//
// Each kernel has a pure-Go generic version whose loop states its contract
// (generic.go, mathfast.go; the assembly stubs in stubs_amd64.go have
// generic twins with the same signatures in stubs_noasm.go). On amd64 two
// assembly sets exist: AVX2+FMA (every kernel) and AVX-512F (the matrix
// multiply and convolution micro kernels, Dot, Axpy and softmax's exp,
// among others; the rest of that set is AVX2). The
// set is chosen once at start-up from golang.org/x/sys/cpu:
//
//   - AVX-512F present: the AVX-512 kernels are first run on small inputs
//     against the generic ones; if any result differs the AVX2 set is used
//     and Impl says why ("avx2 (avx512 self-check failed: ...)").
//   - AVX2 and FMA present: the AVX2 set.
//   - otherwise, other architectures, or the noasm build tag: generic.
//
// The environment variable LOUPE_KERNELS=generic forces the generic set and
// LOUPE_KERNELS=avx2 the AVX2 set. Impl reports the choice.
//
// # Matrix multiply
//
// Sgemm is a Goto/BLIS-style blocked multiply: kc×nc blocks of op(B) and
// mc×kc blocks of op(A) are packed into micro-panels (so all four transpose
// combinations run the same inner loop), and an mr×nr register-blocked FMA
// micro kernel (6×16 for AVX2, 6×32 for AVX-512, 4×4 generic) sweeps the
// tiles of C. Large products split C across the worker pool by column (or
// row) blocks. Packing buffers come from a sync.Pool, so the steady state
// allocates nothing. Products with at most 8 rows (batch-1 and small-batch
// decoding) skip packing: they run as matrix-vector kernels that stream B
// once at memory bandwidth, the threads claiming 256 KiB chunks of B (rows
// of B, with per-thread partial sums, for [in, out] weights), each chunk read
// as four streams a quarter of it apart (see gemv.go).
//
// # Convolution and normalisation
//
// Conv2D (NCHW, PyTorch's weight layout) is an implicit GEMM: the weights
// are the A matrix read in place by dedicated micro kernels (conv_amd64.s:
// 6×32 AVX-512, 6×16 AVX2, a generic twin), and the B panels are packed
// straight from the image, padding included, so there is no im2col buffer
// and no weight packing; threads claim chunks of output columns (or split
// the output channels of small maps). A Winograd F(2×2, 3×3) path for 3×3
// stride-1 convolutions on maps of 32×32 and more is opt-in with
// LOUPE_CONV=winograd (conv_winograd.go). GroupNorm sums its statistics in
// float64 over two passes and applies scale, shift and optionally SiLU
// with the vectorised exp (groupnorm_avx2_amd64.s); SiLU and Upsample2x
// serve the same models. All of them allocate nothing in steady state.
//
// # Panics
//
// Kernels panic on malformed arguments (slices too short for the given sizes,
// negative sizes, leading dimensions smaller than a row) with a message that
// starts with "kernels: " and names the kernel; callers that handle user
// input check shapes first (the tensor package does) and return errors.
//
// # Threads
//
// Work is split across a pool of GOMAXPROCS worker goroutines started once;
// see Parallel. Kernels may be called concurrently from several goroutines,
// and Parallel may be nested.
package kernels
