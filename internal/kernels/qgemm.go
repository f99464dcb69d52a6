package kernels

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
)

// Dynamic int8 linear layers, as torch.ao.quantization.quantize_dynamic does
// for nn.Linear on x86 (fbgemm):
//
//   - weights W [n, k] (nn.Linear's [out, in]) are quantized once, per output
//     channel and symmetric: w_q = round(w / s_w[j]), s_w[j] = max|W[j,:]| / qmax,
//     with qmax = 127 (QInt8) or 63 (QInt7, see below);
//   - each activation row (one token) is quantized at run time, asymmetric and
//     unsigned to 7 bits: a_q = clamp(round(a / s_a) + z, 0, 127) with
//     s_a = (max(a, 0) - min(a, 0)) / 127 and z = round(-min(a, 0) / s_a);
//     PyTorch's dynamic Linear asks for the same range (reduce_range=True);
//   - the products are summed exactly in int32 and dequantized in float32:
//     c[i][j] = s_a[i]·s_w[j]·(Σ_k a_q·w_q - z[i]·Σ_k w_q[j][k]) + bias[j].
//
// On AVX2 the sums use VPMADDUBSW (u8·s8 pairs summed to int16, saturating),
// VPMADDWD by ones (int16 pairs to int32) and VPADDD. With 7-bit activations
// and 8-bit weights a pair sum is at most 2·127·127 = 32258 < 32767, so
// nothing saturates (QInt8). QInt7 also limits the weights to ±63, so two
// VPMADDUBSW results (eight products) can be added in int16 (≤ 4·127·63 =
// 32004) before one VPMADDWD: three multiplies per 64 products instead of
// four per 64, at the cost of one bit of weight precision.
//
// Layout: the weights are packed in blocks of 16 output columns; inside a
// block, each group of 4 consecutive k is 64 bytes: columns 0..7 (4 bytes
// each, k ascending), then columns 8..15. k is padded with zero weights to a
// multiple of 8, n with zero columns to a multiple of 16. Per block, cp holds
// 48 floats: s_w[16], s_w·Σw_q [16] and the bias [16].

// Weight precisions for NewQLinear.
const (
	QInt8 = 8 // weights in [-127, 127]
	QInt7 = 7 // weights in [-63, 63]: the faster kernel
)

// QLinear is an nn.Linear quantized for dynamic int8 inference (see above).
// It is immutable after NewQLinear and safe for concurrent use.
type QLinear struct {
	N, K int // output and input features
	Bits int // QInt8 or QInt7
	kp   int // K rounded up to a multiple of 8
	b    []int8
	cp   []float32
}

const (
	qMR = 4  // rows per micro tile
	qNR = 16 // columns per micro tile
	// qGemvChunkBytes is about how much of the packed weights one chunk
	// of a decoding (m < qMR) Apply reads.
	qGemvChunkBytes = 256 << 10
	// qGemvParallelBytes: smaller decoding Applies run on one thread.
	qGemvParallelBytes = 64 << 10
)

// NewQLinear quantizes the nn.Linear weight w ([n, k] row-major) and bias
// (n values, or nil for none) with the given weight precision (QInt8 or
// QInt7). w and bias are not retained.
func NewQLinear(w, bias []float32, n, k, bits int) *QLinear {
	if n <= 0 || k <= 0 || len(w) < n*k || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("kernels: NewQLinear: bad arguments n=%d k=%d len(w)=%d len(bias)=%d", n, k, len(w), len(bias)))
	}
	var qmax float64
	switch bits {
	case QInt8:
		qmax = 127
	case QInt7:
		qmax = 63
	default:
		panic(fmt.Sprintf("kernels: NewQLinear: bits = %d, want 8 or 7", bits))
	}
	kp := (k + 7) &^ 7
	nb := (n + qNR - 1) / qNR
	q := &QLinear{N: n, K: k, Bits: bits, kp: kp, b: make([]int8, nb*kp*qNR), cp: make([]float32, nb*3*qNR)}
	for j := 0; j < n; j++ {
		row := w[j*k : (j+1)*k]
		amax := 0.0
		for _, v := range row {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		s := float32(amax / qmax)
		blk, jj := j/qNR, j%qNR
		panel := q.b[blk*kp*qNR:]
		off := (jj/8)*32 + (jj%8)*4
		sum := 0
		if s > 0 {
			for p, v := range row {
				x := int(math.RoundToEven(float64(v) / float64(s)))
				x = min(max(x, -int(qmax)), int(qmax))
				panel[(p/4)*64+off+p%4] = int8(x)
				sum += x
			}
		}
		cp := q.cp[blk*3*qNR:]
		cp[jj] = s
		cp[qNR+jj] = float32(float64(s) * float64(sum))
		if bias != nil {
			cp[2*qNR+jj] = bias[j]
		}
	}
	return q
}

