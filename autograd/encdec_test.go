package autograd

import (
	"fmt"
	"math/rand"
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
