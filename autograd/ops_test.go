package autograd

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// gradCase describes one operation for the finite-difference check: its
// inputs (randomly filled), how to run it forward into a fresh output, and how
// to accumulate input gradients from an output gradient.
type gradCase struct {
	name    string
	inputs  []int // lengths of the differentiable inputs
	outLen  int
	forward func(in [][]float32) []float32
	// backward accumulates into d (same shapes as in) given dout.
	backward func(d, in [][]float32, dout []float32)
	init     func(in [][]float32, r *rand.Rand) // optional custom initialisation
}

func randFill(x []float32, r *rand.Rand, scale float32) {
	for i := range x {
		x[i] = float32(r.NormFloat64()) * scale
	}
}

func gradCases() []gradCase {
	const n, c, oc = 3, 5, 4
	ids := []int{2, 0, 2}
	var cases []gradCase
	cases = append(cases, gradCase{
		name: "embedding", inputs: []int{4 * c}, outLen: len(ids) * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, len(ids)*c)
			EmbeddingForward(out, in[0], ids, c)
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { EmbeddingBackward(d[0], dout, ids, c) },
	})
	cases = append(cases, gradCase{
		name: "add", inputs: []int{n * c, n * c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			AddForward(out, in[0], in[1])
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { AddBackward(d[0], d[1], dout) },
	})
	cases = append(cases, gradCase{
		name: "matmul", inputs: []int{n * c, c * oc, oc}, outLen: n * oc,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*oc)
			MatmulForward(out, in[0], in[1], in[2], n, c, oc)
			return out
		},
		backward: func(d, in [][]float32, dout []float32) {
			MatmulBackward(d[0], d[1], d[2], dout, in[0], in[1], n, c, oc)
		},
	})
	cases = append(cases, gradCase{
		name: "linear_t", inputs: []int{n * c, oc * c}, outLen: n * oc,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*oc)
			LinearTForward(out, in[0], in[1], n, c, oc)
			return out
		},
		backward: func(d, in [][]float32, dout []float32) {
			LinearTBackward(d[0], d[1], dout, in[0], in[1], n, c, oc)
		},
	})
	cases = append(cases, gradCase{
		name: "layernorm", inputs: []int{n * c, c, c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			LayerNormForward(out, make([]float32, n), make([]float32, n), in[0], in[1], in[2], n, c, 1e-5)
			return out
		},
		backward: func(d, in [][]float32, dout []float32) {
			out := make([]float32, n*c)
			mean, rstd := make([]float32, n), make([]float32, n)
			LayerNormForward(out, mean, rstd, in[0], in[1], in[2], n, c, 1e-5)
			LayerNormBackward(d[0], d[1], d[2], dout, in[0], in[1], mean, rstd, n, c)
		},
	})
	cases = append(cases, gradCase{
		name: "gelu_tanh", inputs: []int{n * c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			GeluTanhForward(out, in[0])
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { GeluTanhBackward(d[0], in[0], dout) },
		init:     func(in [][]float32, r *rand.Rand) { randFill(in[0], r, 2) },
	})
	cases = append(cases, gradCase{
		name: "gelu_erf", inputs: []int{n * c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			GeluErfForward(out, in[0])
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { GeluErfBackward(d[0], in[0], dout) },
		init:     func(in [][]float32, r *rand.Rand) { randFill(in[0], r, 2) },
	})
	for _, causal := range []bool{false, true} {
		cases = append(cases, gradCase{
			name: fmt.Sprintf("softmax_causal=%v", causal), inputs: []int{4 * 4}, outLen: 16,
			forward: func(in [][]float32) []float32 {
				out := make([]float32, 16)
				SoftmaxForward(out, in[0], 4, 4, causal, 0)
				return out
			},
			backward: func(d, in [][]float32, dout []float32) {
				out := make([]float32, 16)
				SoftmaxForward(out, in[0], 4, 4, causal, 0)
				SoftmaxBackward(d[0], out, dout, 4, 4)
			},
		})
	}
	cases = append(cases, gradCase{
		name: "slice_cols", inputs: []int{n * 3 * c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			SliceColsForward(out, in[0], n, 3*c, c, c)
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { SliceColsBackward(d[0], dout, n, 3*c, c, c) },
	})
	for _, tc := range []struct{ t, stride, c, nh int }{{4, 4, 6, 2}, {3, 5, 8, 1}, {5, 5, 12, 3}} {
		t, stride, c, nh := tc.t, tc.stride, tc.c, tc.nh
		cases = append(cases, gradCase{
			name: fmt.Sprintf("attention_t%d_s%d_c%d_nh%d", t, stride, c, nh), inputs: []int{t * 3 * c}, outLen: t * c,
			forward: func(in [][]float32) []float32 {
				out := make([]float32, t*c)
				AttentionForward(out, make([]float32, nh*stride*stride), in[0], t, stride, c, nh)
				return out
			},
			backward: func(d, in [][]float32, dout []float32) {
				out := make([]float32, t*c)
				att := make([]float32, nh*stride*stride)
				AttentionForward(out, att, in[0], t, stride, c, nh)
				AttentionBackward(d[0], dout, in[0], att, t, stride, c, nh)
			},
		})
	}
	return append(cases, encdecGradCases()...)
}

// checkGrad compares analytic gradients with central finite differences of
// L = Σ r⊙forward(in), accumulated in float64.
func checkGrad(t *testing.T, gc gradCase) {
	t.Helper()
	r := rand.New(rand.NewSource(1))
	in := make([][]float32, len(gc.inputs))
	for i, l := range gc.inputs {
		in[i] = make([]float32, l)
		randFill(in[i], r, 1)
	}
	if gc.init != nil {
		gc.init(in, r)
	}
	weights := make([]float32, gc.outLen)
	randFill(weights, r, 1)
	loss := func() float64 {
		out := gc.forward(in)
		var s float64
		for i, v := range out {
			s += float64(v) * float64(weights[i])
		}
		return s
	}
	d := make([][]float32, len(in))
	for i := range in {
		d[i] = make([]float32, len(in[i]))
	}
	gc.backward(d, in, weights)
	const h = 1e-2
	for k := range in {
		for j := range in[k] {
			orig := in[k][j]
			in[k][j] = orig + h
			lp := loss()
			in[k][j] = orig - h
			lm := loss()
			in[k][j] = orig
			num := (lp - lm) / (2 * h)
			got := float64(d[k][j])
			if diff := math.Abs(num - got); diff > 2e-3+2e-2*math.Abs(num) {
				t.Errorf("input %d[%d]: analytic %.6g, numeric %.6g", k, j, got, num)
			}
		}
	}
}

func TestGradients(t *testing.T) {
	for _, gc := range gradCases() {
		t.Run(gc.name, func(t *testing.T) { checkGrad(t, gc) })
	}
}

// TestBackwardAccumulates checks that backward functions add to, rather than
// overwrite, the gradients they are given.
func TestBackwardAccumulates(t *testing.T) {
	for _, gc := range gradCases() {
		r := rand.New(rand.NewSource(2))
		in := make([][]float32, len(gc.inputs))
		d1 := make([][]float32, len(gc.inputs))
		d2 := make([][]float32, len(gc.inputs))
		for i, l := range gc.inputs {
			in[i] = make([]float32, l)
			randFill(in[i], r, 1)
			d1[i] = make([]float32, l)
			d2[i] = make([]float32, l)
			for j := range d2[i] {
				d2[i][j] = 1
			}
		}
		dout := make([]float32, gc.outLen)
		randFill(dout, r, 1)
		gc.backward(d1, in, dout)
		gc.backward(d2, in, dout)
		for i := range d1 {
			for j := range d1[i] {
				if math.Abs(float64(d2[i][j]-1-d1[i][j])) > 1e-5 {
					t.Fatalf("%s: input %d[%d]: backward onto 1 gave %g, onto 0 gave %g", gc.name, i, j, d2[i][j], d1[i][j])
				}
			}
		}
	}
}

func TestAttentionMaskAndRows(t *testing.T) {
	const tt, c, nh = 4, 4, 2
	r := rand.New(rand.NewSource(3))
	qkv := make([]float32, tt*3*c)
	randFill(qkv, r, 1)
	att := make([]float32, nh*tt*tt)
	for i := range att {
		att[i] = 99
	}
	AttentionForward(make([]float32, tt*c), att, qkv, tt, tt, c, nh)
	for h := 0; h < nh; h++ {
		for i := 0; i < tt; i++ {
			var s float32
			for j := 0; j < tt; j++ {
				v := att[h*tt*tt+i*tt+j]
				if j > i && v != 0 {
					t.Fatalf("head %d row %d: masked column %d = %g", h, i, j, v)
				}
				s += v
			}
			if math.Abs(float64(s-1)) > 1e-5 {
				t.Fatalf("head %d row %d sums to %g", h, i, s)
			}
		}
	}
}

func TestEmbeddingBadIDPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for an id outside the table")
		}
	}()
	EmbeddingForward(make([]float32, 2), make([]float32, 4), []int{2}, 2)
}
