#!/usr/bin/python3
"""Train the default GPT-2's configuration in PyTorch and report its held-out
perplexity, for the model card's comparison with loupe's run.

    /usr/bin/python3 defaults/torch_check.py WORK [STEPS [ORDER [INIT]]]

WORK is defaults/build.sh's scratch directory. The run starts from the same
initial weights (WORK/init, written by `loupe train gpt2 --steps 0` with the
build's seed), trains on the same token stream (the held-in chapters, one
document per line with <|endoftext|> after each, tokenized by loupe's
tokenizer) with the same settings (batch 16 × 256, AdamW lr 1e-3 → 1e-4
cosine after 50 warm-up steps, betas 0.9/0.95, weight decay 0.1 on 2-D
tensors, clipping at 1, dropout 0.1 on the embeddings, attention
probabilities and residual branches), and evaluates the mean loss per token
over the held-out chapters cut into rows of 256 as loupe's evaluation does.
ORDER "random" (the default) draws the batches at random from the stream
(numpy, seed 1337): the same distribution as loupe's random order, not the
same draws. ORDER "sequential" uses loupe's --data-order sequential rows, the
same batches as loupe's. Dropout masks are PyTorch's own. INIT (default
WORK/init) is the directory of the initial weights.
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
sys.path.insert(0, os.path.join(HERE, "..", "model", "gpt2", "testdata"))
sys.path.insert(0, os.path.join(HERE, "..", "train", "testdata"))
import reference  # noqa: E402
import train_ref  # noqa: E402


def forward(cfg, w, ids, p, training):
    C, nh = cfg["n_embd"], cfg["n_head"]
    hs = C // nh
    B, T = ids.shape
    drop = lambda x: F.dropout(x, p, training)  # noqa: E731
    x = drop(w["wte.weight"][ids] + w["wpe.weight"][:T])
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg["n_layer"]):
        q = "h.%d." % l
        h = F.layer_norm(x, (C,), w[q + "ln_1.weight"], w[q + "ln_1.bias"], 1e-5)
        qkv = reference.conv1d(h, w[q + "attn.c_attn.weight"], w[q + "attn.c_attn.bias"])
        qq, k, v = [t.view(B, T, nh, hs).transpose(1, 2) for t in qkv.split(C, dim=2)]
        att = (qq @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = drop(torch.softmax(att.masked_fill(~mask, torch.finfo(att.dtype).min), dim=-1))
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + drop(reference.conv1d(y, w[q + "attn.c_proj.weight"], w[q + "attn.c_proj.bias"]))
        h = F.layer_norm(x, (C,), w[q + "ln_2.weight"], w[q + "ln_2.bias"], 1e-5)
        a = reference.gelu_new(reference.conv1d(h, w[q + "mlp.c_fc.weight"], w[q + "mlp.c_fc.bias"]))
        x = x + drop(reference.conv1d(a, w[q + "mlp.c_proj.weight"], w[q + "mlp.c_proj.bias"]))
    x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], 1e-5)
    return F.linear(x, w["wte.weight"])


def stream(path, eot=0):
    out = []
    with open(path) as f:
        for line in f:
            ids = json.loads(line)["ids"]
            if ids:
                out.extend(ids)
                out.append(eot)
    return np.array(out, dtype=np.int64)


def main():
    work = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 1200
    order = sys.argv[3] if len(sys.argv) > 3 else "random"
    init = sys.argv[4] if len(sys.argv) > 4 else os.path.join(work, "init")
    torch.set_num_threads(2)
    torch.manual_seed(1337)
    rng = np.random.default_rng(1337)
    train = stream(os.path.join(work, "train-ids.jsonl"))
    held = stream(os.path.join(work, "heldout-ids.jsonl"))
    cfg, w = reference.load_checkpoint(init)
    names = [n for n, _ in reference.param_shapes(cfg)]
    for n in names:
        w[n].requires_grad_(True)
    o = dict(train_ref.DEFAULTS, batch_size=16, seq_len=256, steps=steps, lr=1e-3, min_lr=1e-4,
             schedule="cosine", warmup=50, weight_decay=0.1, beta1=0.9, beta2=0.95, eps=1e-8, grad_clip=1.0)
    opt = torch.optim.AdamW([{"params": [w[n] for n in names if w[n].dim() >= 2], "weight_decay": 0.1},
                             {"params": [w[n] for n in names if w[n].dim() < 2], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.95), eps=1e-8, foreach=False)
    B, T, V = 16, 256, cfg["vocab_size"]
    t0 = time.perf_counter()
    for s in range(steps):
        if order == "sequential":
            nrows = (len(train) - 1) // T
            starts = [((s * B + b) % nrows) * T for b in range(B)]
        else:
            starts = rng.integers(0, len(train) - T, size=B)
        x = torch.from_numpy(np.stack([train[i:i + T] for i in starts]))
        y = torch.from_numpy(np.stack([train[i + 1:i + T + 1] for i in starts]))
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(forward(cfg, w, x, 0.1, True).view(-1, V), y.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_([w[n] for n in names], 1.0)
        for g in opt.param_groups:
            g["lr"] = train_ref.learning_rate(o, s)
        opt.step()
        if s % 50 == 0:
            print(json.dumps({"step": s, "loss": loss.item(), "seconds": time.perf_counter() - t0}), flush=True)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        rows = (len(held) - 1) // T
        total = 0.0
        for r0 in range(0, rows, B):
            rs = range(r0, min(rows, r0 + B))
            x = torch.from_numpy(np.stack([held[r * T:r * T + T] for r in rs]))
            y = torch.from_numpy(np.stack([held[r * T + 1:r * T + T + 1] for r in rs]))
            total += F.cross_entropy(forward(cfg, w, x, 0.0, False).view(-1, V), y.view(-1), reduction="sum").item()
        loss = total / (rows * T)
    print(json.dumps({"order": order, "steps": steps, "eval_loss": loss, "perplexity": math.exp(loss), "train_tokens": len(train),
                      "eval_tokens": len(held), "seconds": seconds, "tokens_per_second": steps * B * T / seconds}))


if __name__ == "__main__":
    main()
