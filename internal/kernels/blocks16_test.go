package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestHalfLinearAllocs checks that the bf16 and f16 linears allocate
// nothing per call, including the partial last column block (n not a
// multiple of 16) that goes through a stack buffer.
func TestHalfLinearAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n, k = 100, 64
	w, bias := randMatrix(rng, n, k), randMatrix(rng, 1, n)
	bf, h := NewBF16Linear(w, bias, n, k), NewF16Linear(w, bias, n, k)
	for _, m := range []int{1, 4, 8, 13} {
		a, c := randMatrix(rng, m, k), make([]float32, m*n)
		for _, l := range []struct {
			name  string
			apply func()
		}{
			{"bf16", func() { bf.Apply(m, a, k, c, n) }},
			{"f16", func() { h.Apply(m, a, k, c, n) }},
		} {
			t.Run(fmt.Sprintf("%s/m%d", l.name, m), func(t *testing.T) {
				l.apply()
				if got := testing.AllocsPerRun(20, l.apply); got != 0 {
					t.Errorf("%v allocations per Apply, want 0", got)
				}
			})
		}
	}
}
