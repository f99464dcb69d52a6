package kernels

import "math"

// Row kernels built on a fast exponential: softmax, layernorm, the two GELU
// forms, argmax and top-k.
//
// The generic versions evaluate exp, tanh and erf in float64 with short
// polynomials (exp64: degree-8 Taylor after reduction by ln 2, relative
// error < 1e-9; erfc: the Chebyshev fit of Numerical Recipes §6.2,
// fractional error < 1.2e-7) and round once to float32. The AVX2 versions
// compute in float32 vectors (exp_avx2_amd64.s), within 5e-7 relative of
// float64 math. The tests check both against math.Exp/Tanh/Erf.

const (
	log2e       = 1.4426950408889634
	ln2         = 0.6931471805599453
	sqrt2OverPi = 0.7978845608028654
)

// exp64 returns e^a for |a| within float32's range (and 0 or +Inf beyond),
// accurate to about 1e-9 relative: enough to round to float32 correctly
// almost always, several times faster than math.Exp.
func exp64(a float64) float64 {
	switch {
	case a > 89:
		return math.Inf(1)
	case a < -104:
		return 0
	case a != a:
		return a
	}
	n := math.Floor(a*log2e + 0.5)
	r := a - n*ln2
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r*(1.0/40320))))))))
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// expSumGeneric sets dst[i] = exp(x[i]-shift) and returns their sum
// (accumulated in float64).
func expSumGeneric(dst, x []float32, shift float32) float64 {
	x = x[:len(dst)]
	var sum float64
	for i, v := range x {
		e := float32(exp64(float64(v - shift)))
		dst[i] = e
		sum += float64(e)
	}
	return sum
}

// softmaxL replaces x[:n] by its softmax and sets x[n:] to exactly 0.
func softmaxL(lvl int, x []float32, n int) {
	clear(x[n:])
	if n == 0 {
		return
	}
	row := x[:n]
	m := maxL(lvl, row)
	var sum float64
	if lvl >= levelAVX2 {
		// AVX-512 takes whole 16-lane blocks, AVX2 an 8-lane block left
		// over, plain Go the last 0..7 elements.
		n16, n8 := 0, n&^7
		if lvl == levelAVX512 {
			n16 = n &^ 15
			sum = expSumAVX512(row[:n16], row[:n16], m)
		}
		sum += expSumAVX2(row[n16:n8], row[n16:n8], m)
		sum += expSumGeneric(row[n8:], row[n8:], m)
	} else {
		sum = expSumGeneric(row, row, m)
	}
	scaleL(lvl, float32(1/sum), row)
}

// layerNormL normalises one row (see LayerNorm).
func layerNormL(lvl int, dst, x, gamma, beta []float32, eps float32) {
	if lvl < levelAVX2 || len(x) < 8 {
		layerNormGeneric(dst, x, gamma, beta, eps)
		return
	}
	n := len(x)
	n8 := n &^ 7
	s := sumAVX2(x)
	for _, v := range x[n8:] {
		s += float64(v)
	}
	mean := float32(s / float64(n))
	v := sqDevAVX2(x, mean)
	for _, e := range x[n8:] {
		d := e - mean
		v += float64(d * d)
	}
	rstd := float32(1 / math.Sqrt(v/float64(n)+float64(eps)))
	normAffineAVX2(dst[:n], x, gamma, beta, mean, rstd)
	for i := n8; i < n; i++ {
		dst[i] = (x[i]-mean)*rstd*gamma[i] + beta[i]
	}
}

func layerNormGeneric(dst, x, gamma, beta []float32, eps float32) {
	n := len(x)
	dst = dst[:n]
	gamma = gamma[:n]
	beta = beta[:n]
	// Two passes with float64 accumulation: the mean first, then the
	// variance about it (no cancellation for rows with a large mean).
	var s0, s1 float64
	i := 0
	for ; i+2 <= n; i += 2 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
	}
	for ; i < n; i++ {
		s0 += float64(x[i])
	}
	mean := (s0 + s1) / float64(n)
	var v0, v1 float64
	i = 0
	for ; i+2 <= n; i += 2 {
		d0 := float64(x[i]) - mean
		d1 := float64(x[i+1]) - mean
		v0 += d0 * d0
		v1 += d1 * d1
	}
	for ; i < n; i++ {
		d := float64(x[i]) - mean
		v0 += d * d
	}
	variance := (v0 + v1) / float64(n)
	rstd := float32(1 / math.Sqrt(variance+float64(eps)))
	m := float32(mean)
	for i, v := range x {
		dst[i] = (v-m)*rstd*gamma[i] + beta[i]
	}
}

// geluTanhGeneric computes 0.5x(1+tanh(u)), u = sqrt(2/pi)(x+0.044715x^3),
// in the equal form x/(1+exp(-2u)), which keeps its relative accuracy for
// large negative x where 1+tanh(u) cancels.
func geluTanhGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		f := float64(v)
		u := sqrt2OverPi * (f + 0.044715*f*f*f)
		dst[i] = float32(f / (1 + exp64(-2*u)))
	}
}

