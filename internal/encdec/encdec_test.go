package encdec

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// rnd fills n values from a small deterministic generator.
func rnd(n int, seed uint32) []float32 {
	out := make([]float32, n)
	for i := range out {
		seed = seed*1664525 + 1013904223
		out[i] = float32(seed>>8)/float32(1<<24) - 0.5
	}
	return out
}

// naiveAttention computes one head of one query the textbook way.
func naiveAttention(q, k, v []float32, keys, stride, off, hs int, scale float32, bias func(t int) float32) []float32 {
	s := make([]float64, keys)
	mx := math.Inf(-1)
	for t := range keys {
		d := 0.0
		for i := range hs {
			d += float64(q[i]) * float64(k[t*stride+off+i])
		}
		s[t] = float64(scale)*d + float64(bias(t))
		mx = max(mx, s[t])
	}
	sum := 0.0
	for t := range s {
		s[t] = math.Exp(s[t] - mx)
		sum += s[t]
	}
	o := make([]float32, hs)
	for t := range keys {
		for i := range hs {
			o[i] += float32(s[t] / sum * float64(v[t*stride+off+i]))
		}
	}
	return o
}

// TestAttention checks the job against naiveAttention for causal and
// bidirectional attention, with and without a position bias and scale,
// over segments short (one query at a time) and long (matrix products).
func TestAttention(t *testing.T) {
	const nh, hs = 3, 5
	I := nh * hs
	for _, tc := range []struct {
		name   string
		causal bool
		bias   bool
		scale  float32
		lens   []int // new tokens per segment
		pos0   []int // cached positions before them
	}{
		{"cross short", false, false, 0.5, []int{1, 2}, []int{0, 0}},
		{"cross long", false, false, 1, []int{6, 9}, []int{0, 0}},
		{"causal short cached", true, false, 0.4, []int{1, 3}, []int{4, 7}},
		{"causal long", true, false, 1, []int{8, 5}, []int{0, 2}},
		{"causal bias", true, true, 1, []int{1, 6}, []int{5, 3}},
		{"bidirectional bias", false, true, 1, []int{7, 2}, []int{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var segs []Segment
			rows, probs := 0, 0
			for i, n := range tc.lens {
				ctx := 11 // cross / bidirectional: keys attended
				if tc.causal {
					ctx = tc.pos0[i] + n
				} else if tc.bias {
					ctx = n
				}
				g := Segment{Seq: i, Toks: make([]int, n), Row: rows, Pos0: tc.pos0[i], Ctx: ctx,
					K: rnd(ctx*I, uint32(10+i)), V: rnd(ctx*I, uint32(20+i))}
				segs = append(segs, g)
				rows += n
				probs += nh * n * ctx
			}
			const span = 16
			var b Bias
			if tc.bias {
				W, ctr := span, 0
				if !tc.causal {
					W, ctr = 2*span-1, span-1
				}
				b = Bias{Table: rnd(nh*W, 7), Width: W, Center: ctr}
			}
			q := rnd(rows*I, 3)
			j := &Attention{Segs: segs, Heads: nh, HeadDim: hs, Stride: I, Scale: tc.scale, Q: q, LDQ: I,
				Causal: tc.causal, Bias: b, Probs: make([]float32, probs), Out: make([]float32, rows*I)}
			j.Run()
			for _, g := range segs {
				for i := range g.Toks {
					r, p := g.Row+i, g.Pos0+i
					keys := g.Ctx
					if tc.causal {
						keys = p + 1
					}
					for h := range nh {
						bias := func(t int) float32 {
							switch {
							case !tc.bias:
								return 0
							case tc.causal:
								return b.Table[h*b.Width+p-t]
							}
							return b.Table[h*b.Width+b.Center+t-p]
						}
						want := naiveAttention(q[r*I+h*hs:], g.K, g.V, keys, I, h*hs, hs, tc.scale, bias)
						got := j.Out[r*I+h*hs : r*I+(h+1)*hs]
						for x := range want {
							if math.Abs(float64(got[x]-want[x])) > 1e-5 {
								t.Fatalf("segment %d query %d head %d: %v, want %v", g.Seq, i, h, got, want)
							}
						}
					}
				}
			}
		})
	}
}

