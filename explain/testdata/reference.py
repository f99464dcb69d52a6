#!/usr/bin/python3
"""PyTorch autograd reference for loupe's explain package (golden files).

GPT-2 is written here in plain PyTorch as Hugging Face's modeling_gpt2.py
computes it (transformers is not needed), on a tiny random checkpoint it
writes itself (explain/testdata/tiny: config.json + model.safetensors in
Hugging Face layout, keys prefixed "transformer."). The inputs are token
embeddings (wte rows) as Ecco passes inputs_embeds; positions are added
inside. For each generated position the script records:

  * the gradient of the chosen token's probability (Ecco's target) and of
    its logit with respect to every input embedding,
  * Ecco's normalised scores: gradient (L2 norm of the gradient per token,
    divided by the sum), grad_x_input (L2 norm of gradient * embedding),
    integrated_gradients (Captum's method: zero baseline, Gauss-Legendre
    nodes on [0, 1]),
  * the integrated-gradients attribution sums and F(x) - F(0).

Regenerate (from the repository root):

    /usr/bin/python3 explain/testdata/reference.py

It writes explain/testdata/tiny/ and explain/testdata/golden.json.
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
ROOT = os.path.dirname(os.path.dirname(HERE))
CKPT = os.path.join(HERE, "tiny")
CFG = {"n_layer": 2, "n_embd": 32, "n_head": 4, "n_positions": 16, "vocab_size": 261,
       "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "model_type": "gpt2",
       "architectures": ["GPT2LMHeadModel"]}

IDS = [3, 17, 42, 8, 49, 5, 31, 23, 0, 27]
PROMPT = 6
IG_STEPS = 7


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16}[info["dtype"]]
        arr = np.frombuffer(data[a:b], dtype=dt).astype(np.float32).reshape(info["shape"])
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        out[name] = torch.from_numpy(arr.copy())
    return out


def write_checkpoint():
    """A random GPT-2 with the shapes of CFG, F32, written by hand."""
    g = torch.Generator().manual_seed(1234)
    C, V, P = CFG["n_embd"], CFG["vocab_size"], CFG["n_positions"]
    shapes = [("wte.weight", (V, C)), ("wpe.weight", (P, C))]
    for l in range(CFG["n_layer"]):
        p = "h.%d." % l
        shapes += [(p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
                   (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
                   (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
                   (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
                   (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
                   (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,))]
    shapes += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    header, blobs, off = {}, [], 0
    for name, shape in shapes:
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            t = 1 + 0.1 * torch.randn(shape, generator=g)
        elif name.endswith(".bias"):
            t = 0.05 * torch.randn(shape, generator=g)
        else:
            t = 0.3 * torch.randn(shape, generator=g)
        b = t.numpy().astype(np.float32).tobytes()
        header["transformer." + name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    os.makedirs(CKPT, exist_ok=True)
    with open(os.path.join(CKPT, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    cfg = dict(CFG, n_ctx=CFG["n_positions"], bos_token_id=CFG["vocab_size"] - 1, eos_token_id=CFG["vocab_size"] - 1)
    write_tokenizer()
    with open(os.path.join(CKPT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def bytes_to_unicode():
    """GPT-2's byte -> printable character table."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def write_tokenizer():
    """A byte-level BPE vocabulary for the tiny model: the 256 byte symbols,
    four merges, and <|endoftext|> as the last id (vocab_size 261)."""
    table = bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    merges = [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("\u0120", "a")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    assert len(vocab) == CFG["vocab_size"]
    with open(os.path.join(CKPT, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(CKPT, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(a + " " + b + "\n")


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(cfg, w, emb):
    """emb: [B, T, C] token embeddings -> logits [B, T, V]."""
    C, nh = cfg["n_embd"], cfg["n_head"]
    hs = C // nh
    B, T, _ = emb.shape
    x = emb + w["wpe.weight"][:T].unsqueeze(0)
    eps = cfg["layer_norm_epsilon"]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["n_layer"]):
        p = "h.%d." % l
        h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(C, dim=2)
        q, k, v = [t.view(B, T, nh, hs).permute(0, 2, 1, 3) for t in (q, k, v)]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = torch.where(mask, att, torch.tensor(torch.finfo(att.dtype).min))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).permute(0, 2, 1, 3).reshape(B, T, C)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        h = gelu_new(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)
    return x @ w["wte.weight"].t()


def target(cfg, w, emb, token, kind):
    logits = forward(cfg, w, emb)[:, -1, :]
    if kind == "prob":
        return torch.softmax(logits, dim=-1)[:, token]
    return logits[:, token]


def normalise(per_dim):
    n = per_dim.norm(dim=-1)
    return (n / n.sum()).tolist()


def main():
    write_checkpoint()
    with open(os.path.join(CKPT, "config.json")) as f:
        cfg = json.load(f)
    w = read_safetensors(os.path.join(CKPT, "model.safetensors"))
    ids = torch.tensor(IDS)
    emb_all = w["wte.weight"][ids]
    out = {"ids": IDS, "prompt_length": PROMPT, "ig_steps": IG_STEPS,
           "logits": forward(cfg, w, emb_all.unsqueeze(0))[0].flatten().tolist(),
           "targets": []}
    nodes, weights = np.polynomial.legendre.leggauss(IG_STEPS)
    alphas = torch.tensor(0.5 * (1 + nodes), dtype=torch.float32)
    steps = torch.tensor(0.5 * weights, dtype=torch.float32)
    for pos in range(PROMPT, len(IDS)):
        token = IDS[pos]
        emb = emb_all[:pos].clone()
        rec = {"position": pos, "token": token}
        for kind in ("prob", "logit"):
            e = emb.clone().unsqueeze(0).requires_grad_(True)
            val = target(cfg, w, e, token, kind)
            val.sum().backward()
            g = e.grad[0]
            rec["value_" + kind] = float(val[0])
            rec["grad_" + kind] = g.flatten().tolist()
            rec["gradient_" + kind] = normalise(g)
            rec["grad_x_input_" + kind] = normalise(g * emb)
            # Integrated gradients, zero baseline, all steps in one batch.
            scaled = (alphas.view(-1, 1, 1) * emb.unsqueeze(0)).detach().requires_grad_(True)
            vals = target(cfg, w, scaled, token, kind)
            vals.sum().backward()
            total = (scaled.grad * steps.view(-1, 1, 1)).sum(0)
            attr = total * emb
            rec["integrated_gradients_" + kind] = normalise(attr)
            rec["ig_sum_" + kind] = float(attr.sum())
            with torch.no_grad():
                rec["ig_delta_" + kind] = float(target(cfg, w, emb.unsqueeze(0), token, kind)[0] -
                                                target(cfg, w, torch.zeros_like(emb).unsqueeze(0), token, kind)[0])
        out["targets"].append(rec)
    path = os.path.join(HERE, "golden.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(path + ".tmp", path)
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
