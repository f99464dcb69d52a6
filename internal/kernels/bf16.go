package kernels

import (
	"fmt"
	"math"
)

// bf16-weight linear layers: the weights W [n, k] (nn.Linear's [out, in])
// are rounded once to bfloat16 (the top 16 bits of a float32, rounded to
// nearest even, as PyTorch's .to(torch.bfloat16)); the activations stay
// float32. A kernel widens each weight back to float32 on the fly (a 16-bit
// left shift: VPMOVZXWD then VPSLLD $16) and multiplies with FMA, so the
// products are exact float32 products of the bf16 weights and the sums are
// float32 sums (in a different order than a plain loop: eight partial
// sums per column with AVX-512, four with AVX2). The work is bound by memory at 2 bytes per weight, half of
// float32's.
//
// Layout: the weights are packed in blocks of 16 output columns; inside a
// block, each pair of consecutive k (2q, 2q+1) is 64 bytes: one 32-bit
// word per column (column ascending) holding w(2q, j) in its low half and
// w(2q+1, j) in its high half. A kernel widens a pair with one shift left
// by 16 (the even k) and one AND with 0xffff0000 (the odd k): two vector
// operations per 32 weights. k is padded with a zero weight to an even
// kp; n with zero columns to a multiple of 16; the bias is padded the same
// way (zeros when there is none).

// BF16Linear is an nn.Linear with bfloat16 weights and float32 activations
// and sums (see above). It is immutable after NewBF16Linear and safe for
// concurrent use.
type BF16Linear struct {
	N, K int // output and input features
	kp   int // K rounded up to even
	b    []uint16
	bias []float32
}

const (
	// bfNR is the number of output columns per packed block.
	bfNR = 16
	// bfChunkBytes is about how much of the packed weights one chunk of
	// an Apply reads.
	bfChunkBytes = 256 << 10
	// bfParallelBytes: smaller one-row Applies run on one thread.
	bfParallelBytes = 64 << 10
)

// ToBF16 rounds v to bfloat16 (round to nearest, ties to even; NaN stays a
// quiet NaN) and returns its 16 bits.
func ToBF16(v float32) uint16 {
	u := math.Float32bits(v)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// FromBF16 widens a bfloat16 value to float32 (exactly).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// NewBF16Linear rounds the nn.Linear weight w ([n, k] row-major) to
// bfloat16 and keeps the bias (n values, or nil for none) in float32. w and
// bias are not retained.
func NewBF16Linear(w, bias []float32, n, k int) *BF16Linear {
	if n <= 0 || k <= 0 || len(w) < n*k || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("kernels: NewBF16Linear: bad arguments n=%d k=%d len(w)=%d len(bias)=%d", n, k, len(w), len(bias)))
	}
	nb := (n + bfNR - 1) / bfNR
	kp := (k + 1) &^ 1
	l := &BF16Linear{N: n, K: k, kp: kp, b: make([]uint16, nb*kp*bfNR), bias: make([]float32, nb*bfNR)}
	for j := 0; j < n; j++ {
		panel := l.b[(j/bfNR)*kp*bfNR:]
		jj := j % bfNR
		for p, v := range w[j*k : (j+1)*k] {
			panel[(p/2)*2*bfNR+2*jj+p%2] = ToBF16(v)
		}
	}
	if bias != nil {
		copy(l.bias, bias[:n])
	}
	return l
}

// Bytes is the memory the layer's packed weights and bias take.
func (l *BF16Linear) Bytes() int64 { return int64(2*len(l.b) + 4*len(l.bias)) }

// Apply computes c[i*ldc+j] = Σ_k a[i*lda+k]·W[j][k] + bias[j] for i < m,
// j < N with the bf16 weights (float32 products and sums, see the package
// notes above).
func (l *BF16Linear) Apply(m int, a []float32, lda int, c []float32, ldc int) {
	l.apply(level, m, a, lda, c, ldc)
}

func (l *BF16Linear) apply(lvl, m int, a []float32, lda int, c []float32, ldc int) {
	if m <= 0 {
		return
	}
	if lda < l.K || ldc < l.N || len(a) < (m-1)*lda+l.K || len(c) < (m-1)*ldc+l.N {
		panic(fmt.Sprintf("kernels: BF16Linear.Apply: bad arguments m=%d K=%d N=%d lda=%d ldc=%d len(a)=%d len(c)=%d", m, l.K, l.N, lda, ldc, len(a), len(c)))
	}
	j := halfJobs.Get().(*halfJob)
	j.lvl, j.m, j.a, j.lda, j.c, j.ldc = lvl, m, a, lda, c, ldc
	j.w, j.bias, j.n, j.k, j.kp = l.b, l.bias, l.N, l.K, l.kp
	j.four, j.one = bfGemm4, bfGemv
	j.has8, j.has4 = false, lvl >= levelAVX512
	var buf *[]uint16
	if bfDot && lvl >= levelAVX512 && m >= bfDotMinRows {
		buf = bfBufs.Get().(*[]uint16)
		if cap(*buf) < m*l.kp {
			*buf = make([]uint16, m*l.kp)
		}
		j.abf = (*buf)[:m*l.kp]
		bfRoundRows(m, l.K, a, lda, j.abf)
		j.eight, j.has8 = bfDot8, true
	}
	j.start()
	if buf != nil {
		bfBufs.Put(buf)
	}
}

// bfgemvL runs the one-row kernel of the given level over nblk consecutive
// blocks.
func bfgemvL(lvl, nblk, k int, a []float32, b []uint16, bias, c []float32) {
	switch {
	case lvl >= levelAVX512:
		bfgemv16AVX512(nblk, k, a, b, bias, c)
	case lvl >= levelAVX2:
		bfgemv16AVX2(nblk, k, a, b, bias, c)
	default:
		bfgemv16Generic(nblk, k, a, b, bias, c)
	}
}

