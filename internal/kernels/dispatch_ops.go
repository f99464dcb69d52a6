package kernels

// Level-explicit entry points. The exported kernels call these with the
// package's level; the tests and the start-up self-check call them with
// each level in turn. Levels without a kernel of their own fall back to the
// next lower level (AVX-512 implies AVX2 here).

func dotL(lvl int, x, y []float32) float32 {
	switch lvl {
	case levelAVX512:
		return dotAVX512(x, y)
	case levelAVX2:
		return dotAVX2(x, y)
	}
	return dotGeneric(x, y)
}

func axpyL(lvl int, alpha float32, x, y []float32) {
	switch lvl {
	case levelAVX512:
		axpyAVX512(alpha, x, y)
	case levelAVX2:
		axpyAVX2(alpha, x, y)
	default:
		axpyGeneric(alpha, x, y)
	}
}

func scaleL(lvl int, alpha float32, x []float32) {
	if lvl >= levelAVX2 {
		scaleAVX2(alpha, x)
		return
	}
	scaleGeneric(alpha, x)
}

func addL(lvl int, dst, a, b []float32) {
	if lvl >= levelAVX2 {
		addAVX2(dst, a, b)
		return
	}
	addGeneric(dst, a, b)
}

func mulL(lvl int, dst, a, b []float32) {
	if lvl >= levelAVX2 {
		mulAVX2(dst, a, b)
		return
	}
	mulGeneric(dst, a, b)
}

func sqDistL(lvl int, x, y []float32) float32 {
	if lvl >= levelAVX2 {
		return sqDistAVX2(x, y)
	}
	return sqDistGeneric(x, y)
}

// maxL returns the largest element of a non-empty x.
func maxL(lvl int, x []float32) float32 {
	if lvl >= levelAVX2 {
		return maxAVX2(x)
	}
	return maxGeneric(x)
}

func gemvN4L(lvl int, x0, x1, x2, x3 float32, b []float32, ldb int, y []float32) {
	if lvl >= levelAVX2 {
		gemvN4AVX2(x0, x1, x2, x3, b, ldb, y)
		return
	}
	gemvN4Generic(x0, x1, x2, x3, b, ldb, y)
}

func gemvT4L(lvl int, x, b []float32, ldb int, y []float32) {
	if lvl >= levelAVX2 {
		gemvT4AVX2(x, b, ldb, y)
		return
	}
	gemvT4Generic(x, b, ldb, y)
}

func gemvTRowsL(lvl int, x, b []float32, ldb int, y []float32) {
	if lvl >= levelAVX2 {
		gemvTRowsAVX2(x, b, ldb, y)
		return
	}
	gemvTRowsGeneric(x, b, ldb, y)
}
