package kernels

import (
	"math/rand/v2"
	"testing"
)

// FuzzSgemm checks random shapes, transposes, paddings and scalars against
// the float64 reference on every kernel set.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(7), uint8(17), uint8(63), uint8(3), uint8(5), uint64(2))
	f.Add(uint8(13), uint8(70), uint8(11), uint8(1), uint8(0), uint64(3))
	f.Add(uint8(8), uint8(200), uint8(9), uint8(2), uint8(7), uint64(4))
	f.Fuzz(func(t *testing.T, m, n, k, flags, pad uint8, seed uint64) {
		tc := gemmCase{
			m: int(m%80) + 1, n: int(n) + 1, k: int(k%130) + 1,
			transA: flags&1 != 0, transB: flags&2 != 0,
			alpha: []float32{1, -0.5, 2, 0.25}[flags>>2&3],
			beta:  []float32{0, 1, 0.5, -2}[flags>>4&3],
			padA:  int(pad & 3), padB: int(pad >> 2 & 3), padC: int(pad >> 4 & 3),
		}
		saved := level
		defer func() { level = saved }()
		for _, l := range availableLevels() {
			level = l
			runGemmCase(t, rand.New(rand.NewPCG(seed, uint64(l))), tc)
		}
	})
}