// Apply computes c[i*ldc+j] = Σ_k a[i*lda+k]·W[j][k] + bias[j] for i < m,
// j < N at dynamic int8 precision (see the package notes above).
func (q *QLinear) Apply(m int, a []float32, lda int, c []float32, ldc int) {
	q.apply(level, m, a, lda, c, ldc)
}

// qJob is one Apply call split across the worker pool. Jobs are pooled and
// run is bound once, so Apply allocates nothing in the steady state.
type qJob struct {
	lvl    int
	q      *QLinear
	m      int
	a      []float32
	lda    int
	c      []float32
	ldc    int
	aq     []uint8   // quantized rows, [mp, kp]
	rp     []float32 // per row: s_a, s_a·z
	gemv   bool      // m < qMR: rows one at a time over chunks of blocks
	byRows bool      // chunks are row groups (else column blocks)
	unit   int       // row groups or column blocks per chunk
	chunks int64     // number of chunks
	next   int64     // chunks handed out (atomic)
	run    func(lo, hi int)
}

var qJobs = sync.Pool{New: func() any {
	j := new(qJob)
	j.run = j.do
	return j
}}

func (q *QLinear) apply(lvl, m int, a []float32, lda int, c []float32, ldc int) {
	if m <= 0 {
		return
	}
	if lda < q.K || ldc < q.N || len(a) < (m-1)*lda+q.K || len(c) < (m-1)*ldc+q.N {
		panic(fmt.Sprintf("kernels: QLinear.Apply: bad arguments m=%d K=%d N=%d lda=%d ldc=%d len(a)=%d len(c)=%d", m, q.K, q.N, lda, ldc, len(a), len(c)))
	}
	j := qJobs.Get().(*qJob)
	j.lvl, j.q, j.m, j.a, j.lda, j.c, j.ldc = lvl, q, m, a, lda, c, ldc
	groups := (m + qMR - 1) / qMR
	mp := groups * qMR
	if cap(j.aq) < mp*q.kp {
		j.aq = make([]uint8, mp*q.kp)
	}
	j.aq = j.aq[:mp*q.kp]
	if cap(j.rp) < 2*mp {
		j.rp = make([]float32, 2*mp)
	}
	j.rp = j.rp[:2*mp]
	blocks := (q.N + qNR - 1) / qNR
	th := Threads()
	// Work is handed out in chunks that threads claim until none are left,
	// so a thread slowed down by other work takes fewer chunks instead of
	// holding the others up at the end.
	j.gemv = m < qMR
	j.byRows = !j.gemv && (groups >= 2*th || groups >= blocks)
	parts := th
	if j.gemv {
		// Decoding: each weight is read once from memory, so the time is
		// the weight bytes over the memory bandwidth. Chunks of whole
		// blocks (contiguous runs of the packed weights, about
		// qGemvChunkBytes each, at least four per thread when there are
		// enough blocks) are claimed by the threads in memory order; a
		// second or third row reads the chunk again from L2.
		j.quantRows(0, m)
		j.unit = max(1, min(blocks/(4*th), qGemvChunkBytes/(q.kp*qNR)))
		j.chunks = int64((blocks + j.unit - 1) / j.unit)
		if blocks*q.kp*qNR < qGemvParallelBytes {
			parts = 1
		}
	} else if j.byRows {
		// Chunks of up to 16 row groups (64 rows), each quantized by the
		// thread that computes it; every column block sweeps over them.
		j.unit = min(16, max(1, groups/(2*th)))
		j.chunks = int64((groups + j.unit - 1) / j.unit)
	} else {
		j.quantRows(0, mp)
		j.unit = max(1, blocks/(4*th))
		j.chunks = int64((blocks + j.unit - 1) / j.unit)
	}
	j.next = 0
	Parallel(int(min(j.chunks, int64(parts))), 1, j.run)
	j.a, j.c, j.q = nil, nil, nil
	qJobs.Put(j)
}