// geluTanhBackwardGeneric adds gelu'(x[i])*dy[i] to dx[i] for the tanh-form
// GELU: with e = exp(-2u) and s = 1/(1+e), gelu'(x) = s +
// 2x*e*s^2*sqrt(2/pi)(1+3*0.044715x^2), e*s^2 being s(1-s) without the
// cancellation of 1-s for large x.
func geluTanhBackwardGeneric(dx, x, dy []float32) {
	x, dy = x[:len(dx)], dy[:len(dx)]
	for i, v := range x {
		f := float64(v)
		u := sqrt2OverPi * (f + 0.044715*f*f*f)
		e := exp64(-2 * u)
		s := 1 / (1 + e)
		es2 := 0.0 // e*s^2 -> 0 as e -> inf
		if !math.IsInf(e, 1) {
			es2 = e * s * s
		}
		d := s + 2*f*es2*sqrt2OverPi*(1+3*0.044715*f*f)
		dx[i] += float32(d * float64(dy[i]))
	}
}

// geluErfGeneric computes 0.5x(1+erf(x/sqrt 2)) = 0.5x*erfc(-x/sqrt 2).
func geluErfGeneric(dst, x []float32) {
	x = x[:len(dst)]
	for i, v := range x {
		f := float64(v)
		dst[i] = float32(0.5 * f * erfc64(-f*(1/math.Sqrt2)))
	}
}

// erfc64 is the complementary error function with fractional error below
// 1.2e-7 everywhere (the Chebyshev fit of Numerical Recipes, 2nd ed.,
// §6.2), so 0.5x*erfc keeps that relative accuracy in both tails.
func erfc64(z float64) float64 {
	az := math.Abs(z)
	t := 1 / (1 + 0.5*az)
	r := t * exp64(-az*az-1.26551223+t*(1.00002368+t*(0.37409196+t*(0.09678418+
		t*(-0.18628806+t*(0.27886807+t*(-1.13520398+t*(1.48851587+
			t*(-0.82215223+t*0.17087277)))))))))
	if z < 0 {
		return 2 - r
	}
	return r
}

func geluTanhL(lvl int, dst, x []float32) {
	if lvl >= levelAVX2 {
		geluTanhAVX2(dst, x)
		n8 := len(dst) &^ 7
		geluTanhGeneric(dst[n8:], x[n8:len(dst)])
		return
	}
	geluTanhGeneric(dst, x)
}

func geluTanhBackwardL(lvl int, dx, x, dy []float32) {
	if lvl >= levelAVX2 {
		geluTanhBackwardAVX2(dx, x, dy)
		n8 := len(dx) &^ 7
		geluTanhBackwardGeneric(dx[n8:], x[n8:len(dx)], dy[n8:len(dx)])
		return
	}
	geluTanhBackwardGeneric(dx, x, dy)
}

func geluErfL(lvl int, dst, x []float32) {
	if lvl >= levelAVX2 {
		geluErfAVX2(dst, x)
		n8 := len(dst) &^ 7
		geluErfGeneric(dst[n8:], x[n8:len(dst)])
		return
	}
	geluErfGeneric(dst, x)
}

func argmaxGeneric(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// argmaxL finds the maximum with the vector kernel, then the first index
// holding it; NaNs (which the two disagree about) fall back to the scan.
func argmaxL(lvl int, x []float32) int {
	if lvl < levelAVX2 || len(x) < 64 {
		return argmaxGeneric(x)
	}
	m := maxL(lvl, x)
	for i, v := range x {
		if v == m {
			if i == argmaxGeneric(x[:i+1]) {
				return i
			}
			break
		}
	}
	return argmaxGeneric(x)
}

// better reports whether x[i] ranks before x[j] in TopK's order: larger
// value first, the earlier index on ties.
func better(x []float32, i, j int) bool {
	return x[i] > x[j] || (x[i] == x[j] && i < j)
}

// topKHeap returns the indices of the k best elements of x, best first,
// using idx (cap >= k) as a binary heap whose root is the worst kept
// element: O(n log k), no sort of the whole row.
//
// It is the one heap not written with internal/heap, which orders items by
// one key: this one orders indices into x by two (the value, then the
// earlier index on ties), and which of two equal values is evicted decides
// the result, so one key would change it.
func topKHeap(x []float32, k int, idx []int) []int {
	h := idx[:0]
	for i := range x {
		if len(h) < k {
			h = append(h, i)
			// sift up
			c := len(h) - 1
			for c > 0 {
				p := (c - 1) / 2
				if !better(x, h[p], h[c]) {
					break
				}
				h[p], h[c] = h[c], h[p]
				c = p
			}
			continue
		}
		if !better(x, i, h[0]) {
			continue
		}
		h[0] = i
		siftDown(x, h, 0)
	}
	// Pop the worst to the end repeatedly: the result is best first.
	for end := len(h) - 1; end > 0; end-- {
		h[0], h[end] = h[end], h[0]
		siftDown(x, h[:end], 0)
	}
	return h
}

// siftDown restores the heap (worst at the root) below position p.
func siftDown(x []float32, h []int, p int) {
	for {
		c := 2*p + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && better(x, h[c], h[c+1]) {
			c++
		}
		if !better(x, h[p], h[c]) {
			return
		}
		h[p], h[c] = h[c], h[p]
		p = c
	}
}
