package unet

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// BenchmarkSelfAttention times the tiled self-attention at SD 1.5's first
// level (64×64 latents: 4096 tokens, 320 channels, 8 heads of 40, batch 2).
func BenchmarkSelfAttention(b *testing.B) {
	const B, N, C, heads = 2, 4096, 320, 8
	qkv := make([]float32, B*N*3*C)
	for i := range qkv {
		qkv[i] = float32(i%13)*0.01 - 0.06
	}
	ctx := make([]float32, B*N*C)
	for _, tile := range []int{64, 256} {
		b.Run(fmt.Sprint("tile", tile), func(b *testing.B) {
			old := tileScores
			tileScores = tile * N
			defer func() { tileScores = old }()
			ws := &workspace{tiles: make(chan []float32, kernels.Threads()+1)}
			for range kernels.Threads() + 1 {
				ws.tiles <- nil
			}
			r := &run{ws: ws, B: B}
			var u0, u1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &u0)
			for b.Loop() {
				r.selfAttention(ctx, qkv, N, C, heads)
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &u1)
			cpu := float64(u1.Utime.Nano()-u0.Utime.Nano()+u1.Stime.Nano()-u0.Stime.Nano()) / 1e9
			b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
		})
	}
}
