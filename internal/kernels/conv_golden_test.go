package kernels

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"
)

// torchGoldens is testdata/conv_torch.json, written by
// testdata/conv_torch.py with PyTorch 1.13 in float64.
type torchGoldens struct {
	Conv []struct {
		Batch, InC, H, W, OutC, K, Stride, Pad int
		Bias                                   bool
		Out                                    []float64
	}
	GroupNorm []struct {
		Batch, Channels, Spatial, Groups int
		SiLU                             bool
		Shift                            float64
		Out                              []float64
	}
	SiLU     []float64
	Upsample []float64
}

// detInput is conv_torch.py's det: float32(sin(0.37*i + s) * 1.5).
func detInput(n int, s float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.Sin(0.37*float64(i)+s) * 1.5)
	}
	return x
}

// TestTorchGoldens compares Conv2D, GroupNorm (+SiLU), SiLU and Upsample2x
// with PyTorch's outputs on the same inputs, at every kernel level.
func TestTorchGoldens(t *testing.T) {
	raw, err := os.ReadFile("testdata/conv_torch.json")
	if err != nil {
		t.Fatal(err)
	}
	var gold torchGoldens
	if err := json.Unmarshal(raw, &gold); err != nil {
		t.Fatalf("testdata/conv_torch.json: %v", err)
	}
	if len(gold.Conv) == 0 || len(gold.GroupNorm) == 0 || len(gold.SiLU) == 0 || len(gold.Upsample) == 0 {
		t.Fatal("testdata/conv_torch.json: a section is empty")
	}
	agree := func(t *testing.T, what string, got []float32, want []float64, tol float64) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, PyTorch has %d", what, len(got), len(want))
		}
		for i, w := range want {
			if d := math.Abs(float64(got[i]) - w); d > tol*(math.Abs(w)+1) {
				t.Fatalf("%s: [%d] = %v, PyTorch %v", what, i, got[i], w)
			}
		}
	}
	forEachLevel(t, func(t *testing.T) {
		for _, c := range gold.Conv {
			g := ConvGeom{InC: c.InC, OutC: c.OutC, KH: c.K, KW: c.K, Stride: c.Stride, Pad: c.Pad}
			src := detInput(c.Batch*c.InC*c.H*c.W, 0.1)
			wt := detInput(c.OutC*c.InC*c.K*c.K, 0.7)
			for i := range wt {
				wt[i] *= 0.3
			}
			var bias []float32
			if c.Bias {
				bias = detInput(c.OutC, 1.3)
			}
			oh, ow := g.OutSize(c.H, c.W)
			dst := make([]float32, c.Batch*c.OutC*oh*ow)
			Conv2D(dst, src, wt, bias, c.Batch, c.H, c.W, g)
			agree(t, fmt.Sprintf("conv %+v on %dx%d", g, c.H, c.W), dst, c.Out, 1e-5)
		}
		for _, c := range gold.GroupNorm {
			src := detInput(c.Batch*c.Channels*c.Spatial, 0.2)
			for i := range src {
				src[i] += float32(c.Shift)
			}
			gamma, beta := detInput(c.Channels, 0.5), detInput(c.Channels, 0.9)
			dst := make([]float32, len(src))
			GroupNorm(dst, src, gamma, beta, c.Batch, c.Channels, c.Spatial, c.Groups, 1e-5, c.SiLU)
			agree(t, fmt.Sprintf("group norm %dx%dx%d/%d silu %v", c.Batch, c.Channels, c.Spatial, c.Groups, c.SiLU), dst, c.Out, 1e-5)
		}
		x := detInput(100, 0.3)
		for i := range x {
			x[i] *= 6
		}
		y := make([]float32, len(x))
		SiLU(y, x)
		agree(t, "silu", y, gold.SiLU, 1e-6)
		up := make([]float32, 4*2*3*4*5)
		Upsample2x(up, detInput(2*3*4*5, 0.4), 2*3, 4, 5)
		agree(t, "upsample", up, gold.Upsample, 1e-8) // exact copies, printed to 10 digits
	})
}