// quantRows quantizes rows [r0, r1) of a into aq and rp; rows past m are
// zero.
func (j *qJob) quantRows(r0, r1 int) {
	kp, K := j.q.kp, j.q.K
	for r := r0; r < r1; r++ {
		dst := j.aq[r*kp : (r+1)*kp]
		if r >= j.m {
			clear(dst)
			j.rp[2*r], j.rp[2*r+1] = 0, 0
			continue
		}
		s, sz := quantRowL(j.lvl, dst[:K], j.a[r*j.lda:r*j.lda+K])
		clear(dst[K:])
		j.rp[2*r], j.rp[2*r+1] = s, sz
	}
}

// do claims chunks of work until none are left; Parallel's range only
// says how many threads take part.
func (j *qJob) do(lo, hi int) {
	q := j.q
	blocks := (q.N + qNR - 1) / qNR
	groups := (j.m + qMR - 1) / qMR
	for {
		ch := int(atomic.AddInt64(&j.next, 1) - 1)
		if ch >= int(j.chunks) {
			return
		}
		if j.gemv {
			j.gemvBlocks(ch*j.unit, min((ch+1)*j.unit, blocks))
			continue
		}
		if !j.byRows {
			for blk := ch * j.unit; blk < min((ch+1)*j.unit, blocks); blk++ {
				j.tiles(0, groups, blk)
			}
			continue
		}
		g0, g1 := ch*j.unit, min((ch+1)*j.unit, groups)
		j.quantRows(g0*qMR, g1*qMR)
		for blk := 0; blk < blocks; blk++ {
			j.tiles(g0, g1, blk)
		}
	}
}

// gemvBlocks computes the m (< qMR) rows of column blocks [b0, b1), one
// row at a time: the full blocks in one kernel call, a partial last block
// through a temporary.
func (j *qJob) gemvBlocks(b0, b1 int) {
	q := j.q
	kp := q.kp
	full := min(b1, q.N/qNR)
	for i := 0; i < j.m; i++ {
		a, rp := j.aq[i*kp:(i+1)*kp], j.rp[2*i:2*i+2]
		c := j.c[i*j.ldc : i*j.ldc+q.N]
		if full > b0 {
			qgemvL(j.lvl, full-b0, kp, a, q.b[b0*kp*qNR:full*kp*qNR], rp, q.cp[b0*3*qNR:full*3*qNR], c[b0*qNR:full*qNR])
		}
		if b1 > full {
			var tmp [qNR]float32
			qgemvL(j.lvl, 1, kp, a, q.b[full*kp*qNR:(full+1)*kp*qNR], rp, q.cp[full*3*qNR:(full+1)*3*qNR], tmp[:])
			copy(c[full*qNR:], tmp[:q.N-full*qNR])
		}
	}
}

