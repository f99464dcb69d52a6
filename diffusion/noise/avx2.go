package noise

import "math"

// This file reproduces, one lane at a time, PyTorch's normal_fill_16_AVX2
// and the log256_ps and sincos256_ps it calls (avx_mathfun.h, after Julien
// Pommier's sse_mathfun and the Cephes library). PyTorch's AVX2 objects are
// compiled with -mfma and GCC's default -ffp-contract=fast, so a multiply
// whose only use is an addition becomes one fused multiply-add; the
// comments mark each place where that happens, because a plain multiply
// and add would round differently. Every other operation is a float32
// operation rounded on its own: the explicit float32 conversions below
// keep Go from fusing them.

// fma32 returns a·b+c rounded once to float32, as vfmadd does.
//
// a·b is exact in float64 (24+24 bits). The sum is rounded to float64 with
// round-to-odd, which makes the final rounding to float32 correct (53 ≥
// 2·24+2 bits).
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	// TwoSum: err is the exact rounding error of s.
	bb := s - p
	err := (p - (s - bb)) + (float64(c) - bb)
	if err != 0 && math.Float64bits(s)&1 == 0 {
		if (err > 0) == (s > 0) {
			s = math.Float64frombits(math.Float64bits(s) + 1)
		} else {
			s = math.Float64frombits(math.Float64bits(s) - 1)
		}
	}
	return float32(s)
}

// Cephes constants of avx_mathfun.h.
const (
	cephesSQRTHF = float32(0.707106781186547524)
	logP0        = float32(7.0376836292e-2)
	logP1        = float32(-1.1514610310e-1)
	logP2        = float32(1.1676998740e-1)
	logP3        = float32(-1.2420140846e-1)
	logP4        = float32(+1.4249322787e-1)
	logP5        = float32(-1.6668057665e-1)
	logP6        = float32(+2.0000714765e-1)
	logP7        = float32(-2.4999993993e-1)
	logP8        = float32(+3.3333331174e-1)
	logQ1        = float32(-2.12194440e-4)
	logQ2        = float32(0.693359375)

	minusDP1 = float32(-0.78515625)
	minusDP2 = float32(-2.4187564849853515625e-4)
	minusDP3 = float32(-3.77489497744594108e-8)
	sinP0    = float32(-1.9515295891e-4)
	sinP1    = float32(8.3321608736e-3)
	sinP2    = float32(-1.6666654611e-1)
	cosP0    = float32(2.443315711809948e-005)
	cosP1    = float32(-1.388731625493765e-003)
	cosP2    = float32(4.166664568298827e-002)
	fourOPi  = float32(1.27323954473516) // 4/π
)

// log256 is one lane of log256_ps for x > 0: x = m·2^e with m in
// [√½, √2), log x = e·ln 2 + log m with a degree-9 polynomial in m−1 and
// ln 2 split in two parts (q2 + q1).
func log256(x float32) float32 {
	const minNormPos = 0x00800000
	bits := math.Float32bits(x)
	if bits < minNormPos { // _mm256_max_ps with the smallest normal
		bits = minNormPos
	}
	e := float32(int32(bits>>23)-0x7f) + 1
	m := math.Float32frombits(bits&^0x7f800000 | math.Float32bits(0.5)) // in [0.5, 1)
	var tmp float32
	if m < cephesSQRTHF {
		tmp = m
		e -= 1
	}
	m = m - 1
	m = m + tmp
	z := float32(m * m)

	y := fma32(logP0, m, logP1) // y·x + p: fused
	y = fma32(y, m, logP2)
	y = fma32(y, m, logP3)
	y = fma32(y, m, logP4)
	y = fma32(y, m, logP5)
	y = fma32(y, m, logP6)
	y = fma32(y, m, logP7)
	y = fma32(y, m, logP8)
	y = float32(y * m)
	y = fma32(y, z, float32(e*logQ1)) // y·z + e·q1: the first product fuses
	y = fma32(-z, 0.5, y)             // y − z·0.5
	r := m + y
	return fma32(e, logQ2, r) // (x + y) + e·q2
}

// sincos256 is one lane of sincos256_ps for x ≥ 0: reduce by multiples of
// π/4 (Cody–Waite, three parts), then the Cephes sine and cosine
// polynomials, swapped and signed by octant.
func sincos256(x float32) (sin, cos float32) {
	j := int32(float32(x * fourOPi)) // cvttps: truncation
	j = (j + 1) &^ 1
	y := float32(j)
	swapSignSin := j&4 != 0
	polyMask := j&2 == 0
	signCos := (j-2)&4 == 0

	x = fma32(y, minusDP1, x)
	x = fma32(y, minusDP2, x)
	x = fma32(y, minusDP3, x)
	z := float32(x * x)

	c := fma32(cosP0, z, cosP1)
	c = fma32(c, z, cosP2)
	c = float32(c * z)
	c = fma32(c, z, -float32(z*0.5)) // y·z − z·0.5: the first product fuses
	c = c + 1

	s := fma32(sinP0, z, sinP1)
	s = fma32(s, z, sinP2)
	s = float32(s * z)
	s = fma32(s, x, x)

	if polyMask {
		sin, cos = s, c
	} else {
		sin, cos = c, s
	}
	if swapSignSin {
		sin = -sin
	}
	if signCos {
		cos = -cos
	}
	return sin, cos
}

// fill16AVX2 is normal_fill_16_AVX2 with mean 0 and std 1.
func fill16AVX2(d *[16]float32) {
	twoPi := float32(2 * math.Pi)
	for j := range 8 {
		u1 := 1 - d[j]
		u2 := d[j+8]
		radius := float32(math.Sqrt(float64(float32(-2 * log256(u1)))))
		s, c := sincos256(float32(twoPi * u2))
		d[j] = plusMean(float32(radius * c)) // fmadd(n, std, mean)
		d[j+8] = plusMean(float32(radius * s))
	}
}
