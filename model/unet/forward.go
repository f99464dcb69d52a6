package unet

import (
	"fmt"
	"math"
	"time"

	"github.com/loupe-ml/loupe/internal/kernels"
)

// Input is one call of the UNet: a batch of noisy latents, their timesteps
// and the text encoder's hidden states to attend to.
type Input struct {
	// Sample is [Batch, in_channels, Height, Width], NCHW (diffusers'
	// latent_model_input).
	Sample               []float32
	Batch, Height, Width int
	// Timesteps holds one timestep for the whole batch or one per item
	// (diffusers' timestep argument; fractional values are allowed).
	Timesteps []float64
	// Encoder is [Batch, Seq, cross_attention_dim] (encoder_hidden_states:
	// for classifier-free guidance, the negative prompt's then the
	// prompt's).
	Encoder []float32
	Seq     int
}

// Options controls what Forward keeps besides its output.
type Options struct {
	// CrossAttention keeps the cross-attention probabilities of the layers
	// named in Layers (every layer when Layers is nil), averaged over
	// heads: Output.CrossAttention.
	CrossAttention bool
	// Layers names cross-attention layers as CrossAttentionLayers does.
	Layers []string
	// Timings, when not nil, has the wall time of each kind of work added
	// to it.
	Timings *Timings
}

// Timings splits Forward's wall time by kind of work.
type Timings struct {
	Conv      time.Duration // Conv2D: conv_in/out, ResNet, shortcut, down/upsampling convolutions
	Attention time.Duration // scores, softmax and the weighted sum of values, self and cross
	GroupNorm time.Duration // GroupNorm (+SiLU) of ResNets, transformers and the output
	Linear    time.Duration // matrix products of the transformers: q/k/v, out, proj_in/out, feed-forward
	Convert   time.Duration // widening 16-bit weights to float32
	Other     time.Duration // LayerNorm, GEGLU, additions, concatenation, upsampling, time embedding
	Total     time.Duration
}

// AttentionMap is one cross-attention layer's probabilities for one batch
// item, averaged over heads: how much each latent pixel attended to each
// text token.
type AttentionMap struct {
	Layer         string    // module path, e.g. "up_blocks.1.attentions.0.transformer_blocks.0.attn2"
	Height, Width int       // the layer's resolution (Input.Height/Width halved per level, rounded up)
	Tokens        int       // Input.Seq
	Probs         []float32 // [Height·Width, Tokens] row-major; each row sums to 1
}

// Output is Forward's result.
type Output struct {
	// Sample is [Batch, out_channels, Height, Width]: the predicted noise
	// (or v for v-prediction models).
	Sample []float32
	// CrossAttention is [batch][layer], with Options.CrossAttention, in the
	// order the layers run.
	CrossAttention [][]AttentionMap
}

// CrossAttentionLayers lists the module paths of the cross-attention
// layers (attn2 of every BasicTransformerBlock) in the order Forward runs
// them: down blocks, mid block, up blocks.
func (m *Model) CrossAttentionLayers() []string {
	var out []string
	each := func(t *transformer) {
		for i := range t.blocks {
			out = append(out, t.blocks[i].name)
		}
	}
	for i := range m.Weights.down {
		for j := range m.Weights.down[i].attns {
			each(&m.Weights.down[i].attns[j])
		}
	}
	each(&m.Weights.midAttn)
	for i := range m.Weights.up {
		for j := range m.Weights.up[i].attns {
			each(&m.Weights.up[i].attns[j])
		}
	}
	return out
}

// Scratch buffer indices in a workspace.
const (
	bufP    = iota // the running activation (down path: the skip slots instead)
	bufQ           // its ping-pong partner
	bufA           // GroupNorm output, shortcut and upsampling scratch
	bufB           // ResNet inner activation
	bufCat         // concatenation with a skip connection
	bufTok         // transformer tokens [B·N, C]
	bufNrm         // LayerNorm output [B·N, C]
	bufQKV         // [B·N, 3C]
	bufCtx         // attention output [B·N, C]
	bufKV          // cross-attention keys and values [B·S, 2C]
	bufFF          // feed-forward [B·N, 8C]
	bufEmb         // timestep embeddings
	bufTemb        // a ResNet's time projection [B, out]
	nbuf
)