// tiles computes the 4×16 tiles of row groups [g0, g1) in column block
// blk: the full ones in one micro-kernel call, the edge ones through a
// temporary tile.
func (j *qJob) tiles(g0, g1, blk int) {
	q := j.q
	kp := q.kp
	b := q.b[blk*kp*qNR : (blk+1)*kp*qNR]
	cp := q.cp[blk*3*qNR : (blk+1)*3*qNR]
	c0 := blk * qNR
	full := g1
	if c0+qNR > q.N {
		full = g0
	} else {
		full = min(g1, j.m/qMR)
	}
	if full > g0 {
		qmicroL(j.lvl, q.Bits, full-g0, kp, j.aq[g0*qMR*kp:], kp, b, j.rp[g0*qMR*2:full*qMR*2], cp, j.c[g0*qMR*j.ldc+c0:], j.ldc)
	}
	var tmp [qMR * qNR]float32
	for g := max(full, g0); g < g1; g++ {
		r0 := g * qMR
		qmicroL(j.lvl, q.Bits, 1, kp, j.aq[r0*kp:], kp, b, j.rp[r0*2:(r0+qMR)*2], cp, tmp[:], qNR)
		rows, cols := min(qMR, j.m-r0), min(qNR, q.N-c0)
		for i := 0; i < rows; i++ {
			copy(j.c[(r0+i)*j.ldc+c0:(r0+i)*j.ldc+c0+cols], tmp[i*qNR:i*qNR+cols])
		}
	}
}

// qmicroL runs the 4×16 micro kernel of the given level and weight
// precision over groups row groups.
func qmicroL(lvl, bits, groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int) {
	if lvl >= levelAVX512 && qVNNI {
		qgemm4x16VNNI(groups, kp, a, lda, b, rp, cp, c, ldc)
		return
	}
	if lvl >= levelAVX2 {
		if bits == QInt7 {
			qgemm4x16x7AVX2(groups, kp, a, lda, b, rp, cp, c, ldc)
		} else {
			qgemm4x16AVX2(groups, kp, a, lda, b, rp, cp, c, ldc)
		}
		return
	}
	qgemm4x16Generic(groups, kp, a, lda, b, rp, cp, c, ldc)
}

// qgemvL runs the one-row kernel of the given level (for either weight
// precision) over nblk consecutive blocks.
func qgemvL(lvl, nblk, kp int, a []uint8, b []int8, rp, cp, c []float32) {
	if lvl >= levelAVX512 && qVNNI {
		qgemv16VNNI(nblk, kp, a, b, rp, cp, c)
		return
	}
	if lvl >= levelAVX2 {
		qgemv16AVX2(nblk, kp, a, b, rp, cp, c)
		return
	}
	qgemv16Generic(nblk, kp, a, b, rp, cp, c)
}

