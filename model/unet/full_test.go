package unet

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestFullWidth (opt-in: LOUPE_UNET_FULL=1) runs Stable Diffusion's real
// channel widths (320, 640, 1280, 1280; SD 1.x with 8 heads and cross
// dimension 768, SD 2.x with 64-wide heads, linear projections and 1024)
// at reduced depth (one ResNet per down level) on 32×32 latents, batch 2,
// 77 tokens. unet_reference.py draws the weights, writes them as
// safetensors into a temporary directory (about 2 GB each) and runs
// PyTorch; the outputs must agree within 1e-4 of their scale.
func TestFullWidth(t *testing.T) {
	if os.Getenv("LOUPE_UNET_FULL") == "" {
		t.Skip("set LOUPE_UNET_FULL=1 to run (needs /usr/bin/python3 with torch, ~5 GB of disk)")
	}
	sd1 := map[string]any{"block_out_channels": []int{320, 640, 1280, 1280}, "layers_per_block": 1,
		"attention_head_dim": 8, "cross_attention_dim": 768}
	sd2 := map[string]any{"block_out_channels": []int{320, 640, 1280, 1280}, "layers_per_block": 1,
		"attention_head_dim": []int{5, 10, 20, 20}, "cross_attention_dim": 1024, "use_linear_projection": true,
		"upcast_attention": true}
	for _, tc := range []struct {
		name string
		cfg  map[string]any
	}{{"sd1", sd1}, {"sd2", sd2}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := map[string]any{"config": tc.cfg, "batch": 2, "height": 32, "width": 32, "seq": 77,
				"timesteps": []float64{801, 21}, "seed": 7, "input_seed": 8}
			b, _ := json.Marshal(c)
			if err := os.WriteFile(filepath.Join(dir, "case.json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			cmd := exec.Command("/usr/bin/python3", "testdata/unet_reference.py", "gen", dir)
			cmd.Stderr = os.Stderr
			outb, err := cmd.Output()
			if err != nil {
				t.Fatalf("unet_reference.py: %v", err)
			}
			t.Logf("reference: %s (%.0fs)", outb, time.Since(start).Seconds())
			m, err := Load(filepath.Join(dir, "unet"))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			in := Input{Sample: readNpy(t, filepath.Join(dir, "sample.npy")), Batch: 2, Height: 32, Width: 32,
				Timesteps: []float64{801, 21}, Encoder: readNpy(t, filepath.Join(dir, "encoder.npy")), Seq: 77}
			start = time.Now()
			out, err := m.Forward(nil, in, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("loupe forward %.1fs", time.Since(start).Seconds())
			want := readNpy(t, filepath.Join(dir, "out.npy"))
			scale := 0.0
			for _, v := range want {
				scale = max(scale, float64(abs32(v)))
			}
			rel := maxDiff(out.Sample, want) / scale
			t.Logf("max abs diff %.3g of the output scale %.3g", rel, scale)
			if rel > 1e-4 {
				t.Errorf("output differs from PyTorch by %.3g of its scale, want ≤ 1e-4", rel)
			}
		})
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
