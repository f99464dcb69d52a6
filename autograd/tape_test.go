package autograd

import (
	"math"
	"math/rand"
	"testing"
)

// mlp runs layernorm → matmul → gelu → matmul on x, recording each backward
// step on tape (which may be nil), and returns the output and the gradient
// buffer of x that the tape fills.
func mlp(tape *Tape, x, g, b, w1, w2 []float32, n, c, h int) (out, dout, dx []float32) {
	ln := make([]float32, n*c)
	mean, rstd := make([]float32, n), make([]float32, n)
	LayerNormForward(ln, mean, rstd, x, g, b, n, c, 1e-5)
	hid := make([]float32, n*h)
	MatmulForward(hid, ln, w1, nil, n, c, h)
	act := make([]float32, n*h)
	GeluTanhForward(act, hid)
	out = make([]float32, n*c)
	MatmulForward(out, act, w2, nil, n, h, c)

	dout = make([]float32, n*c)
	dact, dhid, dln := make([]float32, n*h), make([]float32, n*h), make([]float32, n*c)
	dx = make([]float32, n*c)
	tape.Record(func() { LayerNormBackward(dx, nil, nil, dln, x, g, mean, rstd, n, c) })
	tape.Record(func() { MatmulBackward(dln, nil, nil, dhid, ln, w1, n, c, h) })
	tape.Record(func() { GeluTanhBackward(dhid, hid, dact) })
	tape.Record(func() { MatmulBackward(dact, nil, nil, dout, act, w2, n, h, c) })
	return out, dout, dx
}

func TestTapeComposition(t *testing.T) {
	const n, c, h = 2, 6, 8
	r := rand.New(rand.NewSource(4))
	x, g, b := make([]float32, n*c), make([]float32, c), make([]float32, c)
	w1, w2 := make([]float32, c*h), make([]float32, h*c)
	for _, s := range [][]float32{x, g, b, w1, w2} {
		randFill(s, r, 1)
	}
	seed := make([]float32, n*c)
	randFill(seed, r, 1)

	var tape Tape
	_, dout, dx := mlp(&tape, x, g, b, w1, w2, n, c, h)
	if tape.Len() != 4 {
		t.Fatalf("tape recorded %d steps, want 4", tape.Len())
	}
	copy(dout, seed)
	tape.Backward()

	loss := func() float64 {
		out, _, _ := mlp(nil, x, g, b, w1, w2, n, c, h)
		var s float64
		for i, v := range out {
			s += float64(v) * float64(seed[i])
		}
		return s
	}
	const eps = 1e-2
	for j := range x {
		orig := x[j]
		x[j] = orig + eps
		lp := loss()
		x[j] = orig - eps
		lm := loss()
		x[j] = orig
		num := (lp - lm) / (2 * eps)
		if math.Abs(num-float64(dx[j])) > 2e-3+2e-2*math.Abs(num) {
			t.Errorf("dx[%d]: tape %g, numeric %g", j, dx[j], num)
		}
	}
	tape.Reset()
	if tape.Len() != 0 {
		t.Fatalf("Reset left %d steps", tape.Len())
	}
}

func TestNilTapeIsFree(t *testing.T) {
	var tape *Tape
	tape.Record(func() { t.Fatal("nil tape ran a step") })
	tape.Backward()
	tape.Reset()
	if tape.Len() != 0 {
		t.Fatal("nil tape has steps")
	}
	if a := testing.AllocsPerRun(100, func() { tape.Record(nil) }); a != 0 {
		t.Fatalf("nil tape Record allocates %v times", a)
	}
}
