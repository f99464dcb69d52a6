package vae

import (
	"fmt"
	"math"

	"github.com/loupe-ml/loupe/diffusion/noise"
	"github.com/loupe-ml/loupe/internal/kernels"
)

// eps is the GroupNorm epsilon of every norm in the VAE (resnet_eps 1e-6).
const eps = 1e-6

// attnRows (a variable for the tests) is how many query pixels the mid-block attention scores at a
// time: the scores of a 64×64 latent (4,096 pixels) take 256·4096·4 bytes
// = 4 MB per tile instead of 64 MB for the whole matrix.
var attnRows = 256

// Decode runs the decoder: latents [batch, latent_channels, h, w], in the
// VAE's own scale (divide the UNet's latents by the scaling factor first:
// Unscale), to pixels [batch, out_channels, f·h, f·w] with f = Factor(),
// nominally in [−1, 1] but not clamped (as diffusers' vae.decode returns
// them; the image processor maps x to clamp(x/2 + 0.5, 0, 1)).
func (m *Model) Decode(latents []float32, batch, h, w int) ([]float32, error) {
	c := m.Config
	if batch < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("vae: Decode of batch %d, %d×%d latents", batch, h, w)
	}
	per := c.LatentChannels * h * w
	if len(latents) != batch*per {
		return nil, fmt.Errorf("vae: Decode got %d values, want %d for [%d, %d, %d, %d]", len(latents), batch*per, batch, c.LatentChannels, h, w)
	}
	f := c.Factor()
	outPer := c.OutChannels * f * h * f * w
	out := make([]float32, 0, batch*outPer)
	var s scratch
	for b := range batch {
		x := m.decodeOne(&s, latents[b*per:(b+1)*per], h, w)
		out = append(out, x...)
		s.put(x)
	}
	return out, nil
}

// DecodeTiled is Decode as diffusers runs it after vae.enable_tiling():
// latents larger than a tile of t = sample_size/Factor() latents on a side
// (64 for SD 1.x) are cut into t×t tiles starting every ¾t, each decoded
// alone; each tile is blended linearly with the tile above and the tile
// to the left over a quarter of the sample size (128 pixels), cropped to
// the other three quarters and placed. Memory then depends on the tile,
// not the image; the result differs slightly from Decode's near the seams.
// Latents within one tile are decoded whole, as diffusers does.
func (m *Model) DecodeTiled(latents []float32, batch, h, w int) ([]float32, error) {
	c := m.Config
	f := c.Factor()
	ts := c.SampleSize
	tl := ts / f
	if h <= tl && w <= tl {
		return m.Decode(latents, batch, h, w)
	}
	if batch < 1 {
		return nil, fmt.Errorf("vae: DecodeTiled of batch %d", batch)
	}
	per := c.LatentChannels * h * w
	if len(latents) != batch*per {
		return nil, fmt.Errorf("vae: DecodeTiled got %d values, want %d for [%d, %d, %d, %d]", len(latents), batch*per, batch, c.LatentChannels, h, w)
	}
	overlap := int(float64(tl) * 0.75)
	blend := int(float64(ts) * 0.25)
	if overlap < 1 {
		return nil, fmt.Errorf("vae: DecodeTiled: sample_size %d gives tiles of %d latents, too small to overlap", ts, tl)
	}
	var out []float32
	var s scratch
	for b := range batch {
		img, _, _ := tiled(latents[b*per:(b+1)*per], c.LatentChannels, h, w, tl, overlap, blend, ts-blend,
			func(sub []float32, th, tw int) tile {
				return tile{x: m.decodeOne(&s, sub, th, tw), c: c.OutChannels, h: th * f, w: tw * f}
			})
		out = append(out, img...)
	}
	return out, nil
}

