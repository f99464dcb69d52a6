//go:build !noasm

package kernels

// Assembly kernels of the int8 linear layer (qgemm_avx2_amd64.s). Each
// one's meaning is its generic twin in qgemm.go; qgemm_noasm.go maps them to
// those twins on other builds. Callers guarantee the preconditions.

// qgemm4x16AVX2 is qgemm4x16Generic for QInt8 weights: kp a multiple of 8,
// activations ≤ 127, weights in [-127, 127].
//
//go:noescape
func qgemm4x16AVX2(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int)

// qgemm4x16x7AVX2 is qgemm4x16Generic for QInt7 weights: kp a multiple of
// 8, activations ≤ 127, weights in [-63, 63] (two VPMADDUBSW results are
// added in int16).
//
//go:noescape
func qgemm4x16x7AVX2(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int)

// qMinMaxAVX2 is qMinMaxGeneric; len(x) is a positive multiple of 8.
//
//go:noescape
func qMinMaxAVX2(x []float32) (lo, hi float32)

// qQuantAVX2 is qQuantGeneric; len(q) == len(x), a positive multiple of 8.
//
//go:noescape
func qQuantAVX2(q []uint8, x []float32, inv, z float32)

// qgemm4x16VNNI is qgemm4x16Generic with AVX512-VNNI (VPDPBUSD on zmm) for
// either weight precision: kp a multiple of 8, activations ≤ 127, weights
// in [-127, 127]. Its results are bit-identical to qgemm4x16AVX2's.
//
//go:noescape
func qgemm4x16VNNI(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int)

// qgemv16VNNI is qgemv16Generic with AVX512-VNNI: kp a multiple of 8,
// activations ≤ 127, weights in [-127, 127].
//
//go:noescape
func qgemv16VNNI(nblk, kp int, a []uint8, b []int8, rp, cp, c []float32)

// qgemv16AVX2 is qgemv16Generic with AVX2 for either weight precision
// (pairs of products are summed in int16 by VPMADDUBSW, at most 2·127·127):
// kp a multiple of 8, activations ≤ 127, weights in [-127, 127].
//
//go:noescape
func qgemv16AVX2(nblk, kp int, a []uint8, b []int8, rp, cp, c []float32)