// workspace holds activations reused across Forward calls; each buffer
// grows to the largest size a call needs, so steady-state calls of one
// geometry allocate nothing large.
type workspace struct {
	bufs  [nbuf][]float32
	skips [][]float32
	wbuf  []float32      // a 16-bit weight converted to float32
	tiles chan []float32 // attention score tiles, one per thread
}

func grow(p *[]float32, n int) []float32 {
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	return (*p)[:n]
}

func (ws *workspace) buf(i, n int) []float32 { return grow(&ws.bufs[i], n) }

// run carries one Forward call's state through the blocks.
type run struct {
	m       *Model
	ws      *workspace
	B       int
	enc     []float32
	S       int
	embAct  []float32 // SiLU(time embedding) [B, T], every ResNet's temb input
	capture bool
	keep    map[string]bool
	maps    [][]AttentionMap
	tm      *Timings
}

// Kinds of work for Timings.
const (
	tConv = iota
	tAttention
	tGroupNorm
	tLinear
)

// since adds the time since start to the kind's Timings field when timing.
func (r *run) since(kind int, start time.Time) {
	if r.tm == nil {
		return
	}
	d := time.Since(start)
	switch kind {
	case tConv:
		r.tm.Conv += d
	case tAttention:
		r.tm.Attention += d
	case tGroupNorm:
		r.tm.GroupNorm += d
	case tLinear:
		r.tm.Linear += d
	}
}

// now is time.Now when timing (the zero time otherwise).
func (r *run) now() time.Time {
	if r.tm != nil {
		return time.Now()
	}
	return time.Time{}
}

// weights returns m as float32, timing a conversion from 16 bits.
func (r *run) weights(m *mat) []float32 {
	if m.parts == nil || r.tm == nil {
		return m.get(&r.ws.wbuf)
	}
	t := time.Now()
	w := m.get(&r.ws.wbuf)
	r.tm.Convert += time.Since(t)
	return w
}

