package unet

import (
	"path/filepath"
	"testing"
)

// BenchmarkUNetStep times one Forward of the tiny SD 1.x-style test model
// (block_out_channels 32, 64, 64) on 32×32 latents, batch 2 (guidance), 77
// tokens: the whole network at a small geometry. bench/diffusion.sh times
// SD 1.5's real geometry against PyTorch.
func BenchmarkUNetStep(b *testing.B) {
	c := readCase(b, filepath.Join("testdata", "sd1"))
	m, err := Load(writeUNet(b, c, "F32", "diffusion_pytorch_model.safetensors"))
	if err != nil {
		b.Fatal(err)
	}
	const B, H, W, S = 2, 32, 32, 77
	in := Input{Sample: make([]float32, B*4*H*W), Batch: B, Height: H, Width: W,
		Timesteps: []float64{500}, Encoder: make([]float32, B*S*32), Seq: S}
	for i := range in.Sample {
		in.Sample[i] = float32(i%7) - 3
	}
	for i := range in.Encoder {
		in.Encoder[i] = float32(i%5) - 2
	}
	dst := make([]float32, len(in.Sample))
	var tm Timings
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Forward(dst, in, Options{Timings: &tm}); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(tm.Conv.Seconds()/n*1e3, "conv-ms/op")
	b.ReportMetric(tm.Attention.Seconds()/n*1e3, "attn-ms/op")
	b.ReportMetric(tm.GroupNorm.Seconds()/n*1e3, "gn-ms/op")
	b.ReportMetric(tm.Linear.Seconds()/n*1e3, "linear-ms/op")
}
