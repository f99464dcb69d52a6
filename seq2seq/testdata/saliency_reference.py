#!/usr/bin/python3
"""PyTorch autograd reference for loupe's encoder-decoder saliency (seq2seq/saliency.go).

The networks are the references of model/bart/testdata/reference.py (BART,
mBART, Marian as transformers computes them) and model/t5/testdata/reference.py
(T5 v1.0 and v1.1), rebuilt with the same random weights as their golden
models (bart.Random / t5.Random in Go), changed only where the token
embeddings enter: they are leaf tensors that torch.autograd differentiates
(inputs_embeds, before BART's/Marian's embed_scale; positions and
layernorm_embedding are applied in the pass as the models do, and take no
gradient, as Ecco gives none to GPT-2's position embeddings).

For a source of S tokens and a target y of T tokens (decoder inputs
[decoder_start_token_id] + y[:-1]), target token i is explained by the
source and the decoder inputs 0..i:

  - the explained value F_i is softmax(logits_i)[y_i] (Ecco's) or the logit;
  - gradient: the L2 norm of dF_i/dx per token, normalised to sum to 1 over
    the source and the prefix together;
  - grad_x_input: the same on dF_i/dx * x;
  - integrated_gradients: x * sum_k w_k dF_i/dx(a_k x) with Gauss-Legendre
    nodes a_k and weights w_k on [0, 1] (Captum's default), from all-zero
    source and prefix embeddings, reduced the same way; its raw sum and
    F_i(x) - F_i(0) are kept (completeness).

Regenerate from the repository root:

    /usr/bin/python3 seq2seq/testdata/saliency_reference.py

It writes seq2seq/testdata/saliency.safetensors: per model NAME (metadata
NAME.family, NAME.config, NAME.seed), NAME.src, NAME.tgt (the target y),
NAME.grad.prob [T, S+T, C] (dF_i/dx, rows past the prefix zero),
NAME.attr.METHOD.prob [T, S+T] for the three methods and
NAME.attr.grad_x_input.logit, NAME.value.prob, NAME.value.logit [T],
NAME.ig.sum and NAME.ig.delta [T]; IG_STEPS nodes.
"""

import importlib.util
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
IG_STEPS = 8
SRC_LEN, TGT_LEN = 7, 6


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bref = load("bart_reference", "model/bart/testdata/reference.py")
tref = load("t5_reference", "model/t5/testdata/reference.py")


class BartX(bref.Seq2Seq):
    """The BART/mBART/Marian reference with its token embeddings given:
    self.inputs[side] replaces F.embedding(ids, table) in embed()."""

    def embed(self, side, ids, past_len):
        x = self.inputs[side] * self.scale
        T = x.size(1)
        x = x + self.pos[side][past_len + self.offset:past_len + self.offset + T]
        if not bref.is_marian(self.cfg):
            x = self.ln(x, side + ".layernorm_embedding")
        return x

    def tables(self):
        return self.enc_emb, self.dec_emb

    def logits(self, xs, xt, src, dec_in):
        self.inputs = {"encoder": xs, "decoder": xt}
        enc = self.encode(src)
        return self.decode(dec_in, enc)[0][0]


class T5X(tref.T5):
    """The T5 reference's encode and decode with the token embeddings
    given instead of looked up in shared.weight."""

    def tables(self):
        return self.w["shared.weight"], self.w["shared.weight"]

    def logits(self, xs, xt, src, dec_in):
        cfg = self.cfg
        x = xs
        S = src.size(1)
        bias = self.compute_bias("encoder", S, S)
        for l in range(cfg["num_layers"]):
            p = "encoder.block.%d.layer." % l
            h = self.norm(x, p + "0.layer_norm")
            x = x + self.attention(p + "0.SelfAttention", h, h, bias)[0]
            x = x + self.ff(self.norm(x, p + "1.layer_norm"), p + "1.DenseReluDense")
        enc = self.norm(x, "encoder.final_layer_norm")
        T = dec_in.size(1)
        x = xt
        causal = torch.full((T, T), torch.finfo(torch.float32).min).triu(diagonal=1)[None, None]
        bias = self.compute_bias("decoder", T, T) + causal
        for l in range(cfg["num_decoder_layers"]):
            p = "decoder.block.%d.layer." % l
            h = self.norm(x, p + "0.layer_norm")
            x = x + self.attention(p + "0.SelfAttention", h, h, bias)[0]
            h = self.norm(x, p + "1.layer_norm")
            x = x + self.attention(p + "1.EncDecAttention", h, enc, None)[0]
            x = x + self.ff(self.norm(x, p + "2.layer_norm"), p + "2.DenseReluDense")
        x = self.norm(x, "decoder.final_layer_norm")
        if cfg.get("tie_word_embeddings", True):
            return F.linear(x * (cfg["d_model"] ** -0.5), self.w["shared.weight"])[0]
        return F.linear(x, self.w["lm_head.weight"])[0]