// Forward runs the UNet on one batch, writing the result into dst
// (allocated when nil). It is diffusers' UNet2DConditionModel.forward with
// no extra conditioning: timestep embedding, conv_in, down blocks (skip
// connections kept), mid block, up blocks (skips concatenated on the
// channel axis), GroupNorm, SiLU, conv_out. Any latent size works; sizes
// not divisible by 2^(levels−1) are upsampled to the skip's size, as
// diffusers does.
func (m *Model) Forward(dst []float32, in Input, opt Options) (*Output, error) {
	cfg := m.Config
	B, H, W := in.Batch, in.Height, in.Width
	if B < 1 || H < 1 || W < 1 || B > 1<<12 || H > 1<<14 || W > 1<<14 {
		return nil, fmt.Errorf("unet: Forward: batch %d, height %d, width %d: want positive sizes", B, H, W)
	}
	if len(in.Sample) != B*cfg.InChannels*H*W {
		return nil, fmt.Errorf("unet: Forward: sample holds %d values, want %d = batch %d × in_channels %d × %d × %d", len(in.Sample), B*cfg.InChannels*H*W, B, cfg.InChannels, H, W)
	}
	if in.Seq < 1 || len(in.Encoder) != B*in.Seq*cfg.CrossAttentionDim {
		return nil, fmt.Errorf("unet: Forward: encoder holds %d values for seq %d, want batch %d × seq × cross_attention_dim %d", len(in.Encoder), in.Seq, B, cfg.CrossAttentionDim)
	}
	if len(in.Timesteps) != 1 && len(in.Timesteps) != B {
		return nil, fmt.Errorf("unet: Forward: %d timesteps, want 1 or batch %d", len(in.Timesteps), B)
	}
	for _, t := range in.Timesteps {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("unet: Forward: timestep %v, want a finite value", t)
		}
	}
	n := cfg.OutChannels * B * H * W
	if dst == nil {
		dst = make([]float32, n)
	}
	if len(dst) != n {
		return nil, fmt.Errorf("unet: Forward: dst holds %d values, want %d", len(dst), n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ws := &m.ws
	if ws.tiles == nil {
		k := kernels.Threads() + 1
		ws.tiles = make(chan []float32, k)
		for range k {
			ws.tiles <- nil
		}
	}
	r := &run{m: m, ws: ws, B: B, enc: in.Encoder, S: in.Seq, capture: opt.CrossAttention, tm: opt.Timings}
	if opt.CrossAttention {
		r.maps = make([][]AttentionMap, B)
		if opt.Layers != nil {
			r.keep = map[string]bool{}
			known := map[string]bool{}
			for _, name := range m.CrossAttentionLayers() {
				known[name] = true
			}
			for _, name := range opt.Layers {
				if !known[name] {
					return nil, fmt.Errorf("unet: Forward: no cross-attention layer %q (see CrossAttentionLayers)", name)
				}
				r.keep[name] = true
			}
		}
	}
	start := time.Now()
	var before Timings
	if r.tm != nil {
		before = *r.tm
	}
	r.forward(dst, in.Sample, in.Timesteps, H, W)
	if t := r.tm; t != nil {
		total := time.Since(start)
		t.Total += total
		t.Other += total - (t.Conv - before.Conv) - (t.Attention - before.Attention) - (t.GroupNorm - before.GroupNorm) - (t.Linear - before.Linear) - (t.Convert - before.Convert)
	}
	return &Output{Sample: dst, CrossAttention: r.maps}, nil
}

func (r *run) forward(dst, sample []float32, ts []float64, H, W int) {
	cfg, w, ws, B := r.m.Config, r.m.Weights, r.ws, r.B
	r.timeEmbedding(ts)

	// Resolutions per level: a stride-2, pad-1, 3×3 conv rounds up.
	n := cfg.Levels()
	hs, wd := make([]int, n), make([]int, n)
	hs[0], wd[0] = H, W
	for i := 1; i < n; i++ {
		hs[i], wd[i] = (hs[i-1]+1)/2, (wd[i-1]+1)/2
	}

	// Down path: every output kept in its own skip slot.
	var skips []int // slot sizes' channel counts, in push order
	var skipHW [][2]int
	slot := 0
	next := func(c, h, wi int) []float32 {
		if slot == len(ws.skips) {
			ws.skips = append(ws.skips, nil)
		}
		s := grow(&ws.skips[slot], B*c*h*wi)
		slot++
		skips = append(skips, c)
		skipHW = append(skipHW, [2]int{h, wi})
		return s
	}
	c0 := cfg.BlockOutChannels[0]
	x := next(c0, H, W)
	r.conv(x, sample, &w.convIn, H, W)
	c := c0
	for i := range n {
		lv := &w.down[i]
		h, wi := hs[i], wd[i]
		for j := range lv.resnets {
			out := next(lv.resnets[j].out, h, wi)
			r.resnet(out, x, &lv.resnets[j], h, wi)
			x, c = out, lv.resnets[j].out
			if len(lv.attns) > 0 {
				r.transformer(x, &lv.attns[j], h, wi)
			}
		}
		if lv.sample != nil {
			out := next(c, hs[i+1], wd[i+1])
			r.conv(out, x, lv.sample, h, wi)
			x = out
		}
	}

	// Mid block at the lowest resolution.
	h, wi := hs[n-1], wd[n-1]
	size := B * c * h * wi
	p := ws.buf(bufP, size)
	r.resnet(p, x, &w.midResnets[0], h, wi)
	r.transformer(p, &w.midAttn, h, wi)
	q := ws.buf(bufQ, size)
	r.resnet(q, p, &w.midResnets[1], h, wi)
	x = q

	// Up path: pop a skip, concatenate, ResNet (+ transformer); upsample to
	// the next skip's resolution.
	cur := bufP // x lives in bufQ now; the next output goes to the other
	for i := range n {
		lv := &w.up[i]
		level := n - 1 - i
		h, wi := hs[level], wd[level]
		for j := range lv.resnets {
			slot--
			sc := skips[slot]
			cat := ws.buf(bufCat, B*(c+sc)*h*wi)
			concat(cat, x, ws.skips[slot][:B*sc*h*wi], B, c, sc, h*wi)
			out := ws.buf(cur, B*lv.resnets[j].out*h*wi)
			r.resnet(out, cat, &lv.resnets[j], h, wi)
			x, c = out, lv.resnets[j].out
			cur = bufP + bufQ - cur
			if len(lv.attns) > 0 {
				r.transformer(x, &lv.attns[j], h, wi)
			}
		}
		if lv.sample != nil {
			oh, ow := skipHW[slot-1][0], skipHW[slot-1][1]
			up := ws.buf(bufA, B*c*oh*ow)
			if oh == 2*h && ow == 2*wi {
				kernels.Upsample2x(up, x, B*c, h, wi)
			} else {
				upsampleNearest(up, x, B*c, h, wi, oh, ow)
			}
			out := ws.buf(cur, B*c*oh*ow)
			r.conv(out, up, lv.sample, oh, ow)
			x = out
			cur = bufP + bufQ - cur
		}
	}

	// conv_norm_out, SiLU, conv_out.
	a := ws.buf(bufA, B*c*H*W)
	t0 := r.now()
	kernels.GroupNorm(a, x, w.normOut.g, w.normOut.b, B, c, H*W, cfg.NormNumGroups, float32(cfg.NormEps), true)
	r.since(tGroupNorm, t0)
	r.conv(dst, a, &w.convOut, H, W)
}

// timeEmbedding computes diffusers' Timesteps (sinusoids in float32, as
// get_timestep_embedding) and TimestepEmbedding (linear_1, SiLU,
// linear_2), then SiLU of the result, the input of every ResNet's
// time_emb_proj.
func (r *run) timeEmbedding(ts []float64) {
	cfg, w, B := r.m.Config, r.m.Weights, r.B
	C := cfg.BlockOutChannels[0]
	T := cfg.TimeEmbedDim()
	half := C / 2
	sin := r.ws.buf(bufEmb, B*C+2*B*T)
	hid, emb := sin[B*C:B*C+B*T], sin[B*C+B*T:]
	sin = sin[:B*C]
	den := float32(float64(half) - cfg.FreqShift)
	for b := range B {
		t := float32(ts[0])
		if len(ts) > 1 {
			t = float32(ts[b])
		}
		row := sin[b*C : (b+1)*C]
		for i := range half {
			e := float32(-math.Log(10000)) * float32(i) / den
			a := t * float32(math.Exp(float64(e)))
			s, c := float32(math.Sin(float64(a))), float32(math.Cos(float64(a)))
			if cfg.FlipSinToCos {
				row[i], row[half+i] = c, s
			} else {
				row[i], row[half+i] = s, c
			}
		}
	}
	r.linear(hid, sin, B, &w.time1)
	silu(hid)
	r.linear(emb, hid, B, &w.time2)
	silu(emb)
	r.embAct = emb
}

// linear computes dst = src·Wᵀ + b for rows rows of src (contiguous).
func (r *run) linear(dst, src []float32, rows int, l *linear) {
	W := r.weights(&l.w)
	defer r.since(tLinear, r.now())
	out, in := l.w.rows, l.w.cols
	if l.b != nil {
		for i := range rows {
			copy(dst[i*out:(i+1)*out], l.b)
		}
	}
	beta := float32(0)
	if l.b != nil {
		beta = 1
	}
	kernels.Sgemm(false, true, rows, out, in, 1, src, in, W, in, beta, dst, out)
}

// linearAcc computes dst += src·Wᵀ + b, src rows lda apart.
func (r *run) linearAcc(dst, src []float32, lda, rows int, l *linear) {
	W := r.weights(&l.w)
	defer r.since(tLinear, r.now())
	out, in := l.w.rows, l.w.cols
	if l.b != nil {
		kernels.Parallel(rows, 64, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.Add(dst[i*out:(i+1)*out], dst[i*out:(i+1)*out], l.b)
			}
		})
	}
	kernels.Sgemm(false, true, rows, out, in, 1, src, lda, W, in, 1, dst, out)
}

