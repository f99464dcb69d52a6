package kernels

import (
	"fmt"
	"math"
)

// float16-weight linear layers: the weights W [n, k] (nn.Linear's [out,
// in]) are rounded once to IEEE 754 binary16 ("half": 1 sign, 5 exponent
// and 10 fraction bits, round to nearest even, as PyTorch's .half()); the
// activations stay float32. A kernel widens each weight back to float32 on
// the fly (VCVTPH2PS, exact) and multiplies with FMA, so the products are
// exact float32 products of the half weights and the sums are float32 sums
// (eight partial sums per column with AVX-512 as the generic kernel, four
// with AVX2) plus the float32 bias: BF16Linear's contract with three more
// significant bits per weight and a smaller range (|w| ≤ 65504; finite
// weights beyond it are refused, see F16Overflow). The work is bound by
// memory at 2 bytes per weight, half of float32's.
//
// Layout: the weights are packed in blocks of 16 output columns; inside a
// block, each k is 32 bytes: the 16 columns' halves, column ascending (one
// VCVTPH2PS of a zmm, two of a ymm). n is padded with zero columns to a
// multiple of 16, the bias the same way (zeros when there is none); k is
// not padded.

// F16Linear is an nn.Linear with float16 weights and float32 activations
// and sums (see above). It is immutable after NewF16Linear and safe for
// concurrent use.
type F16Linear struct {
	N, K int // output and input features
	b    []uint16
	bias []float32
}

// f16NR is the number of output columns per packed block.
const f16NR = 16

// f16Max is the largest finite float16, 65504.
const f16Max = 65504

// ToF16 rounds v to IEEE binary16 (round to nearest, ties to even, with
// subnormal results rounded the same way; values of magnitude 65520 and
// above become infinities; NaN becomes a quiet NaN of v's sign, 0x7e00, as
// PyTorch's .half()) and returns its 16 bits.
func ToF16(v float32) uint16 {
	u := math.Float32bits(v)
	sign := uint16(u>>16) & 0x8000
	a := u &^ 0x80000000
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7e00
	case a >= 0x477ff000: // ≥ 65520 (the tie above 65504): ±Inf
		return sign | 0x7c00
	case a >= 0x38800000: // ≥ 2⁻¹⁴: a normal half
		a += 0x0fff + (a>>13)&1
		return sign | uint16((a-0x38000000)>>13)
	case a <= 0x33000000: // ≤ 2⁻²⁵ (the tie with 2⁻²⁴ goes to the even 0)
		return sign
	}
	// A subnormal half: round |v|/2⁻²⁴ = m·2^(e-126) to an integer.
	m := a&0x7fffff | 0x800000
	s := 126 - a>>23 // 14..24
	q, r, half := m>>s, m&(1<<s-1), uint32(1)<<(s-1)
	if r > half || r == half && q&1 == 1 {
		q++ // q = 0x400 is the smallest normal: the encoding carries over
	}
	return sign | uint16(q)
}

// FromF16 widens an IEEE binary16 value to float32, exactly (subnormals
// included; a NaN keeps its payload and is made quiet, as VCVTPH2PS does).
func FromF16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	e, m := uint32(h>>10)&0x1f, uint32(h&0x3ff)
	switch e {
	case 0:
		// Zero or subnormal: m·2⁻²⁴, exact in float32.
		return math.Float32frombits(sign | math.Float32bits(float32(m)*0x1p-24))
	case 0x1f:
		if m != 0 {
			return math.Float32frombits(sign | 0x7fc00000 | m<<13)
		}
		return math.Float32frombits(sign | 0x7f800000)
	}
	return math.Float32frombits(sign | (e+112)<<23 | m<<13)
}

// F16Overflow returns the index of the first finite value of w whose
// float16 rounding is infinite (magnitude 65520 or more), or -1 when every
// value fits. Callers check a tensor with it before NewF16Linear, which
// refuses such weights.
func F16Overflow(w []float32) int {
	for i, v := range w {
		if a := math.Float32bits(v) &^ 0x80000000; a >= 0x477ff000 && a < 0x7f800000 {
			return i
		}
	}
	return -1
}