// quantRowL quantizes one activation row x to 7-bit unsigned values in q
// (len(q) == len(x)) and returns s_a and s_a·z.
func quantRowL(lvl int, q []uint8, x []float32) (scale, scaledZero float32) {
	n8 := 0
	if lvl >= levelAVX2 {
		n8 = len(x) &^ 7
	}
	var lo, hi float32 // the range always includes 0
	if n8 > 0 {
		lo, hi = qMinMaxAVX2(x[:n8])
	}
	for _, v := range x[n8:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	lo, hi = min(lo, 0), max(hi, 0)
	s := (hi - lo) / 127
	if !(s > 0) || math.IsInf(float64(s), 0) {
		// An all-zero row (or a non-finite one): every value quantizes
		// to the zero point 0 and contributes nothing.
		clear(q)
		return 0, 0
	}
	z := float32(math.RoundToEven(float64(-lo / s)))
	z = min(max(z, 0), 127)
	inv := 1 / s
	if n8 > 0 {
		qQuantAVX2(q[:n8], x[:n8], inv, z)
	}
	qQuantGeneric(q[n8:], x[n8:], inv, z)
	return s, s * z
}

// qQuantGeneric sets q[i] = clamp(round(x[i]·inv + z), 0, 127), rounding
// half to even; len(q) == len(x).
func qQuantGeneric(q []uint8, x []float32, inv, z float32) {
	for i, v := range x {
		t := float32(v*inv) + z
		if !(t > 0) {
			q[i] = 0
			continue
		}
		r := math.RoundToEven(float64(t))
		q[i] = uint8(min(r, 127))
	}
}

// qMinMaxGeneric returns the smallest and largest element of x (len > 0).
func qMinMaxGeneric(x []float32) (lo, hi float32) {
	lo, hi = x[0], x[0]
	for _, v := range x[1:] {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// qgemm4x16Generic is the micro kernel as plain Go. For each of groups row
// groups g (activation rows a[(4g+i)*lda:], row parameters rp[8g:], output
// rows c[(4g+i)*ldc:]), with acc[i][j] = Σ_{p<kp} a[i*lda+p]·w_q(p, j) (w_q
// from the packed panel b) it sets c[i*ldc+j] = (acc·s_w[j])·s_a[i] -
// (s_a·z)[i]·(s_w·Σw_q)[j] + bias[j] for i < 4, j < 16, where rp = [s_a,
// s_a·z] per row and cp = [s_w[16], (s_w·Σw_q)[16], bias[16]]. The
// slices must cover exactly the rows and columns written (c need not
// extend past the last row's 16 columns).
func qgemm4x16Generic(groups, kp int, a []uint8, lda int, b []int8, rp, cp, c []float32, ldc int) {
	b = b[:kp*qNR]
	for g := 0; g < groups; g++ {
		for i := 0; i < qMR; i++ {
			r := g*qMR + i
			ar := a[r*lda : r*lda+kp]
			var acc [qNR]int32
			for p := 0; p+4 <= len(ar); p += 4 {
				a0, a1, a2, a3 := int32(ar[p]), int32(ar[p+1]), int32(ar[p+2]), int32(ar[p+3])
				bp := b[p*qNR : p*qNR+4*qNR]
				for j := 0; j < qNR; j++ {
					w := bp[4*j : 4*j+4]
					acc[j] += a0*int32(w[0]) + a1*int32(w[1]) + a2*int32(w[2]) + a3*int32(w[3])
				}
			}
			qDequant(&acc, rp[2*r], rp[2*r+1], cp, c[r*ldc:r*ldc+qNR])
		}
	}
}

// qDequant sets c[j] = (acc[j]·s_w[j])·s_a - (s_a·z)·(s_w·Σw_q)[j] +
// bias[j] for j < 16, cp = [s_w[16], (s_w·Σw_q)[16], bias[16]].
func qDequant(acc *[qNR]int32, sa, saz float32, cp, c []float32) {
	cp, c = cp[:3*qNR], c[:qNR]
	for j := range c {
		f := float32(float32(acc[j])*cp[j]) * sa
		f = f - float32(saz*cp[qNR+j])
		c[j] = f + cp[2*qNR+j]
	}
}

// qgemv16Generic is the one-row (decoding) kernel as plain Go: for each of
// nblk consecutive packed blocks bi (b[bi*kp*16:], cp[bi*48:]) it sets
// c[bi*16+j] = (acc·s_w[j])·s_a - (s_a·z)·(s_w·Σw_q)[j] + bias[j] with
// acc = Σ_{p<kp} a[p]·w_q(p, j) and rp = [s_a, s_a·z]: the arithmetic of
// qgemm4x16Generic for a single row.
func qgemv16Generic(nblk, kp int, a []uint8, b []int8, rp, cp, c []float32) {
	a = a[:kp]
	for bi := 0; bi < nblk; bi++ {
		bb := b[bi*kp*qNR : (bi+1)*kp*qNR]
		var acc [qNR]int32
		for p := 0; p+4 <= kp; p += 4 {
			a0, a1, a2, a3 := int32(a[p]), int32(a[p+1]), int32(a[p+2]), int32(a[p+3])
			bp := bb[p*qNR : p*qNR+4*qNR]
			for j := 0; j < qNR; j++ {
				w := bp[4*j : 4*j+4]
				acc[j] += a0*int32(w[0]) + a1*int32(w[1]) + a2*int32(w[2]) + a3*int32(w[3])
			}
		}
		qDequant(&acc, rp[0], rp[1], cp[bi*3*qNR:], c[bi*qNR:])
	}
}

// NewQLinearInt8 builds a QLinear from weights already quantized: w holds
// the int8 values w_q ([n, k] row-major, nn.Linear's [out, in]), scales the
// n per-output-channel scales s_w (w ≈ s_w[j]·w_q[j][k]) and bias n values
// or nil. Given what Int8 returns for a layer NewQLinear made, it builds a
// layer identical to that one (so Apply gives bit-identical results). The
// values must lie in [-127, 127] (QInt8) or [-63, 63] (QInt7) and the
// scales must be finite and not negative: anything else is an error (the
// data comes from a file); wrong sizes panic, as in NewQLinear. w, scales
// and bias are not retained.
func NewQLinearInt8(w []int8, scales, bias []float32, n, k, bits int) (*QLinear, error) {
	if n <= 0 || k <= 0 || len(w) < n*k || len(scales) < n || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("kernels: NewQLinearInt8: bad arguments n=%d k=%d len(w)=%d len(scales)=%d len(bias)=%d", n, k, len(w), len(scales), len(bias)))
	}
	var qmax int
	switch bits {
	case QInt8:
		qmax = 127
	case QInt7:
		qmax = 63
	default:
		panic(fmt.Sprintf("kernels: NewQLinearInt8: bits = %d, want 8 or 7", bits))
	}
	kp := (k + 7) &^ 7
	nb := (n + qNR - 1) / qNR
	q := &QLinear{N: n, K: k, Bits: bits, kp: kp, b: make([]int8, nb*kp*qNR), cp: make([]float32, nb*3*qNR)}
	for j := 0; j < n; j++ {
		s := scales[j]
		if !(s >= 0 && s <= math.MaxFloat32) {
			return nil, fmt.Errorf("row %d: scale %v, want a finite value ≥ 0", j, s)
		}
		blk, jj := j/qNR, j%qNR
		panel := q.b[blk*kp*qNR:]
		off := (jj/8)*32 + (jj%8)*4
		sum := 0
		for p, v := range w[j*k : (j+1)*k] {
			x := int(v)
			if x < -qmax || x > qmax {
				return nil, fmt.Errorf("row %d, column %d: value %d outside [-%d, %d]", j, p, x, qmax, qmax)
			}
			panel[(p/4)*64+off+p%4] = v
			sum += x
		}
		cp := q.cp[blk*3*qNR:]
		cp[jj] = s
		cp[qNR+jj] = float32(float64(s) * float64(sum))
		if bias != nil {
			cp[2*qNR+jj] = bias[j]
		}
	}
	return q, nil
}

// Int8 returns the layer's quantized weights: the int8 values w_q ([N, K]
// row-major, nn.Linear's [out, in]) and the N per-output-channel scales
// (see NewQLinearInt8, which rebuilds the layer from them).
func (q *QLinear) Int8() (w []int8, scales []float32) {
	w = make([]int8, q.N*q.K)
	scales = make([]float32, q.N)
	for j := 0; j < q.N; j++ {
		blk, jj := j/qNR, j%qNR
		panel := q.b[blk*q.kp*qNR:]
		off := (jj/8)*32 + (jj%8)*4
		row := w[j*q.K : (j+1)*q.K]
		for p := range row {
			row[p] = panel[(p/4)*64+off+p%4]
		}
		scales[j] = q.cp[blk*3*qNR+jj]
	}
	return w, scales
}

// Row writes the dequantized weights of output j, s_w[j]·w_q[j][k] for
// k < K (float32 products), into dst[:K].
func (q *QLinear) Row(j int, dst []float32) {
	if j < 0 || j >= q.N || len(dst) < q.K {
		panic(fmt.Sprintf("kernels: QLinear.Row(%d) of %d rows into %d values, want %d", j, q.N, len(dst), q.K))
	}
	blk, jj := j/qNR, j%qNR
	panel := q.b[blk*q.kp*qNR:]
	off := (jj/8)*32 + (jj%8)*4
	s := q.cp[blk*3*qNR+jj]
	for p := range dst[:q.K] {
		dst[p] = float32(panel[(p/4)*64+off+p%4]) * s
	}
}
