"""Reference outputs of diffusers' AutoencoderKL for package model/vae.

Regenerate the committed goldens (from the repository root):

    /usr/bin/python3 model/vae/testdata/vae_reference.py

The opt-in real-width test (LOUPE_VAE_FULL=1 go test ./model/vae) runs

    /usr/bin/python3 model/vae/testdata/vae_reference.py --full OUT.safetensors

itself and compares against the file it writes.

diffusers is not installed where these goldens were made, so the model below
is a PyTorch reimplementation written from diffusers' source
(models/autoencoders/autoencoder_kl.py: AutoencoderKL; autoencoders/vae.py:
Encoder, Decoder, DiagonalGaussianDistribution; unets/unet_2d_blocks.py:
UNetMidBlock2D, DownEncoderBlock2D, UpDecoderBlock2D; resnet.py:
ResnetBlock2D; downsampling.py / upsampling.py: Downsample2D, Upsample2D;
attention_processor.py: Attention with AttnProcessor, as the VAE's
mid-block builds it: one head of dim C, GroupNorm first, residual
connection, rescale_output_factor 1). Every GroupNorm and the ResNet eps
are 1e-6; SiLU everywhere (act_fn "silu").

Weights are random, drawn from one torch.Generator in the order of
weight_spec() (diffusers' state-dict names): the file's metadata lists that
order with each tensor's shape and scale, and the Go test draws the same
numbers with package diffusion/noise (bit-exact torch.randn), so only the
configs, inputs and outputs are stored here.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))

# name -> (config, weights seed, input seed, sample seed, batch, pixel height, pixel width)
CASES = {
    "tiny": (
        {
            "_class_name": "AutoencoderKL",
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
            "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
            "block_out_channels": [32, 64],
            "layers_per_block": 1,
            "act_fn": "silu",
            "latent_channels": 4,
            "norm_num_groups": 8,
            "sample_size": 16,
            "scaling_factor": 0.18215,
        },
        11, 12, 13, 2, 16, 16,
    ),
    "tiny3": (
        {
            "_class_name": "AutoencoderKL",
            "in_channels": 3,
            "out_channels": 3,
            "down_block_types": ["DownEncoderBlock2D"] * 3,
            "up_block_types": ["UpDecoderBlock2D"] * 3,
            "block_out_channels": [32, 32, 64],
            "layers_per_block": 2,
            "act_fn": "silu",
            "latent_channels": 4,
            "norm_num_groups": 32,
            "sample_size": 32,
            "scaling_factor": 0.13025,
            "shift_factor": 0.0609,
        },
        21, 22, 23, 1, 16, 24,
    ),
}

FULL = (
    {
        "_class_name": "AutoencoderKL",
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4,
        "block_out_channels": [128, 256, 512, 512],
        "layers_per_block": 2,
        "act_fn": "silu",
        "latent_channels": 4,
        "norm_num_groups": 32,
        "sample_size": 512,
        "scaling_factor": 0.18215,
    },
    31, 32, 33, 1, 64, 64,
)


def weight_spec(cfg):
    """(name, shape, kind, scale) in drawing order. kind: w = randn·scale,
    g = 1 + randn·scale (GroupNorm gains)."""
    spec = []

    def conv(p, cin, cout, k):
        spec.append((p + ".weight", [cout, cin, k, k], "w", 1.0 / math.sqrt(cin * k * k)))
        spec.append((p + ".bias", [cout], "w", 0.02))

    def norm(p, c):
        spec.append((p + ".weight", [c], "g", 0.1))
        spec.append((p + ".bias", [c], "w", 0.1))

    def resnet(p, cin, cout):
        norm(p + ".norm1", cin)
        conv(p + ".conv1", cin, cout, 3)
        norm(p + ".norm2", cout)
        conv(p + ".conv2", cout, cout, 3)
        if cin != cout:
            conv(p + ".conv_shortcut", cin, cout, 1)

    def attn(p, c):
        norm(p + ".group_norm", c)
        for n in ["to_q", "to_k", "to_v", "to_out.0"]:
            spec.append((p + "." + n + ".weight", [c, c], "w", 1.0 / math.sqrt(c)))
            spec.append((p + "." + n + ".bias", [c], "w", 0.02))

    def mid(p, c):
        resnet(p + ".resnets.0", c, c)
        attn(p + ".attentions.0", c)
        resnet(p + ".resnets.1", c, c)

    boc = cfg["block_out_channels"]
    L = cfg["layers_per_block"]
    lat = cfg["latent_channels"]
    conv("encoder.conv_in", cfg["in_channels"], boc[0], 3)
    cout = boc[0]
    for i, c in enumerate(boc):
        cin, cout = cout, c
        for j in range(L):
            resnet("encoder.down_blocks.%d.resnets.%d" % (i, j), cin if j == 0 else cout, cout)
        if i != len(boc) - 1:
            conv("encoder.down_blocks.%d.downsamplers.0.conv" % i, cout, cout, 3)
    mid("encoder.mid_block", boc[-1])
    norm("encoder.conv_norm_out", boc[-1])
    conv("encoder.conv_out", boc[-1], 2 * lat, 3)
    conv("quant_conv", 2 * lat, 2 * lat, 1)
    conv("post_quant_conv", lat, lat, 1)
    conv("decoder.conv_in", lat, boc[-1], 3)
    mid("decoder.mid_block", boc[-1])
    rev = list(reversed(boc))
    cout = rev[0]
    for i, c in enumerate(rev):
        cin, cout = cout, c
        for j in range(L + 1):
            resnet("decoder.up_blocks.%d.resnets.%d" % (i, j), cin if j == 0 else cout, cout)
        if i != len(boc) - 1:
            conv("decoder.up_blocks.%d.upsamplers.0.conv" % i, cout, cout, 3)
    norm("decoder.conv_norm_out", boc[0])
    conv("decoder.conv_out", boc[0], cfg["out_channels"], 3)
    return spec


def make_weights(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    w = {}
    for name, shape, kind, scale in weight_spec(cfg):
        x = torch.randn(shape, generator=g, dtype=torch.float32) * scale
        if kind == "g":
            x = 1 + x
        w[name] = x
    return w


# ---------------------------------------------------------------------------
# The network, as diffusers computes it.

EPS = 1e-6


def group_norm(cfg, w, p, x):
    return F.group_norm(x, cfg["norm_num_groups"], w[p + ".weight"], w[p + ".bias"], EPS)


def conv(w, p, x, stride=1, padding=None):
    k = w[p + ".weight"].shape[-1]
    if padding is None:
        padding = k // 2
    return F.conv2d(x, w[p + ".weight"], w[p + ".bias"], stride=stride, padding=padding)


def resnet(cfg, w, p, x):
    """ResnetBlock2D with temb None, time_embedding_norm default, output_scale_factor 1."""
    h = F.silu(group_norm(cfg, w, p + ".norm1", x))
    h = conv(w, p + ".conv1", h)
    h = F.silu(group_norm(cfg, w, p + ".norm2", h))
    h = conv(w, p + ".conv2", h)  # dropout 0
    if p + ".conv_shortcut.weight" in w:
        x = conv(w, p + ".conv_shortcut", x)
    return x + h


def attention(cfg, w, p, x):
    """Attention(C, heads=1, dim_head=C, norm_num_groups, residual_connection,
    bias, upcast_softmax) under AttnProcessor: GroupNorm over [B, C, HW],
    q/k/v linear over the pixels, softmax(q·kᵀ·C^-0.5)·v, to_out, + x."""
    B, C, H, W = x.shape
    h = group_norm(cfg, w, p + ".group_norm", x.view(B, C, H * W)).transpose(1, 2)  # [B, HW, C]
    q = F.linear(h, w[p + ".to_q.weight"], w[p + ".to_q.bias"])
    k = F.linear(h, w[p + ".to_k.weight"], w[p + ".to_k.bias"])
    v = F.linear(h, w[p + ".to_v.weight"], w[p + ".to_v.bias"])
    scores = torch.baddbmm(torch.empty(B, H * W, H * W), q, k.transpose(1, 2), beta=0, alpha=C ** -0.5)
    probs = scores.float().softmax(dim=-1)
    o = torch.bmm(probs, v)
    o = F.linear(o, w[p + ".to_out.0.weight"], w[p + ".to_out.0.bias"])
    o = o.transpose(1, 2).reshape(B, C, H, W)
    return (o + x) / 1.0


def mid_block(cfg, w, p, x):
    x = resnet(cfg, w, p + ".resnets.0", x)
    x = attention(cfg, w, p + ".attentions.0", x)
    return resnet(cfg, w, p + ".resnets.1", x)


def encoder(cfg, w, x):
    boc = cfg["block_out_channels"]
    x = conv(w, "encoder.conv_in", x)
    for i in range(len(boc)):
        for j in range(cfg["layers_per_block"]):
            x = resnet(cfg, w, "encoder.down_blocks.%d.resnets.%d" % (i, j), x)
        if i != len(boc) - 1:
            # Downsample2D(padding=0): pad (0, 1, 0, 1), then 3x3 stride 2
            x = F.pad(x, (0, 1, 0, 1), mode="constant", value=0)
            x = conv(w, "encoder.down_blocks.%d.downsamplers.0.conv" % i, x, stride=2, padding=0)
    x = mid_block(cfg, w, "encoder.mid_block", x)
    x = F.silu(group_norm(cfg, w, "encoder.conv_norm_out", x))
    return conv(w, "encoder.conv_out", x)


def decoder(cfg, w, z):
    boc = cfg["block_out_channels"]
    x = conv(w, "decoder.conv_in", z)
    x = mid_block(cfg, w, "decoder.mid_block", x)
    for i in range(len(boc)):
        for j in range(cfg["layers_per_block"] + 1):
            x = resnet(cfg, w, "decoder.up_blocks.%d.resnets.%d" % (i, j), x)
        if i != len(boc) - 1:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = conv(w, "decoder.up_blocks.%d.upsamplers.0.conv" % i, x)
    x = F.silu(group_norm(cfg, w, "decoder.conv_norm_out", x))
    return conv(w, "decoder.conv_out", x)


def tiled_encode(cfg, w, x):
    """AutoencoderKL._tiled_encode after enable_tiling(): sample_size tiles
    of pixels overlapping by a quarter, each through the encoder and
    quant_conv, the moments blended as tiled_decode blends pixels; then the
    DiagonalGaussianDistribution's mean and clamped logvar."""
    tile_sample_min_size = cfg["sample_size"]
    tile_latent_min_size = int(tile_sample_min_size / (2 ** (len(cfg["block_out_channels"]) - 1)))
    overlap_size = int(tile_sample_min_size * (1 - 0.25))
    blend_extent = int(tile_latent_min_size * 0.25)
    row_limit = tile_latent_min_size - blend_extent
    rows = []
    for i in range(0, x.shape[2], overlap_size):
        row = []
        for j in range(0, x.shape[3], overlap_size):
            tile = x[:, :, i:i + tile_sample_min_size, j:j + tile_sample_min_size]
            row.append(conv(w, "quant_conv", encoder(cfg, w, tile)))
        rows.append(row)
    result_rows = []
    for i, row in enumerate(rows):
        result_row = []
        for j, tile in enumerate(row):
            if i > 0:
                tile = blend_v(rows[i - 1][j], tile, blend_extent)
            if j > 0:
                tile = blend_h(row[j - 1], tile, blend_extent)
            result_row.append(tile[:, :, :row_limit, :row_limit])
        result_rows.append(torch.cat(result_row, dim=3))
    h = torch.cat(result_rows, dim=2)
    mean, logvar = torch.chunk(h, 2, dim=1)
    return mean, torch.clamp(logvar, -30.0, 20.0)


