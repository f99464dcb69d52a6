//go:build !noasm

package kernels

// prefetchAVX2 asks the CPU to bring every cache line of x into L1
// (PREFETCHT0); it needs no AVX2 but ships with the assembly set.
//
//go:noescape
func prefetchAVX2(x []float32)
