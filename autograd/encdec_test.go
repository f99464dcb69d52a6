package autograd

import (
	"fmt"
	"math/rand"
	"testing"
)

// encdecGradCases are the finite-difference cases of the encoder-decoder
// operations (gradCases includes them).
func encdecGradCases() []gradCase {
	const n, c = 3, 5
	var cases []gradCase
	cases = append(cases, gradCase{
		name: "rmsnorm", inputs: []int{n * c, c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			RMSNormForward(out, make([]float32, n), in[0], in[1], n, c, 1e-6)
			return out
		},
		backward: func(d, in [][]float32, dout []float32) {
			out, rstd := make([]float32, n*c), make([]float32, n)
			RMSNormForward(out, rstd, in[0], in[1], n, c, 1e-6)
			RMSNormBackward(d[0], d[1], dout, in[0], in[1], rstd, n, c)
		},
	})
	cases = append(cases, gradCase{
		name: "relu", inputs: []int{n * c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			ReluForward(out, in[0])
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { ReluBackward(d[0], in[0], dout) },
		init: func(in [][]float32, r *rand.Rand) { // keep away from the kink
			for i := range in[0] {
				in[0][i] = float32(r.NormFloat64())
				if in[0][i] > -0.05 && in[0][i] < 0.05 {
					in[0][i] = 0.5
				}
			}
		},
	})
	cases = append(cases, gradCase{
		name: "silu", inputs: []int{n * c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			SiluForward(out, in[0])
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { SiluBackward(d[0], in[0], dout) },
		init:     func(in [][]float32, r *rand.Rand) { randFill(in[0], r, 2) },
	})
	cases = append(cases, gradCase{
		name: "mul", inputs: []int{n * c, n * c}, outLen: n * c,
		forward: func(in [][]float32) []float32 {
			out := make([]float32, n*c)
			MulForward(out, in[0], in[1])
			return out
		},
		backward: func(d, in [][]float32, dout []float32) { MulBackward(d[0], d[1], dout, in[0], in[1]) },
	})
	// Attention: bidirectional with a fused q,k,v buffer and a bias,
	// causal, and cross-attention of 3 queries over 5 keys with separate
	// buffers and a wider output stride.
	for _, tc := range []struct {
		tq, tk, nh, hs int
		causal, fused  bool
		bias           bool
	}{{4, 4, 2, 3, true, true, true}, {4, 4, 2, 3, false, true, false}, {4, 4, 3, 2, true, false, true}, {3, 5, 2, 4, false, false, false}} {
		I := tc.nh * tc.hs
		a := MHA{Tq: tc.tq, Tk: tc.tk, Heads: tc.nh, HeadDim: tc.hs, LDQ: I, LDK: I, LDV: I, LDO: I + 2, Scale: 0.7, Causal: tc.causal}
		if tc.bias {
			a.Bias = make([]float32, tc.nh*tc.tq*tc.tk)
			randFill(a.Bias, rand.New(rand.NewSource(5)), 1)
		}
		outLen := (tc.tq-1)*a.LDO + I
		split := func(in [][]float32) (q, k, v []float32) {
			if tc.fused {
				return in[0], in[0][I:], in[0][2*I:]
			}
			return in[0], in[1], in[2]
		}
		inputs := []int{tc.tq * I, tc.tk * I, tc.tk * I}
		if tc.fused {
			a.LDQ, a.LDK, a.LDV = 3*I, 3*I, 3*I
			inputs = []int{tc.tq * 3 * I}
		}
		cases = append(cases, gradCase{
			name: fmt.Sprintf("mha_q%d_k%d_nh%d_causal=%v_fused=%v_bias=%v", tc.tq, tc.tk, tc.nh, tc.causal, tc.fused, tc.bias), inputs: inputs, outLen: outLen,
			forward: func(in [][]float32) []float32 {
				out := make([]float32, outLen)
				q, k, v := split(in)
				a.Forward(out, make([]float32, tc.nh*tc.tq*tc.tk), q, k, v)
				return out
			},
			backward: func(d, in [][]float32, dout []float32) {
				out, att := make([]float32, outLen), make([]float32, tc.nh*tc.tq*tc.tk)
				q, k, v := split(in)
				a.Forward(out, att, q, k, v)
				dq, dk, dv := split(d)
				a.Backward(dq, dk, dv, dout, q, k, v, att)
			},
		})
	}
	return cases
}

// TestMHAPrefixLayout: the backward of the first n queries read from a
// longer pass's probabilities (LDA, HeadStride) equals the backward of a
// pass over those n queries alone, for causal self-attention and for
// cross-attention.
func TestMHAPrefixLayout(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	const T, S, nh, hs, n = 6, 5, 2, 3, 4
	I := nh * hs
	for _, causal := range []bool{true, false} {
		tk := S
		if causal {
			tk = T
		}
		q, k, v := make([]float32, T*I), make([]float32, tk*I), make([]float32, tk*I)
		for _, x := range [][]float32{q, k, v} {
			randFill(x, r, 1)
		}
		full := MHA{Tq: T, Tk: tk, Heads: nh, HeadDim: hs, LDQ: I, LDK: I, LDV: I, LDO: I, Scale: 0.5, Causal: causal}
		attFull := make([]float32, nh*T*tk)
		full.Forward(make([]float32, T*I), attFull, q, k, v)
		ntk := tk
		if causal {
			ntk = n
		}
		short := full
		short.Tq, short.Tk = n, ntk
		attShort := make([]float32, nh*n*ntk)
		short.Forward(make([]float32, n*I), attShort, q, k, v)
		dout := make([]float32, n*I)
		randFill(dout, r, 1)
		want := [3][]float32{make([]float32, n*I), make([]float32, ntk*I), make([]float32, ntk*I)}
		short.Backward(want[0], want[1], want[2], dout, q, k, v, attShort)
		pre := short
		pre.LDA, pre.HeadStride = tk, T*tk
		got := [3][]float32{make([]float32, n*I), make([]float32, ntk*I), make([]float32, ntk*I)}
		pre.Backward(got[0], got[1], got[2], dout, q, k, v, attFull)
		for x := range got {
			for i := range got[x] {
				if d := got[x][i] - want[x][i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("causal=%v: gradient %d[%d] = %g, want %g", causal, x, i, got[x][i], want[x][i])
				}
			}
		}
	}
}
