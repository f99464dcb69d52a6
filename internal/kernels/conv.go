package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"
)

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
//
// It is an implicit GEMM: per image, dst = W·X with W the [OutC,
// InC·KH·KW] weight matrix and X the receptive fields as columns, but X is
// never formed: the packed-GEMM driver (sgemm.go's blocking and micro
// kernels) packs its B panels straight from the image, zero padding
// included, so the only scratch is the pooled packing buffers and a call
// allocates nothing in steady state. Work is split across Threads() by
// output columns (per image) or, for small maps, by output channels.
func Conv2D(dst, src, weight, bias []float32, batch, h, w int, g ConvGeom) {
	g.check(h, w)
	oh, ow := g.OutSize(h, w)
	checkLen("Conv2D", "src", len(src), batch*g.InC*h*w)
	checkLen("Conv2D", "weight", len(weight), g.OutC*g.InC*g.KH*g.KW)
	checkLen("Conv2D", "dst", len(dst), batch*g.OutC*oh*ow)
	if bias != nil {
		checkLen("Conv2D", "bias", len(bias), g.OutC)
	}
	if batch == 0 {
		return
	}
	if useConvDirect(level, g) {
		conv2DDirect(level, dst, src, weight, bias, batch, h, w, g, true)
		return
	}
	if useWinograd(g, h, w) {
		conv2DWinograd(level, dst, src, weight, bias, batch, h, w, g)
		return
	}
	conv2D(level, dst, src, weight, bias, batch, h, w, g, true)
}

// conv2D is Conv2D after argument checks, with the kernel level explicit;
// parallel false keeps it on the calling goroutine (the start-up self-check
// runs before the worker pool may start).
func conv2D(lvl int, dst, src, weight, bias []float32, batch, h, w int, g ConvGeom, parallel bool) {
	oh, ow := g.OutSize(h, w)
	mr, nr := gemmShape(lvl)
	npix := oh * ow
	panels := (npix + nr - 1) / nr // column panels per image
	j := convJobs.Get().(*convJob)
	j.lvl, j.dst, j.src, j.weight, j.bias = lvl, dst, src, weight, bias
	j.h, j.w, j.oh, j.ow, j.g, j.batch, j.panels = h, w, oh, ow, g, batch, panels
	j.byCols, j.dynamic, j.chunk = false, false, 0
	j.next.Store(0)
	threads := 1
	if parallel {
		threads = Threads()
	}
	flops := g.OutC * npix * g.InC * g.KH * g.KW * batch
	switch {
	case threads == 1 || flops < parallelFlops:
		j.byCols = true
		j.do(0, batch*panels)
	case batch*panels >= threads*4:
		// Threads claim chunks of column panels until none are left, so
		// that a thread that starts late or runs slower (a busy sibling
		// on a shared machine) takes fewer instead of holding the others
		// up at the end. A chunk is at least 4 panels (B packed for 128+
		// columns per weight pass), at most 16, about 4 per thread.
		j.byCols, j.dynamic = true, true
		j.chunk = min(16, max(4, batch*panels/(threads*4)))
		Parallel(threads, 1, j.run)
	default:
		// Small maps (8×8, 16×16 at stride 2): split the output channels
		// in mr-row units, every thread covering all the columns.
		Parallel((g.OutC+mr-1)/mr, 1, j.run)
	}
	j.release()
}

// convJob is one Conv2D call split over Parallel; pooled, with run bound
// once, so that handing it to Parallel allocates nothing.
type convJob struct {
	lvl                    int
	dst, src, weight, bias []float32
	h, w, oh, ow           int
	g                      ConvGeom
	batch, panels          int  // images, and nr-wide column panels per image
	byCols                 bool // Parallel's units are column panels (else mr-row units)
	dynamic                bool // byCols: claim chunks of panels from next (Parallel's range is ignored)
	chunk                  int  // dynamic: panels per claim
	next                   atomic.Int64
	run                    func(lo, hi int)
}

var convJobs = sync.Pool{New: func() any {
	j := new(convJob)
	j.run = j.do
	return j
}}

func (j *convJob) release() {
	j.dst, j.src, j.weight, j.bias = nil, nil, nil, nil
	convJobs.Put(j)
}