// EncodeTiled is Encode as diffusers runs it after vae.enable_tiling():
// images larger than sample_size on a side (512 for SD 1.x) are cut into
// sample_size tiles starting every ¾ of it, each encoded alone (with
// quant_conv); the moments of each tile are blended linearly with those
// of the tile above and to the left over a quarter of a latent tile (16
// latents), cropped to the other three quarters and placed, before they
// split into mean and log-variance. Images within one tile are encoded
// whole.
func (m *Model) EncodeTiled(pixels []float32, batch, H, W int) (*Posterior, error) {
	c := m.Config
	f := c.Factor()
	ts := c.SampleSize
	tl := ts / f
	if H <= ts && W <= ts {
		return m.Encode(pixels, batch, H, W)
	}
	if batch < 1 || H%f != 0 || W%f != 0 {
		return nil, fmt.Errorf("vae: EncodeTiled of batch %d, %d×%d pixels: want sides that are multiples of %d", batch, H, W, f)
	}
	per := c.InChannels * H * W
	if len(pixels) != batch*per {
		return nil, fmt.Errorf("vae: EncodeTiled got %d values, want %d for [%d, %d, %d, %d]", len(pixels), batch*per, batch, c.InChannels, H, W)
	}
	overlap := int(float64(ts) * 0.75)
	blend := int(float64(tl) * 0.25)
	if overlap < 1 {
		return nil, fmt.Errorf("vae: EncodeTiled: sample_size %d is too small to overlap", ts)
	}
	lc := c.LatentChannels
	p := &Posterior{Batch: batch, Channels: lc}
	var s scratch
	for b := range batch {
		mom, h, w := tiled(pixels[b*per:(b+1)*per], c.InChannels, H, W, ts, overlap, blend, tl-blend,
			func(sub []float32, th, tw int) tile {
				x, oh, ow := m.encodeOne(&s, sub, th, tw)
				if q := m.Weights.QuantConv; q != nil {
					x = s.conv(q, x, oh, ow)
				}
				return tile{x: x, c: 2 * lc, h: oh, w: ow}
			})
		p.H, p.W = h, w
		p.Mean = append(p.Mean, mom[:lc*h*w]...)
		for _, v := range mom[lc*h*w:] {
			p.LogVar = append(p.LogVar, min(max(v, -30), 20))
		}
	}
	return p, nil
}

// tiled runs fn over the tiles of one image x [c, h, w]: tiles of size
// tileSize starting every overlap along each side (smaller at the far
// edges), each result blended in place with the results above and to the
// left over blend rows and columns (diffusers' blend_v, blend_h), cropped
// to limit and placed. It returns the assembled output and its height and
// width.
func tiled(x []float32, c, h, w, tileSize, overlap, blend, limit int, fn func(sub []float32, th, tw int) tile) ([]float32, int, int) {
	var rows [][]tile
	for i := 0; i < h; i += overlap {
		var row []tile
		for j := 0; j < w; j += overlap {
			th, tw := min(tileSize, h-i), min(tileSize, w-j)
			sub := make([]float32, 0, c*th*tw)
			for ch := range c {
				for y := i; y < i+th; y++ {
					sub = append(sub, x[(ch*h+y)*w+j:(ch*h+y)*w+j+tw]...)
				}
			}
			t := fn(sub, th, tw)
			if len(rows) > 0 {
				blendV(rows[len(rows)-1][len(row)], t, blend)
			}
			if len(row) > 0 {
				blendH(row[len(row)-1], t, blend)
			}
			row = append(row, t)
		}
		rows = append(rows, row)
	}
	H, W := 0, 0
	for _, r := range rows {
		H += min(limit, r[0].h)
	}
	for _, t := range rows[0] {
		W += min(limit, t.w)
	}
	oc := rows[0][0].c
	img := make([]float32, oc*H*W)
	y0 := 0
	for _, r := range rows {
		x0 := 0
		for _, t := range r {
			ch, cw := min(limit, t.h), min(limit, t.w)
			for k := range oc {
				for y := range ch {
					copy(img[(k*H+y0+y)*W+x0:], t.x[(k*t.h+y)*t.w:(k*t.h+y)*t.w+cw])
				}
			}
			x0 += cw
		}
		y0 += min(limit, r[0].h)
	}
	return img, H, W
}

// tile is one decoded tile [c, h, w].
type tile struct {
	x       []float32
	c, h, w int
}

// blendV blends the top rows of b with the bottom rows of a, the tile
// above it: row y of b becomes a's row (h−e+y)·(1 − y/e) + b's·y/e over
// e = min(a.h, b.h, extent) rows, in place (diffusers' blend_v).
func blendV(a, b tile, extent int) {
	e := min(a.h, b.h, extent)
	for y := range e {
		wa, wb := float32(1-float64(y)/float64(e)), float32(float64(y)/float64(e))
		for k := range b.c {
			ra := a.x[(k*a.h+a.h-e+y)*a.w:][:b.w]
			rb := b.x[(k*b.h+y)*b.w:][:b.w]
			for x := range rb {
				rb[x] = ra[x]*wa + rb[x]*wb
			}
		}
	}
}

