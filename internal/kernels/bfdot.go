package kernels

import (
	"fmt"
	"math"
	"os"
	"sync"
)

// An experimental prefill path for BF16Linear on CPUs with AVX512_BF16:
// the activations are rounded once per call to bfloat16 (VCVTNE2PS2BF16:
// round to nearest even, denormals to zero) and each pair of k is
// multiplied and summed by one VDPBF16PS (two bf16 products, exact in
// float32, added to the float32 sum odd k first, denormals treated as zero
// and flushed). Unlike BF16Linear's own kernels, which keep the activations
// float32, this rounds the activations: a second error of up to 2⁻⁹
// relative per activation. docs/kernels.md ("VDPBF16PS") has what it
// measured; bfDot is false unless that measurement said to adopt it.
//
// The kernel, bfdot8x16AVX512BF16, computes eight rows at once over two
// column blocks (sixteen accumulators): per pair of k two weight loads,
// eight broadcasts of the rows' bf16 pairs and sixteen VDPBF16PS.

// bfDot is set when BF16Linear's multi-row calls use the VDPBF16PS
// kernel; see above.
var bfDot bool

// bfDotMinRows is the fewest rows for which an Apply takes the VDPBF16PS
// path (it converts the activations first).
const bfDotMinRows = 8

// bfBufs pools the bf16 copies of the activations.
var bfBufs = sync.Pool{New: func() any { return new([]uint16) }}

// bfRoundDAZ is VCVTNE2PS2BF16's rounding of one value: ToBF16, except
// that zeros and float32 denormals become zeros of their sign.
func bfRoundDAZ(v float32) uint16 {
	if math.Float32bits(v)&0x7f800000 == 0 {
		return uint16(math.Float32bits(v)>>16) & 0x8000
	}
	return ToBF16(v)
}

// fromBF16DAZ is VDPBF16PS's reading of a bf16 input: denormals are zeros.
func fromBF16DAZ(h uint16) float32 {
	if h&0x7f80 == 0 {
		return 0
	}
	return FromBF16(h)
}

// bfRoundRows writes the m rows of k activations a (rows lda apart) as
// bfloat16 into dst, rows kp apart (kp = k rounded up to even; an odd k's
// last pair is completed with a zero).
func bfRoundRows(m, k int, a []float32, lda int, dst []uint16) {
	kp := (k + 1) &^ 1
	k32 := k &^ 31
	for i := 0; i < m; i++ {
		row, out := a[i*lda:i*lda+k], dst[i*kp:(i+1)*kp]
		p := 0
		if k32 > 0 && bfDot {
			bfRound32AVX512BF16(k32, row, out)
			p = k32
		}
		for ; p < k; p++ {
			out[p] = bfRoundDAZ(row[p])
		}
		if kp > k {
			out[k] = 0
		}
	}
}

// bfdot8x16Generic is bfdot8x16AVX512BF16 as plain Go: for each of nblk
// consecutive packed BF16Linear blocks bi and rows i < 8 of the bf16
// activations a (rows lda apart, kp values each, kp even), c[i*ldc+bi*16+j]
// = Σ_q (a[2q+1]·w(2q+1, j) + a[2q]·w(2q, j)) + bias[bi*16+j], one sum
// per column in k order, the odd k of each pair first, each product exact
// and each addition rounded (VDPBF16PS; denormal inputs as zero), then the
// bias.
func bfdot8x16Generic(nblk, kp int, a []uint16, lda int, b []uint16, bias, c []float32, ldc int) {
	for bi := 0; bi < nblk; bi++ {
		bb := b[bi*kp*bfNR : (bi+1)*kp*bfNR]
		for i := 0; i < 8; i++ {
			var acc [bfNR]float32
			ar := a[i*lda : i*lda+kp]
			for q := 0; q < kp/2; q++ {
				ae, ao := fromBF16DAZ(ar[2*q]), fromBF16DAZ(ar[2*q+1])
				w := bb[q*2*bfNR : (q+1)*2*bfNR]
				for j := range acc {
					acc[j] += ao * fromBF16DAZ(w[2*j+1])
					acc[j] += ae * fromBF16DAZ(w[2*j])
				}
			}
			cc := c[i*ldc+bi*bfNR : i*ldc+bi*bfNR+bfNR]
			for j := range cc {
				cc[j] = acc[j] + bias[bi*bfNR+j]
			}
		}
	}
}

// bfDotWanted says whether chooseLevel may turn bfDot on (with AVX512_BF16
// and a passing bfDotSelfCheck).
var bfDotWanted = os.Getenv("LOUPE_BF16_DOT") == "1"

// bfDotSelfCheck runs bfdot8x16AVX512BF16 and the activations' rounding on
// small inputs (two column blocks and an odd third; k with tails) against
// their generic twins.
func bfDotSelfCheck() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	for _, k := range []int{1, 2, 7, 32, 33, 70} {
		kp := (k + 1) &^ 1
		const nblk, lda = 3, 72
		x := make([]float32, 8*lda)
		for i := range x {
			x[i] = float32((i*7)%31)/8 - 1.9
		}
		a1 := make([]uint16, 8*kp)
		a2 := make([]uint16, 8*kp)
		saved := bfDot
		bfDot = true
		bfRoundRows(8, k, x, lda, a1)
		bfDot = false
		bfRoundRows(8, k, x, lda, a2)
		bfDot = saved
		for i := range a1 {
			if a1[i] != a2[i] {
				return fmt.Errorf("bf16 rounding (k=%d): %#04x, want %#04x", k, a1[i], a2[i])
			}
		}
		b := make([]uint16, nblk*kp*bfNR)
		for i := range b {
			b[i] = ToBF16(float32((i*13)%29)/9 - 1.4)
		}
		bias := make([]float32, nblk*bfNR)
		for i := range bias {
			bias[i] = float32(i%5) - 2
		}
		const ldc = nblk*bfNR + 3
		c1 := make([]float32, 8*ldc)
		c2 := make([]float32, 8*ldc)
		bfdot8x16AVX512BF16(nblk, kp, a1, kp, b, bias, c1, ldc)
		bfdot8x16Generic(nblk, kp, a1, kp, b, bias, c2, ldc)
		for i := range c1 {
			if !closeEnough(c1[i], c2[i], k) {
				return fmt.Errorf("bfdot8x16(k=%d): c[%d] = %g, want %g", k, i, c1[i], c2[i])
			}
		}
	}
	return nil
}