// do computes Parallel's range [lo, hi): column panels (byCols, over all
// output channels) or mr-row units of output channels (over all columns).
// A dynamic job instead claims chunks of column panels until none are
// left.
func (j *convJob) do(lo, hi int) {
	if j.dynamic {
		total := int64(j.batch * j.panels)
		for {
			u := j.next.Add(int64(j.chunk)) - int64(j.chunk)
			if u >= total {
				return
			}
			j.cols(int(u), int(min(u+int64(j.chunk), total)))
		}
	}
	if j.byCols {
		j.cols(lo, hi)
		return
	}
	mr, _ := gemmShape(j.lvl)
	j.block(lo*mr, min(hi*mr, j.g.OutC), 0, j.batch*j.panels)
}

// cols computes column panels lo..hi-1 over all output channels.
func (j *convJob) cols(lo, hi int) { j.block(0, j.g.OutC, lo, hi) }

// block computes output channels r0..r1 of column panels u0..u1-1 (panel u
// is panel u%panels of image u/panels).
func (j *convJob) block(r0, r1, u0, u1 int) {
	_, nr := gemmShape(j.lvl)
	wk := getConvWork()
	npix := j.oh * j.ow
	inSize := j.g.InC * j.h * j.w
	outSize := j.g.OutC * npix
	for u := u0; u < u1; {
		n := u / j.panels
		// This image's panels in the range: columns c0..c1.
		pEnd := min(u1, (n+1)*j.panels)
		c0, c1 := (u-n*j.panels)*nr, min((pEnd-n*j.panels)*nr, npix)
		j.image(wk, j.src[n*inSize:(n+1)*inSize], j.dst[n*outSize:(n+1)*outSize], r0, r1, c0, c1)
		u = pEnd
	}
	putConvWork(wk)
}

// convWork keeps Conv2D's packing buffers between calls. Unlike the
// sync.Pool behind Sgemm, which a garbage collection empties, it holds on
// to them (a few MiB per thread), so that a UNet step, which allocates
// activations and triggers collections, does not re-allocate them per
// convolution.
var convWork = make(chan *gemmWork, 64)

func getConvWork() *gemmWork {
	select {
	case w := <-convWork:
		return w
	default:
		return new(gemmWork)
	}
}

func putConvWork(w *gemmWork) {
	select {
	case convWork <- w:
	default:
	}
}

// convSelfCheck runs a level's Conv2D (the implicit-GEMM packing and the
// level's micro kernel, full and edge tiles, stride 1 and 2, padding) on
// small inputs against the definition.
func convSelfCheck(lvl int) error {
	for _, c := range []struct {
		h, w int
		g    ConvGeom
	}{
		{7, 9, ConvGeom{InC: 3, OutC: 13, KH: 3, KW: 3, Stride: 1, Pad: 1}},
		{7, 9, ConvGeom{InC: 3, OutC: 5, KH: 3, KW: 3, Stride: 1, Pad: 1}}, // the direct path (AVX-512)
		{9, 8, ConvGeom{InC: 5, OutC: 7, KH: 3, KW: 3, Stride: 2, Pad: 1}},
		{6, 11, ConvGeom{InC: 4, OutC: 6, KH: 1, KW: 1, Stride: 1, Pad: 0}},
	} {
		oh, ow := c.g.OutSize(c.h, c.w)
		src := make([]float32, 2*c.g.InC*c.h*c.w)
		for i := range src {
			src[i] = float32((i*7)%31)/8 - 1.9
		}
		wt := make([]float32, c.g.OutC*c.g.InC*c.g.KH*c.g.KW)
		for i := range wt {
			wt[i] = float32((i*13)%29)/9 - 1.4
		}
		bias := make([]float32, c.g.OutC)
		for i := range bias {
			bias[i] = float32(i%5) - 2
		}
		got := make([]float32, 2*c.g.OutC*oh*ow)
		want := convDefinition(src, wt, bias, 2, c.h, c.w, c.g)
		for _, direct := range []bool{false, true} {
			switch {
			case !direct:
				conv2D(lvl, got, src, wt, bias, 2, c.h, c.w, c.g, false)
			case useConvDirect(lvl, c.g):
				conv2DDirect(lvl, got, src, wt, bias, 2, c.h, c.w, c.g, false)
			default:
				continue
			}
			for i := range got {
				if !closeEnough(got[i], want[i], c.g.InC*c.g.KH*c.g.KW) {
					return fmt.Errorf("conv2d %+v on %dx%d (direct %v): dst[%d] = %g, want %g", c.g, c.h, c.w, direct, i, got[i], want[i])
				}
			}
		}
	}
	return nil
}