func (r *run) conv(dst, src []float32, c *conv, h, w int) {
	W := r.weights(&c.w)
	defer r.since(tConv, r.now())
	kernels.Conv2D(dst, src, W, c.b, r.B, h, w, c.g)
}

// resnet is ResnetBlock2D: dst = (shortcut(x) + conv2(SiLU(GN(conv1(SiLU(GN(x))) + temb))))/scale.
// dst must not overlap x.
func (r *run) resnet(dst, x []float32, rb *resnet, h, w int) {
	cfg, ws, B := r.m.Config, r.ws, r.B
	hw := h * w
	eps := float32(cfg.NormEps)
	a := ws.buf(bufA, B*rb.in*hw)
	t0 := r.now()
	kernels.GroupNorm(a, x, rb.norm1.g, rb.norm1.b, B, rb.in, hw, cfg.NormNumGroups, eps, true)
	r.since(tGroupNorm, t0)
	hb := ws.buf(bufB, B*rb.out*hw)
	r.conv(hb, a, &rb.conv1, h, w)
	temb := ws.buf(bufTemb, B*rb.out)
	r.linear(temb, r.embAct, B, &rb.temb)
	kernels.Parallel(B*rb.out, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			plane, v := hb[i*hw:(i+1)*hw], temb[i]
			for k := range plane {
				plane[k] += v
			}
		}
	})
	t0 = r.now()
	kernels.GroupNorm(hb, hb, rb.norm2.g, rb.norm2.b, B, rb.out, hw, cfg.NormNumGroups, eps, true)
	r.since(tGroupNorm, t0)
	r.conv(dst, hb, &rb.conv2, h, w)
	res := x
	if rb.shortcut != nil {
		res = ws.buf(bufA, B*rb.out*hw)
		r.conv(res, x, rb.shortcut, h, w)
	}
	kernels.Add(dst, dst, res)
	if rb.scale != 1 {
		kernels.Scale(1/rb.scale, dst)
	}
}

