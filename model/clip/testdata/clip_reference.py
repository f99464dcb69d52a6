"""Reference outputs of CLIP's text encoder for package model/clip.

Regenerate (from the repository root):

    /usr/bin/python3 model/clip/testdata/clip_reference.py

transformers is not installed where these goldens were made, so the model
below is a PyTorch reimplementation of transformers' CLIPTextModel
(modeling_clip.py: CLIPTextEmbeddings, CLIPAttention, CLIPMLP,
CLIPEncoderLayer, CLIPTextTransformer), written from its source: token plus
position embeddings; pre-LayerNorm layers x + attn(ln1(x)), x + mlp(ln2(x))
with causal self-attention scaled by head_dim^-0.5; quick_gelu (x·σ(1.702x),
SD 1.x) or exact gelu (SD 2.x); final_layer_norm; pooled output at the first
eos (or argmax of the ids for the legacy eos_token_id 2). clip_skip follows
diffusers' encode_prompt: hidden_states[-(skip+1)] through final_layer_norm.

Weights are random at CLIP ViT-L/14's text width (768, 12 heads, MLP 3072)
and reduced depth, drawn from one torch.Generator in the order of
weight_spec(): the Go test draws the same numbers with package
diffusion/noise (bit-exact torch.randn) and writes them to a safetensors
file, so only the small configs and outputs are stored here. Prompts are
tokenized with tokenizer/clip/testdata's reference tokenizer and test
vocabulary; its size is the vocab_size.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tokenizer", "clip", "testdata"))
import clip_reference as tokref  # noqa: E402

PROMPTS = ["a photograph of an astronaut riding a horse", ""]


def weight_spec(cfg):
    """(name, shape, kind, scale) in drawing order. kind: w = randn·scale,
    g = 1 + randn·scale (LayerNorm gains)."""
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    spec = [
        ("text_model.embeddings.token_embedding.weight", [cfg["vocab_size"], H], "w", 1.0),
        ("text_model.embeddings.position_embedding.weight", [cfg["max_position_embeddings"], H], "w", 0.5),
    ]
    for i in range(cfg["num_hidden_layers"]):
        p = "text_model.encoder.layers.%d." % i
        for proj, s in [("q_proj", 0.05), ("k_proj", 0.05), ("v_proj", 0.03), ("out_proj", 0.03)]:
            spec.append((p + "self_attn." + proj + ".weight", [H, H], "w", s))
            spec.append((p + "self_attn." + proj + ".bias", [H], "w", 0.02))
        for ln in ["layer_norm1", "layer_norm2"]:
            spec.append((p + ln + ".weight", [H], "g", 0.1))
            spec.append((p + ln + ".bias", [H], "w", 0.1))
        spec.append((p + "mlp.fc1.weight", [I, H], "w", 0.04))
        spec.append((p + "mlp.fc1.bias", [I], "w", 0.02))
        spec.append((p + "mlp.fc2.weight", [H, I], "w", 0.02))
        spec.append((p + "mlp.fc2.bias", [H], "w", 0.02))
    spec.append(("text_model.final_layer_norm.weight", [H], "g", 0.1))
    spec.append(("text_model.final_layer_norm.bias", [H], "w", 0.1))
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


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, eps)


def act(cfg, x):
    if cfg["hidden_act"] == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if cfg["hidden_act"] == "gelu":
        return torch.nn.functional.gelu(x)
    raise ValueError(cfg["hidden_act"])


def forward(cfg, w, ids):
    """Returns (hidden_states tuple, last_hidden_state, pooled) like CLIPTextModel."""
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    hs = H // nh
    eps = cfg["layer_norm_eps"]
    B, T = ids.shape
    x = w["text_model.embeddings.token_embedding.weight"][ids] + w["text_model.embeddings.position_embedding.weight"][:T][None]
    mask = torch.full((T, T), torch.finfo(torch.float32).min).triu(1)
    hidden = [x]
    for i in range(cfg["num_hidden_layers"]):
        p = "text_model.encoder.layers.%d." % i
        lin = lambda name, v: v @ w[p + name + ".weight"].T + w[p + name + ".bias"]  # noqa: E731
        r = x
        h = layer_norm(x, w[p + "layer_norm1.weight"], w[p + "layer_norm1.bias"], eps)
        q = lin("self_attn.q_proj", h).view(B, T, nh, hs).transpose(1, 2)
        k = lin("self_attn.k_proj", h).view(B, T, nh, hs).transpose(1, 2)
        v = lin("self_attn.v_proj", h).view(B, T, nh, hs).transpose(1, 2)
        a = (q @ k.transpose(2, 3)) * hs**-0.5 + mask
        a = torch.softmax(a, dim=-1)
        o = (a @ v).transpose(1, 2).reshape(B, T, H)
        x = r + lin("self_attn.out_proj", o)
        r = x
        h = layer_norm(x, w[p + "layer_norm2.weight"], w[p + "layer_norm2.bias"], eps)
        x = r + lin("mlp.fc2", act(cfg, lin("mlp.fc1", h)))
        hidden.append(x)
    last = layer_norm(x, w["text_model.final_layer_norm.weight"], w["text_model.final_layer_norm.bias"], eps)
    if cfg["eos_token_id"] == 2:
        pos = ids.argmax(dim=-1)
    else:
        pos = (ids == cfg["eos_token_id"]).int().argmax(dim=-1)
    pooled = last[torch.arange(B), pos]
    return hidden, last, pooled


def save_npy(name, a):
    a = np.ascontiguousarray(a.detach().numpy().astype(np.float32))
    np.save(os.path.join(HERE, name), a.reshape(-1, a.shape[-1]))


def main():
    torch.set_num_threads(2)
    vocab = json.load(open(os.path.join(ROOT, "tokenizer", "clip", "testdata", "vocab", "vocab.json"), encoding="utf-8"))
    merges_lines = open(os.path.join(ROOT, "tokenizer", "clip", "testdata", "vocab", "merges.txt"), encoding="utf-8").read().strip().split("\n")[1:]
    merges = [tuple(m.split()) for m in merges_lines]
    V = max(vocab.values()) + 1
    base = {
        "architectures": ["CLIPTextModel"], "model_type": "clip_text_model",
        "vocab_size": V, "hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12,
        "max_position_embeddings": 77, "layer_norm_eps": 1e-5, "projection_dim": 768,
        "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"], "pad_token_id": 1,
        "torch_dtype": "float32",
    }
    runs = [
        ("quick", dict(base, num_hidden_layers=3, hidden_act="quick_gelu"), 1234, tokref.Reference(vocab, merges)),
        ("gelu", dict(base, num_hidden_layers=2, hidden_act="gelu"), 99, tokref.Reference(vocab, merges, pad="!")),
    ]
    meta = {}
    for name, cfg, seed, tok in runs:
        os.makedirs(os.path.join(HERE, name), exist_ok=True)
        with open(os.path.join(HERE, name, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        w = make_weights(cfg, seed)
        prompts = PROMPTS if name == "quick" else PROMPTS[:1]
        ids = torch.tensor([tok.encode_padded(p) for p in prompts])
        with torch.no_grad():
            hidden, last, pooled = forward(cfg, w, ids)
        save_npy(name + "_last.npy", last)
        save_npy(name + "_pooled.npy", pooled)
        if name == "quick":
            # clip_skip=1: the penultimate layer's output through final_layer_norm
            skip = layer_norm(hidden[-2][:1], w["text_model.final_layer_norm.weight"], w["text_model.final_layer_norm.bias"], cfg["layer_norm_eps"])
            save_npy(name + "_skip1.npy", skip)
        meta[name] = {"seed": seed, "prompts": prompts, "ids": ids.tolist(), "scale": float(last.abs().max())}
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump(meta, f)
        f.write("\n")


if __name__ == "__main__":
    main()
