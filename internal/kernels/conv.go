package kernels

import "fmt"

// ConvGeom is the geometry of a 2-D convolution over NCHW float32
// tensors, as torch.nn.Conv2d with square stride and symmetric zero
// padding (groups 1, dilation 1).
type ConvGeom struct {
	InC, OutC   int // input and output channels
	KH, KW      int // kernel height and width
	Stride, Pad int // stride (≥ 1) and zero padding on every side
}

// OutSize is the output height and width of the convolution over an
// h×w input: (h + 2·Pad − KH)/Stride + 1, and the same for the width.
func (g ConvGeom) OutSize(h, w int) (oh, ow int) {
	return (h+2*g.Pad-g.KH)/g.Stride + 1, (w+2*g.Pad-g.KW)/g.Stride + 1
}

func (g ConvGeom) check(h, w int) {
	if g.InC < 1 || g.OutC < 1 || g.KH < 1 || g.KW < 1 || g.Stride < 1 || g.Pad < 0 {
		panic(fmt.Sprintf("kernels: Conv2D geometry %+v", g))
	}
	if oh, ow := g.OutSize(h, w); oh < 1 || ow < 1 {
		panic(fmt.Sprintf("kernels: Conv2D of a %dx%d input with geometry %+v has no output", h, w, g))
	}
}

// Conv2D computes dst = conv2d(src, weight) + bias for a batch of
// images: src is [batch, InC, h, w], weight [OutC, InC, KH, KW]
// (PyTorch's layout), bias [OutC] or nil, dst [batch, OutC, oh, ow] with
// oh, ow = g.OutSize(h, w). dst must not overlap src.
func Conv2D(dst, src, weight, bias []float32, batch, h, w int, g ConvGeom) {
	g.check(h, w)
	oh, ow := g.OutSize(h, w)
	checkLen("Conv2D", "src", len(src), batch*g.InC*h*w)
	checkLen("Conv2D", "weight", len(weight), g.OutC*g.InC*g.KH*g.KW)
	checkLen("Conv2D", "dst", len(dst), batch*g.OutC*oh*ow)
	if bias != nil {
		checkLen("Conv2D", "bias", len(bias), g.OutC)
	}
	k := g.InC * g.KH * g.KW
	npix := oh * ow
	direct := g.KH == 1 && g.KW == 1 && g.Stride == 1 && g.Pad == 0
	var col []float32
	if !direct {
		col = make([]float32, k*npix)
	}
	for n := 0; n < batch; n++ {
		in := src[n*g.InC*h*w : (n+1)*g.InC*h*w]
		out := dst[n*g.OutC*npix : (n+1)*g.OutC*npix]
		b := in
		if !direct {
			im2col(col, in, h, w, oh, ow, g)
			b = col
		}
		Sgemm(false, false, g.OutC, npix, k, 1, weight, k, b, npix, 0, out, npix)
		if bias != nil {
			for oc := 0; oc < g.OutC; oc++ {
				row := out[oc*npix : (oc+1)*npix]
				bv := bias[oc]
				for i := range row {
					row[i] += bv
				}
			}
		}
	}
}

// im2col lays the receptive fields of one image out as a
// [InC·KH·KW, oh·ow] matrix, zeros where the kernel overlaps the padding.
func im2col(col, in []float32, h, w, oh, ow int, g ConvGeom) {
	Parallel(g.InC, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			plane := in[c*h*w : (c+1)*h*w]
			for ky := 0; ky < g.KH; ky++ {
				for kx := 0; kx < g.KW; kx++ {
					row := col[((c*g.KH+ky)*g.KW+kx)*oh*ow:][:oh*ow]
					for y := 0; y < oh; y++ {
						iy := y*g.Stride + ky - g.Pad
						dst := row[y*ow : (y+1)*ow]
						if iy < 0 || iy >= h {
							clear(dst)
							continue
						}
						src := plane[iy*w : (iy+1)*w]
						for x := range dst {
							ix := x*g.Stride + kx - g.Pad
							if ix < 0 || ix >= w {
								dst[x] = 0
							} else {
								dst[x] = src[ix]
							}
						}
					}
				}
			}
		}
	})
}
