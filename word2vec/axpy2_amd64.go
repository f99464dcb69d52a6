package word2vec

import (
	"strings"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// haveAVX2 is true when internal/kernels chose its AVX2 (or AVX-512) set,
// which it does only after checking AVX2 and FMA and unless
// LOUPE_KERNELS=generic.
var haveAVX2 = strings.HasPrefix(kernels.Impl(), "avx")

// axpy2AVX2 is axpy2Go with AVX2 and FMA; see axpy2_amd64.s.
//
//go:noescape
func axpy2AVX2(alpha float32, l1, l2, e []float32)