func TestLinear(t *testing.T) {
	src, W, bias := rnd(2*3, 1), rnd(4*3, 2), rnd(4, 3)
	for _, withBias := range []bool{false, true} {
		dst := rnd(2*4, 9) // stale values must not leak into the result
		var bs []float32
		if withBias {
			bs = bias
		}
		Linear(dst, src, 2, 3, 4, W, bs)
		for r := range 2 {
			for o := range 4 {
				want := float32(0)
				if withBias {
					want = bias[o]
				}
				for i := range 3 {
					want += src[r*3+i] * W[o*3+i]
				}
				if math.Abs(float64(dst[r*4+o]-want)) > 1e-6 {
					t.Errorf("bias %v: dst[%d][%d] = %g, want %g", withBias, r, o, dst[r*4+o], want)
				}
			}
		}
	}
}

func TestActivate(t *testing.T) {
	for _, tc := range []struct {
		act  string
		x    float32
		want float64
	}{
		{"relu", -2, 0}, {"relu", 1.5, 1.5},
		{"silu", 1, 1 / (1 + math.Exp(-1))}, {"silu", -3, -3 / (1 + math.Exp(3))},
		{"gelu", 1, 0.5 * (1 + math.Erf(1/math.Sqrt2))},
	} {
		x := []float32{tc.x}
		Activate(tc.act, x)
		if math.Abs(float64(x[0])-tc.want) > 1e-6 {
			t.Errorf("%s(%g) = %g, want %g", tc.act, tc.x, x[0], tc.want)
		}
	}
	long := rnd(parallelPointwise+5, 4) // split across threads
	want := append([]float32(nil), long...)
	relu(want)
	Activate("relu", long)
	for i := range long {
		if long[i] != want[i] {
			t.Fatalf("relu of a long slice differs at %d", i)
		}
	}
}

func TestPackSources(t *testing.T) {
	errCtx := errors.New("too long")
	segs, rows, probs, err := PackSources("m", errCtx, [][]int{{1, 2, 3}, {4}}, 5, 10, 2)
	if err != nil || rows != 4 || probs != 2*9+2*1 || segs[1].Row != 3 || segs[1].Ctx != 1 {
		t.Fatalf("PackSources: %+v rows %d probs %d err %v", segs, rows, probs, err)
	}
	x := rnd(rows*2, 5)
	parts := SplitRows(x, segs, 2)
	if len(parts[0]) != 6 || cap(parts[0]) != 6 || &parts[1][0] != &x[6] {
		t.Errorf("SplitRows: lengths %d %d", len(parts[0]), len(parts[1]))
	}
	for _, tc := range []struct {
		src    [][]int
		maxLen int
		want   string
	}{
		{nil, 0, "m: Encode: no sources"},
		{[][]int{{1}, {}}, 0, "source 1 is empty"},
		{[][]int{{1, 2, 3}}, 2, "more than max_position_embeddings 2"},
		{[][]int{{1, 10}}, 0, "token id 10 out of range [0, 10)"},
		{[][]int{{-1}}, 0, "token id -1"},
	} {
		_, _, _, err := PackSources("m", errCtx, tc.src, tc.maxLen, 10, 2)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.src, err, tc.want)
		}
		if tc.maxLen > 0 && !errors.Is(err, errCtx) {
			t.Errorf("%v: %v does not wrap the context error", tc.src, err)
		}
	}
	if _, _, _, err := PackSources("m", errCtx, [][]int{{1, 2, 3}}, 0, 10, 2); err != nil {
		t.Errorf("maxLen 0 (no limit): %v", err)
	}
}

// TestSeedStacks: the layout of a batched backward pass, and errors
// naming the package for bad seeds or logit gradients.
func TestSeedStacks(t *testing.T) {
	dst, est, err := SeedStacks("m", []int{2, 0}, make([]float32, 2*5), 4, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dst.Lens, []int{3, 1}) || !slices.Equal(dst.Off, []int{0, 3}) || dst.Rows != 4 {
		t.Errorf("decoder stack %+v", dst)
	}
	if !slices.Equal(est.Lens, []int{3, 3}) || !slices.Equal(est.Off, []int{0, 3}) || est.Rows != 6 {
		t.Errorf("encoder stack %+v", est)
	}
	for _, c := range []struct {
		seeds []int
		n     int
		want  string
	}{
		{nil, 0, "m: Backward: no target positions"},
		{[]int{4}, 5, "target position 4 (seed 0) outside the pass's 4 positions"},
		{[]int{1}, 10, "2 rows of logit gradients for 1 target positions"},
		{[]int{1}, 7, "m: Backward: 7 logit gradients, want 1 positions × 5"},
	} {
		if _, _, err := SeedStacks("m", c.seeds, make([]float32, c.n), 4, 3, 5); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("seeds %v, %d gradients: error %v, want %q", c.seeds, c.n, err, c.want)
		}
	}
}