def models():
    """(name, family, config, seed, model) of every checked model: the
    golden models of the two references."""
    out = []
    for name in ("bart", "mbart", "marian"):
        cfg, seed, _, _ = bref.MODELS[name]
        out.append((name, "bart", cfg, seed, BartX(cfg, bref.random_weights(cfg, seed))))
    for name in ("t5", "t5v11"):
        cfg, seed, _, _ = tref.MODELS[name]
        out.append((name, "t5", cfg, seed, T5X(cfg, tref.random_weights(cfg, seed))))
    return out


def norms(g, x=None):
    """Per-token L2 norms of g (or g*x), normalised to sum to 1."""
    v = g if x is None else g * x
    n = v.double().norm(dim=-1)
    return n / n.sum()


def explain(model, src, tgt, start):
    """Gradients and attributions of every target token."""
    src_t = torch.tensor([src])
    dec_in = torch.tensor([[start] + tgt[:-1]])
    enc_tab, dec_tab = model.tables()
    xs0 = F.embedding(src_t, enc_tab).detach()
    xt0 = F.embedding(dec_in, dec_tab).detach()
    S, T, C = len(src), len(tgt), xs0.size(-1)

    def grads(alpha, target, weight=1.0):
        """F_i(alpha x) and dF_i/dx at alpha x, for every i: [T], [T, S+T, C]."""
        xs = (alpha * xs0).clone().requires_grad_(True)
        xt = (alpha * xt0).clone().requires_grad_(True)
        z = model.logits(xs, xt, src_t, dec_in)
        vals, out = [], torch.zeros(T, S + T, C)
        for i in range(T):
            f = torch.softmax(z[i], -1)[tgt[i]] if target == "prob" else z[i, tgt[i]]
            gs, gt = torch.autograd.grad(f * weight, [xs, xt], retain_graph=True)
            vals.append(float(f))
            out[i, :S] = gs[0]
            out[i, S:] = gt[0]
        return torch.tensor(vals, dtype=torch.float64), out

    x = torch.cat([xs0[0], xt0[0]])  # [S+T, C]
    res = {}
    for target in ("prob", "logit"):
        vals, g = grads(1.0, target)
        res["value." + target] = vals
        if target == "prob":
            res["grad.prob"] = g
        for method, xx in (("gradient", None), ("grad_x_input", x)):
            if target == "logit" and method == "gradient":
                continue
            a = torch.zeros(T, S + T, dtype=torch.float64)
            for i in range(T):
                n = S + i + 1
                a[i, :n] = norms(g[i, :n], None if xx is None else xx[:n])
            res["attr.%s.%s" % (method, target)] = a
    nodes, weights = np.polynomial.legendre.leggauss(IG_STEPS)
    total = torch.zeros(T, S + T, C, dtype=torch.float64)
    for a, w in zip((nodes + 1) / 2, weights / 2):
        _, g = grads(float(a), "prob")
        total += w * g.double()
    base, _ = grads(0.0, "prob")
    attr = torch.zeros(T, S + T, dtype=torch.float64)
    sums = torch.zeros(T, dtype=torch.float64)
    for i in range(T):
        n = S + i + 1
        raw = total[i, :n] * x[:n].double()
        attr[i, :n] = norms(raw)
        sums[i] = raw.sum()
    res["attr.integrated_gradients.prob"] = attr
    res["ig.sum"] = sums
    res["ig.delta"] = res["value.prob"] - base
    return res


def ids_for(n, vocab, salt):
    return [(i * 7919 + salt * 104729 + 3) % (vocab - 3) + 3 for i in range(n)]


def main():
    out, meta = {}, {}
    for name, family, cfg, seed, model in models():
        meta[name + ".family"] = family
        meta[name + ".config"] = json.dumps(cfg)
        meta[name + ".seed"] = str(seed)
        vocab = cfg["vocab_size"]
        tvocab = bref.dec_vocab(cfg) if family == "bart" else vocab
        src, tgt = ids_for(SRC_LEN, vocab, 5), ids_for(TGT_LEN, tvocab, 6)
        out[name + ".src"] = torch.tensor(src, dtype=torch.float32)
        out[name + ".tgt"] = torch.tensor(tgt, dtype=torch.float32)
        for k, v in explain(model, src, tgt, cfg["decoder_start_token_id"]).items():
            out[name + "." + k] = v.float().contiguous()
    bref.write_safetensors(os.path.join(ROOT, "seq2seq", "testdata", "saliency.safetensors"), sorted(out.items()), metadata=meta)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(__doc__)
    main()
