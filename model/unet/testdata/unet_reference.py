"""Reference outputs of Stable Diffusion's UNet for package model/unet.

Regenerate the committed goldens (from the repository root):

    /usr/bin/python3 model/unet/testdata/unet_reference.py

diffusers is not installed where these goldens were made, so the model below
is a PyTorch reimplementation of diffusers' UNet2DConditionModel as Stable
Diffusion 1.x/2.x configure it, written from diffusers' source
(models/unets/unet_2d_condition.py, unet_2d_blocks.py, resnet.py,
attention.py, attention_processor.py, transformers/transformer_2d.py,
embeddings.py, activations.py, upsampling.py, downsampling.py):

- get_timestep_embedding: exponent = -ln(10000)·arange(half)/(half - freq_shift)
  in float32, sin then cos (swapped with flip_sin_to_cos); TimestepEmbedding
  linear_1, SiLU, linear_2.
- ResnetBlock2D: GroupNorm(eps=norm_eps)+SiLU, conv1 3x3, + time_emb_proj(SiLU(temb))
  per channel, GroupNorm+SiLU, dropout (none), conv2, 1x1 conv_shortcut when
  the width changes, (input + h) / output_scale_factor (mid_block_scale_factor
  for the mid block's ResNets only).
- Transformer2DModel: GroupNorm(eps=1e-6), proj_in (1x1 conv, or Linear after
  flattening with use_linear_projection), BasicTransformerBlocks
  (LayerNorm eps 1e-5 → attn1 self-attention, → attn2 cross-attention on
  encoder_hidden_states, → FeedForward GEGLU: proj to 2·4C, hidden·gelu(gate)
  with the gate the second half, net.2 Linear), proj_out, residual.
  Attention: to_q/to_k/to_v without bias, scale dim_head^-0.5, softmax,
  to_out.0 with bias. config.json's attention_head_dim is the number of heads
  (diffusers' naming quirk).
- Downsample2D: 3x3 stride-2 conv, padding 1 ("op", weights under .conv).
  Upsample2D: F.interpolate nearest ×2, or to the skip's size when the latent
  size is not a multiple of 2^(levels-1) (forward_upsample_size), then 3x3 conv.
- Up blocks pop the saved activations last-first and torch.cat([h, skip], dim=1).

Weights are random, drawn from one torch.Generator in the sorted order of the
state dict's names: norm gains (names with "norm" ending ".weight") are
1 + 0.1·randn, biases 0.05·randn, other weights randn/sqrt(fan_in). The Go
test draws the same numbers with package diffusion/noise (bit-exact
torch.randn), so only configs, inputs and outputs are stored here.

Modes:
  (no arguments)  write the goldens of the tiny configs under testdata/
  gen DIR         read DIR/case.json, write DIR/unet/{config.json,
                  diffusion_pytorch_model.safetensors}, inputs and outputs
                  (the opt-in LOUPE_UNET_FULL test and bench/diffusion.sh)
  bench DIR       time DIR's model in PyTorch eager (see bench/diffusion.sh)
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# ---------------------------------------------------------------- config

DEFAULTS = dict(
    sample_size=64, in_channels=4, out_channels=4, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, mid_block_scale_factor=1,
    norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=1280, attention_head_dim=8,
    transformer_layers_per_block=1, use_linear_projection=False, upcast_attention=False,
)


def norm_config(cfg):
    c = dict(DEFAULTS)
    c.update({k: v for k, v in cfg.items() if v is not None})
    n = len(c["block_out_channels"])
    for k in ["layers_per_block", "attention_head_dim", "transformer_layers_per_block"]:
        if isinstance(c[k], int):
            c[k] = [c[k]] * n
    return c


# ---------------------------------------------------------------- modules


def timestep_embedding(t, dim, flip, shift):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / (half - shift)
    emb = torch.exp(exponent)
    emb = t[:, None].float() * emb[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    if flip:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups, eps, scale=1.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
        self.scale = scale

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return (x + h) / self.scale


class Attention(nn.Module):
    def __init__(self, dim, heads, dim_head, cross=None):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head**-0.5
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_k = nn.Linear(cross or dim, inner, bias=False)
        self.to_v = nn.Linear(cross or dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])
        self.name, self.record = None, None

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        B, N, _ = x.shape
        S = ctx.shape[1]
        h = self.heads
        q = self.to_q(x).view(B, N, h, -1).transpose(1, 2)
        k = self.to_k(ctx).view(B, S, h, -1).transpose(1, 2)
        v = self.to_v(ctx).view(B, S, h, -1).transpose(1, 2)
        p = torch.softmax((q @ k.transpose(-1, -2)) * self.scale, dim=-1)
        if self.record is not None:
            self.record.append((self.name, p.mean(dim=1)))
        o = (p @ v).transpose(1, 2).reshape(B, N, -1)
        return self.to_out[1](self.to_out[0](o))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, dim_head, cross):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads, dim_head)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, dim_head, cross)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, ctx):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), ctx) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    def __init__(self, heads, dim_head, cin, layers, cross, groups, linear):
        super().__init__()
        inner = heads * dim_head
        self.linear = linear
        self.norm = nn.GroupNorm(groups, cin, eps=1e-6)
        self.proj_in = nn.Linear(cin, inner) if linear else nn.Conv2d(cin, inner, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(inner, heads, dim_head, cross) for _ in range(layers)])
        self.proj_out = nn.Linear(inner, cin) if linear else nn.Conv2d(inner, cin, 1)

    def forward(self, x, ctx):
        B, _, H, W = x.shape
        res = x
        h = self.norm(x)
        if not self.linear:
            h = self.proj_in(h)
            inner = h.shape[1]
            h = h.permute(0, 2, 3, 1).reshape(B, H * W, inner)
        else:
            inner = h.shape[1]
            h = self.proj_in(h.permute(0, 2, 3, 1).reshape(B, H * W, inner))
        for blk in self.transformer_blocks:
            h = blk(h, ctx)
        if not self.linear:
            h = self.proj_out(h.reshape(B, H, W, inner).permute(0, 3, 1, 2).contiguous())
        else:
            h = self.proj_out(h).reshape(B, H, W, inner).permute(0, 3, 1, 2).contiguous()
        return h + res


class Downsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x, size=None):
        if size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=size, mode="nearest")
        return self.conv(x)


class DownBlock(nn.Module):
    """CrossAttnDownBlock2D (cross=True) or DownBlock2D."""

    def __init__(self, cin, cout, temb, layers, cross, heads, tlayers, cdim, groups, eps, linear, down):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin if i == 0 else cout, cout, temb, groups, eps) for i in range(layers)])
        if cross:
            self.attentions = nn.ModuleList([Transformer2DModel(heads, cout // heads, cout, tlayers, cdim, groups, linear) for _ in range(layers)])
        else:
            self.attentions = None
        self.downsamplers = nn.ModuleList([Downsample2D(cout)]) if down else None

    def forward(self, x, temb, ctx):
        out = ()
        for i, r in enumerate(self.resnets):
            x = r(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, ctx)
            out += (x,)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            out += (x,)
        return x, out


class MidBlock(nn.Module):
    """UNetMidBlock2DCrossAttn."""

    def __init__(self, c, temb, heads, tlayers, cdim, groups, eps, linear, scale):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, temb, groups, eps, scale) for _ in range(2)])
        self.attentions = nn.ModuleList([Transformer2DModel(heads, c // heads, c, tlayers, cdim, groups, linear)])

    def forward(self, x, temb, ctx):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, ctx)
        return self.resnets[1](x, temb)


class UpBlock(nn.Module):
    """CrossAttnUpBlock2D (cross=True) or UpBlock2D."""

    def __init__(self, cin, cprev, cout, temb, layers, cross, heads, tlayers, cdim, groups, eps, linear, up):
        super().__init__()
        rs = []
        for i in range(layers):
            skip = cin if i == layers - 1 else cout
            rin = cprev if i == 0 else cout
            rs.append(ResnetBlock2D(rin + skip, cout, temb, groups, eps))
        self.resnets = nn.ModuleList(rs)
        if cross:
            self.attentions = nn.ModuleList([Transformer2DModel(heads, cout // heads, cout, tlayers, cdim, groups, linear) for _ in range(layers)])
        else:
            self.attentions = None
        self.upsamplers = nn.ModuleList([Upsample2D(cout)]) if up else None

    def forward(self, x, skips, temb, ctx, size):
        for i, r in enumerate(self.resnets):
            s = skips[-1]
            skips = skips[:-1]
            x = torch.cat([x, s], dim=1)
            x = r(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x, ctx)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, size)
        return x


class UNet2DConditionModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = norm_config(cfg)
        self.c = c
        ch = c["block_out_channels"]
        n = len(ch)
        T = ch[0] * 4
        g, eps, cd, lin = c["norm_num_groups"], c["norm_eps"], c["cross_attention_dim"], c["use_linear_projection"]
        heads = c["attention_head_dim"]
        self.conv_in = nn.Conv2d(c["in_channels"], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], T)
        self.down_blocks = nn.ModuleList()
        out = ch[0]
        for i, kind in enumerate(c["down_block_types"]):
            cin, out = out, ch[i]
            self.down_blocks.append(DownBlock(cin, out, T, c["layers_per_block"][i], kind == "CrossAttnDownBlock2D", heads[i],
                                              c["transformer_layers_per_block"][i], cd, g, eps, lin, i < n - 1))
        self.mid_block = MidBlock(ch[-1], T, heads[-1], c["transformer_layers_per_block"][-1], cd, g, eps, lin, c["mid_block_scale_factor"])
        rch, rheads = ch[::-1], heads[::-1]
        rlayers, rt = c["layers_per_block"][::-1], c["transformer_layers_per_block"][::-1]
        self.up_blocks = nn.ModuleList()
        out = rch[0]
        for i, kind in enumerate(c["up_block_types"]):
            prev, out = out, rch[i]
            cin = rch[min(i + 1, n - 1)]
            self.up_blocks.append(UpBlock(cin, prev, out, T, rlayers[i] + 1, kind == "CrossAttnUpBlock2D", rheads[i], rt[i], cd, g, eps, lin, i < n - 1))
        self.conv_norm_out = nn.GroupNorm(g, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], c["out_channels"], 3, padding=1)
        self.record = None
        for name, m in self.named_modules():
            if isinstance(m, Attention):
                m.name = name

    def set_record(self, rec):
        for m in self.modules():
            if isinstance(m, Attention) and m.name.endswith("attn2"):
                m.record = rec

    def forward(self, sample, t, ctx):
        c = self.c
        n = len(c["block_out_channels"])
        factor = 2 ** (n - 1)
        forward_size = any(d % factor != 0 for d in sample.shape[-2:])
        t = t.expand(sample.shape[0])
        emb = self.time_embedding(timestep_embedding(t, c["block_out_channels"][0], c["flip_sin_to_cos"], c["freq_shift"]))
        x = self.conv_in(sample)
        skips = (x,)
        for blk in self.down_blocks:
            x, res = blk(x, emb, ctx)
            skips += res
        x = self.mid_block(x, emb, ctx)
        for i, blk in enumerate(self.up_blocks):
            k = len(blk.resnets)
            res, skips = skips[-k:], skips[:-k]
            size = skips[-1].shape[2:] if (i < n - 1 and forward_size) else None
            x = blk(x, res, emb, ctx, size)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ---------------------------------------------------------------- weights and files


def draw_weights(model, seed):
    """Fills the model's parameters from one generator, in sorted name order."""
    g = torch.Generator().manual_seed(seed)
    sd = model.state_dict()
    names = sorted(sd)
    with torch.no_grad():
        for name in names:
            shape = list(sd[name].shape)
            x = torch.randn(shape, generator=g, dtype=torch.float32)
            if "norm" in name and name.endswith(".weight"):
                x = 1 + x * 0.1
            elif name.endswith(".bias"):
                x = x * 0.05
            else:
                x = x * (1 / math.sqrt(int(np.prod(shape[1:]))))
            sd[name].copy_(x)
    return [(n, list(sd[n].shape)) for n in names]


