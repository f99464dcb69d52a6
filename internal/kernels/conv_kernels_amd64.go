//go:build !noasm

package kernels

// convMicro6x32AVX512 adds to the 6×32 tile of C at c (row stride ldc)
// the product of six rows of A, a[r*lda+p] for r < 6, p < k (A in place,
// not packed), with a kb×32 packed B panel (b[p*32+j]):
// c[r*ldc+j] += sum_p a[r*lda+p]*b[p*32+j].
//
//go:noescape
func convMicro6x32AVX512(k int, a []float32, lda int, b, c []float32, ldc int)

// convMicro6x16AVX2 is convMicro6x32AVX512 for a 6×16 tile and a 16-wide
// B panel, AVX2 + FMA.
//
//go:noescape
func convMicro6x16AVX2(k int, a []float32, lda int, b, c []float32, ldc int)

// convMicro6x16AVX512 is convMicro6x32AVX512 on the first 16 columns of the
// 32-wide B panel (b[p*32+j], j < 16), for a last panel at most half used.
//
//go:noescape
func convMicro6x16AVX512(k int, a []float32, lda int, b, c []float32, ldc int)

// gatherEvenAVX512 sets dst[i] = src[2i] for i < n, n = min(len(dst),
// len(src)/2) rounded down to a multiple of 16, and returns n (it reads
// src[:2n]).
//
//go:noescape
func gatherEvenAVX512(dst, src []float32) int

// convDirect4x64AVX512 computes four output channels × 64 output columns
// of a stride-1 convolution reading the input in place (see
// convDirect4x64Generic for the contract). inC, kh, kw ≥ 1.
//
//go:noescape
func convDirect4x64AVX512(inC, kh, kw int, src []float32, off, plane, row int, w []float32, ldw, wskip int, masks []uint16, dst []float32, ldd int)
