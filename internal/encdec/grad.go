package encdec

import (
	"fmt"

	"github.com/loupe-ml/loupe/autograd"
)

// ActivationGrad returns the autograd forward and backward pair of the
// activation Activate applies: "gelu" (erf form), "gelu_new" (tanh form),
// "relu" or "silu". The differentiable passes of model/bart and model/t5
// (saliency) use it.
func ActivationGrad(act string) (fwd func(out, in []float32), bwd func(din, in, dout []float32)) {
	switch act {
	case "gelu":
		return autograd.GeluErfForward, autograd.GeluErfBackward
	case "gelu_new":
		return autograd.GeluTanhForward, autograd.GeluTanhBackward
	case "relu":
		return autograd.ReluForward, autograd.ReluBackward
	default: // "silu" (configs are checked when parsed)
		return autograd.SiluForward, autograd.SiluBackward
	}
}

// SeedRows checks the target positions a backward pass starts from (each in
// [0, T), at least one) and returns an error naming pkg otherwise.
func SeedRows(pkg string, seeds []int, T, logitRows int) error {
	if len(seeds) == 0 {
		return fmt.Errorf("%s: Backward: no target positions", pkg)
	}
	for i, s := range seeds {
		if s < 0 || s >= T {
			return fmt.Errorf("%s: Backward: target position %d (seed %d) outside the pass's %d positions", pkg, s, i, T)
		}
	}
	if logitRows != len(seeds) {
		return fmt.Errorf("%s: Backward: %d rows of logit gradients for %d target positions", pkg, logitRows, len(seeds))
	}
	return nil
}

// SeedStacks checks the seeds and logit gradients of a Backward call
// (SeedRows; dlogits is one row of V per seed) over a pass of T target and
// S source positions, and lays its rows out: dst stacks each seed's target
// positions up to and including it, est each seed's S source positions.
// Errors name pkg.
func SeedStacks(pkg string, seeds []int, dlogits []float32, T, S, V int) (dst, est Stack, err error) {
	G := len(seeds)
	if err := SeedRows(pkg, seeds, T, len(dlogits)/max(V, 1)); err != nil {
		return Stack{}, Stack{}, err
	}
	if len(dlogits) != G*V {
		return Stack{}, Stack{}, fmt.Errorf("%s: Backward: %d logit gradients, want %d positions × %d", pkg, len(dlogits), G, V)
	}
	lens := make([]int, G)
	for g, r := range seeds {
		lens[g] = r + 1
	}
	return NewStack(lens), UniformStack(G, S), nil
}

// Stack is the row layout of a batched backward pass: seed g's Lens[g]
// rows (the first Lens[g] positions of the forward pass) are stacked from
// row Off[g]; Rows is the total. A decoder seed at target position i needs
// only the first i+1 positions (the decoder is causal); an encoder seed
// needs every source position.
type Stack struct {
	Lens, Off []int
	Rows      int
}

// NewStack stacks seeds of the given lengths.
func NewStack(lens []int) Stack {
	s := Stack{Lens: lens, Off: make([]int, len(lens))}
	for g, n := range lens {
		s.Off[g] = s.Rows
		s.Rows += n
	}
	return s
}

// UniformStack stacks G seeds of n rows each.
func UniformStack(G, n int) Stack {
	lens := make([]int, G)
	for g := range lens {
		lens[g] = n
	}
	return NewStack(lens)
}

// Seed returns seed g's rows of x, a stacked buffer of width w.
func (s Stack) Seed(x []float32, g, w int) []float32 {
	return x[s.Off[g]*w : (s.Off[g]+s.Lens[g])*w]
}

// Spread returns x's seeds laid out n rows apart ([len(Lens)·n, w]), the
// rows past each seed's length zero.
func (s Stack) Spread(x []float32, n, w int) []float32 {
	out := make([]float32, len(s.Lens)*n*w)
	for g := range s.Lens {
		copy(out[g*n*w:], s.Seed(x, g, w))
	}
	return out
}
