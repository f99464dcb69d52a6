"""Reference runs of the Stable Diffusion pipeline loop for package
diffusion/pipeline.

Regenerate (from the repository root):

    /usr/bin/python3 diffusion/pipeline/testdata/pipeline_reference.py

diffusers is not installed where these goldens were made, so this script
re-states, from diffusers' pipeline_stable_diffusion.py and
pipeline_stable_diffusion_img2img.py, what StableDiffusionPipeline.__call__
and StableDiffusionImg2ImgPipeline.__call__ do around the models:

- encode_prompt: the prompt and the negative prompt ("" when none) padded to
  77 tokens (padding="max_length", truncation=True), both through the text
  encoder; prompt_embeds = cat([negative, prompt]) under guidance;
- do_classifier_free_guidance = guidance_scale > 1: otherwise the UNet runs
  on the conditional half only;
- prepare_latents: randn_tensor(shape, generator) · init_noise_sigma;
- the loop: cat([latents] · 2), scale_model_input, the UNet, chunk(2),
  uncond + g·(text − uncond), scheduler.step(…, generator);
- img2img: image_processor.preprocess (x/255, then 2x − 1),
  vae.encode(image).latent_dist.sample(generator) (logvar clamped to
  [−30, 20], mean + exp(logvar/2)·randn: the first draw from the generator),
  × scaling_factor, then noise = randn_tensor (the second draw),
  scheduler.add_noise at timesteps[t_start] with get_timesteps' t_start and
  set_begin_index(t_start);
- decode: vae.decode(latents / scaling_factor), then postprocess:
  (x/2 + 0.5).clamp(0, 1), numpy (x·255).round().astype("uint8").

The tokenizer, the CLIP text encoder (tiny: width 32, one layer, random
weights drawn from a seeded torch.Generator in model/clip's weight order)
and the schedulers are the reference implementations of those packages
(tokenizer/clip, model/clip and diffusion/scheduler testdata). The UNet and
the VAE are small fixed functions standing in for the models (the Go test
computes the same functions), so what is checked here is the pipeline:
guidance, generator order, img2img, scaling and the pixel conversion.
"""
import importlib.util
import json
import math
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


tokref = load("tokref", "tokenizer/clip/testdata/clip_reference.py")
clipref = load("clipref", "model/clip/testdata/clip_reference.py")
sched = load("sched", "diffusion/scheduler/testdata/sched_reference.py")

SCALING = 0.18215
FACTOR = 8  # vae_scale_factor
CLIP_SEED = 4321

# The stand-in VAE's matrices (the Go test holds the same numbers).
DEC = [[0.8, -0.3, 0.2, 0.1], [0.1, 0.7, -0.4, 0.2], [-0.2, 0.1, 0.6, 0.5]]
ENC = [[0.5, 0.2, -0.1], [0.1, -0.4, 0.3], [0.2, 0.2, 0.2], [-0.3, 0.1, 0.5]]


def fake_unet(x, t, text):
    """A smooth function of the scaled latents [B,4,h,w], the timestep and
    the text states [B,77,D] (their mean over tokens, first 4 features)."""
    t = float(t)
    s = text.mean(dim=1)[:, :4]
    return (0.9 + 0.05 * math.cos(t / 300.0)) * x + 0.1 * torch.sin(2.0 * x + t / 100.0) + 0.2 * s[:, :, None, None]


def fake_decode(z):
    """[1,4,h,w] → [1,3,8h,8w] in (−1, 1)."""
    m = torch.tensor(DEC, dtype=torch.float32) * 0.15
    y = torch.einsum("oc,bchw->bohw", m, z)
    y = y.repeat_interleave(FACTOR, dim=2).repeat_interleave(FACTOR, dim=3)
    H, W = y.shape[2], y.shape[3]
    Y = torch.arange(H, dtype=torch.float32)[:, None]
    X = torch.arange(W, dtype=torch.float32)[None, :]
    pat = torch.stack([torch.sin(0.3 * X + 0.2 * Y + c) for c in range(3)])[None]
    return torch.tanh(y + 0.1 * pat)


def fake_encode(px):
    """[1,3,H,W] → mean, logvar [1,4,H/8,W/8]."""
    pooled = torch.nn.functional.avg_pool2d(px, FACTOR)
    a = torch.tensor(ENC, dtype=torch.float32) * 3.0
    mean = torch.einsum("co,bohw->bchw", a, pooled)
    return mean, -3.0 + 0.5 * torch.tanh(mean)


