package tensor

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

func randT(r *rand.Rand, shape ...int) *Tensor {
	t := MustNew(shape...)
	for i := range t.data {
		t.data[i] = float32(r.NormFloat64())
	}
	return t
}

// at returns element idx of a 2-D or 3-D tensor, with the last two axes
// swapped when trans is set.
func at(t *Tensor, trans bool, b, i, j int) float32 {
	if trans {
		i, j = j, i
	}
	d := len(t.shape)
	r, c := t.shape[d-2], t.shape[d-1]
	if d == 2 {
		b = 0
	}
	return t.data[b*r*c+i*c+j]
}

func naiveMatMul(a, b *Tensor, ta, tb bool, shape []int) []float32 {
	out := make([]float32, 0)
	batch := 1
	if len(shape) == 3 {
		batch = shape[0]
	}
	m, n := shape[len(shape)-2], shape[len(shape)-1]
	k := a.shape[len(a.shape)-1]
	if ta {
		k = a.shape[len(a.shape)-2]
	}
	for bi := range batch {
		for i := range m {
			for j := range n {
				var s float64
				for p := range k {
					s += float64(at(a, ta, bi, i, p)) * float64(at(b, tb, bi, p, j))
				}
				out = append(out, float32(s))
			}
		}
	}
	return out
}

