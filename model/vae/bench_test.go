package vae

import (
	"strconv"
	"testing"

	"github.com/loupe-ml/loupe/diffusion/noise"
)

// randomModel draws an SD-sized VAE (DefaultConfig) with small random
// weights: for timing only.
func randomModel(b *testing.B) *Model {
	b.Helper()
	cfg := DefaultConfig()
	src := mapSource{shapes: map[string][]int{}, values: map[string][]float32{}}
	g := noise.NewGenerator(1)
	for name, shape := range expectedTensors(cfg) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		x := g.Randn(n)
		for i := range x {
			x[i] *= 0.02
		}
		src.shapes[name], src.values[name] = shape, x
	}
	m, err := FromSource(cfg, src)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// expectedTensors lists diffusers' AutoencoderKL tensors for cfg.
func expectedTensors(cfg Config) map[string][]int {
	t := map[string][]int{}
	conv := func(p string, in, out, k int) { t[p+".weight"], t[p+".bias"] = []int{out, in, k, k}, []int{out} }
	norm := func(p string, c int) { t[p+".weight"], t[p+".bias"] = []int{c}, []int{c} }
	resnet := func(p string, in, out int) {
		norm(p+".norm1", in)
		conv(p+".conv1", in, out, 3)
		norm(p+".norm2", out)
		conv(p+".conv2", out, out, 3)
		if in != out {
			conv(p+".conv_shortcut", in, out, 1)
		}
	}
	mid := func(p string, c int) {
		resnet(p+".resnets.0", c, c)
		norm(p+".attentions.0.group_norm", c)
		for _, n := range []string{"to_q", "to_k", "to_v", "to_out.0"} {
			t[p+".attentions.0."+n+".weight"], t[p+".attentions.0."+n+".bias"] = []int{c, c}, []int{c}
		}
		resnet(p+".resnets.1", c, c)
	}
	boc, L, lat := cfg.BlockOutChannels, cfg.LayersPerBlock, cfg.LatentChannels
	n := len(boc)
	conv("encoder.conv_in", cfg.InChannels, boc[0], 3)
	out := boc[0]
	for i := range n {
		in := out
		out = boc[i]
		for j := range L {
			c := out
			if j == 0 {
				c = in
			}
			resnet(bname("encoder.down_blocks", i, j), c, out)
		}
		if i != n-1 {
			conv(bname("encoder.down_blocks", i, -1)+".downsamplers.0.conv", out, out, 3)
		}
	}
	mid("encoder.mid_block", boc[n-1])
	norm("encoder.conv_norm_out", boc[n-1])
	conv("encoder.conv_out", boc[n-1], 2*lat, 3)
	conv("quant_conv", 2*lat, 2*lat, 1)
	conv("post_quant_conv", lat, lat, 1)
	conv("decoder.conv_in", lat, boc[n-1], 3)
	mid("decoder.mid_block", boc[n-1])
	out = boc[n-1]
	for i := range n {
		in := out
		out = boc[n-1-i]
		for j := range L + 1 {
			c := out
			if j == 0 {
				c = in
			}
			resnet(bname("decoder.up_blocks", i, j), c, out)
		}
		if i != n-1 {
			conv(bname("decoder.up_blocks", i, -1)+".upsamplers.0.conv", out, out, 3)
		}
	}
	norm("decoder.conv_norm_out", boc[0])
	conv("decoder.conv_out", boc[0], cfg.OutChannels, 3)
	return t
}

func bname(p string, i, j int) string {
	s := p + "." + itoa(i)
	if j >= 0 {
		s += ".resnets." + itoa(j)
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

// BenchmarkDecode256 decodes one 32×32 latent to a 256×256 image with
// SD's VAE geometry (random weights).
func BenchmarkDecode256(b *testing.B) {
	m := randomModel(b)
	z := noise.NewGenerator(2).Randn(4 * 32 * 32)
	b.ResetTimer()
	for range b.N {
		if _, err := m.Decode(z, 1, 32, 32); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode128 decodes one 16×16 latent to a 128×128 image.
func BenchmarkDecode128(b *testing.B) {
	m := randomModel(b)
	z := noise.NewGenerator(2).Randn(4 * 16 * 16)
	b.ResetTimer()
	for range b.N {
		if _, err := m.Decode(z, 1, 16, 16); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode512 decodes one 64×64 latent to a 512×512 image, Stable
// Diffusion's own size (minutes on two cores; run with -benchtime 1x).
func BenchmarkDecode512(b *testing.B) {
	m := randomModel(b)
	z := noise.NewGenerator(2).Randn(4 * 64 * 64)
	b.ResetTimer()
	for range b.N {
		if _, err := m.Decode(z, 1, 64, 64); err != nil {
			b.Fatal(err)
		}
	}
}
