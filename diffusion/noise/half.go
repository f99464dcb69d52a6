package noise

import (
	"math"

	"github.com/loupe-ml/loupe/safetensors"
)

// RandnFloat16 returns n standard-normal samples as IEEE binary16 bit
// patterns, equal to torch.randn(n, generator=g, dtype=torch.float16) on a
// CPU. This is the noise of diffusers' fp16 pipelines run with a CPU
// generator (randn_tensor draws in the pipeline's dtype, then moves the
// tensor to the GPU), as its reproducibility guide recommends.
//
// PyTorch has no vector kernel for float16: 16 or more values take the
// portable block path with float16 storage (uniforms of 11 bits, every
// intermediate rounded to float16, libm's logf and cosf/sinf), fewer take
// the element-wise float64 path rounded to float16.
func (g *Generator) RandnFloat16(n int) []uint16 {
	out := make([]uint16, n)
	if n < 16 {
		for i := range out {
			out[i] = toHalf(plusMean(float32(g.normal64())))
		}
		return out
	}
	for i := range out {
		out[i] = g.uniformHalf()
	}
	for i := 0; i+16 <= n; i += 16 {
		fill16Half((*[16]uint16)(out[i : i+16]))
	}
	if n%16 != 0 {
		tail := (*[16]uint16)(out[n-16:])
		for i := range tail {
			tail[i] = g.uniformHalf()
		}
		fill16Half(tail)
	}
	return out
}

// uniformHalf is uniform_real_distribution<Half>(0, 1): the low 11 bits of
// one draw times 2⁻¹¹ (exact in binary16).
func (g *Generator) uniformHalf() uint16 {
	return toHalf(float32(g.mt.next()&(1<<11-1)) * (1.0 / (1 << 11)))
}

func toHalf(f float32) uint16   { return safetensors.Float32ToHalf(f) }
func fromHalf(h uint16) float32 { return safetensors.HalfToFloat32(h) }

// fill16Half is normal_fill_16<c10::Half> with mean 0 and std 1: each
// named intermediate is stored as Half, the arithmetic between them is
// float (c10::Half's operators), θ is computed in double.
func fill16Half(d *[16]uint16) {
	for j := range 8 {
		u1 := toHalf(1 - fromHalf(d[j]))
		u2 := fromHalf(d[j+8])
		radius := toHalf(float32(math.Sqrt(float64(-2 * float32(math.Log(float64(fromHalf(u1))))))))
		theta := toHalf(float32(2 * float64(float32(2)) / 2 * math.Pi * float64(u2)))
		th := float64(fromHalf(theta))
		r := fromHalf(radius)
		d[j] = toHalf(plusMean(r * float32(math.Cos(th))))
		d[j+8] = toHalf(plusMean(r * float32(math.Sin(th))))
	}
}

// plusMean adds the mean 0 as PyTorch's "… * std + mean" does, which
// turns −0 into +0.
func plusMean(x float32) float32 {
	if x == 0 {
		return 0
	}
	return x
}