// blendH blends the left columns of b with the right columns of a, the
// tile to its left, in place (diffusers' blend_h).
func blendH(a, b tile, extent int) {
	e := min(a.w, b.w, extent)
	for x := range e {
		wa, wb := float32(1-float64(x)/float64(e)), float32(float64(x)/float64(e))
		for k := range b.c {
			for y := range b.h {
				i := (k*b.h+y)*b.w + x
				b.x[i] = a.x[(k*a.h+y)*a.w+a.w-e+x]*wa + b.x[i]*wb
			}
		}
	}
}

// decodeOne decodes one image's latents z [latent_channels, h, w] (left
// unchanged) through post_quant_conv and the decoder.
func (m *Model) decodeOne(s *scratch, z []float32, h, w int) []float32 {
	d := &m.Weights.Decoder
	g := m.Config.NormNumGroups
	if pq := m.Weights.PostQuantConv; pq != nil {
		z = s.conv(pq, z, h, w)
		defer s.put(z)
	}
	x := s.conv(&d.ConvIn, z, h, w)
	x = s.mid(&d.Mid, x, h, w, g)
	for _, b := range d.Up {
		for i := range b.Resnets {
			x = s.resnet(&b.Resnets[i], x, h, w, g)
		}
		if b.Sample != nil {
			u := s.upsample2x(x, b.Sample.In, h, w)
			s.put(x)
			h, w = 2*h, 2*w
			x = s.conv(b.Sample, u, h, w)
			s.put(u)
		}
	}
	kernels.GroupNorm(x, x, d.NormOut.G, d.NormOut.B, 1, d.ConvOut.In, h*w, g, eps, true)
	y := s.conv(&d.ConvOut, x, h, w)
	s.put(x)
	return y
}

// Posterior is the encoder's DiagonalGaussianDistribution over latents
// [Batch, Channels, H, W]: Mean and LogVar (clamped to [−30, 20] as
// diffusers clamps it), in the VAE's own scale.
type Posterior struct {
	Mean, LogVar          []float32
	Batch, Channels, H, W int
}

// Mode returns the distribution's mode, its mean (a copy).
func (p *Posterior) Mode() []float32 { return append([]float32(nil), p.Mean...) }

// Sample draws mean + exp(logvar/2)·ε with ε from g, as diffusers'
// latent_dist.sample(generator) does with one CPU generator: one
// torch.randn of the whole [batch, channels, h, w] shape.
func (p *Posterior) Sample(g *noise.Generator) []float32 {
	e := g.Randn(len(p.Mean))
	out := make([]float32, len(p.Mean))
	for i, m := range p.Mean {
		std := float32(math.Exp(float64(0.5 * p.LogVar[i])))
		out[i] = m + std*e[i]
	}
	return out
}

// SampleEach draws each image's latents from its own generator, as
// diffusers does with a list of generators (one torch.randn of one
// image's shape per generator); len(gens) must be Batch.
func (p *Posterior) SampleEach(gens []*noise.Generator) ([]float32, error) {
	if len(gens) != p.Batch {
		return nil, fmt.Errorf("vae: SampleEach got %d generators for a batch of %d", len(gens), p.Batch)
	}
	per := len(p.Mean) / max(p.Batch, 1)
	out := make([]float32, 0, len(p.Mean))
	for i, g := range gens {
		one := Posterior{Mean: p.Mean[i*per : (i+1)*per], LogVar: p.LogVar[i*per : (i+1)*per]}
		out = append(out, one.Sample(g)...)
	}
	return out, nil
}

// Encode runs the encoder and quant_conv on pixels [batch, in_channels,
// H, W] (in [−1, 1]; H and W multiples of Factor()) and returns the
// posterior over latents [batch, latent_channels, H/f, W/f]. Multiply a
// sample by the scaling factor (Scale) before handing it to the UNet.
func (m *Model) Encode(pixels []float32, batch, H, W int) (*Posterior, error) {
	c := m.Config
	f := c.Factor()
	if batch < 1 || H < 1 || W < 1 || H%f != 0 || W%f != 0 {
		return nil, fmt.Errorf("vae: Encode of batch %d, %d×%d pixels: want sides that are positive multiples of %d", batch, H, W, f)
	}
	per := c.InChannels * H * W
	if len(pixels) != batch*per {
		return nil, fmt.Errorf("vae: Encode got %d values, want %d for [%d, %d, %d, %d]", len(pixels), batch*per, batch, c.InChannels, H, W)
	}
	lc := c.LatentChannels
	h, w := H/f, W/f
	p := &Posterior{Batch: batch, Channels: lc, H: h, W: w}
	var s scratch
	for b := range batch {
		mom, _, _ := m.encodeOne(&s, pixels[b*per:(b+1)*per], H, W)
		if q := m.Weights.QuantConv; q != nil {
			mom = s.conv(q, mom, h, w)
		}
		p.Mean = append(p.Mean, mom[:lc*h*w]...)
		for _, v := range mom[lc*h*w:] {
			p.LogVar = append(p.LogVar, min(max(v, -30), 20))
		}
	}
	return p, nil
}

