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