def round_weights(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).to(torch.float32))


def write_safetensors(path, tensors, dtype="F32"):
    """tensors: list of (name, float32 tensor). dtype F32, F16 or BF16."""
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        if dtype == "F16":
            b = t.to(torch.float16).numpy().tobytes()
        elif dtype == "BF16":
            b = (t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2")).tobytes()
        else:
            b = t.to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def save2d(path, x):
    x = x.detach().numpy().astype(np.float32)
    np.save(path, x.reshape(-1, x.shape[-1]))


def inputs(case):
    g = torch.Generator().manual_seed(case["input_seed"])
    B, C, H, W = case["batch"], case["config"].get("in_channels", 4), case["height"], case["width"]
    sample = torch.randn([B, C, H, W], generator=g)
    enc = torch.randn([B, case["seq"], case["config"]["cross_attention_dim"]], generator=g)
    t = torch.tensor(case["timesteps"], dtype=torch.float64)
    return sample, t, enc


def run_case(model, case, record=False):
    sample, t, enc = inputs(case)
    rec = [] if record else None
    model.set_record(rec)
    with torch.no_grad():
        out = model(sample, t, enc)
    model.set_record(None)
    return sample, enc, out, rec


# ---------------------------------------------------------------- goldens

CASES = {
    # SD 1.x style: 1x1-conv projections, one head count for all levels.
    "sd1": dict(
        config=dict(block_out_channels=[32, 64, 64], layers_per_block=1, attention_head_dim=2, cross_attention_dim=32,
                    norm_num_groups=8, down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"], sample_size=16),
        batch=2, height=16, width=16, seq=8, timesteps=[981.0, 1.0], seed=1, input_seed=101),
    # SD 2.x style: linear projections, heads per level of 16 channels, upcast_attention.
    "sd2": dict(
        config=dict(block_out_channels=[32, 64, 64], layers_per_block=2, attention_head_dim=[2, 4, 4], cross_attention_dim=48,
                    norm_num_groups=8, use_linear_projection=True, upcast_attention=True,
                    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"], sample_size=16),
        batch=2, height=16, width=16, seq=7, timesteps=[500.5], seed=2, input_seed=102),
    # Odd latent size (upsampling to the skip's size), sin before cos,
    # freq_shift 1, two transformer layers, mid_block_scale_factor 2.
    "odd": dict(
        config=dict(block_out_channels=[32, 64, 64], layers_per_block=1, attention_head_dim=4, cross_attention_dim=32,
                    norm_num_groups=8, flip_sin_to_cos=False, freq_shift=1, transformer_layers_per_block=2,
                    mid_block_scale_factor=2, norm_eps=1e-6,
                    down_block_types=["CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D"],
                    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D", "CrossAttnUpBlock2D"], sample_size=16),
        batch=1, height=9, width=11, seq=5, timesteps=[37.0], seed=3, input_seed=103),
}


def write_case(name, case, d):
    os.makedirs(d, exist_ok=True)
    cfg = dict(case["config"])
    cfg["_class_name"] = "UNet2DConditionModel"
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    torch.manual_seed(0)
    model = UNet2DConditionModel(case["config"]).eval()
    spec = draw_weights(model, case["seed"])
    sample, enc, out, rec = run_case(model, case, record=True)
    save2d(os.path.join(d, "sample.npy"), sample)
    save2d(os.path.join(d, "encoder.npy"), enc)
    save2d(os.path.join(d, "out.npy"), out)
    save2d(os.path.join(d, "attn.npy"), torch.cat([p.reshape(-1, p.shape[-1]) for _, p in rec]))
    meta = dict(case)
    meta["tensors"] = spec
    meta["attn_layers"] = [n for n, _ in rec]
    meta["out_scale"] = float(out.abs().max())
    for dt, tdt in [("F16", torch.float16), ("BF16", torch.bfloat16)]:
        m2 = UNet2DConditionModel(case["config"]).eval()
        m2.load_state_dict(model.state_dict())
        round_weights(m2, tdt)
        _, _, o2, _ = run_case(m2, case)
        save2d(os.path.join(d, "out_%s.npy" % dt.lower()), o2)
        meta["diff_%s_vs_f32" % dt.lower()] = float((o2 - out).abs().max())
    with open(os.path.join(d, "case.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print("%s: %d tensors, %d params, out scale %.3f" % (name, len(spec), sum(int(np.prod(s)) for _, s in spec), meta["out_scale"]))


def gen(d):
    """Writes weights, inputs and outputs of the case in DIR/case.json."""
    with open(os.path.join(d, "case.json")) as f:
        case = json.load(f)
    model = UNet2DConditionModel(case["config"]).eval()
    spec = draw_weights(model, case["seed"])
    os.makedirs(os.path.join(d, "unet"), exist_ok=True)
    cfg = dict(case["config"])
    with open(os.path.join(d, "unet", "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    sd = model.state_dict()
    write_safetensors(os.path.join(d, "unet", case.get("file", "diffusion_pytorch_model.safetensors")),
                      [(n, sd[n]) for n, _ in spec], case.get("dtype", "F32"))
    if case.get("outputs", True):
        sample, enc, out, _ = run_case(model, case)
        save2d(os.path.join(d, "sample.npy"), sample)
        save2d(os.path.join(d, "encoder.npy"), enc)
        save2d(os.path.join(d, "out.npy"), out)
        print("out scale %.3f" % float(out.abs().max()))
    else:
        sample, t, enc = inputs(case)
        save2d(os.path.join(d, "sample.npy"), sample)
        save2d(os.path.join(d, "encoder.npy"), enc)


def bench(d):
    """Times DIR's model (weights from the same seed) in PyTorch eager."""
    with open(os.path.join(d, "case.json")) as f:
        case = json.load(f)
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    model = UNet2DConditionModel(case["config"]).eval()
    draw_weights(model, case["seed"])
    sample, t, enc = inputs(case)
    times, cpus = [], []
    with torch.no_grad():
        for _ in range(int(os.environ.get("STEPS", "2"))):
            c0, t0 = time.process_time(), time.perf_counter()
            out = model(sample, t, enc)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
    save2d(os.path.join(d, "torch_out.npy"), out)
    print(json.dumps({"torch_threads": torch.get_num_threads(), "seconds": times, "cpu_seconds": cpus}))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "gen":
        return gen(sys.argv[2])
    if len(sys.argv) == 3 and sys.argv[1] == "bench":
        return bench(sys.argv[2])
    if len(sys.argv) != 1:
        sys.exit(__doc__)
    torch.set_num_threads(2)
    for name, case in CASES.items():
        write_case(name, case, os.path.join(HERE, name))


if __name__ == "__main__":
    main()