// NewF16Linear rounds the nn.Linear weight w ([n, k] row-major) to float16
// and keeps the bias (n values, or nil for none) in float32. w and bias are
// not retained. A finite weight beyond float16's range (see F16Overflow)
// is a programming error, as are bad sizes: it panics.
func NewF16Linear(w, bias []float32, n, k int) *F16Linear {
	if n <= 0 || k <= 0 || len(w) < n*k || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("kernels: NewF16Linear: bad arguments n=%d k=%d len(w)=%d len(bias)=%d", n, k, len(w), len(bias)))
	}
	if i := F16Overflow(w[:n*k]); i >= 0 {
		panic(fmt.Sprintf("kernels: NewF16Linear: weight [%d][%d] = %g is beyond float16's range (±%d)", i/k, i%k, w[i], f16Max))
	}
	nb := (n + f16NR - 1) / f16NR
	l := &F16Linear{N: n, K: k, b: make([]uint16, nb*k*f16NR), bias: make([]float32, nb*f16NR)}
	for j := 0; j < n; j++ {
		panel := l.b[(j/f16NR)*k*f16NR+j%f16NR:]
		for p, v := range w[j*k : (j+1)*k] {
			panel[p*f16NR] = ToF16(v)
		}
	}
	if bias != nil {
		copy(l.bias, bias[:n])
	}
	return l
}

// NewF16LinearBits is NewF16Linear for weights already in float16: h
// holds the [n, k] weight's IEEE half bits row-major (nn.Linear's [out,
// in], as an F16 tensor stores them), packed as they are; the bias (n
// values, or nil) is kept in float32. Given what Bits returns (and the same
// bias) it rebuilds that layer exactly. Wrong sizes panic. h and bias are
// not retained.
func NewF16LinearBits(h []uint16, bias []float32, n, k int) *F16Linear {
	if n <= 0 || k <= 0 || len(h) < n*k || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("kernels: NewF16LinearBits: bad arguments n=%d k=%d len(h)=%d len(bias)=%d", n, k, len(h), len(bias)))
	}
	nb := (n + f16NR - 1) / f16NR
	l := &F16Linear{N: n, K: k, b: make([]uint16, nb*k*f16NR), bias: make([]float32, nb*f16NR)}
	for j := 0; j < n; j++ {
		panel := l.b[(j/f16NR)*k*f16NR+j%f16NR:]
		for p, v := range h[j*k : (j+1)*k] {
			panel[p*f16NR] = v
		}
	}
	if bias != nil {
		copy(l.bias, bias[:n])
	}
	return l
}

// Bits returns the layer's float16 weights ([N, K] row-major, nn.Linear's
// [out, in]) as their 16 bits (see NewF16LinearBits).
func (l *F16Linear) Bits() []uint16 {
	w := make([]uint16, l.N*l.K)
	for j := 0; j < l.N; j++ {
		panel := l.b[(j/f16NR)*l.K*f16NR+j%f16NR:]
		row := w[j*l.K : (j+1)*l.K]
		for p := range row {
			row[p] = panel[p*f16NR]
		}
	}
	return w
}

// Row writes the weights of output j, widened to float32 (exactly), into
// dst[:K].
func (l *F16Linear) Row(j int, dst []float32) {
	if j < 0 || j >= l.N || len(dst) < l.K {
		panic(fmt.Sprintf("kernels: F16Linear.Row(%d) of %d rows into %d values, want %d", j, l.N, len(dst), l.K))
	}
	panel := l.b[(j/f16NR)*l.K*f16NR+j%f16NR:]
	for p := range dst[:l.K] {
		dst[p] = FromF16(panel[p*f16NR])
	}
}

// Bytes is the memory the layer's packed weights and bias take.
func (l *F16Linear) Bytes() int64 { return int64(2*len(l.b) + 4*len(l.bias)) }

// Apply computes c[i*ldc+j] = Σ_k a[i*lda+k]·W[j][k] + bias[j] for i < m,
// j < N with the float16 weights (float32 products and sums, see the
// package notes above).
func (l *F16Linear) Apply(m int, a []float32, lda int, c []float32, ldc int) {
	l.apply(level, m, a, lda, c, ldc)
}

