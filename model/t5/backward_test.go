package t5

import (
	"path/filepath"
	"testing"

	"github.com/loupe-ml/loupe/internal/goldentest"
)

// TestForwardPass checks the differentiable pass's logits against the
// inference pass's (Forward: encoder, cached decoder).
func TestForwardPass(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"t5", "t5v11", "t5grelu", "t5gelu"} {
		t.Run(name, func(t *testing.T) {
			goldentest.CheckForwardPass(t, g, name, underTest(randomModel(t, g, name)), tol)
		})
	}
}

// TestBackwardFiniteDifferences checks a few input gradients of one
// logit against central differences of the float32 pass.
func TestBackwardFiniteDifferences(t *testing.T) {
	g := openGolden(t, filepath.Join("testdata", "golden.safetensors"))
	for _, name := range []string{"t5", "t5v11", "t5grelu", "t5gelu"} {
		t.Run(name, func(t *testing.T) {
			goldentest.CheckBackward(t, g, name, underTest(randomModel(t, g, name)))
		})
	}
}