func close32(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestMatMul(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	cases := []struct {
		a, b   []int
		ta, tb bool
		out    []int
	}{
		{[]int{2, 3}, []int{3, 4}, false, false, []int{2, 4}},
		{[]int{1, 7}, []int{7, 17}, false, false, []int{1, 17}},
		{[]int{3, 2}, []int{3, 4}, true, false, []int{2, 4}},
		{[]int{2, 3}, []int{4, 3}, false, true, []int{2, 4}},
		{[]int{3, 2}, []int{4, 3}, true, true, []int{2, 4}},
		{[]int{2, 5, 3}, []int{3, 4}, false, false, []int{2, 5, 4}},
		{[]int{2, 3, 5}, []int{3, 4}, true, false, []int{2, 5, 4}},
		{[]int{4, 5, 8}, []int{4, 6, 8}, false, true, []int{4, 5, 6}},  // attention scores q·kᵀ
		{[]int{4, 5, 6}, []int{4, 6, 8}, false, false, []int{4, 5, 8}}, // probs·v
		{[]int{3, 65, 63}, []int{3, 63, 17}, false, false, []int{3, 65, 17}},
		{[]int{0, 3}, []int{3, 4}, false, false, []int{0, 4}},
		{[]int{2, 0}, []int{0, 4}, false, false, []int{2, 4}},
	}
	for _, c := range cases {
		a, b := randT(r, c.a...), randT(r, c.b...)
		got, err := MatMul(a, b, c.ta, c.tb)
		if err != nil {
			t.Fatalf("MatMul(%v, %v, %v, %v): %v", c.a, c.b, c.ta, c.tb, err)
		}
		if !slices.Equal(got.Shape(), c.out) {
			t.Fatalf("MatMul(%v, %v) shape %v, want %v", c.a, c.b, got.Shape(), c.out)
		}
		close32(t, "MatMul", got.Data(), naiveMatMul(a, b, c.ta, c.tb, c.out), 1e-5)
	}
}

// TestMatMulSweep compares MatMul with the naive product over sizes that are
// not multiples of any vector width, every transpose combination and the
// three operand layouts.
func TestMatMulSweep(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	sizes := []int{1, 3, 7, 17, 63, 65}
	for trial := range 120 {
		m, n, k := sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		ta, tb := r.IntN(2) == 1, r.IntN(2) == 1
		layout := trial % 3 // 0: 2-D x 2-D, 1: 3-D x 2-D, 2: 3-D x 3-D
		batch := 1 + r.IntN(3)
		ash, bsh := []int{m, k}, []int{k, n}
		if ta {
			ash = []int{k, m}
		}
		if tb {
			bsh = []int{n, k}
		}
		out := []int{m, n}
		if layout >= 1 {
			ash = append([]int{batch}, ash...)
			out = []int{batch, m, n}
		}
		if layout == 2 {
			bsh = append([]int{batch}, bsh...)
		}
		a, b := randT(r, ash...), randT(r, bsh...)
		got, err := MatMul(a, b, ta, tb)
		if err != nil {
			t.Fatalf("MatMul(%v%s, %v%s): %v", ash, opT(ta), bsh, opT(tb), err)
		}
		close32(t, fmt.Sprintf("MatMul(%v%s, %v%s)", ash, opT(ta), bsh, opT(tb)), got.Data(), naiveMatMul(a, b, ta, tb, out), 1e-4)
	}
}

func TestMatMulInto(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	a, b := randT(r, 3, 4), randT(r, 4, 5)
	dst := randT(r, 3, 5)
	prev := slices.Clone(dst.data)
	if err := MatMulInto(dst, a, b, false, false, 2, 0.5); err != nil {
		t.Fatal(err)
	}
	want := naiveMatMul(a, b, false, false, []int{3, 5})
	for i := range want {
		want[i] = 2*want[i] + 0.5*prev[i]
	}
	close32(t, "MatMulInto", dst.data, want, 1e-5)
	if err := MatMulInto(MustNew(5, 3), a, b, false, false, 1, 0); err == nil || !strings.Contains(err.Error(), "gives [3 5], but dst is [5 3]") {
		t.Errorf("wrong dst: %v", err)
	}
	// MatMulInto adds no allocation to the kernel's own (if any).
	kernel := testing.AllocsPerRun(10, func() { kernels.Sgemm(false, false, 3, 5, 4, 1, a.data, 4, b.data, 5, 0, dst.data, 5) })
	allocs := testing.AllocsPerRun(10, func() { MatMulInto(dst, a, b, false, false, 1, 0) })
	if allocs > kernel {
		t.Errorf("MatMulInto allocates %v times, the kernel alone %v", allocs, kernel)
	}
}

func TestMatMulErrors(t *testing.T) {
	cases := []struct {
		a, b   []int
		ta, tb bool
		want   string
	}{
		{[]int{2, 3}, []int{4, 5}, false, false, "tensor: MatMul: [2 3] x [4 5]: inner dimensions 3 and 4 differ"},
		{[]int{2, 3}, []int{2, 5}, true, true, "tensor: MatMul: [2 3]ᵀ x [2 5]ᵀ: inner dimensions 2 and 5 differ"},
		{[]int{2, 3, 4}, []int{3, 4, 5}, false, false, "batch sizes 2 and 3 differ"},
		{[]int{3}, []int{3, 4}, false, false, "must be 2-D or 3-D"},
		{[]int{1, 2, 3, 4}, []int{4, 5}, false, false, "must be 2-D or 3-D"},
		{[]int{2, 3}, []int{2, 3, 4}, false, false, "a 2-D left operand needs a 2-D right operand"},
	}
	for _, c := range cases {
		_, err := MatMul(MustNew(c.a...), MustNew(c.b...), c.ta, c.tb)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrShape) {
			t.Errorf("MatMul(%v, %v): %v, want %q", c.a, c.b, err, c.want)
		}
		var se *ShapeError
		if !errors.As(err, &se) || se.Op != "MatMul" {
			t.Errorf("MatMul error is not a *ShapeError: %T", err)
		}
	}
}

func TestNewAndFromSlice(t *testing.T) {
	if _, err := New(2, -1); err == nil || !strings.Contains(err.Error(), "negative dimension") {
		t.Errorf("New(2, -1): %v", err)
	}
	if _, err := New(math.MaxInt/2, 3); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("New(huge): %v", err)
	}
	s, err := New()
	if err != nil || s.Len() != 1 || s.Dims() != 0 {
		t.Errorf("scalar: %v %v", s, err)
	}
	data := []float32{1, 2, 3, 4, 5, 6}
	x, err := FromSlice(data, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	data[0] = 9
	if x.Data()[0] != 9 {
		t.Error("FromSlice copied its input")
	}
	if x.Dim(-1) != 3 || x.Dim(0) != 2 {
		t.Errorf("Dim: %d %d", x.Dim(0), x.Dim(-1))
	}
	sh := x.Shape()
	sh[0] = 100
	if x.Dim(0) != 2 {
		t.Error("Shape() exposes internal storage")
	}
	if _, err := FromSlice(data, 4, 2); err == nil || !strings.Contains(err.Error(), "shape [4 2] needs 8 values, have 6") {
		t.Errorf("FromSlice mismatch: %v", err)
	}
	c := x.Clone()
	c.Data()[1] = -1
	if x.Data()[1] == -1 {
		t.Error("Clone shares data")
	}
	if got := x.String(); got != "Tensor[2 3][9 2 3 4 5 6]" {
		t.Errorf("String() = %q", got)
	}
}

