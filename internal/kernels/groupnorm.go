package kernels

import (
	"fmt"
	"math"
	"sync"
)

// GroupNorm normalises src, [batch, channels, spatial] (spatial = h·w),
// over groups of channels/groups consecutive channels per image, as
// torch.nn.GroupNorm: each group's mean and biased variance, then
// gamma and beta per channel. With silu set, SiLU (x·σ(x)) is applied to
// the result, the pairing every ResNet block of a UNet and VAE uses.
// dst may be src.
//
// The statistics are summed in float64, in two passes (the mean, then the
// squared deviations about it), so a group with a large mean loses nothing
// to cancellation; the apply pass is one fused multiply-add per element
// (and the vectorised SiLU) with the group's scale folded into gamma.
// Groups are split across Threads().
func GroupNorm(dst, src, gamma, beta []float32, batch, channels, spatial, groups int, eps float32, silu bool) {
	if groups < 1 || channels%groups != 0 {
		panic(fmt.Sprintf("kernels: GroupNorm of %d channels in %d groups", channels, groups))
	}
	checkLen("GroupNorm", "src", len(src), batch*channels*spatial)
	checkLen("GroupNorm", "dst", len(dst), batch*channels*spatial)
	checkLen("GroupNorm", "gamma", len(gamma), channels)
	checkLen("GroupNorm", "beta", len(beta), channels)
	if batch == 0 || spatial == 0 {
		return
	}
	j := gnJobs.Get().(*gnJob)
	j.kind, j.lvl, j.dst, j.src, j.gamma, j.beta = gnNorm, level, dst, src, gamma, beta
	j.channels, j.spatial, j.groups, j.eps, j.silu = channels, spatial, groups, eps, silu
	// Grain: about 64 Ki elements per range, so small maps stay on one thread.
	per := channels / groups * spatial
	Parallel(batch*groups, max(1, (1<<16)/per), j.run)
	j.release()
}

// gnJob is one GroupNorm, SiLU or Upsample2x call split over Parallel;
// pooled, with run bound once, so that a call allocates nothing (a closure
// handed to Parallel would escape).
type gnJob struct {
	kind                      int
	lvl                       int
	dst, src, gamma, beta     []float32
	channels, spatial, groups int
	eps                       float32
	silu                      bool
	run                       func(lo, hi int)
}

const (
	gnNorm     = iota // GroupNorm over (image, group) pairs
	gnSiLU            // SiLU over elements
	gnUpsample        // Upsample2x over input rows (spatial = w)
)

var gnJobs = sync.Pool{New: func() any {
	j := new(gnJob)
	j.run = j.do
	return j
}}

func (j *gnJob) release() {
	j.dst, j.src, j.gamma, j.beta = nil, nil, nil, nil
	gnJobs.Put(j)
}

// do runs the job on its units lo..hi-1.
func (j *gnJob) do(lo, hi int) {
	switch j.kind {
	case gnSiLU:
		affineL(j.lvl, j.dst[lo:hi], j.src[lo:hi], 0, 1, 0, true)
		return
	case gnUpsample:
		w := j.spatial
		for r := lo; r < hi; r++ {
			in := j.src[r*w : (r+1)*w]
			out := j.dst[4*r*w : 4*r*w+2*w]
			for i, v := range in {
				out[2*i], out[2*i+1] = v, v
			}
			copy(j.dst[4*r*w+2*w:4*r*w+4*w], out)
		}
		return
	}
	per := j.channels / j.groups
	n := per * j.spatial
	for bg := lo; bg < hi; bg++ {
		g := bg % j.groups
		off := bg * n
		x := j.src[off : off+n]
		y := j.dst[off : off+n]
		mean, rstd := groupStats(j.lvl, x, j.eps)
		// x - m32 is exact for x near the mean; the float32 mean's own
		// rounding, m - m32, goes into the offset.
		m32 := float32(mean)
		dm := mean - float64(m32)
		for c := 0; c < per; c++ {
			ch := g*per + c
			a := rstd * float64(j.gamma[ch])
			b := float32(float64(j.beta[ch]) - dm*a)
			affineL(j.lvl, y[c*j.spatial:(c+1)*j.spatial], x[c*j.spatial:(c+1)*j.spatial], m32, float32(a), b, j.silu)
		}
	}
}