def init_image(W, H):
    """The init image, uint8 [H,W,3]."""
    img = np.zeros((H, W, 3), dtype=np.uint8)
    for y in range(H):
        for x in range(W):
            for c in range(3):
                img[y, x, c] = (x * 7 + y * 13 + c * 50 + (x * y) % 17) % 256
    return img


CASES = [
    # name, scheduler, config, steps, guidance, seed, prompt, negative, size, strength
    ("euler-a", "euler-a", sched.SD15, 5, 7.5, 42, "a lighthouse at dusk", "", (64, 48), None),
    ("ddim", "ddim", sched.SD15, 5, 5.0, 7, "a photograph of an astronaut riding a horse", "blurry", (48, 64), None),
    ("pndm-v", "pndm", sched.SD21, 4, 3.0, 11, "an oil painting of the sea", "", (32, 32), None),
    ("dpm-noguidance", "dpm++2m", sched.SD15, 5, 1.0, 3, "a red fox", "ignored", (40, 40), None),
    ("img2img-euler-a", "euler-a", sched.SD15, 6, 7.5, 5, "a watercolour of a harbour", "", (64, 48), 0.6),
    ("img2img-ddim-v", "ddim", sched.SD21, 5, 4.0, 9, "snow on the hills", "dark", (48, 48), 0.8),
]


class StandIns:
    """The stand-in UNet and VAE."""
    scaling = SCALING

    def unet(self, x, t, text):
        return fake_unet(x, t, text)

    def decode(self, z):
        return fake_decode(z)

    def encode(self, px):
        return fake_encode(px)

    def sample(self, mean, logvar, g):
        logvar = torch.clamp(logvar, -30.0, 20.0)
        std = torch.exp(0.5 * logvar)
        return mean + std * torch.randn(mean.shape, generator=g, dtype=torch.float32)


class TinyModels:
    """Tiny random-weight UNet and VAE from the reference implementations of
    model/unet and model/vae (their weights drawn as those scripts draw
    them; the Go test draws the same numbers)."""

    def __init__(self, unet_cfg, unet_seed, vae_cfg, vae_seed):
        self.unetref = load("unetref", "model/unet/testdata/unet_reference.py")
        self.vaeref = load("vaeref", "model/vae/testdata/vae_reference.py")
        self.model = self.unetref.UNet2DConditionModel(unet_cfg).eval()
        self.unet_spec = self.unetref.draw_weights(self.model, unet_seed)
        self.vae_cfg = vae_cfg
        self.vae_w = self.vaeref.make_weights(vae_cfg, vae_seed)
        self.scaling = vae_cfg["scaling_factor"]

    def unet(self, x, t, text):
        with torch.no_grad():
            return self.model(x, torch.tensor([float(t)], dtype=torch.float64), text)

    def decode(self, z):
        with torch.no_grad():
            return self.vaeref.decode(self.vae_cfg, self.vae_w, z)

    def encode(self, px):
        with torch.no_grad():
            return self.vaeref.encode(self.vae_cfg, self.vae_w, px)

    def sample(self, mean, logvar, g):
        return self.vaeref.sample(mean, logvar, g)


