"""Writes a Stable Diffusion 1.5-shaped pipeline with random weights, in
diffusers' layout, for timing `loupe diffuse` (bench/diffusion.sh).

    /usr/bin/python3 bench/diffusion_model.py DIR [F16|F32]

The shapes are SD 1.5's (CLIP ViT-L/14 text encoder, 12 layers of 768;
UNet2DConditionModel 320/640/1280/1280; AutoencoderKL 128/256/512/512), the
weights random, drawn as the reference scripts of model/clip, model/unet and
model/vae draw them; the tokenizer is tokenizer/clip's test vocabulary
(smaller than CLIP's 49,408 tokens, which only matters for the embedding
rows used). The images are noise: this is for speed and memory, not
pictures. Real weights come from the Hugging Face hub.
"""
import importlib.util
import json
import os
import shutil
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def main():
    out = sys.argv[1]
    dtype = sys.argv[2] if len(sys.argv) > 2 else "F16"
    unetref = load("unetref", "model/unet/testdata/unet_reference.py")
    vaeref = load("vaeref", "model/vae/testdata/vae_reference.py")
    clipref = load("clipref", "model/clip/testdata/clip_reference.py")
    torch.set_num_threads(2)
    for d in ["tokenizer", "text_encoder", "scheduler", "unet", "vae"]:
        os.makedirs(os.path.join(out, d), exist_ok=True)
    vdir = os.path.join(ROOT, "tokenizer", "clip", "testdata", "vocab")
    for f in os.listdir(vdir):
        shutil.copy(os.path.join(vdir, f), os.path.join(out, "tokenizer", f))
    vocab = json.load(open(os.path.join(vdir, "vocab.json"), encoding="utf-8"))
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.21.0",
             "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
             "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
             "vae": ["diffusers", "AutoencoderKL"]}
    sched = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
             "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
             "trained_betas": None, "clip_sample": False}
    clip = {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "vocab_size": 49408, "hidden_size": 768,
            "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12, "max_position_embeddings": 77,
            "layer_norm_eps": 1e-5, "hidden_act": "quick_gelu", "projection_dim": 768,
            "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"], "pad_token_id": 1}
    unet = dict(unetref.DEFAULTS, _class_name="UNet2DConditionModel", cross_attention_dim=768)
    vae = dict(vaeref.FULL[0])
    for name, obj in [("model_index.json", index), ("scheduler/scheduler_config.json", sched),
                      ("text_encoder/config.json", clip), ("unet/config.json", unet), ("vae/config.json", vae)]:
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, indent=1)
    w = clipref.make_weights(clip, 1)
    unetref.write_safetensors(os.path.join(out, "text_encoder", "model.safetensors"), sorted(w.items()), dtype)
    del w
    w = vaeref.make_weights(vae, 3)
    unetref.write_safetensors(os.path.join(out, "vae", "diffusion_pytorch_model.safetensors"), sorted(w.items()), dtype)
    del w
    model = unetref.UNet2DConditionModel(unet).eval()
    spec = unetref.draw_weights(model, 2)
    sd = model.state_dict()
    unetref.write_safetensors(os.path.join(out, "unet", "diffusion_pytorch_model.safetensors"), [(n, sd[n]) for n, _ in spec], dtype)
    print("wrote", out)


if __name__ == "__main__":
    main()
