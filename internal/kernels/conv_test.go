package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv2D is the convolution's definition, summed in float64.
func naiveConv2D(src, weight, bias []float32, batch, h, w int, g ConvGeom) []float32 {
	oh, ow := g.OutSize(h, w)
	dst := make([]float32, batch*g.OutC*oh*ow)
	for n := 0; n < batch; n++ {
		for oc := 0; oc < g.OutC; oc++ {
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					var s float64
					if bias != nil {
						s = float64(bias[oc])
					}
					for ic := 0; ic < g.InC; ic++ {
						for ky := 0; ky < g.KH; ky++ {
							for kx := 0; kx < g.KW; kx++ {
								iy, ix := y*g.Stride+ky-g.Pad, x*g.Stride+kx-g.Pad
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								s += float64(src[((n*g.InC+ic)*h+iy)*w+ix]) * float64(weight[((oc*g.InC+ic)*g.KH+ky)*g.KW+kx])
							}
						}
					}
					dst[((n*g.OutC+oc)*oh+y)*ow+x] = float32(s)
				}
			}
		}
	}
	return dst
}

func TestConv2DMatchesDefinition(t *testing.T) {
	cases := []struct {
		name        string
		batch, h, w int
		g           ConvGeom
		bias        bool
	}{
		{"3x3 pad1", 2, 9, 7, ConvGeom{InC: 5, OutC: 6, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{"3x3 stride2 pad1", 1, 8, 8, ConvGeom{InC: 4, OutC: 3, KH: 3, KW: 3, Stride: 2, Pad: 1}, true},
		{"1x1", 2, 5, 6, ConvGeom{InC: 7, OutC: 9, KH: 1, KW: 1, Stride: 1, Pad: 0}, true},
		{"3x3 no pad no bias", 1, 6, 5, ConvGeom{InC: 3, OutC: 2, KH: 3, KW: 3, Stride: 1, Pad: 0}, false},
		{"1x1 stride2", 1, 7, 7, ConvGeom{InC: 3, OutC: 4, KH: 1, KW: 1, Stride: 2, Pad: 0}, true},
	}
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := fill(c.batch * c.g.InC * c.h * c.w)
			wt := fill(c.g.OutC * c.g.InC * c.g.KH * c.g.KW)
			var bias []float32
			if c.bias {
				bias = fill(c.g.OutC)
			}
			want := naiveConv2D(src, wt, bias, c.batch, c.h, c.w, c.g)
			got := make([]float32, len(want))
			Conv2D(got, src, wt, bias, c.batch, c.h, c.w, c.g)
			for i := range want {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4 {
					t.Fatalf("dst[%d] = %v, want %v", i, got[i], want[i])
				}
			}
		})
	}
}

func TestGroupNormMatchesDefinition(t *testing.T) {
	const batch, channels, spatial, groups = 2, 8, 13, 4
	r := rand.New(rand.NewPCG(3, 4))
	n := batch * channels * spatial
	src := make([]float32, n)
	for i := range src {
		src[i] = float32(r.NormFloat64()*3 + 1)
	}
	gamma, beta := make([]float32, channels), make([]float32, channels)
	for i := range gamma {
		gamma[i], beta[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	for _, silu := range []bool{false, true} {
		got := make([]float32, n)
		GroupNorm(got, src, gamma, beta, batch, channels, spatial, groups, 1e-5, silu)
		per := channels / groups
		for b := 0; b < batch; b++ {
			for g := 0; g < groups; g++ {
				x := src[(b*channels+g*per)*spatial:][:per*spatial]
				var mean, v float64
				for _, e := range x {
					mean += float64(e)
				}
				mean /= float64(len(x))
				for _, e := range x {
					v += (float64(e) - mean) * (float64(e) - mean)
				}
				v /= float64(len(x))
				for i, e := range x {
					ch := g*per + i/spatial
					want := (float64(e)-mean)/math.Sqrt(v+1e-5)*float64(gamma[ch]) + float64(beta[ch])
					if silu {
						want /= 1 + math.Exp(-want)
					}
					idx := (b*channels+g*per)*spatial + i
					if d := math.Abs(float64(got[idx]) - want); d > 1e-5 {
						t.Fatalf("silu=%v: dst[%d] = %v, want %v", silu, idx, got[idx], want)
					}
				}
			}
		}
	}
}