# The tiny random-weight models of the end-to-end cases: an SD 1.x-shaped
# UNet (three levels, cross-attention at the first two, width 32 text states)
# and a four-level VAE (scale factor 8, as every SD VAE).
UNET_CONFIG = dict(
    _class_name="UNet2DConditionModel", sample_size=8, block_out_channels=[32, 64, 64], layers_per_block=1,
    attention_head_dim=2, cross_attention_dim=32, norm_num_groups=8,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
UNET_SEED = 77
VAE_CONFIG = dict(
    _class_name="AutoencoderKL", in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
    up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[8, 8, 16, 16], layers_per_block=1, act_fn="silu",
    latent_channels=4, norm_num_groups=4, sample_size=64, scaling_factor=0.18215)
VAE_SEED = 78

MODEL_CASES = [
    ("models-euler-a", "euler-a", sched.SD15, 5, 7.5, 42, "a lighthouse at dusk", "", (64, 48), None),
    ("models-ddim", "ddim", sched.SD15, 5, 5.0, 7, "a red fox in the snow", "blurry", (48, 48), None),
    ("models-img2img-euler-a", "euler-a", sched.SD15, 6, 7.5, 5, "a watercolour of a harbour", "", (64, 48), 0.6),
]


def run(clipcfg, weights, tok, case, models):
    name, kind, config, steps, guidance, seed, prompt, negative, (W, H), strength = case
    SCALING = models.scaling
    s = sched.CLASSES[kind](config)
    s.set_timesteps(steps)
    cond = tok.encode_padded(prompt)
    do_cfg = guidance > 1
    ids = [tok.encode_padded(negative), cond] if do_cfg else [cond]
    with torch.no_grad():
        _, text, _ = clipref.forward(clipcfg, weights, torch.tensor(ids))
    g = torch.Generator().manual_seed(seed)
    shape = [1, 4, H // FACTOR, W // FACTOR]
    timesteps = s.timesteps
    t_start = 0
    if strength is None:
        noise0 = torch.randn(shape, generator=g, dtype=torch.float32)
        latents = noise0 * float(s.init_noise_sigma)
    else:
        init_timestep = min(int(steps * strength), steps)
        t_start = max(steps - init_timestep, 0)
        timesteps = s.timesteps[t_start:]
        s.set_begin_index(t_start)
        img = torch.from_numpy(init_image(W, H).astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        img = 2.0 * img - 1.0
        mean, logvar = models.encode(img)
        init_latents = SCALING * models.sample(mean, logvar, g)
        noise0 = torch.randn(shape, generator=g, dtype=torch.float32)
        latents = s.add_noise(init_latents, noise0, t_start)
    traj = [noise0.flatten().tolist()]
    for t in timesteps:
        inp = torch.cat([latents] * 2) if do_cfg else latents
        inp = s.scale_model_input(inp, t)
        out = models.unet(inp, t, text)
        if do_cfg:
            u, c = out.chunk(2)
            out = u + guidance * (c - u)
        if kind in ("ddim", "pndm", "lcm"):
            latents = s.step(out, int(t), latents, g)
        else:
            latents = s.step(out, t, latents, g)
        traj.append(latents.flatten().tolist())
    image = models.decode(latents / SCALING)
    image = (image / 2 + 0.5).clamp(0, 1)
    arr = image.permute(0, 2, 3, 1).float().numpy()
    px = (arr * 255).round().astype("uint8")
    return {
        "name": name, "scheduler": kind, "config": config, "steps": steps, "guidance": guidance, "seed": seed,
        "prompt": prompt, "negative": negative, "width": W, "height": H, "strength": strength or 0.0,
        "ids": ids, "timesteps": [float(t) for t in timesteps], "latents": traj, "pixels": px.tobytes().hex(),
    }


def main():
    torch.set_num_threads(1)
    vdir = os.path.join(ROOT, "tokenizer", "clip", "testdata", "vocab")
    vocab = json.load(open(os.path.join(vdir, "vocab.json"), encoding="utf-8"))
    merges = [tuple(m.split()) for m in open(os.path.join(vdir, "merges.txt"), encoding="utf-8").read().strip().split("\n")[1:]]
    clipcfg = {
        "architectures": ["CLIPTextModel"], "model_type": "clip_text_model",
        "vocab_size": max(vocab.values()) + 1, "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2,
        "num_hidden_layers": 1, "hidden_act": "quick_gelu", "max_position_embeddings": 77, "layer_norm_eps": 1e-5,
        "projection_dim": 32, "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": 1, "torch_dtype": "float32",
    }
    weights = clipref.make_weights(clipcfg, CLIP_SEED)
    tok = tokref.Reference(vocab, merges)
    out = {"clip_config": clipcfg, "clip_seed": CLIP_SEED, "scaling_factor": SCALING,
           "cases": [run(clipcfg, weights, tok, c, StandIns()) for c in CASES]}
    with open(os.path.join(HERE, "pipeline_reference.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    models = TinyModels(UNET_CONFIG, UNET_SEED, VAE_CONFIG, VAE_SEED)
    out = {"clip_config": clipcfg, "clip_seed": CLIP_SEED, "unet_config": UNET_CONFIG, "unet_seed": UNET_SEED,
           "unet_tensors": models.unet_spec, "vae_config": VAE_CONFIG, "vae_seed": VAE_SEED,
           "vae_tensors": [[n, s, k, sc] for n, s, k, sc in models.vaeref.weight_spec(VAE_CONFIG)],
           "cases": [run(clipcfg, weights, tok, c, models) for c in MODEL_CASES]}
    with open(os.path.join(HERE, "pipeline_models.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
