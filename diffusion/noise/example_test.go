package noise_test

import (
	"fmt"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// The initial latents of a 512×512 Stable Diffusion image for seed 42,
// as torch.randn([1, 4, 64, 64], generator=torch.Generator().manual_seed(42))
// draws them on an x86 CPU.
func ExampleGenerator_Randn() {
	g := noise.NewGenerator(42)
	x := g.Randn(1 * 4 * 64 * 64)
	fmt.Printf("%.4f %.4f %.4f %.4f\n", x[0], x[1], x[2], x[3])
	y := g.Randn(3) // fewer than 16: the element-wise path
	fmt.Printf("%.4f %.4f %.4f\n", y[0], y[1], y[2])
	// Output:
	// 1.9269 1.4873 0.9007 -2.1055
	// 0.9835 0.6917 -0.1797
}