func TestReshape(t *testing.T) {
	x := MustNew(2, 3, 4)
	cases := []struct {
		shape []int
		want  []int
		err   string
	}{
		{[]int{6, 4}, []int{6, 4}, ""},
		{[]int{-1, 4}, []int{6, 4}, ""},
		{[]int{2, -1}, []int{2, 12}, ""},
		{[]int{24}, []int{24}, ""},
		{[]int{5, 5}, nil, "[2 3 4] (24 values) to [5 5] (25 values)"},
		{[]int{-1, 5}, nil, "cannot infer"},
		{[]int{-1, -1}, nil, "bad dimension"},
		{[]int{-2, 12}, nil, "bad dimension"},
	}
	for _, c := range cases {
		y, err := x.Reshape(c.shape...)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Reshape(%v): %v, want %q", c.shape, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(y.Shape(), c.want) || &y.Data()[0] != &x.Data()[0] {
			t.Errorf("Reshape(%v) = %v, %v", c.shape, y, err)
		}
	}
}

func TestAddBias(t *testing.T) {
	x, _ := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b, _ := FromSlice([]float32{10, 20, 30}, 3)
	if err := AddBias(x, b); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Data(), []float32{11, 22, 33, 14, 25, 36}) {
		t.Errorf("AddBias = %v", x.Data())
	}
	for _, bad := range [][]int{{2}, {3, 1}, {4}} {
		if err := AddBias(x, MustNew(bad...)); err == nil || !strings.Contains(err.Error(), "AddBias: [2 3] + bias") {
			t.Errorf("AddBias with bias %v: %v", bad, err)
		}
	}
	y := MustNew(2, 3)
	if s, err := Add(x, y); err != nil || !slices.Equal(s.Data(), x.Data()) {
		t.Errorf("Add: %v %v", s, err)
	}
	if _, err := Add(x, MustNew(3, 2)); err == nil || !strings.Contains(err.Error(), "[2 3] + [3 2]") {
		t.Errorf("Add mismatch: %v", err)
	}
	if err := AddInPlace(y, x); err != nil || !slices.Equal(y.Data(), x.Data()) {
		t.Errorf("AddInPlace: %v", err)
	}
	if err := AddInPlace(y, MustNew(6)); err == nil {
		t.Error("AddInPlace accepted a shape mismatch")
	}
	Scale(y, 2)
	if y.Data()[0] != 22 {
		t.Errorf("Scale: %v", y.Data())
	}
}

func TestGather(t *testing.T) {
	table, _ := FromSlice([]float32{0, 1, 10, 11, 20, 21}, 3, 2)
	g, err := Gather(table, []int{2, 0, 2})
	if err != nil || !slices.Equal(g.Shape(), []int{3, 2}) || !slices.Equal(g.Data(), []float32{20, 21, 0, 1, 20, 21}) {
		t.Errorf("Gather = %v, %v", g, err)
	}
	for _, ids := range [][]int{{3}, {0, -1}} {
		if _, err := Gather(table, ids); err == nil || !strings.Contains(err.Error(), "outside the table's 3 rows") {
			t.Errorf("Gather(%v): %v", ids, err)
		}
	}
	if _, err := Gather(MustNew(6), []int{0}); err == nil {
		t.Error("Gather from a 1-D table succeeded")
	}
	if g, err := Gather(table, nil); err != nil || g.Len() != 0 {
		t.Errorf("Gather of no ids: %v %v", g, err)
	}
}