// groupStats returns the mean of x and 1/sqrt(var+eps), var the biased
// variance, both summed in float64 (two passes).
func groupStats(lvl int, x []float32, eps float32) (mean, rstd float64) {
	n := len(x)
	n8 := 0
	var s float64
	if lvl >= levelAVX2 {
		n8 = n &^ 7
		s = sumAVX2(x)
	}
	for _, v := range x[n8:] {
		s += float64(v)
	}
	m := s / float64(n)
	var ss float64
	if lvl >= levelAVX2 {
		// Deviations about the float32 mean, then corrected to the float64
		// one: sum (x-m)^2 = sum (x-m32)^2 - n (m-m32)^2.
		m32 := float32(m)
		ss = sqDevAVX2(x, m32)
		for _, v := range x[n8:] {
			d := float64(v) - float64(m32)
			ss += d * d
		}
		dm := m - float64(m32)
		ss -= float64(n) * dm * dm
	} else {
		for _, v := range x {
			d := float64(v) - m
			ss += d * d
		}
	}
	return m, 1 / math.Sqrt(max(ss, 0)/float64(n)+float64(eps))
}

// affineL sets dst = (x-m)*a+b, then SiLU when silu is set, at level lvl.
// Subtracting the mean first (rather than folding it into b) keeps the
// digits of a group whose mean is large against its spread.
func affineL(lvl int, dst, x []float32, m, a, b float32, silu bool) {
	x = x[:len(dst)]
	n8 := 0
	if lvl >= levelAVX2 {
		n8 = len(dst) &^ 7
		if silu {
			affineSiLUAVX2(dst, x, m, a, b)
		} else {
			affineAVX2(dst, x, m, a, b)
		}
	}
	affineGeneric(dst[n8:], x[n8:], m, a, b, silu)
}

// affineGeneric is affineL's generic kernel: SiLU in float64 through exp64,
// rounded once.
func affineGeneric(dst, x []float32, m, a, b float32, silu bool) {
	x = x[:len(dst)]
	if !silu {
		for i, v := range x {
			dst[i] = (v-m)*a + b
		}
		return
	}
	for i, v := range x {
		r := float64((v-m)*a + b)
		dst[i] = float32(r / (1 + exp64(-r)))
	}
}

// SiLU sets dst[i] = x[i]·σ(x[i]) = x[i]/(1+e^(−x[i])) (torch.nn.SiLU,
// "swish"). dst may be x.
func SiLU(dst, x []float32) {
	checkLen("SiLU", "x", len(x), len(dst))
	j := gnJobs.Get().(*gnJob)
	j.kind, j.lvl, j.dst, j.src = gnSiLU, level, dst, x
	Parallel(len(dst), 1<<15, j.run)
	j.release()
}

// Upsample2x doubles the height and width of planes h×w maps by nearest
// neighbour (torch.nn.functional.interpolate(scale_factor=2,
// mode="nearest")): dst is [planes, 2h, 2w], src [planes, h, w], with
// planes = batch·channels. dst must not overlap src.
func Upsample2x(dst, src []float32, planes, h, w int) {
	checkLen("Upsample2x", "src", len(src), planes*h*w)
	checkLen("Upsample2x", "dst", len(dst), planes*4*h*w)
	if w == 0 {
		return
	}
	j := gnJobs.Get().(*gnJob)
	j.kind, j.dst, j.src, j.spatial = gnUpsample, dst, src, w
	Parallel(planes*h, max(1, 8192/w), j.run)
	j.release()
}

// groupNormSelfCheck runs a level's affine+SiLU kernels (every tail
// length, large and small arguments) against the generic ones.
func groupNormSelfCheck(lvl int) error {
	x := make([]float32, 37)
	for i := range x {
		x[i] = float32((i*29)%37)*3.1 - 57
	}
	for _, silu := range []bool{false, true} {
		for _, n := range []int{1, 7, 8, 9, 16, 24, 37} {
			got := make([]float32, n)
			want := make([]float32, n)
			affineL(lvl, got, x, 0.25, 0.75, -0.5, silu)
			affineGeneric(want, x, 0.25, 0.75, -0.5, silu)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*(math.Abs(float64(want[i]))+1e-3) {
					return fmt.Errorf("group norm apply (silu %v, n=%d)[%d] = %g, want %g", silu, n, i, got[i], want[i])
				}
			}
		}
	}
	return nil
}
