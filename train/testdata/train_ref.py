#!/usr/bin/python3
"""PyTorch reference for loupe's GPT-2 training (package train).

The model is model/gpt2/testdata/reference.py's plain-PyTorch GPT-2 (what
transformers' modeling_gpt2.py computes); training is what nanoGPT's
train.py does with dropout 0: torch.optim.AdamW (foreach=False) with two
parameter groups (weight decay on tensors of 2 or more dimensions, none on
biases and LayerNorm parameters), the tied wte/lm_head updated once,
torch.nn.utils.clip_grad_norm_, a linear warm-up then a constant or cosine
learning rate, and gradient accumulation with each micro-batch's loss
divided by the number of micro-batches. Batches follow loupe's
--data-order sequential contract: micro-batch j uses rows j*B .. j*B+B-1,
row r being tokens [r*T, r*T+T] (wrapping around the stream).

    /usr/bin/python3 train/testdata/train_ref.py golden
        writes train/testdata/golden.json (the tiny checkpoint of
        model/gpt2/testdata, tokens.npy here, several settings)
    /usr/bin/python3 train/testdata/train_ref.py run MODEL_DIR TOKENS.npy KEY=VALUE...
        trains and prints one JSON object (losses, tokens_per_second);
        bench/train.sh uses it
"""

import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "model", "gpt2", "testdata"))
import reference  # noqa: E402

DEFAULTS = dict(batch_size=4, seq_len=16, steps=20, grad_accum=1, lr=1e-3, min_lr=1e-4,
                schedule="cosine", warmup=5, weight_decay=0.1, beta1=0.9, beta2=0.95,
                eps=1e-8, grad_clip=1.0, threads=0)


def learning_rate(o, s):
    if s < o["warmup"]:
        return o["lr"] * (s + 1) / o["warmup"]
    if o["schedule"] == "constant":
        return o["lr"]
    span = o["steps"] - 1 - o["warmup"]
    if span <= 0:
        return o["lr"]
    r = min(1.0, (s - o["warmup"]) / span)
    return o["min_lr"] + 0.5 * (1 + math.cos(math.pi * r)) * (o["lr"] - o["min_lr"])


def batch(tokens, j, o):
    B, T = o["batch_size"], o["seq_len"]
    nrows = (len(tokens) - 1) // T
    x = np.zeros((B, T), dtype=np.int64)
    y = np.zeros((B, T), dtype=np.int64)
    for b in range(B):
        r = (j * B + b) % nrows
        x[b] = tokens[r * T:r * T + T]
        y[b] = tokens[r * T + 1:r * T + T + 1]
    return torch.from_numpy(x), torch.from_numpy(y)


def train(model_dir, tokens, o):
    if o["threads"]:
        torch.set_num_threads(int(o["threads"]))
    cfg, w = reference.load_checkpoint(model_dir)
    names = [n for n, _ in reference.param_shapes(cfg)]
    for n in names:
        w[n].requires_grad_(True)
    decay = [w[n] for n in names if w[n].dim() >= 2]
    no_decay = [w[n] for n in names if w[n].dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], foreach=False)
    model = reference.GPT2(cfg, w)
    V = cfg["vocab_size"]
    losses, norms = [], []
    seconds = 0.0
    for s in range(o["steps"]):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for k in range(o["grad_accum"]):
            x, y = batch(tokens, s * o["grad_accum"] + k, o)
            logits, _ = model.forward(x)
            loss = F.cross_entropy(logits.view(-1, V), y.view(-1))
            (loss / o["grad_accum"]).backward()
            total += loss.item()
        params = [w[n] for n in names]
        if o["grad_clip"] > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, o["grad_clip"])
        else:
            norm = torch.norm(torch.stack([torch.norm(p.grad) for p in params]))
        lr = learning_rate(o, s)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        seconds += time.perf_counter() - t0
        losses.append(total / o["grad_accum"])
        norms.append(float(norm))
    ntok = o["steps"] * o["grad_accum"] * o["batch_size"] * o["seq_len"]
    return {"losses": losses, "grad_norms": norms, "seconds": seconds,
            "tokens_per_second": ntok / seconds if seconds else 0.0}


def parse(args):
    o = dict(DEFAULTS)
    for a in args:
        k, v = a.split("=", 1)
        k = k.replace("-", "_")
        o[k] = type(DEFAULTS[k])(v) if k in DEFAULTS and not isinstance(DEFAULTS[k], str) else v
    return o


SETTINGS = [
    {},  # cosine with warm-up, decay, clipping
    {"schedule": "constant", "warmup": 0, "grad_accum": 2, "grad_clip": 0.0, "lr": 3e-3, "beta2": 0.99},
    {"batch_size": 2, "seq_len": 31, "weight_decay": 0.0, "grad_clip": 0.05, "lr": 5e-3},
]


def golden():
    torch.manual_seed(0)
    rng = np.random.default_rng(7)
    # A stream with structure (so the loss falls): a random walk over the
    # vocabulary with frequent repeats.
    toks = [0]
    for _ in range(3999):
        toks.append((toks[-1] + int(rng.choice([1, 1, 2, 3, 17]))) % 100)
    tokens = np.array(toks, dtype=np.int32)
    np.save(os.path.join(HERE, "tokens.npy"), tokens)
    model_dir = os.path.join(HERE, "..", "..", "model", "gpt2", "testdata", "tiny")
    out = []
    for st in SETTINGS:
        o = dict(DEFAULTS)
        o.update(st)
        r = train(model_dir, tokens, o)
        out.append({"options": o, "losses": r["losses"], "grad_norms": r["grad_norms"]})
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "golden":
        golden()
    elif len(sys.argv) >= 4 and sys.argv[1] == "run":
        tokens = np.load(sys.argv[3]).astype(np.int64)
        o = parse(sys.argv[4:])
        print(json.dumps(train(sys.argv[2], tokens, o)))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