// transformer is Transformer2DModel on x [B, C, h, w], in place: x +=
// proj_out(blocks(proj_in(GroupNorm(x)))), with the tokens [B, h·w, C]
// taken from and put back into NCHW by the projections' matrix products.
func (r *run) transformer(x []float32, t *transformer, h, w int) {
	cfg, ws, B, C := r.m.Config, r.ws, r.B, t.ch
	N := h * w
	g := ws.buf(bufA, B*C*N)
	t0 := r.now()
	kernels.GroupNorm(g, x, t.norm.g, t.norm.b, B, C, N, cfg.NormNumGroups, 1e-6, false)
	r.since(tGroupNorm, t0)
	tok := ws.buf(bufTok, B*N*C)
	W := r.weights(&t.projIn.w)
	t0 = r.now()
	for b := range B {
		// tok[b] [N, C] = g[b]ᵀ [N, C] · Wᵀ
		kernels.Sgemm(true, true, N, C, C, 1, g[b*C*N:], N, W, C, 0, tok[b*N*C:], C)
	}
	r.since(tLinear, t0)
	kernels.Parallel(B*N, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			kernels.Add(tok[i*C:(i+1)*C], tok[i*C:(i+1)*C], t.projIn.b)
		}
	})
	for i := range t.blocks {
		r.block(tok, &t.blocks[i], t.heads, h, w)
	}
	// x[b] [C, N] += Wout · tok[b]ᵀ + bias
	W = r.weights(&t.projOut.w)
	kernels.Parallel(B*C, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			plane, v := x[i*N:(i+1)*N], t.projOut.b[i%C]
			for k := range plane {
				plane[k] += v
			}
		}
	})
	t0 = r.now()
	for b := range B {
		kernels.Sgemm(false, true, C, N, C, 1, W, C, tok[b*N*C:], C, 1, x[b*C*N:], N)
	}
	r.since(tLinear, t0)
}

