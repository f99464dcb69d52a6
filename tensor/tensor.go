package tensor

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// ErrShape matches every shape error (errors.Is(err, ErrShape)).
var ErrShape = errors.New("tensor: shape mismatch")

// ShapeError reports operands whose shapes do not fit an operation.
type ShapeError struct {
	Op  string // the operation, e.g. "MatMul"
	Msg string // the shapes and what was expected
}

// Error returns "tensor: Op: Msg".
func (e *ShapeError) Error() string { return "tensor: " + e.Op + ": " + e.Msg }

// Is reports whether target is ErrShape.
func (e *ShapeError) Is(target error) bool { return target == ErrShape }

// Tensor is a dense row-major float32 array.
type Tensor struct {
	shape []int
	data  []float32
}

func shapeErr(op, format string, args ...any) error {
	return &ShapeError{Op: op, Msg: fmt.Sprintf(format, args...)}
}

// fmtShape formats a shape as "[2 3]".
func fmtShape(s []int) string { return fmt.Sprint(s) }

// numel returns the number of elements of shape, or an error for a negative
// dimension or an overflowing product.
func numel(op string, shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, shapeErr(op, "negative dimension in %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, shapeErr(op, "shape %v is too large", shape)
		}
		n *= d
	}
	return n, nil
}

// New returns a zero-filled tensor of the given shape. A shape with no
// dimensions is a scalar (one element).
func New(shape ...int) (*Tensor, error) {
	n, err := numel("New", shape)
	if err != nil {
		return nil, err
	}
	return &Tensor{shape: slices.Clone(shape), data: make([]float32, n)}, nil
}

// FromSlice returns a tensor of the given shape over data, without copying:
// the tensor and the slice share memory. len(data) must equal the product of
// the shape.
func FromSlice(data []float32, shape ...int) (*Tensor, error) {
	n, err := numel("FromSlice", shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, shapeErr("FromSlice", "shape %v needs %d values, have %d", shape, n, len(data))
	}
	return &Tensor{shape: slices.Clone(shape), data: data}, nil
}

// MustNew is New for shapes known to be valid (constants in code); it panics
// on a bad shape.
func MustNew(shape ...int) *Tensor {
	t, err := New(shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// Dims returns the number of dimensions.
func (t *Tensor) Dims() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end
// (-1 is the last). It panics if i is out of range, like a slice index.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.data) }

// Data returns the underlying row-major slice (not a copy).
func (t *Tensor) Data() []float32 { return t.data }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: slices.Clone(t.shape), data: slices.Clone(t.data)}
}

// String describes the tensor briefly: its shape and first values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.shape)
	for i, v := range t.data {
		if i == 6 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g", v)
	}
	b.WriteByte(']')
	return b.String()
}

// Reshape returns a tensor with a new shape over the same data. One
// dimension may be -1, inferred from the others.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	shape = slices.Clone(shape)
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			return nil, shapeErr("Reshape", "%v to %v: bad dimension %d", t.shape, shape, d)
		default:
			if d != 0 && known > math.MaxInt/d {
				return nil, shapeErr("Reshape", "%v to %v: too large", t.shape, shape)
			}
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || len(t.data)%known != 0 {
			return nil, shapeErr("Reshape", "%v to %v: cannot infer the -1 dimension from %d values", t.shape, shape, len(t.data))
		}
		shape[infer] = len(t.data) / known
		known = len(t.data)
	}
	if known != len(t.data) {
		return nil, shapeErr("Reshape", "%v (%d values) to %v (%d values)", t.shape, len(t.data), shape, known)
	}
	return &Tensor{shape: shape, data: t.data}, nil
}

// SameShape reports whether a and b have equal shapes.
func SameShape(a, b *Tensor) bool { return slices.Equal(a.shape, b.shape) }

// rowsCols views t as a matrix: all leading dimensions times the last one.
func (t *Tensor) rowsCols() (rows, cols int) {
	if len(t.shape) == 0 {
		return 1, 1
	}
	rows = 1
	for _, d := range t.shape[:len(t.shape)-1] {
		rows *= d
	}
	return rows, t.shape[len(t.shape)-1]
}
