#!/usr/bin/python3
"""PyTorch autograd reference for bench/explain.sh.

Reads the loupe side's JSON (the token ids it generated and its scores),
loads the same random GPT-2-small checkpoint, and does the same computation
as Ecco with Captum would, in plain PyTorch (explain/testdata/reference.py's
GPT-2), with the weights frozen (requires_grad False) so that only input
gradients are computed:

  grad_x_input: for each generated token i, one forward over the prefix's
      token embeddings and one backward of the token's probability;
      L2 norm of grad * embedding per token, normalised to sum to 1.
  integrated_gradients: for each of the first ig_tokens generated tokens, one
      forward and one backward over a batch of ig_steps interpolated inputs
      (zero baseline, Gauss-Legendre nodes, as Captum's default).

Usage: explain_ref.py CHECKPOINT_DIR LOUPE_JSON --threads N --reps R
Prints one JSON object with the best times and the largest score difference
from loupe.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "explain", "testdata"))
import reference as ref  # noqa: E402  (explain's own PyTorch GPT-2)


def load(d):
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    cfg = {k: c[k] for k in ("n_layer", "n_embd", "n_head", "vocab_size", "n_positions")}
    cfg["layer_norm_epsilon"] = c.get("layer_norm_epsilon", 1e-5)
    w = ref.read_safetensors(os.path.join(d, "model.safetensors"))
    for k in list(w):
        if k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
            del w[k]
    return cfg, w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ckpt")
    ap.add_argument("loupe_json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg, w = load(a.ckpt)
    with open(a.loupe_json) as f:
        lo = json.load(f)
    ids, P = lo["ids"], lo["prompt_length"]
    G = len(ids) - P
    emb_all = w["wte.weight"][torch.tensor(ids)]

    def gxi():
        out = []
        for i in range(G):
            e = emb_all[:P + i].clone().unsqueeze(0).requires_grad_(True)
            p = ref.target(cfg, w, e, ids[P + i], "prob")
            p.sum().backward()
            out.append(ref.normalise(e.grad[0] * e[0].detach()))
        return out

    nodes, weights = np.polynomial.legendre.leggauss(lo["ig_steps"])
    alphas = torch.tensor(0.5 * (1 + nodes), dtype=torch.float32)
    steps = torch.tensor(0.5 * weights, dtype=torch.float32)

    def ig():
        out = []
        for i in range(lo["ig_tokens"]):
            e = emb_all[:P + i]
            scaled = (alphas.view(-1, 1, 1) * e.unsqueeze(0)).detach().requires_grad_(True)
            v = ref.target(cfg, w, scaled, ids[P + i], "prob")
            v.sum().backward()
            attr = (scaled.grad * steps.view(-1, 1, 1)).sum(0) * e
            out.append(ref.normalise(attr))
        return out

    def best(f, reps):
        b, r = None, None
        for _ in range(reps):
            s = time.perf_counter()
            r = f()
            d = time.perf_counter() - s
            b = d if b is None else min(b, d)
        return b, r

    t_gxi, s_gxi = best(gxi, a.reps)
    t_ig, s_ig = best(ig, min(a.reps, 2))

    def maxdiff(x, y):
        return max(abs(u - v) for rx, ry in zip(x, y) for u, v in zip(rx, ry))

    print(json.dumps({"threads": a.threads, "grad_x_input_s": t_gxi, "integrated_gradients_s": t_ig,
                      "grad_x_input_maxdiff": maxdiff(s_gxi, lo["grad_x_input"]),
                      "integrated_gradients_maxdiff": maxdiff(s_ig, lo["integrated_gradients"])}))


if __name__ == "__main__":
    main()
