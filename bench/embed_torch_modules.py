#!/usr/bin/python3
"""reference.bert_forward as an nn.Module built from nn.Linear layers.

torch.ao.quantization.quantize_dynamic replaces nn.Linear modules, so the
PyTorch int8 anchor of bench/embed.sh needs the model in this form. The
computation is the one of model/bert/testdata/reference.py (checked against
it by embed_torch.py before timing), with the same weights.
"""
import math

import torch
from torch import nn


def _linear(w, name):
    W = w[name + ".weight"]
    lin = nn.Linear(W.shape[1], W.shape[0])
    with torch.no_grad():
        lin.weight.copy_(W)
        lin.bias.copy_(w[name + ".bias"])
    return lin


class Layer(nn.Module):
    def __init__(self, w, p):
        super().__init__()
        self.query = _linear(w, p + "attention.self.query")
        self.key = _linear(w, p + "attention.self.key")
        self.value = _linear(w, p + "attention.self.value")
        self.attn_out = _linear(w, p + "attention.output.dense")
        self.inter = _linear(w, p + "intermediate.dense")
        self.out = _linear(w, p + "output.dense")
        self.ln1 = (w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        self.ln2 = (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])


class Bert(nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        self.cfg, self.w = cfg, w
        self.layers = nn.ModuleList([Layer(w, "encoder.layer.%d." % l) for l in range(cfg["num_hidden_layers"])])

    def forward(self, ids, types, mask):
        cfg, w = self.cfg, self.w
        H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
        hs = H // nh
        eps = cfg.get("layer_norm_eps", 1e-12)
        ln = torch.nn.functional.layer_norm
        B, T = ids.shape
        pos = torch.arange(T).unsqueeze(0).expand(B, T)
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types] \
            + w["embeddings.position_embeddings.weight"][pos]
        x = ln(x, (H,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min

        def heads(t):
            return t.view(B, T, nh, hs).permute(0, 2, 1, 3)
        for L in self.layers:
            q, k, v = heads(L.query(x)), heads(L.key(x)), heads(L.value(x))
            s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hs) + ext
            ctx = torch.matmul(torch.softmax(s, dim=-1), v).permute(0, 2, 1, 3).reshape(B, T, H)
            x = ln(L.attn_out(ctx) + x, (H,), L.ln1[0], L.ln1[1], eps)
            i = torch.nn.functional.gelu(L.inter(x))
            x = ln(L.out(i) + x, (H,), L.ln2[0], L.ln2[1], eps)
        return x