// encodeOne encodes one image x [in_channels, h, w] (left unchanged) to
// the encoder's moments [2·latent_channels, h', w'] and returns h' and w'
// (h/f and w/f for sides that are multiples of f).
func (m *Model) encodeOne(s *scratch, x []float32, h, w int) ([]float32, int, int) {
	e := &m.Weights.Encoder
	g := m.Config.NormNumGroups
	x = s.conv(&e.ConvIn, x, h, w)
	for _, b := range e.Down {
		for i := range b.Resnets {
			x = s.resnet(&b.Resnets[i], x, h, w, g)
		}
		if b.Sample != nil {
			var y []float32
			y, h, w = s.downsample(b.Sample, x, h, w)
			s.put(x)
			x = y
		}
	}
	x = s.mid(&e.Mid, x, h, w, g)
	kernels.GroupNorm(x, x, e.NormOut.G, e.NormOut.B, 1, e.ConvOut.In, h*w, g, eps, true)
	y := s.conv(&e.ConvOut, x, h, w)
	s.put(x)
	return y, h, w
}

// Scale maps VAE latents to the UNet's scale in place:
// (z − shift_factor)·scaling_factor (diffusers' img2img preparation).
func (m *Model) Scale(z []float32) {
	sf := float32(m.Config.ScalingFactor)
	var shift float32
	if m.Config.ShiftFactor != nil {
		shift = float32(*m.Config.ShiftFactor)
	}
	for i, v := range z {
		z[i] = (v - shift) * sf
	}
}

// Unscale maps the UNet's latents back to the VAE's scale in place,
// z/scaling_factor + shift_factor, as the pipelines do before vae.decode.
func (m *Model) Unscale(z []float32) {
	sf := float32(m.Config.ScalingFactor)
	var shift float32
	if m.Config.ShiftFactor != nil {
		shift = float32(*m.Config.ShiftFactor)
	}
	for i, v := range z {
		z[i] = v/sf + shift
	}
}

// scratch recycles the activation buffers of one Decode or Encode call:
// at 512×512 an activation of 128 channels is 134 MB, and handing each one
// back as soon as it is dead keeps the peak near the few that are live at
// once instead of leaving the rest to the garbage collector. Buffers come
// back with stale contents; every operation below overwrites its output.
type scratch struct{ free [][]float32 }

// get returns a buffer of n values: the smallest free one that is large
// enough, or a new one.
func (s *scratch) get(n int) []float32 {
	best := -1
	for i, b := range s.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(s.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]float32, n)
	}
	b := s.free[best][:n]
	s.free = append(s.free[:best], s.free[best+1:]...)
	return b
}

// put hands back a buffer that is no longer used.
func (s *scratch) put(b []float32) {
	if cap(b) > 0 {
		s.free = append(s.free, b)
	}
}

// conv applies a stride-1 convolution with "same" padding (K/2) to one
// image x [c.In, h, w], into a new buffer.
func (s *scratch) conv(c *Conv, x []float32, h, w int) []float32 {
	out := s.get(c.Out * h * w)
	kernels.Conv2D(out, x, c.W, c.B, 1, h, w, kernels.ConvGeom{InC: c.In, OutC: c.Out, KH: c.K, KW: c.K, Stride: 1, Pad: c.K / 2})
	return out
}

// resnet is ResnetBlock2D without time embedding (output_scale_factor 1).
// It consumes x and returns the block's output.
func (s *scratch) resnet(r *Resnet, x []float32, h, w, groups int) []float32 {
	hw := h * w
	t := s.get(len(x))
	kernels.GroupNorm(t, x, r.Norm1.G, r.Norm1.B, 1, r.Conv1.In, hw, groups, eps, true)
	u := s.conv(&r.Conv1, t, h, w)
	s.put(t)
	kernels.GroupNorm(u, u, r.Norm2.G, r.Norm2.B, 1, r.Conv2.In, hw, groups, eps, true)
	y := s.conv(&r.Conv2, u, h, w)
	s.put(u)
	if r.Shortcut != nil {
		sc := s.conv(r.Shortcut, x, h, w)
		s.put(x)
		x = sc
	}
	kernels.Add(y, y, x)
	s.put(x)
	return y
}

