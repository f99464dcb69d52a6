//go:build !amd64 || noasm

package kernels

// Generic twins of the int8 assembly kernels declared in qgemm_amd64.go.
// They are never selected on these builds; they keep the dispatch code
// compiling everywhere.

func qgemm4x16AVX2(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int) {
	qgemm4x16Generic(groups, kp, a, lda, b, rp, cp, c, ldc)
}

func qgemm4x16x7AVX2(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int) {
	qgemm4x16Generic(groups, kp, a, lda, b, rp, cp, c, ldc)
}

func qMinMaxAVX2(x []float32) (lo, hi float32) { return qMinMaxGeneric(x) }

func qQuantAVX2(q []uint8, x []float32, inv, z float32) { qQuantGeneric(q, x, inv, z) }

func qgemm4x16VNNI(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int) {
	qgemm4x16Generic(groups, kp, a, lda, b, rp, cp, c, ldc)
}

func qgemv16VNNI(nblk, kp int, a []uint8, b []int8, rp, cp, c []float32) {
	qgemv16Generic(nblk, kp, a, b, rp, cp, c)
}

func qgemv16AVX2(nblk, kp int, a []uint8, b []int8, rp, cp, c []float32) {
	qgemv16Generic(nblk, kp, a, b, rp, cp, c)
}
