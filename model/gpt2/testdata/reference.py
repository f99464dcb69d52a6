#!/usr/bin/python3
"""PyTorch reference for loupe's GPT-2 (model/gpt2) and its golden files.

GPT-2 is written out here in plain PyTorch exactly as Hugging Face
transformers' modeling_gpt2.py computes it (transformers itself is not
needed): Conv1D layers are torch.addmm(bias, x, W) with W stored [in, out],
c_attn yields q, k, v along the last axis, attention scores are divided by
sqrt(head_dim) and causally masked with masked_fill(finfo.min) before the
softmax, the MLP uses gelu_new (tanh form) or the exact erf GELU, the blocks
are pre-LayerNorm, and lm_head is tied to wte. Everything runs in float32.

Weights are not drawn from torch's RNG: every tensor is filled by a
splitmix64 stream seeded from the FNV-1a hash of its name, so the Go tests
(gpt2.Random) build bit-identical weights without a checkpoint file. That is
how the 2-layer 768-wide model is tested without committing 60 MB of weights.

Regenerate the golden files (from the repository root):

    /usr/bin/python3 model/gpt2/testdata/reference.py golden

It writes, under model/gpt2/testdata:
  tiny/         config.json + model.safetensors, F32, keys with "transformer."
  tiny_f16/     the same weights stored F16, keys without the prefix
  golden.safetensors  logits and hook values (see golden() below)

The benchmark (bench/gpt2.sh) uses two more sub-commands:

    reference.py checkpoint DIR [n_layer n_embd n_head vocab n_positions]
    reference.py bench DIR --prompt-len 16 --new-tokens 128 --prefill 512 --threads 1
"""

import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# Deterministic weights shared with Go (model/gpt2/random.go).

# The fill and the safetensors writer live in internal/goldentest/refcommon.py,
# shared with model/bart's and model/t5's references.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "internal", "goldentest"))
from refcommon import centred, write_safetensors  # noqa: E402


def tensor_values(name, shape, seed, wscale):
    """The values gpt2.Random gives tensor `name` (HF name without prefix)."""
    u = centred(name, shape, seed)
    if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
        v = 1.0 + u * 0.25
    elif name.endswith(".bias"):
        v = u * 0.125
    else:
        v = u * wscale
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def param_shapes(cfg):
    C, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    out = [("wte.weight", (V, C)), ("wpe.weight", (P, C))]
    for l in range(cfg["n_layer"]):
        p = "h.%d." % l
        out += [
            (p + "ln_1.weight", (C,)), (p + "ln_1.bias", (C,)),
            (p + "attn.c_attn.weight", (C, 3 * C)), (p + "attn.c_attn.bias", (3 * C,)),
            (p + "attn.c_proj.weight", (C, C)), (p + "attn.c_proj.bias", (C,)),
            (p + "ln_2.weight", (C,)), (p + "ln_2.bias", (C,)),
            (p + "mlp.c_fc.weight", (C, 4 * C)), (p + "mlp.c_fc.bias", (4 * C,)),
            (p + "mlp.c_proj.weight", (4 * C, C)), (p + "mlp.c_proj.bias", (C,)),
        ]
    out += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return out


def random_weights(cfg, seed, wscale):
    return {n: tensor_values(n, s, seed, wscale) for n, s in param_shapes(cfg)}


# ---------------------------------------------------------------------------
# Files in Hugging Face layout, written by hand.

def hf_config(cfg, activation="gelu_new"):
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "activation_function": activation, "layer_norm_epsilon": 1e-5,
        "n_layer": cfg["n_layer"], "n_embd": cfg["n_embd"], "n_head": cfg["n_head"],
        "n_positions": cfg["n_positions"], "n_ctx": cfg["n_positions"],
        "vocab_size": cfg["vocab_size"], "bos_token_id": cfg["vocab_size"] - 1,
        "eos_token_id": cfg["vocab_size"] - 1,
    }