// mid is UNetMidBlock2D; it consumes x.
func (s *scratch) mid(m *Mid, x []float32, h, w, groups int) []float32 {
	x = s.resnet(&m.Res1, x, h, w, groups)
	if m.Attn != nil {
		x = s.attention(m.Attn, x, h*w, groups)
	}
	return s.resnet(&m.Res2, x, h, w, groups)
}

// attention is the mid-block's single-head self-attention over the n
// pixels of one image x [C, n]: GroupNorm, q/k/v projections, softmax of
// q·kᵀ/√C, the output projection, plus x. It works in the channel-major
// layout (qᵀ, kᵀ, vᵀ are [C, n]) and scores attnRows query pixels at a
// time, so memory grows as n·attnRows rather than n². It consumes x.
func (s *scratch) attention(a *Attention, x []float32, n, groups int) []float32 {
	C := a.C
	xn := s.get(C * n)
	kernels.GroupNorm(xn, x, a.Norm.G, a.Norm.B, 1, C, n, groups, eps, false)
	proj := func(l Linear, in []float32) []float32 {
		out := s.get(C * n)
		kernels.Sgemm(false, false, C, n, C, 1, l.W, C, in, n, 0, out, n)
		addBias(out, l.B, n)
		return out
	}
	qT, kT, vT := proj(a.Q, xn), proj(a.K, xn), proj(a.V, xn)
	oT := xn // xn is dead once q, k and v exist
	rows := min(attnRows, n)
	scores := s.get(rows * n)
	scale := float32(1 / math.Sqrt(float64(C)))
	for r0 := 0; r0 < n; r0 += rows {
		r := min(rows, n-r0)
		sc := scores[:r*n]
		// sc = q[r0:r0+r]·kᵀ·scale, [r, n]; q[r0:] is the transpose of qᵀ's columns
		kernels.Sgemm(true, false, r, n, C, scale, qT[r0:], n, kT, n, 0, sc, n)
		kernels.SoftmaxRows(sc, r, n, false, 0)
		// oᵀ[:, r0:r0+r] = vᵀ·scᵀ, [C, r]
		kernels.Sgemm(false, true, C, r, n, 1, vT, n, sc, n, 0, oT[r0:], n)
	}
	s.put(scores)
	s.put(qT)
	s.put(kT)
	s.put(vT)
	out := proj(a.Out, oT)
	s.put(oT)
	kernels.Add(out, out, x)
	s.put(x)
	return out
}

// addBias adds b[c] to each row c of x [len(b), n].
func addBias(x, b []float32, n int) {
	for c, v := range b {
		row := x[c*n : (c+1)*n]
		for i := range row {
			row[i] += v
		}
	}
}

// upsample2x is nearest-neighbour ×2 upsampling of one image [c, h, w]
// (F.interpolate(scale_factor=2, mode="nearest")), into a new buffer.
func (s *scratch) upsample2x(x []float32, c, h, w int) []float32 {
	W := 2 * w
	out := s.get(c * 4 * h * w)
	kernels.Parallel(c*h, 64, func(lo, hi int) {
		for ry := lo; ry < hi; ry++ {
			in := x[ry*w : (ry+1)*w]
			o := out[2*ry*W : (2*ry+2)*W]
			for i, v := range in {
				o[2*i], o[2*i+1] = v, v
			}
			copy(o[W:], o[:W])
		}
	})
	return out
}

// downsample is Downsample2D with padding 0: zero-pad one row at the
// bottom and one column at the right (F.pad(x, (0, 1, 0, 1))), then the
// 3×3 convolution with stride 2 and no padding, into a new buffer.
func (s *scratch) downsample(c *Conv, x []float32, h, w int) ([]float32, int, int) {
	ph, pw := h+1, w+1
	p := s.get(c.In * ph * pw)
	for ch := range c.In {
		for y := range h {
			row := p[(ch*ph+y)*pw : (ch*ph+y+1)*pw]
			copy(row, x[(ch*h+y)*w:(ch*h+y+1)*w])
			row[w] = 0
		}
		clear(p[(ch*ph+h)*pw : (ch*ph+h+1)*pw])
	}
	g := kernels.ConvGeom{InC: c.In, OutC: c.Out, KH: 3, KW: 3, Stride: 2, Pad: 0}
	oh, ow := g.OutSize(ph, pw)
	out := s.get(c.Out * oh * ow)
	kernels.Conv2D(out, p, c.W, c.B, 1, ph, pw, g)
	s.put(p)
	return out, oh, ow
}
