package kernels

import (
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// Winograd F(2×2, 3×3) for Conv2D's 3×3, stride 1, pad 1 convolutions on
// large maps (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016). Each 2×2 block of output pixels (a tile) is
//
//	Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// with d_c the 4×4 input patch of channel c around the tile and g_c the
// 3×3 kernel: the sum over channels at each of the 16 positions ξ of the
// 4×4 transformed tile is a matrix product U_ξ·V_ξ ([OutC, InC] times
// [InC, tiles]), so the convolution becomes 16 Sgemm calls with 2.25 times
// fewer multiply-adds than the direct method, plus three memory-bound
// transforms (weights, input tiles, output tiles). The transforms only add
// and halve, so the result is as accurate as the direct sum (the tests hold
// both to the same bound).
//
// Tiles are processed in chunks so that the transformed input and output
// stay a few MiB each; the scratch is kept between calls.
//
// The path is opt-in (LOUPE_CONV=winograd): on the shared 2-vCPU Xeon it
// was written on, its transforms (plain Go) ate most of the saving, and
// the measurements could not tell it from the direct path (see
// docs/diffusion.md, "Kernels"). It is tested at every level either way.

// winoMinPixels is the smallest output map (oh·ow) that takes the Winograd
// path: below it (16×16 and 8×8 maps with 1280 channels) transforming the
// weights costs more than the multiply-adds saved.
const winoMinPixels = 32 * 32

// winoEnabled lets the tests and benchmarks compare with the direct path;
// winoChunkTiles, when set, fixes the chunk size (tests: chunks that
// straddle images).
var (
	winoEnabled    = strings.EqualFold(strings.TrimSpace(os.Getenv("LOUPE_CONV")), "winograd")
	winoChunkTiles = 0
)

// useWinograd reports whether Conv2D takes the Winograd path for g on an
// h×w map.
func useWinograd(g ConvGeom, h, w int) bool {
	return winoEnabled && g.KH == 3 && g.KW == 3 && g.Stride == 1 && g.Pad == 1 &&
		g.InC >= 16 && g.OutC >= 16 && h*w >= winoMinPixels
}

// winoWork is one call's scratch: U [16][OutC][InC], V [16][InC][chunk],
// M [16][OutC][chunk].
type winoWork struct{ u, v, m []float32 }

var winoWorks = make(chan *winoWork, 4)

// winoJob is one transform pass split over Parallel (pooled, run bound once).
type winoJob struct {
	kind                   int
	src, dst, weight, bias []float32
	w                      *winoWork
	h, wd, inC, outC       int
	tw, tiles              int // tiles per row and per image
	t0, nt                 int // the chunk: first tile (over the batch), count
	lvl                    int
	next                   atomic.Int64 // winoGemm: the next position ξ to claim
	run                    func(lo, hi int)
}

const (
	winoWeights = iota // U from the weights, over output channels
	winoInput          // V from the input, over input channels
	winoOutput         // dst from M, over output channels
	winoGemm           // M_ξ = U_ξ·V_ξ, ξ claimed one at a time
)

var winoJobs = sync.Pool{New: func() any {
	j := new(winoJob)
	j.run = j.do
	return j
}}

// conv2DWinograd is Conv2D for useWinograd geometries (arguments checked).
func conv2DWinograd(lvl int, dst, src, weight, bias []float32, batch, h, w int, g ConvGeom) {
	th, tw := (h+1)/2, (w+1)/2
	tiles := th * tw
	total := batch * tiles
	// About 4 Mi floats of transformed input per chunk, at least 256 tiles.
	chunk := min(total, max(256, (4<<20)/(16*g.InC)))
	if winoChunkTiles > 0 {
		chunk = min(total, winoChunkTiles)
	}
	var ww *winoWork
	select {
	case ww = <-winoWorks:
	default:
		ww = new(winoWork)
	}
	ww.u = grow(ww.u, 16*g.OutC*g.InC)
	ww.v = grow(ww.v, 16*g.InC*chunk)
	ww.m = grow(ww.m, 16*g.OutC*chunk)
	j := winoJobs.Get().(*winoJob)
	j.src, j.dst, j.weight, j.bias, j.w = src, dst, weight, bias, ww
	j.h, j.wd, j.inC, j.outC, j.tw, j.tiles = h, w, g.InC, g.OutC, tw, tiles
	j.kind = winoWeights
	Parallel(g.OutC, 8, j.run)
	for t0 := 0; t0 < total; t0 += chunk {
		nt := min(chunk, total-t0)
		j.t0, j.nt = t0, nt
		j.kind = winoInput
		Parallel(g.InC, 4, j.run)
		// The 16 products are independent: threads claim them whole
		// (one serial packed GEMM each, with buffers kept across calls).
		j.kind, j.lvl = winoGemm, lvl
		j.next.Store(0)
		Parallel(Threads(), 1, j.run)
		j.kind = winoOutput
		Parallel(g.OutC, 4, j.run)
	}
	j.src, j.dst, j.weight, j.bias, j.w = nil, nil, nil, nil, nil
	winoJobs.Put(j)
	select {
	case winoWorks <- ww:
	default:
	}
}

func (j *winoJob) do(lo, hi int) {
	switch j.kind {
	case winoWeights:
		j.weights(lo, hi)
	case winoInput:
		j.input(lo, hi)
	case winoOutput:
		j.output(lo, hi)
	case winoGemm:
		wk := getConvWork()
		for {
			xi := int(j.next.Add(1) - 1)
			if xi >= 16 {
				break
			}
			u := j.w.u[xi*j.outC*j.inC:]
			v := j.w.v[xi*j.inC*j.nt:]
			m := j.w.m[xi*j.outC*j.nt:]
			gemmSerial(j.lvl, wk, false, false, j.outC, j.nt, j.inC, 1, u, j.inC, v, j.nt, 0, m, j.nt)
		}
		putConvWork(wk)
	}
}

// weights sets U_ξ[oc][ic] = (G g Gᵀ)_ξ for output channels lo..hi-1, with
// G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
func (j *winoJob) weights(lo, hi int) {
	u := j.w.u
	plane := j.outC * j.inC
	for oc := lo; oc < hi; oc++ {
		for ic := 0; ic < j.inC; ic++ {
			g := j.weight[(oc*j.inC+ic)*9 : (oc*j.inC+ic)*9+9]
			// Gg: 4×3, rows of G applied to the kernel's rows.
			var a [4][3]float32
			for c := 0; c < 3; c++ {
				g0, g1, g2 := g[c], g[3+c], g[6+c]
				a[0][c] = g0
				a[1][c] = 0.5 * (g0 + g1 + g2)
				a[2][c] = 0.5 * (g0 - g1 + g2)
				a[3][c] = g2
			}
			off := oc*j.inC + ic
			for r := 0; r < 4; r++ {
				h0, h1, h2 := a[r][0], a[r][1], a[r][2]
				u[(4*r+0)*plane+off] = h0
				u[(4*r+1)*plane+off] = 0.5 * (h0 + h1 + h2)
				u[(4*r+2)*plane+off] = 0.5 * (h0 - h1 + h2)
				u[(4*r+3)*plane+off] = h2
			}
		}
	}
}

// input sets V_ξ[c][t] = (Bᵀ d B)_ξ for input channels lo..hi-1 and the
// chunk's tiles, d the 4×4 patch at (2ty−1, 2tx−1) (zero outside the map),
// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1].
func (j *winoJob) input(lo, hi int) {
	h, w, nt := j.h, j.wd, j.nt
	v := j.w.v
	plane := j.inC * nt
	n0, tt0 := j.t0/j.tiles, j.t0%j.tiles
	ty0, tx0 := tt0/j.tw, tt0%j.tw
	for c := lo; c < hi; c++ {
		// (n, ty, tx) of tile t, advanced without divisions.
		n, ty, tx := n0, ty0, tx0
		img := j.src[(n*j.inC+c)*h*w : (n*j.inC+c+1)*h*w]
		for t := 0; t < nt; t, tx = t+1, tx+1 {
			if tx == j.tw {
				tx = 0
				if ty++; ty*j.tw == j.tiles {
					ty = 0
					n++
					img = j.src[(n*j.inC+c)*h*w : (n*j.inC+c+1)*h*w]
				}
			}
			y0, x0 := 2*ty-1, 2*tx-1
			var d [4][4]float32
			if y0 >= 0 && x0 >= 0 && y0+4 <= h && x0+4 <= w {
				for r := 0; r < 4; r++ {
					row := img[(y0+r)*w+x0 : (y0+r)*w+x0+4 : (y0+r)*w+x0+4]
					d[r][0], d[r][1], d[r][2], d[r][3] = row[0], row[1], row[2], row[3]
				}
			} else {
				for r := 0; r < 4; r++ {
					y := y0 + r
					if y < 0 || y >= h {
						continue
					}
					for s := 0; s < 4; s++ {
						if x := x0 + s; x >= 0 && x < w {
							d[r][s] = img[y*w+x]
						}
					}
				}
			}
			// Bᵀ d (rows), then · B (columns).
			var b [4][4]float32
			for s := 0; s < 4; s++ {
				b[0][s] = d[0][s] - d[2][s]
				b[1][s] = d[1][s] + d[2][s]
				b[2][s] = d[2][s] - d[1][s]
				b[3][s] = d[1][s] - d[3][s]
			}
			off := c*nt + t
			for r := 0; r < 4; r++ {
				v[(4*r+0)*plane+off] = b[r][0] - b[r][2]
				v[(4*r+1)*plane+off] = b[r][1] + b[r][2]
				v[(4*r+2)*plane+off] = b[r][2] - b[r][1]
				v[(4*r+3)*plane+off] = b[r][1] - b[r][3]
			}
		}
	}
}

// output sets the chunk's 2×2 output tiles of output channels lo..hi-1 to
// Aᵀ M A + bias, Aᵀ = [1 1 1 0; 0 1 −1 −1], dropping the pixels past the
// map's edge (odd sizes).
func (j *winoJob) output(lo, hi int) {
	h, w, nt := j.h, j.wd, j.nt
	m := j.w.m
	plane := j.outC * nt
	n0, tt0 := j.t0/j.tiles, j.t0%j.tiles
	ty0, tx0 := tt0/j.tw, tt0%j.tw
	for oc := lo; oc < hi; oc++ {
		var bv float32
		if j.bias != nil {
			bv = j.bias[oc]
		}
		n, ty, tx := n0, ty0, tx0
		out := j.dst[(n*j.outC+oc)*h*w : (n*j.outC+oc+1)*h*w]
		for t := 0; t < nt; t, tx = t+1, tx+1 {
			if tx == j.tw {
				tx = 0
				if ty++; ty*j.tw == j.tiles {
					ty = 0
					n++
					out = j.dst[(n*j.outC+oc)*h*w : (n*j.outC+oc+1)*h*w]
				}
			}
			y0, x0 := 2*ty, 2*tx
			off := oc*nt + t
			var a [2][4]float32
			for s := 0; s < 4; s++ {
				m0, m1 := m[(0+s)*plane+off], m[(4+s)*plane+off]
				m2, m3 := m[(8+s)*plane+off], m[(12+s)*plane+off]
				a[0][s] = m0 + m1 + m2
				a[1][s] = m1 - m2 - m3
			}
			for r := 0; r < 2; r++ {
				y := y0 + r
				if y >= h {
					break
				}
				o0 := a[r][0] + a[r][1] + a[r][2] + bv
				o1 := a[r][1] - a[r][2] - a[r][3] + bv
				out[y*w+x0] = o0
				if x0+1 < w {
					out[y*w+x0+1] = o1
				}
			}
		}
	}
}