// bfgemv16Generic is the one-row kernel as plain Go: for each of nblk
// consecutive packed blocks bi (b[bi*kp*16:] with kp = k rounded up to
// even, bias[bi*16:]) it sets c[bi*16+j] = Σ_{p<k} a[p]·w(p, j) + bias[j],
// the sum kept in eight partial sums s[p mod 8] for p < k rounded down to
// a multiple of 8 (the last k mod 8 terms go to s[0]), added as
// ((s0+s1)+(s2+s3))+((s4+s5)+(s6+s7)), then the bias: the AVX-512 kernel's
// order (it fuses each product into its sum).
func bfgemv16Generic(nblk, k int, a []float32, b []uint16, bias, c []float32) {
	a = a[:k]
	kp := (k + 1) &^ 1
	k8 := k &^ 7
	for bi := 0; bi < nblk; bi++ {
		bb := b[bi*kp*bfNR : (bi+1)*kp*bfNR]
		var acc [8][bfNR]float32
		for p, x := range a {
			w := bb[(p/2)*2*bfNR+p%2 : (p/2+1)*2*bfNR]
			s := &acc[0]
			if p < k8 {
				s = &acc[p&7]
			}
			for j := range s {
				s[j] += x * FromBF16(w[2*j])
			}
		}
		cc, bs := c[bi*bfNR:bi*bfNR+bfNR], bias[bi*bfNR:bi*bfNR+bfNR]
		for j := range cc {
			lo := (acc[0][j] + acc[1][j]) + (acc[2][j] + acc[3][j])
			hi := (acc[4][j] + acc[5][j]) + (acc[6][j] + acc[7][j])
			cc[j] = (lo + hi) + bs[j]
		}
	}
}

// bfgemm4x16Generic is the four-row kernel as plain Go: for each of nblk
// consecutive packed blocks bi and rows i < 4 (a[i*lda:], c[i*ldc:]) it
// sets c[i*ldc+bi*16+j] = Σ_{p<k} a[i*lda+p]·w(p, j) + bias[bi*16+j], the
// sum kept in two partial sums (k even, k odd) added as s0+s1, then the
// bias. The slices must cover exactly the rows and columns written.
func bfgemm4x16Generic(nblk, k int, a []float32, lda int, b []uint16, bias, c []float32, ldc int) {
	kp := (k + 1) &^ 1
	for bi := 0; bi < nblk; bi++ {
		bb := b[bi*kp*bfNR : (bi+1)*kp*bfNR]
		for i := 0; i < 4; i++ {
			var acc [2][bfNR]float32
			for p, x := range a[i*lda : i*lda+k] {
				w := bb[(p/2)*2*bfNR+p%2 : (p/2+1)*2*bfNR]
				s := &acc[p&1]
				for j := range s {
					s[j] += x * FromBF16(w[2*j])
				}
			}
			cc := c[i*ldc+bi*bfNR : i*ldc+bi*bfNR+bfNR]
			for j := range cc {
				cc[j] = (acc[0][j] + acc[1][j]) + bias[bi*bfNR+j]
			}
		}
	}
}

// NewBF16LinearBits builds a BF16Linear from weights already rounded to
// bfloat16: w holds their bits ([n, k] row-major, nn.Linear's [out, in]),
// bias n float32 values or nil. Given what Bits returns for a layer
// NewBF16Linear made (and the same bias), it builds a layer identical to
// that one. Wrong sizes panic, as in NewBF16Linear. w and bias are not
// retained.
func NewBF16LinearBits(w []uint16, bias []float32, n, k int) *BF16Linear {
	if n <= 0 || k <= 0 || len(w) < n*k || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("kernels: NewBF16LinearBits: bad arguments n=%d k=%d len(w)=%d len(bias)=%d", n, k, len(w), len(bias)))
	}
	nb := (n + bfNR - 1) / bfNR
	kp := (k + 1) &^ 1
	l := &BF16Linear{N: n, K: k, kp: kp, b: make([]uint16, nb*kp*bfNR), bias: make([]float32, nb*bfNR)}
	for j := 0; j < n; j++ {
		panel := l.b[(j/bfNR)*kp*bfNR:]
		jj := j % bfNR
		for p, v := range w[j*k : (j+1)*k] {
			panel[(p/2)*2*bfNR+2*jj+p%2] = v
		}
	}
	if bias != nil {
		copy(l.bias, bias[:n])
	}
	return l
}

// Bits returns the layer's bfloat16 weights ([N, K] row-major, nn.Linear's
// [out, in]) as their 16 bits (see NewBF16LinearBits, which rebuilds the
// layer from them).
func (l *BF16Linear) Bits() []uint16 {
	w := make([]uint16, l.N*l.K)
	for j := 0; j < l.N; j++ {
		panel := l.b[(j/bfNR)*l.kp*bfNR:]
		jj := j % bfNR
		row := w[j*l.K : (j+1)*l.K]
		for p := range row {
			row[p] = panel[(p/2)*2*bfNR+2*jj+p%2]
		}
	}
	return w
}

// Row writes the weights of output j, widened to float32 (exactly), into
// dst[:K].
func (l *BF16Linear) Row(j int, dst []float32) {
	if j < 0 || j >= l.N || len(dst) < l.K {
		panic(fmt.Sprintf("kernels: BF16Linear.Row(%d) of %d rows into %d values, want %d", j, l.N, len(dst), l.K))
	}
	panel := l.b[(j/bfNR)*l.kp*bfNR:]
	jj := j % bfNR
	for p := range dst[:l.K] {
		dst[p] = FromBF16(panel[(p/2)*2*bfNR+2*jj+p%2])
	}
}
