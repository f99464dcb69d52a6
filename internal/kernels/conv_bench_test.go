package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// convBenchShape is one convolution of the Stable Diffusion 1.5 UNet at
// 512×512 (64×64 latents), batch 2 as under classifier-free guidance.
type convBenchShape struct {
	batch, h, w int
	g           ConvGeom
}

// Name is the shape as bench/conv.sh and bench/conv_torch.py print it:
// InC→OutC, kernel, stride, input size.
func (s convBenchShape) name() string {
	return fmt.Sprintf("%d-%dk%ds%d@%dx%d", s.g.InC, s.g.OutC, s.g.KH, s.g.Stride, s.h, s.w)
}

// flops counts 2·MACs of the convolution.
func (s convBenchShape) flops() float64 {
	oh, ow := s.g.OutSize(s.h, s.w)
	return 2 * float64(s.batch) * float64(s.g.OutC*oh*ow) * float64(s.g.InC*s.g.KH*s.g.KW)
}

func conv3(in, out, hw, stride int) convBenchShape {
	return convBenchShape{2, hw, hw, ConvGeom{InC: in, OutC: out, KH: 3, KW: 3, Stride: stride, Pad: 1}}
}

func conv1(in, out, hw int) convBenchShape {
	return convBenchShape{2, hw, hw, ConvGeom{InC: in, OutC: out, KH: 1, KW: 1, Stride: 1}}
}

// unetConvShapes are the UNet's convolutions (keep in step with
// bench/conv_torch.py).
var unetConvShapes = []convBenchShape{
	conv3(4, 320, 64, 1),     // conv_in
	conv3(320, 320, 64, 1),   // down 0 / up 3 resnets
	conv3(640, 640, 32, 1),   // down 1 / up 2
	conv3(1280, 1280, 16, 1), // down 2 / up 1
	conv3(1280, 1280, 8, 1),  // down 3, mid, up 0
	conv3(960, 320, 64, 1),   // up 3 first resnet (skip concat)
	conv3(320, 320, 64, 2),   // downsamplers
	conv3(640, 640, 32, 2),
	conv3(1280, 1280, 16, 2),
	conv1(320, 320, 64), // proj_in / proj_out
	conv1(960, 320, 64), // resnet shortcut
	conv1(1280, 1280, 16),
	conv3(320, 4, 64, 1), // conv_out
}

// BenchmarkConv2D times Conv2D at the UNet's shapes (LOUPE_CONV=winograd:
// with the Winograd path where it applies).
func BenchmarkConv2D(b *testing.B) {
	for _, s := range unetConvShapes {
		b.Run(s.name(), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			oh, ow := s.g.OutSize(s.h, s.w)
			src := randMatrix(rng, s.batch*s.g.InC, s.h*s.w)
			wt := randMatrix(rng, s.g.OutC, s.g.InC*s.g.KH*s.g.KW)
			bias := randMatrix(rng, 1, s.g.OutC)
			dst := make([]float32, s.batch*s.g.OutC*oh*ow)
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				Conv2D(dst, src, wt, bias, s.batch, s.h, s.w, s.g)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(s.flops()/sec/1e9, "GFLOP/s")
			if cpu := cpuSeconds() - cpu0; cpu > 0 {
				b.ReportMetric(s.flops()*float64(b.N)/cpu/1e9, "GFLOP/cpu-s")
			}
		})
	}
}

// unetGroupNormShapes are (channels, h·w) of the UNet's GroupNorms, batch 2.
var unetGroupNormShapes = [][2]int{{320, 64 * 64}, {640, 32 * 32}, {1280, 16 * 16}, {1280, 8 * 8}, {960, 64 * 64}}

func BenchmarkGroupNormSiLU(b *testing.B) {
	for _, s := range unetGroupNormShapes {
		b.Run(fmt.Sprintf("%dx%d", s[0], s[1]), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			src := randMatrix(rng, 2*s[0], s[1])
			gamma := randMatrix(rng, 1, s[0])
			beta := randMatrix(rng, 1, s[0])
			dst := make([]float32, len(src))
			b.ReportAllocs()
			for b.Loop() {
				GroupNorm(dst, src, gamma, beta, 2, s[0], s[1], 32, 1e-5, true)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(len(src))*8/sec/1e9, "GB/s")
		})
	}
}

// BenchmarkSgemmUNet times the UNet's matrix multiplies (batch 2 at 64×64
// latents: 8192 tokens), named M×K×N as BenchmarkSgemm: the transformer
// blocks' linears at 320 channels, GEGLU's 320→2·1280 and 1280→320, and one
// attention head's scores (QKᵀ, K = 40) and weighted sum over 4096 tokens.
func BenchmarkSgemmUNet(b *testing.B) {
	for _, s := range []struct{ m, k, n int }{
		{8192, 320, 320},
		{8192, 320, 2560},
		{8192, 1280, 320},
		{2048, 640, 640},
		{4096, 40, 4096},
		{4096, 4096, 40},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n), func(b *testing.B) { benchSgemm(b, s.m, s.n, s.k, false) })
	}
}