// convDefinition is the convolution's definition, summed in float64: the
// reference of the self-check and the tests.
func convDefinition(src, weight, bias []float32, batch, h, w int, g ConvGeom) []float32 {
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
							iy := y*g.Stride + ky - g.Pad
							if iy < 0 || iy >= h {
								continue
							}
							for kx := 0; kx < g.KW; kx++ {
								ix := x*g.Stride + kx - g.Pad
								if ix < 0 || ix >= w {
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

// image computes output channels r0..r1 and output pixels c0..c1 of one
// image: the loops of gemmSerial, with B packed from the image and A read
// in place from the weights (convMicro).
func (j *convJob) image(wk *gemmWork, in, out []float32, r0, r1, c0, c1 int) {
	mr, nr := gemmShape(j.lvl)
	g := j.g
	npix := j.oh * j.ow
	k := g.InC * g.KH * g.KW
	m, n := r1-r0, c1-c0
	mc := min(mcBlock, (m+mr-1)/mr*mr)
	nc := min(ncBlock, (n+nr-1)/nr*nr)
	kc := min(kcBlock, k)
	wk.a = grow(wk.a, mr*kc)
	wk.b = grow(wk.b, nc*kc)
	wk.tmp = grow(wk.tmp, mr*nr)
	// The micro kernels accumulate: start from the bias (or zero).
	for oc := r0; oc < r1; oc++ {
		row := out[oc*npix+c0 : oc*npix+c1]
		if j.bias == nil {
			clear(row)
			continue
		}
		bv := j.bias[oc]
		for i := range row {
			row[i] = bv
		}
	}
	for jc := c0; jc < c1; jc += nc {
		nb := min(nc, c1-jc)
		for pc := 0; pc < k; pc += kc {
			kb := min(kc, k-pc)
			packBConv(j.lvl, wk.b, in, j.h, j.w, j.ow, g, pc, kb, jc, nb, nr)
			for ic := r0; ic < r1; ic += mc {
				mb := min(mc, r1-ic)
				convMacro(j.lvl, mr, nr, mb, nb, kb, j.weight[ic*k+pc:], k, wk, out[ic*npix+jc:], npix)
			}
		}
	}
}

// convMacro adds A·B to the mb×nb block of C at c: A the mb×kb block of
// the weights at a (row stride lda, read in place), B the packed kb×nb
// block in wk.b. Tiles missing rows or columns go through wk.tmp, their A
// rows first copied, zero-padded to mr, into wk.a.
func convMacro(lvl, mr, nr, mb, nb, kb int, a []float32, lda int, wk *gemmWork, c []float32, ldc int) {
	tmp := wk.tmp[:mr*nr]
	// The last row tile, when partial, is copied once, zero-padded to mr
	// rows, for every column panel to use.
	full := mb / mr * mr
	if full < mb {
		pa := wk.a[:mr*kb]
		ap := a[full*lda:]
		for i := 0; i < mr; i++ {
			if i < mb-full {
				copy(pa[i*kb:(i+1)*kb], ap[i*lda:i*lda+kb])
			} else {
				clear(pa[i*kb : (i+1)*kb])
			}
		}
	}
	for jr := 0; jr < nb; jr += nr {
		nn := min(nr, nb-jr)
		bp := wk.b[jr*kb : jr*kb+nr*kb]
		for ir := 0; ir < mb; ir += mr {
			mm := min(mr, mb-ir)
			ap, la := a[ir*lda:], lda
			if mm < mr {
				ap, la = wk.a[:mr*kb], kb
			} else if nn == nr {
				convMicroL(lvl, mr, nr, kb, ap, la, bp, c[ir*ldc+jr:], ldc)
				continue
			}
			clear(tmp)
			if lvl == levelAVX512 && nn <= 16 {
				// A panel at most half used: the 6×16 kernel, half the work.
				convMicro6x16AVX512(kb, ap, la, bp, tmp, nr)
			} else {
				convMicroL(lvl, mr, nr, kb, ap, la, bp, tmp, nr)
			}
			for i := 0; i < mm; i++ {
				ci := c[(ir+i)*ldc+jr : (ir+i)*ldc+jr+nn]
				for jj, v := range tmp[i*nr : i*nr+nn] {
					ci[jj] += v
				}
			}
		}
	}
}

// convMicroL runs the level's in-place-A micro kernel on an mr×nr tile:
// c[i*ldc+j] += sum_{p<k} a[i*lda+p]*b[p*nr+j].
func convMicroL(lvl, mr, nr, k int, a []float32, lda int, b, c []float32, ldc int) {
	switch lvl {
	case levelAVX512:
		convMicro6x32AVX512(k, a, lda, b, c, ldc)
	case levelAVX2:
		convMicro6x16AVX2(k, a, lda, b, c, ldc)
	default:
		convMicroGeneric(mr, nr, k, a, lda, b, c, ldc)
	}
}

// convMicroGeneric is the micro kernel of convMicroL in plain Go (the
// generic level's, and the meaning of the assembly ones).
func convMicroGeneric(mr, nr, k int, a []float32, lda int, b, c []float32, ldc int) {
	var acc [64]float32
	for i := 0; i < mr; i++ {
		row := acc[:nr]
		clear(row)
		ai := a[i*lda : i*lda+k]
		for p, av := range ai {
			bp := b[p*nr : p*nr+nr]
			for jj, bv := range bp {
				row[jj] += av * bv
			}
		}
		ci := c[i*ldc : i*ldc+nr]
		for jj, v := range row {
			ci[jj] += v
		}
	}
}

// packBConv packs the kb×nb block at (pc, jc) of one image's implicit
// im2col matrix (row p = (c, ky, kx) of the receptive field, column q = an
// output pixel, value in[c][y·s+ky−pad][x·s+kx−pad] or 0 in the padding)
// into nr-column panels, as packB: panel q holds columns q·nr.. as
// dst[q·nr·kb + p·nr + j], missing columns of the last panel zero.
func packBConv(lvl int, dst, in []float32, h, w, ow int, g ConvGeom, pc, kb, jc, nb, nr int) {
	kk := g.KH * g.KW
	s := g.Stride
	hw := h * w
	// A panel's columns, cut where they change output row: column t of
	// segment seg reads input row iy+ky at column ix+kx+t·s (iy, ix before
	// the kernel offsets). The cut depends on the panel only, so it is done
	// once per panel, not once per packed row.
	type segment struct{ t, n, iy, ix int }
	var segs [64]segment // nr ≤ 64 columns, at most one segment each
	for j0 := 0; j0 < nb; j0 += nr {
		panel := dst[j0*kb : j0*kb+nr*kb]
		cols := min(nr, nb-j0)
		ns := 0
		q0 := jc + j0
		y, x := q0/ow, q0%ow
		for t := 0; t < cols; {
			n := min(cols-t, ow-x)
			segs[ns] = segment{t, n, y*s - g.Pad, x*s - g.Pad}
			ns++
			t += n
			x = 0
			y++
		}
		c, r := pc/kk, pc%kk
		ky, kx := r/g.KW, r%g.KW
		for p := 0; p < kb; p++ {
			d := panel[p*nr : p*nr+nr]
			plane := in[c*hw : c*hw+hw]
			for _, sg := range segs[:ns] {
				ds := d[sg.t : sg.t+sg.n]
				iy := sg.iy + ky
				if iy < 0 || iy >= h {
					clear(ds)
					continue
				}
				row := plane[iy*w : iy*w+w]
				ix0 := sg.ix + kx
				seg := sg.n
				if s == 1 {
					if ix0 >= 0 && ix0+seg <= w {
						copy(ds, row[ix0:ix0+seg]) // inside the row: the common case
						continue
					}
					// ds[i] = row[ix0+i]: zeros where ix0+i is outside
					// [0, w), one copy for the rest.
					lo := min(max(-ix0, 0), seg)
					hi := max(min(w-ix0, seg), lo)
					clear(ds[:lo])
					if hi > lo {
						copy(ds[lo:hi], row[ix0+lo:ix0+hi])
					}
					clear(ds[hi:])
					continue
				}
				// ds[i] = row[ix0+i·s] for i in [lo, hi), where that index
				// is inside the row; zeros around.
				lo, hi := 0, seg
				if ix0 < 0 || ix0+(seg-1)*s >= w {
					lo = min(max((-ix0+s-1)/s, 0), seg)
					hi = max(min((w-ix0+s-1)/s, seg), lo)
					clear(ds[:lo])
					clear(ds[hi:])
				}
				if hi > lo {
					dd := ds[lo:hi]
					if s == 2 {
						// The downsamplers' case: AVX-512 picks the even
						// lanes of 32 values 16 at a time (it may read to
						// the end of the row), Go the rest.
						src := row[ix0+lo*2:]
						i := 0
						if lvl == levelAVX512 {
							i = gatherEvenAVX512(dd, src)
						}
						for ; i < len(dd); i++ {
							dd[i] = src[2*i]
						}
					} else {
						src := row[ix0+lo*s : ix0+(hi-1)*s+1]
						for i := range dd {
							dd[i] = src[i*s]
						}
					}
				}
			}
			if cols < nr {
				clear(d[cols:])
			}
			if kx++; kx == g.KW {
				kx = 0
				if ky++; ky == g.KH {
					ky = 0
					c++
				}
			}
		}
	}
}