func TestTransposeLast2(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, shape := range [][]int{{2, 3}, {1, 1}, {4, 33, 65}, {3, 0, 2}, {2, 2, 1, 7}} {
		x := randT(r, shape...)
		y, err := TransposeLast2(x)
		if err != nil {
			t.Fatal(err)
		}
		d := len(shape)
		want := slices.Clone(shape)
		want[d-2], want[d-1] = want[d-1], want[d-2]
		if !slices.Equal(y.Shape(), want) {
			t.Fatalf("TransposeLast2(%v) shape %v", shape, y.Shape())
		}
		m, n := shape[d-2], shape[d-1]
		for i := range x.Len() {
			b, rem := 0, i
			if m*n > 0 {
				b, rem = i/(m*n), i%(m*n)
			}
			row, col := rem/max(n, 1), rem%max(n, 1)
			if y.data[b*m*n+col*m+row] != x.data[i] {
				t.Fatalf("TransposeLast2(%v): element %d misplaced", shape, i)
			}
		}
	}
	if _, err := TransposeLast2(MustNew(3)); err == nil {
		t.Error("TransposeLast2 of 1-D succeeded")
	}
}

func TestSplitLast(t *testing.T) {
	x, _ := FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 6)
	parts, err := SplitLast(x, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]float32{{1, 2, 7, 8}, {3, 4, 9, 10}, {5, 6, 11, 12}}
	for i, p := range parts {
		if !slices.Equal(p.Shape(), []int{2, 2}) || !slices.Equal(p.Data(), want[i]) {
			t.Errorf("part %d = %v", i, p)
		}
	}
	for _, n := range []int{0, 4, -1} {
		if _, err := SplitLast(x, n); err == nil || !strings.Contains(err.Error(), "[2 6] into") {
			t.Errorf("SplitLast(%d): %v", n, err)
		}
	}
}

func TestConcat(t *testing.T) {
	a, _ := FromSlice([]float32{1, 2, 3, 4}, 2, 2)
	b, _ := FromSlice([]float32{5, 6}, 1, 2)
	c, err := ConcatRows(a, b)
	if err != nil || !slices.Equal(c.Shape(), []int{3, 2}) || !slices.Equal(c.Data(), []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("ConcatRows = %v, %v", c, err)
	}
	// KV cache: [heads=2, T, d=2] + one new position per head.
	cache, _ := FromSlice([]float32{1, 1, 2, 2, 10, 10, 20, 20}, 2, 2, 2)
	step, _ := FromSlice([]float32{3, 3, 30, 30}, 2, 1, 2)
	kv, err := Concat(1, cache, step)
	if err != nil || !slices.Equal(kv.Shape(), []int{2, 3, 2}) ||
		!slices.Equal(kv.Data(), []float32{1, 1, 2, 2, 3, 3, 10, 10, 20, 20, 30, 30}) {
		t.Errorf("Concat(1) = %v, %v", kv, err)
	}
	last, err := Concat(-1, a, a)
	if err != nil || !slices.Equal(last.Data(), []float32{1, 2, 1, 2, 3, 4, 3, 4}) {
		t.Errorf("Concat(-1) = %v, %v", last, err)
	}
	bad := []struct {
		axis int
		ts   []*Tensor
		want string
	}{
		{0, nil, "no tensors"},
		{2, []*Tensor{a, b}, "axis out of range"},
		{1, []*Tensor{a, b}, "[2 2] and [1 2] along axis 1: dimension 0 differs"},
		{0, []*Tensor{a, MustNew(2)}, "ranks differ"},
	}
	for _, c := range bad {
		if _, err := Concat(c.axis, c.ts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Concat(%d): %v, want %q", c.axis, err, c.want)
		}
	}
}

