package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// convCase is one Conv2D geometry of the tests.
type convCase struct {
	batch, h, w int
	g           ConvGeom
	bias        bool
}

func (c convCase) String() string {
	return fmt.Sprintf("b%d_%dx%d_%d-%d_k%dx%d_s%d_p%d_bias%v", c.batch, c.h, c.w, c.g.InC, c.g.OutC, c.g.KH, c.g.KW, c.g.Stride, c.g.Pad, c.bias)
}

// convCases covers the shapes the implicit GEMM treats differently: 1×1
// (stride 1 and 2), 3×3 with and without padding, stride 2 with pad 1,
// non-square kernels and maps, channel counts that are not multiples of
// the tile sizes, K deeper than kcBlock (several K blocks, bias added
// once), OutC above mcBlock, maps whose rows are shorter and longer than
// a column panel, and enough work to split across threads both by columns
// and by output channels.
var convCases = []convCase{
	{2, 9, 7, ConvGeom{InC: 5, OutC: 6, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
	{1, 8, 8, ConvGeom{InC: 4, OutC: 3, KH: 3, KW: 3, Stride: 2, Pad: 1}, true},
	{2, 5, 6, ConvGeom{InC: 7, OutC: 9, KH: 1, KW: 1, Stride: 1, Pad: 0}, true},
	{1, 6, 5, ConvGeom{InC: 3, OutC: 2, KH: 3, KW: 3, Stride: 1, Pad: 0}, false},
	{1, 7, 7, ConvGeom{InC: 3, OutC: 4, KH: 1, KW: 1, Stride: 2, Pad: 0}, true},
	{2, 1, 1, ConvGeom{InC: 3, OutC: 5, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
	{1, 4, 9, ConvGeom{InC: 2, OutC: 3, KH: 1, KW: 3, Stride: 1, Pad: 1}, true},
	{1, 5, 5, ConvGeom{InC: 2, OutC: 3, KH: 5, KW: 5, Stride: 1, Pad: 2}, true},
	{1, 9, 9, ConvGeom{InC: 2, OutC: 3, KH: 3, KW: 3, Stride: 3, Pad: 2}, false},
	{2, 33, 35, ConvGeom{InC: 37, OutC: 19, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},  // K = 333 > kcBlock; rows ≠ panels
	{2, 17, 15, ConvGeom{InC: 33, OutC: 150, KH: 3, KW: 3, Stride: 2, Pad: 1}, true}, // OutC > mcBlock, split by channels
	{2, 24, 24, ConvGeom{InC: 20, OutC: 40, KH: 1, KW: 1, Stride: 1, Pad: 0}, true},
	{2, 4, 4, ConvGeom{InC: 96, OutC: 200, KH: 3, KW: 3, Stride: 1, Pad: 1}, true}, // 8×8-like: split by channels
	{1, 40, 40, ConvGeom{InC: 16, OutC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}, true}, // OutC < mr (conv_out-like)
	{2, 20, 20, ConvGeom{InC: 4, OutC: 32, KH: 3, KW: 3, Stride: 1, Pad: 1}, true}, // K < 64 (conv_in-like)
	{2, 37, 39, ConvGeom{InC: 6, OutC: 7, KH: 3, KW: 3, Stride: 2, Pad: 1}, true},  // stride-2 rows of 20: AVX-512 gather + tail, rows across panels
	{1, 36, 66, ConvGeom{InC: 5, OutC: 8, KH: 3, KW: 3, Stride: 2, Pad: 1}, false}, // stride-2 rows of 33: a gather reaching the row's end
}

func convInputs(r *rand.Rand, c convCase) (src, wt, bias []float32) {
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	src = fill(c.batch * c.g.InC * c.h * c.w)
	wt = fill(c.g.OutC * c.g.InC * c.g.KH * c.g.KW)
	if c.bias {
		bias = fill(c.g.OutC)
	}
	return src, wt, bias
}

// checkConv compares Conv2D with the definition, relative to the sum of
// the products' magnitudes (float32 rounding grows with K).
func checkConv(t *testing.T, c convCase, src, wt, bias []float32) {
	t.Helper()
	want := convDefinition(src, wt, bias, c.batch, c.h, c.w, c.g)
	oh, ow := c.g.OutSize(c.h, c.w)
	// Guards around dst catch writes past either end.
	buf := make([]float32, len(want)+2*16)
	for i := range buf {
		buf[i] = guardVal
	}
	got := buf[16 : 16+len(want) : 16+len(want)]
	Conv2D(got, src, wt, bias, c.batch, c.h, c.w, c.g)
	k := c.g.InC * c.g.KH * c.g.KW
	tol := 2e-6 * math.Sqrt(float64(k)) * 4
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(math.Abs(float64(want[i]))+math.Sqrt(float64(k))) {
			n, rest := i/(c.g.OutC*oh*ow), i%(c.g.OutC*oh*ow)
			t.Fatalf("%v: dst[%d] (image %d, channel %d, pixel %d) = %v, want %v", c, i, n, rest/(oh*ow), rest%(oh*ow), got[i], want[i])
		}
	}
	for i := 0; i < 16; i++ {
		if buf[i] != guardVal || buf[len(buf)-1-i] != guardVal {
			t.Fatalf("%v: Conv2D wrote outside dst", c)
		}
	}
}

func TestConv2DMatchesDefinition(t *testing.T) {
	defer func(w bool) { winoEnabled = w }(winoEnabled)
	for _, wino := range []bool{true, false} {
		winoEnabled = wino
		forEachLevel(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for _, c := range convCases {
				src, wt, bias := convInputs(r, c)
				checkConv(t, c, src, wt, bias)
			}
		})
	}
}

// TestConv2DWinograd checks the Winograd path (3×3, stride 1, pad 1, maps
// of winoMinPixels and more) against the definition at every level: odd
// sizes (tiles cut at the edge), chunks of tiles that straddle two images,
// no bias, and that the direct path agrees on the same inputs.
func TestConv2DWinograd(t *testing.T) {
	defer func(c int, w bool) { winoChunkTiles, winoEnabled = c, w }(winoChunkTiles, winoEnabled)
	winoEnabled = true
	cases := []convCase{
		{2, 33, 35, ConvGeom{InC: 37, OutC: 19, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{1, 32, 32, ConvGeom{InC: 16, OutC: 48, KH: 3, KW: 3, Stride: 1, Pad: 1}, false},
		{3, 31, 40, ConvGeom{InC: 20, OutC: 17, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
	}
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, chunk := range []int{0, 37, 256} {
			winoChunkTiles = chunk
			for _, c := range cases {
				if !useWinograd(c.g, c.h, c.w) {
					t.Fatalf("%v: not a Winograd geometry", c)
				}
				src, wt, bias := convInputs(r, c)
				checkConv(t, c, src, wt, bias)
			}
		}
	})
	// The direct path on the same inputs agrees closely too.
	r := rand.New(rand.NewPCG(13, 14))
	c := cases[0]
	src, wt, bias := convInputs(r, c)
	oh, ow := c.g.OutSize(c.h, c.w)
	wino := make([]float32, c.batch*c.g.OutC*oh*ow)
	direct := make([]float32, len(wino))
	Conv2D(wino, src, wt, bias, c.batch, c.h, c.w, c.g)
	winoEnabled = false
	Conv2D(direct, src, wt, bias, c.batch, c.h, c.w, c.g)
	for i := range wino {
		if d := math.Abs(float64(wino[i] - direct[i])); d > 1e-4*(math.Abs(float64(direct[i]))+1) {
			t.Fatalf("dst[%d]: Winograd %v, direct %v", i, wino[i], direct[i])
		}
	}
}

// TestConv2DRandomGeometry draws geometries at random (kernel 1–5, stride
// 1–3, padding up to the kernel, odd sizes, batch 1–3) on every level.
func TestConv2DRandomGeometry(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		n := 60
		if testing.Short() {
			n = 15
		}
		for i := 0; i < n; i++ {
			kh, kw := 1+r.IntN(5), 1+r.IntN(5)
			g := ConvGeom{InC: 1 + r.IntN(24), OutC: 1 + r.IntN(40), KH: kh, KW: kw, Stride: 1 + r.IntN(3), Pad: r.IntN(max(kh, kw))}
			h, w := kh+r.IntN(30), kw+r.IntN(30)
			c := convCase{batch: 1 + r.IntN(3), h: h, w: w, g: g, bias: r.IntN(2) == 0}
			src, wt, bias := convInputs(r, c)
			checkConv(t, c, src, wt, bias)
		}
	})
}

// TestConv2DZeroAllocs checks that a steady stream of Conv2D calls (split
// across threads or not) allocates nothing.
func TestConv2DZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	defer func(w bool) { winoEnabled = w }(winoEnabled)
	for _, wino := range []bool{false, true} {
		winoEnabled = wino
		testConv2DZeroAllocs(t)
	}
}

func testConv2DZeroAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, c := range []convCase{
		{2, 32, 32, ConvGeom{InC: 32, OutC: 64, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{2, 4, 4, ConvGeom{InC: 64, OutC: 128, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
		{1, 5, 5, ConvGeom{InC: 2, OutC: 3, KH: 3, KW: 3, Stride: 2, Pad: 1}, false},
		{2, 64, 64, ConvGeom{InC: 16, OutC: 16, KH: 3, KW: 3, Stride: 1, Pad: 1}, true}, // Winograd when enabled
		{2, 20, 70, ConvGeom{InC: 8, OutC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},   // the direct path (AVX-512)
	} {
		src, wt, bias := convInputs(r, c)
		oh, ow := c.g.OutSize(c.h, c.w)
		dst := make([]float32, c.batch*c.g.OutC*oh*ow)
		Conv2D(dst, src, wt, bias, c.batch, c.h, c.w, c.g)
		if got := testing.AllocsPerRun(10, func() { Conv2D(dst, src, wt, bias, c.batch, c.h, c.w, c.g) }); got != 0 {
			t.Errorf("%v: %v allocations per call, want 0", c, got)
		}
	}
}

func TestConv2DPanics(t *testing.T) {
	g := ConvGeom{InC: 2, OutC: 3, KH: 3, KW: 3, Stride: 1, Pad: 1}
	for name, f := range map[string]func(){
		"short src": func() {
			Conv2D(make([]float32, 2*3*4*4), make([]float32, 2*2*4*4-1), make([]float32, 54), nil, 2, 4, 4, g)
		},
		"short dst": func() { Conv2D(make([]float32, 5), make([]float32, 2*4*4), make([]float32, 54), nil, 1, 4, 4, g) },
		"bias": func() {
			Conv2D(make([]float32, 3*16), make([]float32, 2*16), make([]float32, 54), make([]float32, 2), 1, 4, 4, g)
		},
		"stride 0": func() { Conv2D(nil, nil, nil, nil, 1, 4, 4, ConvGeom{InC: 1, OutC: 1, KH: 1, KW: 1}) },
		"no output": func() {
			Conv2D(nil, make([]float32, 4), make([]float32, 25), nil, 1, 2, 2, ConvGeom{InC: 1, OutC: 1, KH: 5, KW: 5, Stride: 1})
		},
		"neg padding": func() {
			Conv2D(nil, nil, nil, nil, 1, 4, 4, ConvGeom{InC: 1, OutC: 1, KH: 1, KW: 1, Stride: 1, Pad: -1})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestConvSelfCheck(t *testing.T) {
	for _, lvl := range availableLevels() {
		if err := convSelfCheck(lvl); err != nil {
			t.Errorf("%s: %v", levelNames[lvl], err)
		}
		if err := groupNormSelfCheck(lvl); err != nil {
			t.Errorf("%s: %v", levelNames[lvl], err)
		}
	}
}

// TestGatherEven checks the stride-2 gather of Conv2D's packing against its
// definition for every length pair around the 16-lane blocks, with guard
// values after dst.
func TestGatherEven(t *testing.T) {
	if !cpuHasAVX512 {
		t.Skip("needs AVX-512")
	}
	for nd := 0; nd <= 50; nd++ {
		for ns := 0; ns <= 2*nd+3; ns++ {
			src := make([]float32, ns)
			for i := range src {
				src[i] = float32(i) + 0.5
			}
			dst := make([]float32, nd+4)
			for i := range dst {
				dst[i] = guardVal
			}
			n := gatherEvenAVX512(dst[:nd], src)
			if want := min(nd, ns/2) &^ 15; n != want {
				t.Fatalf("len(dst)=%d len(src)=%d: n = %d, want %d", nd, ns, n, want)
			}
			for i := range n {
				if dst[i] != src[2*i] {
					t.Fatalf("len(dst)=%d len(src)=%d: dst[%d] = %g, want %g", nd, ns, i, dst[i], src[2*i])
				}
			}
			for i := n; i < len(dst); i++ {
				if dst[i] != guardVal {
					t.Fatalf("len(dst)=%d len(src)=%d: dst[%d] = %g written past n = %d", nd, ns, i, dst[i], n)
				}
			}
		}
	}
}

// TestConv2DDirect checks the few-output-channel direct path at every
// level (the AVX-512 kernel and its generic twin) against the definition:
// OutC from 1 to 8 (one and two groups of four, partial groups), rows
// shorter and longer than the kernel's 64 columns, padding 0 to 2,
// non-square kernels, batch 2, with and without bias.
func TestConv2DDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, lvl := range availableLevels() {
		for _, c := range []convCase{
			{2, 40, 40, ConvGeom{InC: 16, OutC: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}, true},
			{1, 9, 70, ConvGeom{InC: 5, OutC: 1, KH: 3, KW: 3, Stride: 1, Pad: 1}, false},
			{2, 7, 130, ConvGeom{InC: 3, OutC: 7, KH: 3, KW: 3, Stride: 1, Pad: 0}, true},
			{1, 6, 5, ConvGeom{InC: 4, OutC: 8, KH: 5, KW: 3, Stride: 1, Pad: 2}, true},
			{2, 1, 1, ConvGeom{InC: 2, OutC: 3, KH: 1, KW: 1, Stride: 1, Pad: 0}, true},
		} {
			src, wt, bias := convInputs(r, c)
			oh, ow := c.g.OutSize(c.h, c.w)
			n := c.batch * c.g.OutC * oh * ow
			buf := make([]float32, n+8)
			for i := range buf {
				buf[i] = guardVal
			}
			dst := buf[4 : 4+n]
			conv2DDirect(lvl, dst, src, wt, bias, c.batch, c.h, c.w, c.g, true)
			want := convDefinition(src, wt, bias, c.batch, c.h, c.w, c.g)
			k := c.g.InC * c.g.KH * c.g.KW
			for i := range dst {
				if !closeEnough(dst[i], want[i], k) {
					t.Fatalf("%s %v: dst[%d] = %g, want %g", levelNames[lvl], c, i, dst[i], want[i])
				}
			}
			for _, i := range []int{0, 1, 2, 3, n + 4, n + 5, n + 6, n + 7} {
				if buf[i] != guardVal {
					t.Fatalf("%s %v: guard %d overwritten", levelNames[lvl], c, i)
				}
			}
		}
	}
}
