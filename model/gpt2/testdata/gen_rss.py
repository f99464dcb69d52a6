"""Writes a GPT-2 small sized checkpoint (random weights) as torch.save
writes transformers' GPT2LMHeadModel.state_dict(), for the peak-RSS check
of loading pytorch_model.bin (TestPeakRSS). Not committed: about 550 MB.

    /usr/bin/python3 model/gpt2/testdata/gen_rss.py /tmp/gpt2-small-bin
    LOUPE_RSS_DIR=/tmp/gpt2-small-bin go test ./model/gpt2 -run TestPeakRSS -v

Keys carry the "transformer." prefix; each layer has the float32
attn.bias causal mask buffer [1, 1, 1024, 1024] and attn.masked_bias, as the
original gpt2 checkpoint does; lm_head.weight is tied to wte (one storage).
"""
import json
import os
import sys
from collections import OrderedDict

import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
C, V, P, L = 768, 50257, 1024, 12
g = torch.Generator().manual_seed(0)


def r(*shape):
    return torch.randn(*shape, generator=g) * 0.02


sd = OrderedDict()
sd["transformer.wte.weight"] = r(V, C)
sd["transformer.wpe.weight"] = r(P, C)
mask = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
for l in range(L):
    p = f"transformer.h.{l}."
    sd[p + "ln_1.weight"] = torch.ones(C)
    sd[p + "ln_1.bias"] = torch.zeros(C)
    sd[p + "attn.bias"] = mask.clone()
    sd[p + "attn.masked_bias"] = torch.tensor(-1e4)
    sd[p + "attn.c_attn.weight"] = r(C, 3 * C)
    sd[p + "attn.c_attn.bias"] = r(3 * C)
    sd[p + "attn.c_proj.weight"] = r(C, C)
    sd[p + "attn.c_proj.bias"] = r(C)
    sd[p + "ln_2.weight"] = torch.ones(C)
    sd[p + "ln_2.bias"] = torch.zeros(C)
    sd[p + "mlp.c_fc.weight"] = r(C, 4 * C)
    sd[p + "mlp.c_fc.bias"] = r(4 * C)
    sd[p + "mlp.c_proj.weight"] = r(4 * C, C)
    sd[p + "mlp.c_proj.bias"] = r(C)
sd["transformer.ln_f.weight"] = torch.ones(C)
sd["transformer.ln_f.bias"] = torch.zeros(C)
sd["lm_head.weight"] = sd["transformer.wte.weight"]
torch.save(sd, os.path.join(out, "pytorch_model.bin"))
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump({"model_type": "gpt2", "n_layer": L, "n_head": 12, "n_embd": C, "n_positions": P, "n_ctx": P,
               "vocab_size": V, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}, f)
