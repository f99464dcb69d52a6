package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// groupNormDefinition is torch.nn.GroupNorm (+ SiLU) in float64.
func groupNormDefinition(src, gamma, beta []float32, batch, channels, spatial, groups int, eps float64, silu bool) []float64 {
	out := make([]float64, len(src))
	per := channels / groups
	for b := 0; b < batch; b++ {
		for g := 0; g < groups; g++ {
			off := (b*channels + g*per) * spatial
			x := src[off : off+per*spatial]
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
				y := (float64(e)-mean)/math.Sqrt(v+eps)*float64(gamma[ch]) + float64(beta[ch])
				if silu {
					y /= 1 + math.Exp(-y)
				}
				out[off+i] = y
			}
		}
	}
	return out
}

func TestGroupNormMatchesDefinition(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, c := range []struct {
			batch, channels, spatial, groups int
			mean, scale                      float64
		}{
			{2, 8, 13, 4, 1, 3},
			{1, 6, 1, 3, 0, 1},          // one element per channel
			{2, 32, 64, 32, 0, 1},       // one channel per group
			{2, 64, 17, 32, -2, 0.5},    // odd spatial: vector tails
			{1, 12, 40, 4, 1000, 0.001}, // large mean, small spread
			{2, 320, 64, 32, 0, 1},      // UNet channel count
			{3, 10, 9, 5, 0, 30},        // large values: SiLU's exp saturates
		} {
			n := c.batch * c.channels * c.spatial
			src := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64()*c.scale + c.mean)
			}
			gamma, beta := make([]float32, c.channels), make([]float32, c.channels)
			for i := range gamma {
				gamma[i], beta[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			}
			for _, silu := range []bool{false, true} {
				name := fmt.Sprintf("%dx%dx%d/%d silu=%v mean=%g", c.batch, c.channels, c.spatial, c.groups, silu, c.mean)
				want := groupNormDefinition(src, gamma, beta, c.batch, c.channels, c.spatial, c.groups, 1e-5, silu)
				got := make([]float32, n)
				GroupNorm(got, src, gamma, beta, c.batch, c.channels, c.spatial, c.groups, 1e-5, silu)
				// In place too.
				inPlace := append([]float32(nil), src...)
				GroupNorm(inPlace, inPlace, gamma, beta, c.batch, c.channels, c.spatial, c.groups, 1e-5, silu)
				for i := range want {
					// Relative to the output's scale (|gamma|+|beta| ~ 1):
					// the large-mean case loses float32 digits in x-mean.
					tol := 1e-5 * (math.Abs(want[i]) + 1)
					if c.mean != 0 {
						tol *= math.Abs(c.mean)/c.scale/100 + 1
					}
					if d := math.Abs(float64(got[i]) - want[i]); d > tol {
						t.Fatalf("%s: dst[%d] = %v, want %v", name, i, got[i], want[i])
					}
					if inPlace[i] != got[i] {
						t.Fatalf("%s: in place dst[%d] = %v, out of place %v", name, i, inPlace[i], got[i])
					}
				}
			}
		}
	})
}

func TestSiLU(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		for _, n := range append(testSizes, 70000) {
			x, _ := guarded(rng, n, 1)
			for i := range x {
				x[i] *= 8
			}
			if n > 2 {
				x[0], x[1], x[2] = -100, 100, 0
			}
			dst, check := guarded(rng, n, 0)
			SiLU(dst, x)
			for i, v := range x {
				want := float64(v) / (1 + math.Exp(-float64(v)))
				if d := math.Abs(float64(dst[i]) - want); d > 1e-6*math.Abs(want)+1e-30 {
					t.Fatalf("n=%d: SiLU(%g) = %g, want %g", n, v, dst[i], want)
				}
			}
			check(t, fmt.Sprintf("SiLU n=%d", n))
		}
	})
}

func TestUpsample2x(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, s := range [][3]int{{1, 1, 1}, {3, 2, 5}, {2, 7, 3}, {640, 8, 8}} {
		planes, h, w := s[0], s[1], s[2]
		src := randMatrix(rng, planes*h, w)
		dst := make([]float32, 4*len(src))
		Upsample2x(dst, src, planes, h, w)
		for p := 0; p < planes; p++ {
			for y := 0; y < 2*h; y++ {
				for x := 0; x < 2*w; x++ {
					if got, want := dst[(p*2*h+y)*2*w+x], src[(p*h+y/2)*w+x/2]; got != want {
						t.Fatalf("%v: dst[%d][%d][%d] = %g, want %g", s, p, y, x, got, want)
					}
				}
			}
		}
	}
}

func TestGroupNormZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rng := rand.New(rand.NewPCG(1, 1))
	src := randMatrix(rng, 2*64, 256)
	gamma, beta := randMatrix(rng, 1, 64), randMatrix(rng, 1, 64)
	dst := make([]float32, len(src))
	up := make([]float32, 4*len(src))
	for name, f := range map[string]func(){
		"GroupNorm":  func() { GroupNorm(dst, src, gamma, beta, 2, 64, 256, 32, 1e-5, true) },
		"SiLU":       func() { SiLU(dst, src) },
		"Upsample2x": func() { Upsample2x(up, src, 128, 16, 16) },
	} {
		f()
		if got := testing.AllocsPerRun(10, f); got != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, got)
		}
	}
}