def encode(cfg, w, x):
    """AutoencoderKL.encode → DiagonalGaussianDistribution's mean and clamped logvar."""
    h = conv(w, "quant_conv", encoder(cfg, w, x))
    mean, logvar = torch.chunk(h, 2, dim=1)
    return mean, torch.clamp(logvar, -30.0, 20.0)


def sample(mean, logvar, generator):
    """DiagonalGaussianDistribution.sample(generator): randn_tensor(mean.shape)
    on the CPU generator, mean + exp(0.5·logvar)·noise."""
    std = torch.exp(0.5 * logvar)
    eps = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
    return mean + std * eps


def decode(cfg, w, z):
    return decoder(cfg, w, conv(w, "post_quant_conv", z))


def blend_v(a, b, blend_extent):
    blend_extent = min(a.shape[2], b.shape[2], blend_extent)
    for y in range(blend_extent):
        b[:, :, y, :] = a[:, :, -blend_extent + y, :] * (1 - y / blend_extent) + b[:, :, y, :] * (y / blend_extent)
    return b


def blend_h(a, b, blend_extent):
    blend_extent = min(a.shape[3], b.shape[3], blend_extent)
    for x in range(blend_extent):
        b[:, :, :, x] = a[:, :, :, -blend_extent + x] * (1 - x / blend_extent) + b[:, :, :, x] * (x / blend_extent)
    return b


