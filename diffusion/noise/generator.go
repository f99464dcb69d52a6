package noise

import (
	"fmt"
	"math"
)

// Path selects which of PyTorch's float32 normal kernels [Generator.Randn]
// reproduces for tensors of 16 or more elements.
type Path int

const (
	// PathAVX2 is normal_fill_16_AVX2, the kernel PyTorch runs on x86 CPUs
	// with AVX2: float32 Box–Muller with avx_mathfun's log and sincos.
	PathAVX2 Path = iota
	// PathScalar is the portable normal_fill_16 (PyTorch on ARM, or with
	// ATEN_CPU_CAPABILITY=default): float32 Box–Muller with libm.
	PathScalar
)

// String returns the path's name as ParsePath accepts it.
func (p Path) String() string {
	switch p {
	case PathAVX2:
		return "avx2"
	case PathScalar:
		return "scalar"
	}
	return fmt.Sprintf("Path(%d)", int(p))
}

// ParsePath parses "avx2" or "scalar" (the empty string means avx2).
func ParsePath(s string) (Path, error) {
	switch s {
	case "", "avx2":
		return PathAVX2, nil
	case "scalar", "default":
		return PathScalar, nil
	}
	return 0, fmt.Errorf("noise: unknown normal path %q (want avx2 or scalar)", s)
}

// Generator is a CPU torch.Generator: a Mersenne Twister plus the cached
// second sample of the element-wise normal path. The zero value is not
// ready; use NewGenerator. A Generator is not safe for concurrent use.
type Generator struct {
	// Path is the block kernel Randn imitates; PathAVX2 unless set.
	Path Path

	mt         mt19937
	seed       uint64
	nextNormal float64 // cached sine sample of the element-wise path
	hasNext    bool
}

// NewGenerator returns a generator seeded as torch.Generator().manual_seed(seed)
// (and as the global generator after torch.manual_seed(seed)).
func NewGenerator(seed uint64) *Generator {
	g := &Generator{}
	g.ManualSeed(seed)
	return g
}

// ManualSeed reseeds the generator and clears its cached normal sample.
// Only the low 32 bits of seed reach the Mersenne Twister, as in PyTorch;
// InitialSeed still reports the full value.
func (g *Generator) ManualSeed(seed uint64) {
	g.seed = seed
	g.mt.seed(seed)
	g.hasNext = false
	g.nextNormal = 0
}

// InitialSeed returns the seed last given to ManualSeed.
func (g *Generator) InitialSeed() uint64 { return g.seed }

// Uint32 returns the next 32-bit output of the Mersenne Twister
// (CPUGeneratorImpl::random).
func (g *Generator) Uint32() uint32 { return g.mt.next() }

// Uint64 returns the next 64-bit value, two draws with the first in the
// high half (CPUGeneratorImpl::random64).
func (g *Generator) Uint64() uint64 {
	hi := g.mt.next()
	lo := g.mt.next()
	return uint64(hi)<<32 | uint64(lo)
}

// Float32 returns a uniform float32 in [0, 1) from one draw
// (uniform_real_distribution<float>(0, 1)).
func (g *Generator) Float32() float32 {
	return float32(g.mt.next()&(1<<24-1)) * (1.0 / (1 << 24))
}

// Float64 returns a uniform float64 in [0, 1) from a 64-bit value
// (uniform_real_distribution<double>(0, 1)).
func (g *Generator) Float64() float64 {
	return float64(g.Uint64()&(1<<53-1)) * (1.0 / (1 << 53))
}

// Randn returns n standard-normal float32 samples, equal to
// torch.randn(n, generator=g) (any shape with n elements, contiguous).
func (g *Generator) Randn(n int) []float32 {
	out := make([]float32, n)
	g.RandnInto(out)
	return out
}

// RandnInto fills dst as torch.randn with dst's size would, advancing the
// generator by exactly as many draws as PyTorch does.
func (g *Generator) RandnInto(dst []float32) {
	n := len(dst)
	if n < 16 {
		for i := range dst {
			dst[i] = plusMean(float32(g.normal64()))
		}
		return
	}
	for i := range dst {
		dst[i] = g.Float32()
	}
	fill := g.fill16
	for i := 0; i+16 <= n; i += 16 {
		fill((*[16]float32)(dst[i : i+16]))
	}
	if n%16 != 0 {
		tail := (*[16]float32)(dst[n-16:])
		for i := range tail {
			tail[i] = g.Float32()
		}
		fill(tail)
	}
}

// fill16 turns 16 uniforms into 16 normals with the chosen kernel.
func (g *Generator) fill16(d *[16]float32) {
	if g.Path == PathScalar {
		fill16Scalar(d)
		return
	}
	fill16AVX2(d)
}

// normal64 is at::normal_distribution<double>(0, 1): Box–Muller on two
// float64 uniforms, returning r·cos θ and caching r·sin θ.
func (g *Generator) normal64() float64 {
	if g.hasNext {
		g.hasNext = false
		return g.nextNormal
	}
	u1 := g.Float64()
	u2 := g.Float64()
	r := math.Sqrt(-2 * math.Log1p(-u2))
	theta := 2 * math.Pi * u1
	g.nextNormal = r * math.Sin(theta)
	g.hasNext = true
	return r * math.Cos(theta)
}

// fill16Scalar is PyTorch's portable normal_fill_16 with mean 0 and std 1:
// radius and θ rounded to float32, libm's float32 log, cos and sin.
func fill16Scalar(d *[16]float32) {
	const twoPi = 2 * float64(float32(2)) / 2 * math.Pi // 2.0f * pi<double>
	for j := range 8 {
		u1 := 1 - d[j]
		u2 := d[j+8]
		radius := float32(math.Sqrt(float64(-2 * float32(math.Log(float64(u1))))))
		theta := float32(twoPi * float64(u2))
		c := float32(math.Cos(float64(theta)))
		s := float32(math.Sin(float64(theta)))
		d[j] = plusMean(radius * c)
		d[j+8] = plusMean(radius * s)
	}
}