def write_checkpoint(d, cfg, w, prefix="transformer.", dtype="F32", activation="gelu_new"):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(hf_config(cfg, activation), f, indent=2)
        f.write("\n")
    tensors = [(prefix + n, w[n]) for n, _ in param_shapes(cfg)]
    # The causal-mask buffers HF checkpoints carry; loupe must ignore them.
    P = cfg["n_positions"]
    tensors.append((prefix + "h.0.attn.bias", torch.tril(torch.ones(P, P)).view(1, 1, P, P)))
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype)


# ---------------------------------------------------------------------------
# GPT-2 as modeling_gpt2.py computes it.

def conv1d(x, w, b):
    size_out = x.size()[:-1] + (w.size(-1),)
    return torch.addmm(b, x.view(-1, x.size(-1)), w).view(size_out)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2:
    def __init__(self, cfg, w, activation="gelu_new"):
        self.cfg, self.w = cfg, w
        self.act = gelu_new if activation in ("gelu_new", "gelu_pytorch_tanh") else F.gelu

    def forward(self, ids, past=None, hooks=None, last_only=False):
        """ids: LongTensor [B, T]; past: list of (k, v) [B, nh, Tpast, hs] per layer.
        Returns logits [B, T, V] at every position and the new past."""
        cfg, w = self.cfg, self.w
        C, nh = cfg["n_embd"], cfg["n_head"]
        hs = C // nh
        B, T = ids.shape
        tpast = 0 if past is None else past[0][0].size(-2)
        pos = torch.arange(tpast, tpast + T).unsqueeze(0)
        x = w["wte.weight"][ids] + w["wpe.weight"][pos]
        eps = 1e-5
        newpast = []
        for l in range(cfg["n_layer"]):
            p = "h.%d." % l
            if hooks is not None:
                hooks[(l, "resid_pre")] = x.clone()
            h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
            qkv = conv1d(h, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])
            q, k, v = qkv.split(C, dim=2)
            q, k, v = [t.view(B, T, nh, hs).permute(0, 2, 1, 3) for t in (q, k, v)]
            if past is not None:
                k = torch.cat((past[l][0], k), dim=-2)
                v = torch.cat((past[l][1], v), dim=-2)
            newpast.append((k, v))
            att = torch.matmul(q, k.transpose(-1, -2))
            att = att / torch.full([], v.size(-1) ** 0.5, dtype=att.dtype)
            tk = k.size(-2)
            causal = torch.tril(torch.ones(tk, tk, dtype=torch.bool))[tk - T:tk, :tk]
            att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min, dtype=att.dtype))
            att = torch.softmax(att, dim=-1)
            if hooks is not None:
                hooks[(l, "attn_probs")] = att.clone()
            y = torch.matmul(att, v).permute(0, 2, 1, 3).contiguous().view(B, T, C)
            x = x + conv1d(y, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])
            h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
            a = self.act(conv1d(h, w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"]))
            if hooks is not None:
                hooks[(l, "mlp_act")] = a.clone()
            x = x + conv1d(a, w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
            if hooks is not None:
                hooks[(l, "resid_post")] = x.clone()
        x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)
        if hooks is not None:
            hooks[(-1, "ln_f")] = x.clone()
        if last_only:  # like HF generate's logits_to_keep=1 at prefill
            x = x[:, -1:]
        return F.linear(x, w["wte.weight"]), newpast


# ---------------------------------------------------------------------------
# Golden files.

TINY = {"n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 100, "n_positions": 32}
TINY_SEED, TINY_WSCALE = 1, 0.25
WIDE = {"n_layer": 2, "n_embd": 768, "n_head": 12, "vocab_size": 1024, "n_positions": 64}
WIDE_SEED, WIDE_WSCALE = 2, 0.0625
# gpt2-xl's width and head geometry (1600 wide, 25 heads of 64), one layer:
# 3C and 4C pass the matrix-vector kernels' 4096-column sweep.
XL = {"n_layer": 1, "n_embd": 1600, "n_head": 25, "vocab_size": 512, "n_positions": 64}
XL_SEED, XL_WSCALE = 4, 0.04

SEQ_A = [3, 17, 42, 99, 0, 5, 5, 61, 23, 88, 7, 14]
SEQ_B = [50, 1, 2, 98, 33, 70, 9]
SEQ_C = [(i * 37 + 11) % 100 for i in range(30)]
SEQ_W = [1023, 0, 512, 7, 300, 301, 999, 64, 128, 5]
SEQ_X = [511, 3, 250, 17, 400, 9, 128, 77, 300, 1, 42]


def golden(outdir):
    out = []
    with torch.inference_mode():
        w = random_weights(TINY, TINY_SEED, TINY_WSCALE)
        write_checkpoint(os.path.join(outdir, "tiny"), TINY, w, prefix="transformer.")
        m = GPT2(TINY, w)
        hooks = {}
        la, _ = m.forward(torch.tensor([SEQ_A]), hooks=hooks)
        lb, _ = m.forward(torch.tensor([SEQ_B]))
        lcc, _ = m.forward(torch.tensor([SEQ_C]))
        out += [("tiny.c.logits", lcc[0])]
        out += [("tiny.a.logits", la[0]), ("tiny.b.logits", lb[0]),
                ("tiny.a.l0.attn_probs", hooks[(0, "attn_probs")][0]),
                ("tiny.a.l1.attn_probs", hooks[(1, "attn_probs")][0]),
                ("tiny.a.l0.mlp_act", hooks[(0, "mlp_act")][0]),
                ("tiny.a.l1.resid_pre", hooks[(1, "resid_pre")][0]),
                ("tiny.a.l1.resid_post", hooks[(1, "resid_post")][0]),
                ("tiny.a.ln_f", hooks[(-1, "ln_f")][0])]
        # KV-cache continuation: 8 tokens, then 4 more with past_key_values.
        _, past = m.forward(torch.tensor([SEQ_A[:8]]))
        lc, past = m.forward(torch.tensor([SEQ_A[8:11]]), past=past)
        ld, _ = m.forward(torch.tensor([SEQ_A[11:]]), past=past)
        out += [("tiny.a.cont_logits", torch.cat((lc[0], ld[0]), 0))]
        # Intervention: zero neuron 5 of layer 0's mlp_act at every position.
        li, _ = ablate_layer0(TINY, w, torch.tensor([SEQ_A]))
        out += [("tiny.a.ablate_l0_n5.logits", li[0])]
        # erf GELU ("gelu") variant of the same weights.
        le, _ = GPT2(TINY, w, activation="gelu").forward(torch.tensor([SEQ_A]))
        out += [("tiny_erf.a.logits", le[0])]
        # F16 checkpoint: the model that loads is the F16-rounded weights.
        w16 = {n: t.half().float() for n, t in w.items()}
        write_checkpoint(os.path.join(outdir, "tiny_f16"), TINY, w, prefix="", dtype="F16")
        l16, _ = GPT2(TINY, w16).forward(torch.tensor([SEQ_A]))
        out += [("tiny_f16.a.logits", l16[0])]

        ww = random_weights(WIDE, WIDE_SEED, WIDE_WSCALE)
        mw = GPT2(WIDE, ww)
        hooks = {}
        lw, _ = mw.forward(torch.tensor([SEQ_W]), hooks=hooks)
        out += [("wide.w.logits", lw[0]),
                ("wide.w.l1.attn_probs", hooks[(1, "attn_probs")][0]),
                ("wide.w.l1.mlp_act", hooks[(1, "mlp_act")][0])]
        wx = random_weights(XL, XL_SEED, XL_WSCALE)
        lx, _ = GPT2(XL, wx).forward(torch.tensor([SEQ_X]))
        out += [("xl.x.logits", lx[0])]
    out.append(("seq.a", torch.tensor(SEQ_A, dtype=torch.float32)))
    out.append(("seq.b", torch.tensor(SEQ_B, dtype=torch.float32)))
    out.append(("seq.c", torch.tensor(SEQ_C, dtype=torch.float32)))
    out.append(("seq.w", torch.tensor(SEQ_W, dtype=torch.float32)))
    out.append(("seq.x", torch.tensor(SEQ_X, dtype=torch.float32)))
    write_safetensors(os.path.join(outdir, "golden.safetensors"), out)
    for n, t in out:
        print("%-28s %-16s max|x| %.4g" % (n, list(t.shape), t.abs().max().item()))


def ablate_layer0(cfg, w, ids):
    """Forward with neuron 5 of layer 0's mlp_act set to 0 (an intervention)."""
    m = GPT2(cfg, w)
    calls = {"n": 0}

    def act(x):
        y = gelu_new(x)
        if calls["n"] == 0:
            y = y.clone()
            y[..., 5] = 0
        calls["n"] += 1
        return y
    m.act = act
    return m.forward(ids)


# ---------------------------------------------------------------------------
# Benchmark side (bench/gpt2.sh).

def checkpoint_cmd(args):
    d = args[0]
    cfg = {"n_layer": 12, "n_embd": 768, "n_head": 12, "vocab_size": 50257, "n_positions": 1024}
    if len(args) > 1:
        k = ["n_layer", "n_embd", "n_head", "vocab_size", "n_positions"]
        cfg = dict(zip(k, map(int, args[1:6])))
    w = random_weights(cfg, 3, 0.0625)
    write_checkpoint(d, cfg, w, prefix="")
    nbytes = sum(t.numel() * 4 for t in w.values())
    print(json.dumps({"dir": d, "weight_bytes": nbytes}))


def load_checkpoint(d):
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    cfg = {k: c[k] for k in ("n_layer", "n_embd", "n_head", "vocab_size", "n_positions")}
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    w = {}
    for name, info in hdr.items():
        if name == "__metadata__" or name.endswith(".attn.bias") or name.endswith(".attn.masked_bias"):
            continue
        b, e = info["data_offsets"]
        dt = np.float16 if info["dtype"] == "F16" else np.float32
        a = np.frombuffer(data[b:e], dtype=dt).astype(np.float32).reshape(info["shape"])
        w[name[len("transformer."):] if name.startswith("transformer.") else name] = torch.from_numpy(a.copy())
    return cfg, w


def bench_cmd(args):
    d = args[0]
    opts = dict(zip(args[1::2], args[2::2]))
    plen = int(opts.get("--prompt-len", 16))
    ntok = int(opts.get("--new-tokens", 128))
    npre = int(opts.get("--prefill", 512))
    reps = int(opts.get("--reps", 3))
    torch.set_num_threads(int(opts.get("--threads", 1)))
    cfg, w = load_checkpoint(d)
    m = GPT2(cfg, w)
    V = cfg["vocab_size"]
    prompt = torch.tensor([[(i * 7919) % V for i in range(plen)]])
    best_dec, best_pre = 0.0, 0.0
    ids = []
    with torch.inference_mode():
        for _ in range(reps):
            logits, past = m.forward(prompt, last_only=True)
            nxt = logits[:, -1].argmax(-1, keepdim=True)
            ids = [nxt.item()]
            t0 = time.perf_counter()
            for _ in range(ntok):
                logits, past = m.forward(nxt, past=past)
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                ids.append(nxt.item())
            best_dec = max(best_dec, ntok / (time.perf_counter() - t0))
        long = torch.tensor([[(i * 7919) % V for i in range(npre)]])
        for _ in range(reps):
            t0 = time.perf_counter()
            logits, _ = m.forward(long, last_only=True)
            best_pre = max(best_pre, npre / (time.perf_counter() - t0))
    print(json.dumps({"threads": torch.get_num_threads(), "decode_tok_s": best_dec, "prefill_tok_s": best_pre,
                      "greedy_ids": ids[:ntok]}))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "golden"
    if cmd == "golden":
        golden(os.path.dirname(os.path.abspath(__file__)))
    elif cmd == "checkpoint":
        checkpoint_cmd(sys.argv[2:])
    elif cmd == "bench":
        bench_cmd(sys.argv[2:])
    else:
        sys.exit(__doc__)