func (l *F16Linear) apply(lvl, m int, a []float32, lda int, c []float32, ldc int) {
	if m <= 0 {
		return
	}
	if lda < l.K || ldc < l.N || len(a) < (m-1)*lda+l.K || len(c) < (m-1)*ldc+l.N {
		panic(fmt.Sprintf("kernels: F16Linear.Apply: bad arguments m=%d K=%d N=%d lda=%d ldc=%d len(a)=%d len(c)=%d", m, l.K, l.N, lda, ldc, len(a), len(c)))
	}
	j := halfJobs.Get().(*halfJob)
	j.lvl, j.m, j.a, j.lda, j.c, j.ldc = lvl, m, a, lda, c, ldc
	j.w, j.bias, j.n, j.k, j.kp = l.b, l.bias, l.N, l.K, l.K
	j.eight, j.four, j.one = f16Gemm8, f16Gemm4, f16Gemv
	j.has8, j.has4 = lvl >= levelAVX512, lvl >= levelAVX512
	j.start()
}

// f16gemvL runs the one-row kernel of the given level over nblk
// consecutive blocks.
func f16gemvL(lvl, nblk, k int, a []float32, b []uint16, bias, c []float32) {
	switch {
	case lvl >= levelAVX512:
		f16gemv16AVX512(nblk, k, a, b, bias, c)
	case lvl >= levelAVX2:
		f16gemv16AVX2(nblk, k, a, b, bias, c)
	default:
		f16gemv16Generic(nblk, k, a, b, bias, c)
	}
}

// f16gemv16Generic is the one-row kernel as plain Go: for each of nblk
// consecutive packed blocks bi (b[bi*k*16:], bias[bi*16:]) it sets
// c[bi*16+j] = Σ_{p<k} a[p]·w(p, j) + bias[j], the sum kept in eight
// partial sums s[p mod 8] for p < k rounded down to a multiple of 8 (the
// last k mod 8 terms go to s[0]), added as ((s0+s1)+(s2+s3))+((s4+s5)+
// (s6+s7)), then the bias: the AVX-512 kernel's order (it fuses each
// product into its sum).
func f16gemv16Generic(nblk, k int, a []float32, b []uint16, bias, c []float32) {
	a = a[:k]
	k8 := k &^ 7
	for bi := 0; bi < nblk; bi++ {
		bb := b[bi*k*f16NR : (bi+1)*k*f16NR]
		var acc [8][f16NR]float32
		for p, x := range a {
			w := bb[p*f16NR : (p+1)*f16NR]
			s := &acc[0]
			if p < k8 {
				s = &acc[p&7]
			}
			for j := range s {
				s[j] += x * FromF16(w[j])
			}
		}
		cc, bs := c[bi*f16NR:bi*f16NR+f16NR], bias[bi*f16NR:bi*f16NR+f16NR]
		for j := range cc {
			lo := (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j])
			hi := (acc[4][j] + acc[5][j]) + (acc[6][j] + acc[7][j])
			cc[j] = (lo + hi) + bs[j]
		}
	}
}

// f16gemm8x16Generic is the eight-row kernel as plain Go: f16gemm4x16Generic
// on rows 0-3 and on rows 4-7.
func f16gemm8x16Generic(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int) {
	f16gemm4x16Generic(nblk, k, a, lda, b, bias, c, ldc)
	f16gemm4x16Generic(nblk, k, a[4*lda:], lda, b, bias, c[4*ldc:], ldc)
}

// f16gemm4x16Generic is the four-row kernel as plain Go: for each of nblk
// consecutive packed blocks bi and rows i < 4 (a[i*lda:], c[i*ldc:]) it
// sets c[i*ldc+bi*16+j] = Σ_{p<k} a[i*lda+p]·w(p, j) + bias[bi*16+j], the
// sum kept in two partial sums (k even, k odd) added as s0+s1, then the
// bias. The slices must cover exactly the rows and columns written.
func f16gemm4x16Generic(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int) {
	for bi := 0; bi < nblk; bi++ {
		bb := b[bi*k*f16NR : (bi+1)*k*f16NR]
		for i := 0; i < 4; i++ {
			var acc [2][f16NR]float32
			for p, x := range a[i*lda : i*lda+k] {
				w := bb[p*f16NR : (p+1)*f16NR]
				s := &acc[p&1]
				for j := range s {
					s[j] += x * FromF16(w[j])
				}
			}
			cc := c[i*ldc+bi*f16NR : i*ldc+bi*f16NR+f16NR]
			for j := range cc {
				cc[j] = (acc[0][j] + acc[1][j]) + bias[bi*f16NR+j]
			}
		}
	}
}
