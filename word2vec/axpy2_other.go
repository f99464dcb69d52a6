//go:build !amd64

package word2vec

const haveAVX2 = false

func axpy2AVX2(g float32, l1, l2, e []float32) { axpy2Go(g, l1, l2, e) }