func TestSoftmax(t *testing.T) {
	x, _ := FromSlice([]float32{1, 2, 3, 0, 0, 0}, 2, 3)
	if err := Softmax(x, false, 0); err != nil {
		t.Fatal(err)
	}
	e := []float64{math.Exp(1), math.Exp(2), math.Exp(3)}
	s := e[0] + e[1] + e[2]
	close32(t, "Softmax", x.Data(), []float32{float32(e[0] / s), float32(e[1] / s), float32(e[2] / s), 1. / 3, 1. / 3, 1. / 3}, 1e-6)

	// Causal over [heads=2, T=2, Tctx=3] with one cached position: the mask
	// restarts for every head.
	y := MustNew(2, 2, 3)
	if err := Softmax(y, true, 1); err != nil {
		t.Fatal(err)
	}
	want := []float32{0.5, 0.5, 0, 1. / 3, 1. / 3, 1. / 3, 0.5, 0.5, 0, 1. / 3, 1. / 3, 1. / 3}
	close32(t, "causal Softmax", y.Data(), want, 1e-6)
	if err := Softmax(MustNew(), false, 0); err == nil {
		t.Error("Softmax of a scalar succeeded")
	}
	if err := Softmax(y, true, -1); err == nil {
		t.Error("negative offset accepted")
	}
}

func TestLayerNormGelu(t *testing.T) {
	x, _ := FromSlice([]float32{1, 2, 3, 4, -1, 0, 1, 2}, 2, 4)
	g, _ := FromSlice([]float32{1, 1, 2, 2}, 4)
	b, _ := FromSlice([]float32{0, 0, 0, 1}, 4)
	y, err := LayerNorm(x, g, b, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	sd := math.Sqrt(1.25 + 1e-5)
	n := []float64{-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd}
	want := []float32{float32(n[0]), float32(n[1]), float32(2 * n[2]), float32(2*n[3] + 1)}
	close32(t, "LayerNorm", y.Data()[:4], want, 1e-5)
	close32(t, "LayerNorm", y.Data()[4:], want, 1e-5)
	if _, err := LayerNorm(x, MustNew(3), MustNew(3), 1e-5); err == nil || !strings.Contains(err.Error(), "must be [4]") {
		t.Errorf("LayerNorm mismatch: %v", err)
	}
	if err := LayerNormInto(MustNew(4, 2), x, g, b, 1e-5); err == nil {
		t.Error("LayerNormInto with a wrong dst succeeded")
	}
	if err := LayerNormInto(x, x, g, b, 1e-5); err != nil || x.Data()[3] != y.Data()[3] {
		t.Errorf("in-place LayerNorm: %v", err)
	}

	z, _ := FromSlice([]float32{-1, 0, 1, 3}, 4)
	Gelu(z)
	gelu := func(v float64) float64 { return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))) }
	close32(t, "Gelu", z.Data(), []float32{float32(gelu(-1)), 0, float32(gelu(1)), float32(gelu(3))}, 1e-5)
	w, _ := FromSlice([]float32{-1, 0, 1}, 3)
	GeluErf(w)
	erf := func(v float64) float32 { return float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2))) }
	close32(t, "GeluErf", w.Data(), []float32{erf(-1), 0, erf(1)}, 1e-5)
}

func BenchmarkMatMulLinear(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	x, w := randT(r, 64, 768), randT(r, 768, 768)
	dst := MustNew(64, 768)
	b.SetBytes(int64(4 * (x.Len() + w.Len())))
	for b.Loop() {
		MatMulInto(dst, x, w, false, false, 1, 0)
	}
	b.ReportMetric(2*64*768*768*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkAttentionScores(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	q, k := randT(r, 12, 128, 64), randT(r, 12, 128, 64)
	dst := MustNew(12, 128, 128)
	for b.Loop() {
		MatMulInto(dst, q, k, false, true, 0.125, 0)
		Softmax(dst, true, 0)
	}
}

func BenchmarkTransposeLast2(b *testing.B) {
	r := rand.New(rand.NewPCG(6, 6))
	x := randT(r, 12, 128, 64)
	b.SetBytes(int64(4 * x.Len()))
	for b.Loop() {
		TransposeLast2(x)
	}
}

func BenchmarkConcatKV(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	cache, step := randT(r, 12, 255, 64), randT(r, 12, 1, 64)
	for b.Loop() {
		Concat(1, cache, step)
	}
}
