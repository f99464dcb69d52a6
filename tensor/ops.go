package tensor

import (
	"fmt"
	"slices"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// matDims returns the batch size and the rows and columns of op(t) for a 2-D
// or 3-D operand of MatMul.
func matDims(t *Tensor, trans bool) (batch, rows, cols int, ok bool) {
	switch len(t.shape) {
	case 2:
		batch, rows, cols = 1, t.shape[0], t.shape[1]
	case 3:
		batch, rows, cols = t.shape[0], t.shape[1], t.shape[2]
	default:
		return 0, 0, 0, false
	}
	if trans {
		rows, cols = cols, rows
	}
	return batch, rows, cols, true
}

// mmDims are the sizes of a checked MatMul: batch count, m, n, k, whether b
// is shared by all batches, and the rank of the output.
type mmDims struct {
	batch, m, n, k int
	bShared        bool
	rank           int
}

// shape returns the output shape.
func (d mmDims) shape() []int {
	if d.rank == 2 {
		return []int{d.m, d.n}
	}
	return []int{d.batch, d.m, d.n}
}

// matches reports whether s is the output shape, without allocating.
func (d mmDims) matches(s []int) bool {
	if len(s) != d.rank {
		return false
	}
	if d.rank == 2 {
		return s[0] == d.m && s[1] == d.n
	}
	return s[0] == d.batch && s[1] == d.m && s[2] == d.n
}

// matMulDims checks the operands of MatMul.
func matMulDims(a, b *Tensor, transA, transB bool) (mmDims, error) {
	ba, m, ka, okA := matDims(a, transA)
	bb, kb, n, okB := matDims(b, transB)
	fail := func(format string, args ...any) (mmDims, error) {
		return mmDims{}, shapeErr("MatMul", "%v%s x %v%s: %s", a.shape, opT(transA), b.shape, opT(transB), fmt.Sprintf(format, args...))
	}
	if !okA || !okB {
		return fail("operands must be 2-D or 3-D")
	}
	if ka != kb {
		return fail("inner dimensions %d and %d differ", ka, kb)
	}
	d := mmDims{batch: ba, m: m, n: n, k: ka, bShared: true, rank: 3}
	switch {
	case len(a.shape) == 2 && len(b.shape) == 2:
		d.rank = 2
	case len(a.shape) == 3 && len(b.shape) == 2:
	case len(a.shape) == 3 && len(b.shape) == 3:
		if ba != bb {
			return fail("batch sizes %d and %d differ", ba, bb)
		}
		d.bShared = false
	default:
		return fail("a 2-D left operand needs a 2-D right operand")
	}
	return d, nil
}

// MatMul returns op(a)·op(b), where op transposes the last two axes when the
// flag is set. Shapes: [m,k]·[k,n] = [m,n]; [B,m,k]·[k,n] = [B,m,n] (b shared
// by every batch, as for a linear layer); [B,m,k]·[B,k,n] = [B,m,n].
func MatMul(a, b *Tensor, transA, transB bool) (*Tensor, error) {
	d, err := matMulDims(a, b, transA, transB)
	if err != nil {
		return nil, err
	}
	out, err := New(d.shape()...)
	if err != nil {
		return nil, err
	}
	if err := MatMulInto(out, a, b, transA, transB, 1, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// MatMulInto computes dst = alpha·op(a)·op(b) + beta·dst with the shapes of
// MatMul; dst must already have the output shape. With beta 0, dst is not
// read. dst must not overlap a or b. It does not allocate.
func MatMulInto(dst, a, b *Tensor, transA, transB bool, alpha, beta float32) error {
	d, err := matMulDims(a, b, transA, transB)
	if err != nil {
		return err
	}
	if !d.matches(dst.shape) {
		return shapeErr("MatMulInto", "%v%s x %v%s gives %v, but dst is %v", a.shape, opT(transA), b.shape, opT(transB), d.shape(), dst.shape)
	}
	batch, m, n, k, bShared := d.batch, d.m, d.n, d.k, d.bShared
	if m == 0 || n == 0 {
		return nil
	}
	lda := a.shape[len(a.shape)-1]
	ldb := b.shape[len(b.shape)-1]
	if bShared && !transA && batch > 1 {
		// [B,m,k]·[k,n]: one product of B·m rows.
		kernels.Sgemm(false, transB, batch*m, n, k, alpha, a.data, lda, b.data, ldb, beta, dst.data, n)
		return nil
	}
	sa, sb, sc := m*k, k*n, m*n
	for i := range batch {
		bd := b.data
		if !bShared {
			bd = b.data[i*sb : (i+1)*sb]
		}
		kernels.Sgemm(transA, transB, m, n, k, alpha, a.data[i*sa:(i+1)*sa], lda, bd, ldb, beta, dst.data[i*sc:(i+1)*sc], n)
	}
	return nil
}

// AddBias adds bias (shape [n]) to every row of x (shape [..., n]), in place.
func AddBias(x, bias *Tensor) error {
	if len(bias.shape) != 1 || len(x.shape) == 0 || x.shape[len(x.shape)-1] != bias.shape[0] {
		return shapeErr("AddBias", "%v + bias %v: bias must be 1-D and match the last dimension", x.shape, bias.shape)
	}
	rows, cols := x.rowsCols()
	if cols == 0 {
		return nil
	}
	for r := range rows {
		row := x.data[r*cols : (r+1)*cols]
		kernels.Add(row, row, bias.data)
	}
	return nil
}

// Add returns a + b elementwise; the shapes must be equal.
func Add(a, b *Tensor) (*Tensor, error) {
	if !SameShape(a, b) {
		return nil, shapeErr("Add", "%v + %v: shapes differ", a.shape, b.shape)
	}
	out := &Tensor{shape: slices.Clone(a.shape), data: make([]float32, len(a.data))}
	kernels.Add(out.data, a.data, b.data)
	return out, nil
}

// AddInPlace computes a += b elementwise (a residual connection); the shapes
// must be equal.
func AddInPlace(a, b *Tensor) error {
	if !SameShape(a, b) {
		return shapeErr("AddInPlace", "%v += %v: shapes differ", a.shape, b.shape)
	}
	kernels.Add(a.data, a.data, b.data)
	return nil
}

// Scale multiplies every element of x by alpha, in place.
func Scale(x *Tensor, alpha float32) { kernels.Scale(alpha, x.data) }

// Gather returns the rows of table (shape [V, C]) at ids, as a [len(ids), C]
// tensor: an embedding lookup. An id outside [0, V) is an error naming it.
func Gather(table *Tensor, ids []int) (*Tensor, error) {
	if len(table.shape) != 2 {
		return nil, shapeErr("Gather", "table %v must be 2-D [vocab, dim]", table.shape)
	}
	v, c := table.shape[0], table.shape[1]
	for i, id := range ids {
		if id < 0 || id >= v {
			return nil, shapeErr("Gather", "id %d at position %d is outside the table's %d rows", id, i, v)
		}
	}
	out := &Tensor{shape: []int{len(ids), c}, data: make([]float32, len(ids)*c)}
	for i, id := range ids {
		copy(out.data[i*c:(i+1)*c], table.data[id*c:(id+1)*c])
	}
	return out, nil
}

// TransposeLast2 returns a copy of x (at least 2-D) with its last two axes
// swapped: [..., m, n] becomes [..., n, m].
func TransposeLast2(x *Tensor) (*Tensor, error) {
	d := len(x.shape)
	if d < 2 {
		return nil, shapeErr("TransposeLast2", "%v has fewer than 2 dimensions", x.shape)
	}
	m, n := x.shape[d-2], x.shape[d-1]
	shape := slices.Clone(x.shape)
	shape[d-2], shape[d-1] = n, m
	out := &Tensor{shape: shape, data: make([]float32, len(x.data))}
	if m == 0 || n == 0 {
		return out, nil
	}
	batch := len(x.data) / (m * n)
	const blk = 32
	for b := range batch {
		src := x.data[b*m*n : (b+1)*m*n]
		dst := out.data[b*m*n : (b+1)*m*n]
		for i0 := 0; i0 < m; i0 += blk {
			for j0 := 0; j0 < n; j0 += blk {
				for i := i0; i < min(i0+blk, m); i++ {
					for j := j0; j < min(j0+blk, n); j++ {
						dst[j*m+i] = src[i*n+j]
					}
				}
			}
		}
	}
	return out, nil
}

// SplitLast splits x along its last axis into parts equal tensors (copies):
// [..., parts·c] becomes parts tensors of [..., c]. GPT-2's fused q, k, v
// projection splits with parts = 3.
func SplitLast(x *Tensor, parts int) ([]*Tensor, error) {
	if parts <= 0 || len(x.shape) == 0 || x.shape[len(x.shape)-1]%parts != 0 {
		return nil, shapeErr("SplitLast", "%v into %d parts: the last dimension must divide evenly", x.shape, parts)
	}
	rows, cols := x.rowsCols()
	c := cols / parts
	shape := slices.Clone(x.shape)
	shape[len(shape)-1] = c
	out := make([]*Tensor, parts)
	for p := range out {
		t := &Tensor{shape: slices.Clone(shape), data: make([]float32, rows*c)}
		for r := range rows {
			copy(t.data[r*c:(r+1)*c], x.data[r*cols+p*c:r*cols+(p+1)*c])
		}
		out[p] = t
	}
	return out, nil
}

// Concat joins tensors along axis; all other dimensions must be equal.
// Along axis 0 (ConcatRows) the data is simply appended; along the sequence
// axis of [heads, T, d] tensors (axis 1) this appends new keys or values to
// a KV cache.
func Concat(axis int, ts ...*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, shapeErr("Concat", "no tensors")
	}
	first := ts[0].shape
	if axis < 0 {
		axis += len(first)
	}
	if axis < 0 || axis >= len(first) {
		return nil, shapeErr("Concat", "axis out of range for %v", first)
	}
	shape := slices.Clone(first)
	shape[axis] = 0
	for _, t := range ts {
		if len(t.shape) != len(first) {
			return nil, shapeErr("Concat", "%v and %v along axis %d: ranks differ", first, t.shape, axis)
		}
		for i := range first {
			if i != axis && t.shape[i] != first[i] {
				return nil, shapeErr("Concat", "%v and %v along axis %d: dimension %d differs", first, t.shape, axis, i)
			}
		}
		shape[axis] += t.shape[axis]
	}
	out, err := New(shape...)
	if err != nil {
		return nil, err
	}
	// outer: product of dims before axis; inner: product after.
	outer, inner := 1, 1
	for _, d := range shape[:axis] {
		outer *= d
	}
	for _, d := range shape[axis+1:] {
		inner *= d
	}
	pos := 0
	for o := range outer {
		for _, t := range ts {
			n := t.shape[axis] * inner
			copy(out.data[pos:pos+n], t.data[o*n:(o+1)*n])
			pos += n
		}
	}
	return out, nil
}

// ConcatRows joins tensors along their first axis.
func ConcatRows(ts ...*Tensor) (*Tensor, error) { return Concat(0, ts...) }

// Softmax applies softmax along the last axis of x, in place. With causal,
// row i of each trailing [rows, cols] matrix sees only columns j <= i+offset
// (offset is the number of cached earlier positions); the others become 0.
func Softmax(x *Tensor, causal bool, offset int) error {
	if len(x.shape) == 0 {
		return shapeErr("Softmax", "scalar %v has no axis", x.shape)
	}
	if offset < 0 {
		return fmt.Errorf("tensor: Softmax: negative offset %d", offset)
	}
	rows, cols := x.rowsCols()
	if rows == 0 || cols == 0 {
		return nil
	}
	if !causal {
		kernels.SoftmaxRows(x.data, rows, cols, false, 0)
		return nil
	}
	// The causal row index restarts for every matrix (e.g. every head).
	t := rows
	if len(x.shape) >= 2 {
		t = x.shape[len(x.shape)-2]
	}
	for b := 0; b < rows/t; b++ {
		kernels.SoftmaxRows(x.data[b*t*cols:(b+1)*t*cols], t, cols, true, offset)
	}
	return nil
}

// LayerNorm returns the layer normalisation of x over its last axis, with
// gain gamma and bias beta (both [n]) and eps added to the variance.
func LayerNorm(x, gamma, beta *Tensor, eps float32) (*Tensor, error) {
	out := &Tensor{shape: slices.Clone(x.shape), data: make([]float32, len(x.data))}
	if err := LayerNormInto(out, x, gamma, beta, eps); err != nil {
		return nil, err
	}
	return out, nil
}

// LayerNormInto is LayerNorm writing into dst (same shape as x; may be x).
func LayerNormInto(dst, x, gamma, beta *Tensor, eps float32) error {
	if len(x.shape) == 0 || len(gamma.shape) != 1 || !SameShape(gamma, beta) || gamma.shape[0] != x.shape[len(x.shape)-1] {
		return shapeErr("LayerNorm", "x %v, gamma %v, beta %v: gamma and beta must be [%s]", x.shape, gamma.shape, beta.shape, lastDim(x))
	}
	if !SameShape(dst, x) {
		return shapeErr("LayerNorm", "dst %v differs from x %v", dst.shape, x.shape)
	}
	rows, cols := x.rowsCols()
	if rows == 0 || cols == 0 {
		return nil
	}
	kernels.LayerNorm(dst.data, x.data, gamma.data, beta.data, rows, cols, eps)
	return nil
}

func lastDim(x *Tensor) string {
	if len(x.shape) == 0 {
		return "?"
	}
	return fmt.Sprint(x.shape[len(x.shape)-1])
}

// Gelu applies GPT-2's tanh-approximated GELU (gelu_new) to x in place.
func Gelu(x *Tensor) { kernels.GeluTanh(x.data, x.data) }

// GeluErf applies the exact (erf) GELU used by BERT to x in place.
func GeluErf(x *Tensor) { kernels.GeluErf(x.data, x.data) }

// opT marks a transposed operand in messages.
func opT(trans bool) string {
	if trans {
		return "ᵀ"
	}
	return ""
}