// block is BasicTransformerBlock on tokens [B·N, C], in place.
func (r *run) block(tok []float32, tb *tblock, heads, h, w int) {
	ws, B, C, S := r.ws, r.B, len(tb.norm1.g), r.S
	N := h * w
	rows := B * N
	nrm := ws.buf(bufNrm, rows*C)
	ctx := ws.buf(bufCtx, rows*C)

	kernels.LayerNorm(nrm, tok, tb.norm1.g, tb.norm1.b, rows, C, 1e-5)
	qkv := ws.buf(bufQKV, rows*3*C)
	r.linear(qkv, nrm, rows, &tb.qkv)
	t0 := r.now()
	r.selfAttention(ctx, qkv, N, C, heads)
	r.since(tAttention, t0)
	r.linearAcc(tok, ctx, C, rows, &tb.out1)

	kernels.LayerNorm(nrm, tok, tb.norm2.g, tb.norm2.b, rows, C, 1e-5)
	q := qkv[:rows*C]
	r.linear(q, nrm, rows, &tb.q2)
	kv := ws.buf(bufKV, B*S*2*C)
	r.linear(kv, r.enc, B*S, &tb.kv2)
	var probs []float32
	if r.capture && (r.keep == nil || r.keep[tb.name]) {
		probs = make([]float32, B*N*S)
	}
	t0 = r.now()
	r.crossAttention(ctx, q, kv, N, C, heads, probs)
	r.since(tAttention, t0)
	r.linearAcc(tok, ctx, C, rows, &tb.out2)
	if probs != nil {
		for b := range B {
			r.maps[b] = append(r.maps[b], AttentionMap{Layer: tb.name, Height: h, Width: w, Tokens: S, Probs: probs[b*N*S : (b+1)*N*S : (b+1)*N*S]})
		}
	}

	// GEGLU feed-forward: value · gelu(gate), then ff.net.2, in chunks of
	// rows so that the 8C-wide hidden layer stays small (16 MB).
	kernels.LayerNorm(nrm, tok, tb.norm3.g, tb.norm3.b, rows, C, 1e-5)
	F := 4 * C
	chunk := min(rows, max(64, ffChunk/(2*F)))
	ff := ws.buf(bufFF, chunk*2*F)
	for r0 := 0; r0 < rows; r0 += chunk {
		n := min(chunk, rows-r0)
		r.linear(ff, nrm[r0*C:(r0+n)*C], n, &tb.ff1)
		kernels.Parallel(n, 8, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v, g := ff[i*2*F:i*2*F+F], ff[i*2*F+F:(i+1)*2*F]
				kernels.GeluErf(g, g)
				kernels.Mul(v, v, g)
			}
		})
		r.linearAcc(tok[r0*C:(r0+n)*C], ff, 2*F, n, &tb.ff2)
	}
}

// ffChunk is the most values the feed-forward's hidden layer holds at once.
var ffChunk = 1 << 22

// silu applies x·σ(x) in place.
func silu(x []float32) { kernels.SiLU(x, x) }

// concat writes [a, b] along the channel axis: a [B, ca, hw], b [B, cb, hw]
// → dst [B, ca+cb, hw] (torch.cat(dim=1)).
func concat(dst, a, b []float32, B, ca, cb, hw int) {
	kernels.Parallel(B, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := dst[i*(ca+cb)*hw:]
			copy(o[:ca*hw], a[i*ca*hw:(i+1)*ca*hw])
			copy(o[ca*hw:(ca+cb)*hw], b[i*cb*hw:(i+1)*cb*hw])
		}
	})
}

// upsampleNearest is F.interpolate(mode="nearest") of planes h×w to oh×ow
// (latent sizes not divisible by 2^(levels−1); exact doubling uses
// kernels.Upsample2x):
// source index floor(dst·(in/out)) with the scale in float32, as PyTorch
// computes it (exactly dst/2 when doubling).
func upsampleNearest(dst, src []float32, planes, h, w, oh, ow int) {
	idx := func(o, in, out int) int {
		if out == 2*in {
			return o >> 1
		}
		s := float32(in) / float32(out)
		return min(int(float32(math.Floor(float64(float32(o)*s)))), in-1)
	}
	xs := make([]int, ow)
	for x := range ow {
		xs[x] = idx(x, w, ow)
	}
	kernels.Parallel(planes, 4, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			in, out := src[p*h*w:(p+1)*h*w], dst[p*oh*ow:(p+1)*oh*ow]
			for y := range oh {
				row := in[idx(y, h, oh)*w:]
				o := out[y*ow : (y+1)*ow]
				for x, sx := range xs {
					o[x] = row[sx]
				}
			}
		}
	})
}

// AverageMaps averages the maps of the layers at resolution height×width
// (as prompt-to-prompt averages the 16×16 layers of SD 1.x at 512×512) and
// returns them token-major, [Tokens, height·width]: out[k·height·width + p]
// is how much position p attended to token k. layers is how many maps were
// averaged; out is nil when none has that resolution.
func AverageMaps(maps []AttentionMap, height, width int) (out []float32, layers int) {
	hw := height * width
	for _, m := range maps {
		if m.Height != height || m.Width != width {
			continue
		}
		if out == nil {
			out = make([]float32, m.Tokens*hw)
		}
		if len(out) != m.Tokens*hw {
			continue // a different token count: not from one call
		}
		for p := range hw {
			for k := range m.Tokens {
				out[k*hw+p] += m.Probs[p*m.Tokens+k]
			}
		}
		layers++
	}
	if layers > 1 {
		kernels.Scale(1/float32(layers), out)
	}
	return out, layers
}
