package kernels

import "sync"

// Direct convolution for few output channels (the UNet's conv_out,
// 320 → 4): the implicit GEMM packs every receptive field once per call
// whatever OutC is, which for 4 output rows costs more than the product
// itself. Here a register-tiled kernel (four channels × 64 columns) reads
// the taps from the image in place, with lane masks for the padding
// columns and the rows outside the image left out of the sum.

// convDirectMaxOutC is the largest OutC the direct path takes: it passes
// over the input once per four output channels.
const convDirectMaxOutC = 8

// useConvDirect reports whether Conv2D takes the direct path: AVX-512,
// stride 1, at most convDirectMaxOutC output channels, kernels at most 16
// wide.
func useConvDirect(lvl int, g ConvGeom) bool {
	return lvl == levelAVX512 && g.Stride == 1 && g.OutC <= convDirectMaxOutC && g.KW <= 16
}

// convDirect4x64Generic is the meaning of convDirect4x64AVX512: for o < 4
// and x < 64, dst[o*ldd+x] is the sum over c < inC, ky < kh, kx < kw of
// w[o*ldw + c*(kh*kw+wskip/4) + ky*kw + kx] (wskip bytes of weights
// skipped after each channel's taps) times src[off + c*plane + ky*row +
// kx + x] where bit x%16 of masks[kx*4 + x/16] is set, 0 where it is not
// (that element is not read); float32 sums in the order c, ky, kx.
func convDirect4x64Generic(inC, kh, kw int, src []float32, off, plane, row int, w []float32, ldw, wskip int, masks []uint16, dst []float32, ldd int) {
	wc := kh*kw + wskip/4
	for o := 0; o < 4; o++ {
		var acc [64]float32
		for c := 0; c < inC; c++ {
			for ky := 0; ky < kh; ky++ {
				for kx := 0; kx < kw; kx++ {
					wv := w[o*ldw+c*wc+ky*kw+kx]
					base := off + c*plane + ky*row + kx
					for x := range acc {
						if masks[kx*4+x/16]>>(x%16)&1 != 0 {
							acc[x] += wv * src[base+x]
						}
					}
				}
			}
		}
		copy(dst[o*ldd:o*ldd+64], acc[:])
	}
}

// convDirectJob is one direct-path call split over Parallel; pooled, with
// its method bound once, so that a call allocates nothing.
type convDirectJob struct {
	lvl                   int
	dst, src, weight, wt4 []float32 // wt4: weights zero-padded to a multiple of 4 rows
	bias                  []float32
	h, w, oh, ow          int
	g                     ConvGeom
	rowsRun               func(lo, hi int)
}

var convDirectJobs = sync.Pool{New: func() any {
	j := new(convDirectJob)
	j.rowsRun = j.rows
	return j
}}

// convDirectWeights keeps the zero-padded weights between calls.
var convDirectWeights = make(chan *[]float32, 1)

// conv2DDirect is Conv2D by the direct path (useConvDirect).
func conv2DDirect(lvl int, dst, src, weight, bias []float32, batch, h, w int, g ConvGeom, parallel bool) {
	oh, ow := g.OutSize(h, w)
	k := g.InC * g.KH * g.KW
	var buf *[]float32
	select {
	case buf = <-convDirectWeights:
	default:
		buf = new([]float32)
	}
	*buf = grow(*buf, (g.OutC+3)/4*4*k)
	copy(*buf, weight)
	clear((*buf)[len(weight):])
	j := convDirectJobs.Get().(*convDirectJob)
	j.lvl, j.dst, j.src, j.wt4, j.bias = lvl, dst, src, *buf, bias
	j.h, j.w, j.oh, j.ow, j.g = h, w, oh, ow, g
	if parallel {
		Parallel(batch*oh, 1, j.rowsRun)
	} else {
		j.rows(0, batch*oh)
	}
	j.dst, j.src, j.wt4, j.bias = nil, nil, nil, nil
	convDirectJobs.Put(j)
	select {
	case convDirectWeights <- buf:
	default:
	}
}

// rows computes output rows lo..hi-1 (image·oh + row) of every output
// channel: each output value comes from one kernel call in a fixed order,
// whatever the thread.
func (j *convDirectJob) rows(lo, hi int) {
	g, h, w, oh, ow := j.g, j.h, j.w, j.oh, j.ow
	k := g.InC * g.KH * g.KW
	owp := (ow + 63) &^ 63
	wk := getConvWork()
	wk.tmp = grow(wk.tmp, 4*owp)
	out4 := wk.tmp
	var masks [4 * 16]uint16
	for u := lo; u < hi; u++ {
		n, y := u/oh, u%oh
		in := j.src[n*g.InC*h*w : (n+1)*g.InC*h*w]
		// Input rows y−Pad+ky for ky in [ky0, ky1) are inside the image.
		iy := y - g.Pad
		ky0, ky1 := max(0, -iy), min(g.KH, h-iy)
		for grp := 0; grp < (g.OutC+3)/4; grp++ {
			wt := j.wt4[grp*4*k:]
			for x0 := 0; x0 < owp; x0 += 64 {
				if ky1 <= ky0 {
					clear(out4[x0 : x0+64])
					for o := 1; o < 4; o++ {
						clear(out4[o*owp+x0 : o*owp+x0+64])
					}
					continue
				}
				// Lane x of tap column kx reads input column
				// x0+x+kx−Pad: masked where outside [0, w).
				for kx := 0; kx < g.KW; kx++ {
					for b := 0; b < 4; b++ {
						var m uint16
						for l := 0; l < 16; l++ {
							if ix := x0 + 16*b + l + kx - g.Pad; ix >= 0 && ix < w {
								m |= 1 << l
							}
						}
						masks[kx*4+b] = m
					}
				}
				off := (iy+ky0)*w + x0 - g.Pad
				convDirect4L(j.lvl, g.InC, ky1-ky0, g.KW, in, off, h*w, w, wt[ky0*g.KW:], k, 4*(g.KH-(ky1-ky0))*g.KW, masks[:4*g.KW], out4[x0:], owp)
			}
			for o := grp * 4; o < min(grp*4+4, g.OutC); o++ {
				d := j.dst[((n*g.OutC+o)*oh+y)*ow : ((n*g.OutC+o)*oh+y+1)*ow]
				s := out4[(o-grp*4)*owp : (o-grp*4)*owp+ow]
				if j.bias == nil {
					copy(d, s)
					continue
				}
				bv := j.bias[o]
				for i, v := range s {
					d[i] = v + bv
				}
			}
		}
	}
	putConvWork(wk)
}

// convDirect4L runs the level's direct kernel (AVX-512; the generic twin
// elsewhere, for the tests).
func convDirect4L(lvl, inC, kh, kw int, src []float32, off, plane, row int, w []float32, ldw, wskip int, masks []uint16, dst []float32, ldd int) {
	if lvl == levelAVX512 {
		convDirect4x64AVX512(inC, kh, kw, src, off, plane, row, w, ldw, wskip, masks, dst, ldd)
		return
	}
	convDirect4x64Generic(inC, kh, kw, src, off, plane, row, w, ldw, wskip, masks, dst, ldd)
}