def tiled_decode(cfg, w, z):
    """AutoencoderKL.tiled_decode after enable_tiling(): tiles of
    sample_size / 2^(levels-1) latents overlapping by a quarter, decoded
    alone, blended linearly with the tile above and the tile to the left
    (both already blended, as diffusers blends in place), cropped and
    concatenated."""
    tile_sample_min_size = cfg["sample_size"]
    tile_latent_min_size = int(tile_sample_min_size / (2 ** (len(cfg["block_out_channels"]) - 1)))
    overlap_size = int(tile_latent_min_size * (1 - 0.25))
    blend_extent = int(tile_sample_min_size * 0.25)
    row_limit = tile_sample_min_size - blend_extent
    rows = []
    for i in range(0, z.shape[2], overlap_size):
        row = []
        for j in range(0, z.shape[3], overlap_size):
            tile = z[:, :, i:i + tile_latent_min_size, j:j + tile_latent_min_size]
            row.append(decode(cfg, w, tile))
        rows.append(row)
    result_rows = []
    for i, row in enumerate(rows):
        result_row = []
        for j, tile in enumerate(row):
            if i > 0:
                tile = blend_v(rows[i - 1][j], tile, blend_extent)
            if j > 0:
                tile = blend_h(row[j - 1], tile, blend_extent)
            result_row.append(tile[:, :, :row_limit, :row_limit])
        result_rows.append(torch.cat(result_row, dim=3))
    return torch.cat(result_rows, dim=2)


