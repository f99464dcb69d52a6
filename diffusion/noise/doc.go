// Package noise draws the random numbers Stable Diffusion pipelines start
// from, bit for bit as PyTorch does on a CPU, so that a seed gives loupe the
// same initial latents (and the same ancestral-sampler noise) as diffusers.
//
// The simplest use draws the initial latents of a 512×512 image:
//
//	g := noise.NewGenerator(42)        // torch.Generator().manual_seed(42)
//	x := g.Randn(1 * 4 * 64 * 64)      // torch.randn([1,4,64,64], generator=g)
//
// # What PyTorch does
//
// A CPU torch.Generator is a 32-bit Mersenne Twister (mt19937) initialised
// from the low 32 bits of the seed with the reference init_genrand
// recurrence. One 32-bit draw is a float32 uniform in [0, 1) from its low 24
// bits; a float64 uniform takes the low 53 bits of a 64-bit value built from
// two draws, the first in the high half.
//
// torch.randn on a contiguous float32 tensor of at least 16 elements first
// fills every element with a float32 uniform, then turns each block of 16
// in place into normals by Box–Muller over the pairs (j, j+8); when the size
// is not a multiple of 16, the last 16 elements are drawn again from fresh
// uniforms and transformed once more. Smaller tensors take an element-wise
// path: float64 Box–Muller that yields a pair, returning the cosine sample
// and caching the sine sample in the generator for the next element (a
// cache that manual_seed clears and the block path neither reads nor
// writes).
//
// The block transform depends on the CPU kernel PyTorch picked at start-up.
// On x86 machines with AVX2 (every current PC and server) it is
// normal_fill_16_AVX2: float32 arithmetic with the Cephes-derived log and
// sincos polynomials of avx_mathfun.h, compiled with fused multiply-adds.
// PyTorch built without AVX2 kernels, ATEN_CPU_CAPABILITY=default, and ARM
// machines (Apple silicon) use the scalar normal_fill_16 with the C library's
// logf/cosf/sinf instead. [PathAVX2] (the default) and [PathScalar] reproduce
// the two; they differ in the last bits of most samples.
//
// # Checked against
//
// The tests compare with goldens written by testdata/torch_randn.py (PyTorch
// 1.13.1, CPU capability AVX2 and default) over many shapes, seeds and
// successive calls on one generator, plus 150 random seeds and call
// sequences. (PyTorch's avx512 capability draws the same bits as AVX2.) The generator, the uniforms, the
// AVX2 block path and the element-wise path are bit-exact there. The scalar
// block path uses Go's math package in place of glibc's logf/cosf/sinf, so
// it can differ from PyTorch by one unit in the last place on rare elements;
// the tests bound how often.
//
// # Version caveats
//
// diffusers' randn_tensor draws CPU noise with torch.randn(shape,
// generator=g) and then moves it to the target device, so CPU-generated
// latents are device independent; noise drawn directly on CUDA or MPS uses
// other generators and is not reproduced here. Only PyTorch 1.13 ran here;
// other public reimplementations of this algorithm report parity with
// PyTorch 2.x, which loupe has not checked itself.
//
// float16 tensors (diffusers' fp16 pipelines draw their noise in float16
// on the CPU generator) take the portable kernel with float16 storage:
// [Generator.RandnFloat16], bit-exact against PyTorch 1.13 too. bfloat16
// tensors and non-contiguous outputs take other paths that this package
// does not cover.
package noise