# ---------------------------------------------------------------------------


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        b = t.detach().contiguous().numpy().astype(np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = dict(metadata, format="pt")
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def run_case(name, case, tensors, metadata, tiled=True):
    cfg, wseed, xseed, sseed, batch, H, W = case
    w = make_weights(cfg, wseed)
    f = 2 ** (len(cfg["block_out_channels"]) - 1)
    g = torch.Generator().manual_seed(xseed)
    pixels = torch.rand([batch, cfg["in_channels"], H, W], generator=g) * 2 - 1
    latents = torch.randn([batch, cfg["latent_channels"], H // f, W // f], generator=g)
    with torch.no_grad():
        mean, logvar = encode(cfg, w, pixels)
        z = sample(mean, logvar, torch.Generator().manual_seed(sseed))
        # a list of generators, one per image (seeds sseed, sseed+1, ...),
        # as retrieve_latents does for img2img with generator=[...]
        zs = torch.cat([sample(mean[i:i + 1], logvar[i:i + 1], torch.Generator().manual_seed(sseed + i))
                        for i in range(batch)])
        out = decode(cfg, w, latents)
        if tiled:  # latents of 1.5 and 2 tiles less a few, so that edge tiles are partial
            tl = int(cfg["sample_size"] / f)
            tiled_latents = torch.randn([1, cfg["latent_channels"], tl + tl // 2 + 3, 2 * tl - 3], generator=g)
            tiled_out = tiled_decode(cfg, w, tiled_latents)
            ts = cfg["sample_size"]
            tiled_pixels = torch.rand([1, cfg["in_channels"], ts + ts // 2 + 2 * f, 2 * ts - 3 * f], generator=g) * 2 - 1
            tiled_mean, tiled_logvar = tiled_encode(cfg, w, tiled_pixels)
    spec = [[n, s, k, sc] for n, s, k, sc in weight_spec(cfg)]
    metadata[name + ".config"] = json.dumps(cfg)
    metadata[name + ".spec"] = json.dumps(spec)
    metadata[name + ".seeds"] = json.dumps([wseed, xseed, sseed])
    outs = [("pixels", pixels), ("latents", latents), ("mean", mean), ("logvar", logvar),
            ("sample", z), ("sample_each", zs), ("decoded", out)]
    if tiled:
        outs += [("tiled_latents", tiled_latents), ("tiled", tiled_out), ("tiled_pixels", tiled_pixels),
                 ("tiled_mean", tiled_mean), ("tiled_logvar", tiled_logvar)]
    for k, v in outs:
        tensors.append((name + "." + k, v))
    print("%s: %d weights, decoded %s scale %.3g, mean %s scale %.3g" % (
        name, len(spec), list(out.shape), out.abs().max().item(), list(mean.shape), mean.abs().max().item()),
        file=sys.stderr)


def main():
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if len(sys.argv) == 3 and sys.argv[1] == "--full":
        tensors, metadata = [], {}
        run_case("full", FULL, tensors, metadata, tiled=False)
        write_safetensors(sys.argv[2], tensors, metadata)
        return
    tensors, metadata = [], {}
    for name, case in CASES.items():
        run_case(name, case, tensors, metadata)
    write_safetensors(os.path.join(HERE, "golden.safetensors"), tensors, metadata)


if __name__ == "__main__":
    main()
