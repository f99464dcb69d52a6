#!/usr/bin/python3
"""PyTorch reference for loupe's T5 (model/t5) and its golden files.

The network is written out in plain PyTorch as Hugging Face transformers'
modeling_t5.py (T5ForConditionalGeneration) computes it in eval mode
(transformers itself is not needed): token embeddings from shared.weight, not
scaled and without positions; pre-norm blocks x = x + f(T5LayerNorm(x)) where
T5LayerNorm is an RMS norm (no mean subtraction, no bias, variance in
float32); attention without biases and without the 1/sqrt(d_kv) scaling,
plus a relative position bias computed by block 0's relative_attention_bias
from _relative_position_bucket (bidirectional in the encoder, causal in the
decoder) and shared by every layer of the stack, plus finfo.min where the
attention mask is 0 or the key is in the future; cross-attention has no
position bias; DenseReluDense wo(act(wi(x))) or, gated (v1.1, Flan-T5),
wo(act(wi_0(x)) * wi_1(x)) with gated-gelu meaning gelu_new; a
final_layer_norm after each stack; lm_head, with the decoder output scaled by
d_model**-0.5 when the head is tied to shared.weight. Decoding uses past
key/values as transformers does: the self-attention cache grows by one row
per step and the position bias is the row of the new position against every
cached one; the cross-attention keys/values are computed once.

Weights are not drawn from torch's RNG: every tensor is filled by a
splitmix64 stream seeded from the FNV-1a hash of its Hugging Face name, as
t5.Random does, so the Go tests rebuild the same model without a checkpoint.
The plumbing the reference scripts share (that fill, the safetensors writer,
the golden values of one model, the attention file, the benchmark loop) is
internal/goldentest/refcommon.py.

Regenerate (from the repository root):

    /usr/bin/python3 model/t5/testdata/reference.py golden

It writes model/t5/testdata/golden.safetensors (small models, see MODELS, and
the bucket tables) and model/t5/testdata/tiny-t5/ (a BF16 checkpoint written
here, with the tied copies and the unused cross-attention relative bias that
old T5 checkpoints store).

The t5-small and flan-t5-small geometries (vocab 32128) are too large to keep
golden logits for; `golden-large DIR` writes them to DIR (the Go test reads
it when LOUPE_T5_LARGE=DIR). bench/seq2seq.sh runs

    reference.py bench --threads 1 --src-len 64 --new-tokens 64
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "internal", "goldentest"))
import refcommon  # noqa: E402
from refcommon import centred, golden_for, write_safetensors  # noqa: E402


def tensor_values(name, shape, seed, dkv):
    """The values t5.Random gives tensor `name` (d_kv: the query scale)."""
    u = centred(name, shape, seed)
    if name.endswith("layer_norm.weight"):
        v = 1.0 + u * 0.25
    elif name.endswith("relative_attention_bias.weight"):
        v = u
    elif name.endswith(".q.weight"):
        v = u * (0.2 / math.sqrt(dkv))
    else:
        v = u * 0.2
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def t5_config(**kw):
    """t5-small (v1.0): relu, tied head."""
    c = dict(model_type="t5", architectures=["T5ForConditionalGeneration"], d_model=512, d_kv=64, d_ff=2048,
             num_layers=6, num_decoder_layers=6, num_heads=8, relative_attention_num_buckets=32,
             relative_attention_max_distance=128, layer_norm_epsilon=1e-6, feed_forward_proj="relu",
             tie_word_embeddings=True, vocab_size=32128, pad_token_id=0, eos_token_id=1,
             decoder_start_token_id=0, is_encoder_decoder=True)
    c.update(kw)
    return c


def flan_config(**kw):
    """flan-t5-small (v1.1 geometry): gated-gelu, untied head."""
    c = t5_config(d_ff=1024, num_layers=8, num_decoder_layers=8, num_heads=6,
                  feed_forward_proj="gated-gelu", tie_word_embeddings=False)
    c.update(kw)
    return c


def gated(cfg):
    return cfg["feed_forward_proj"].startswith("gated-")


def act_fn(cfg):
    a = cfg["feed_forward_proj"].split("-")[-1]
    if cfg["feed_forward_proj"] == "gated-gelu":
        a = "gelu_new"
    return {"relu": F.relu, "gelu": F.gelu, "silu": F.silu,
            "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))}[a]


def param_shapes(cfg):
    """(name, shape) of every stored tensor, in t5.Random's order."""
    C, I, Fd, H, B = cfg["d_model"], cfg["num_heads"] * cfg["d_kv"], cfg["d_ff"], cfg["num_heads"], cfg["relative_attention_num_buckets"]
    out = [("shared.weight", (cfg["vocab_size"], C))]

    def attn(p):
        return [(p + "q.weight", (I, C)), (p + "k.weight", (I, C)), (p + "v.weight", (I, C)), (p + "o.weight", (C, I))]

    def ff(p):
        if gated(cfg):
            return [(p + "wi_0.weight", (Fd, C)), (p + "wi_1.weight", (Fd, C)), (p + "wo.weight", (C, Fd))]
        return [(p + "wi.weight", (Fd, C)), (p + "wo.weight", (C, Fd))]

    for side, n in (("encoder", cfg["num_layers"]), ("decoder", cfg["num_decoder_layers"])):
        for l in range(n):
            p = "%s.block.%d.layer." % (side, l)
            out += attn(p + "0.SelfAttention.")
            if l == 0:
                out.append((p + "0.SelfAttention.relative_attention_bias.weight", (B, H)))
            out.append((p + "0.layer_norm.weight", (C,)))
            if side == "decoder":
                out += attn(p + "1.EncDecAttention.") + [(p + "1.layer_norm.weight", (C,))]
                out += ff(p + "2.DenseReluDense.") + [(p + "2.layer_norm.weight", (C,))]
            else:
                out += ff(p + "1.DenseReluDense.") + [(p + "1.layer_norm.weight", (C,))]
        out.append((side + ".final_layer_norm.weight", (C,)))
    if not cfg.get("tie_word_embeddings", True):
        out.append(("lm_head.weight", (cfg["vocab_size"], C)))
    return out


def random_weights(cfg, seed):
    return {n: tensor_values(n, s, seed, cfg["d_kv"]) for n, s in param_shapes(cfg)}


# ---------------------------------------------------------------------------
# The network, as modeling_t5.py computes it.

def relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
    """T5Attention._relative_position_bucket."""
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(torch.long) * num_buckets
        relative_position = torch.abs(relative_position)
    else:
        relative_position = -torch.min(relative_position, torch.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    large = max_exact + (
        torch.log(relative_position.float() / max_exact) / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(torch.long)
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return relative_buckets + torch.where(is_small, relative_position, large)


class T5:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.act = act_fn(cfg)
        self.H, self.dkv = cfg["num_heads"], cfg["d_kv"]

    def norm(self, x, p):
        """T5LayerNorm."""
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.cfg["layer_norm_epsilon"])
        return self.w[p + ".weight"] * x

    def lin(self, x, p):
        return F.linear(x, self.w[p + ".weight"])

    def compute_bias(self, side, q_len, k_len, past_len=0):
        """T5Attention.compute_bias: [1, H, q_len, k_len] for query positions
        past_len .. past_len+q_len-1 (transformers computes the full square
        and keeps the last q_len rows)."""
        ctx = torch.arange(past_len, past_len + q_len, dtype=torch.long)[:, None]
        mem = torch.arange(k_len, dtype=torch.long)[None, :]
        b = relative_position_bucket(mem - ctx, side == "encoder", self.cfg["relative_attention_num_buckets"],
                                     self.cfg["relative_attention_max_distance"])
        table = self.w[side + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        return F.embedding(b, table).permute([2, 0, 1]).unsqueeze(0)

    def attention(self, p, h, kv, bias, past=None, cache_kv=None):
        B, T, _ = h.shape
        H, d = self.H, self.dkv
        q = self.lin(h, p + ".q").view(B, T, H, d).transpose(1, 2)
        if cache_kv is not None:
            k, v = cache_kv
        else:
            k = self.lin(kv, p + ".k").view(B, -1, H, d).transpose(1, 2)
            v = self.lin(kv, p + ".v").view(B, -1, H, d).transpose(1, 2)
            if past is not None:
                k = torch.cat([past[0], k], dim=2)
                v = torch.cat([past[1], v], dim=2)
        scores = torch.matmul(q, k.transpose(3, 2))
        if bias is not None:
            scores = scores + bias
        a = F.softmax(scores.float(), dim=-1).type_as(scores)
        if getattr(self, "keep", None) is not None:
            self.keep.append((p, a))
        o = torch.matmul(a, v).transpose(1, 2).reshape(B, T, H * d)
        return self.lin(o, p + ".o"), (k, v), a

    def ff(self, x, p):
        if gated(self.cfg):
            return self.lin(self.act(self.lin(x, p + ".wi_0")) * self.lin(x, p + ".wi_1"), p + ".wo")
        return self.lin(self.act(self.lin(x, p + ".wi")), p + ".wo")

    def encode(self, ids, attention_mask=None):
        cfg = self.cfg
        x = F.embedding(ids, self.w["shared.weight"])
        T = ids.size(1)
        bias = self.compute_bias("encoder", T, T)
        if attention_mask is not None:
            bias = bias + (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in range(cfg["num_layers"]):
            p = "encoder.block.%d.layer." % l
            h = self.norm(x, p + "0.layer_norm")
            x = x + self.attention(p + "0.SelfAttention", h, h, bias)[0]
            x = x + self.ff(self.norm(x, p + "1.layer_norm"), p + "1.DenseReluDense")
        return self.norm(x, "encoder.final_layer_norm")

    def decode(self, ids, enc, enc_mask=None, past=None):
        """ids [B, T]; past: per layer ((k, v) self, (k, v) cross) or None.
        Returns logits [B, T, V], the new past, cross probabilities per layer."""
        cfg = self.cfg
        B, T = ids.shape
        past_len = 0 if past is None else past[0][0][0].size(2)
        x = F.embedding(ids, self.w["shared.weight"])
        fmin = torch.finfo(torch.float32).min
        causal = torch.full((T, past_len + T), fmin).triu(diagonal=past_len + 1)[None, None]
        bias = self.compute_bias("decoder", T, past_len + T, past_len) + causal
        cbias = None
        if enc_mask is not None:
            cbias = (1.0 - enc_mask[:, None, None, :].float()) * fmin
        new_past, crosses = [], []
        for l in range(cfg["num_decoder_layers"]):
            p = "decoder.block.%d.layer." % l
            sp = None if past is None else past[l][0]
            cp = None if past is None else past[l][1]
            h = self.norm(x, p + "0.layer_norm")
            a, skv, _ = self.attention(p + "0.SelfAttention", h, h, bias, past=sp)
            x = x + a
            h = self.norm(x, p + "1.layer_norm")
            a, ckv, probs = self.attention(p + "1.EncDecAttention", h, enc, cbias, cache_kv=cp)
            crosses.append(probs)
            x = x + a
            x = x + self.ff(self.norm(x, p + "2.layer_norm"), p + "2.DenseReluDense")
            new_past.append((skv, ckv))
        x = self.norm(x, "decoder.final_layer_norm")
        if cfg.get("tie_word_embeddings", True):
            x = x * (cfg["d_model"] ** -0.5)
            logits = F.linear(x, self.w["shared.weight"])
        else:
            logits = F.linear(x, self.w["lm_head.weight"])
        return logits, new_past, crosses


# ---------------------------------------------------------------------------
# Golden files.

MODELS = {
    # name: (config, seed, source length, target length)
    # v1.0-like: relu, tied, 2+3 layers; a 40-token source reaches the
    # logarithmic buckets.
    "t5": (t5_config(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_decoder_layers=3, num_heads=4,
                     vocab_size=500), 1, 40, 24),
    # v1.1-like: gated-gelu, untied, inner width 6*8 = 48 != d_model, few
    # buckets and a short max_distance (the clamp to the last bucket).
    "t5v11": (flan_config(d_model=64, d_kv=8, d_ff=96, num_layers=2, num_decoder_layers=2, num_heads=6,
                          vocab_size=400, relative_attention_num_buckets=16, relative_attention_max_distance=20),
              2, 33, 30),
    # gated-relu and plain gelu (erf form).
    "t5grelu": (t5_config(d_model=32, d_kv=8, d_ff=64, num_layers=1, num_decoder_layers=2, num_heads=4,
                          vocab_size=300, feed_forward_proj="gated-relu"), 3, 12, 9),
    "t5gelu": (t5_config(d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=1, num_heads=2,
                         vocab_size=300, feed_forward_proj="gelu", layer_norm_epsilon=1e-5), 4, 10, 8),
}


BUCKET_SPAN = 1500
BUCKET_CASES = [(32, 128), (16, 20), (8, 7), (6, 1000)]


def bucket_tables(out):
    """Bucket of every relative position in [-BUCKET_SPAN, BUCKET_SPAN] per case."""
    rel = torch.arange(-BUCKET_SPAN, BUCKET_SPAN + 1, dtype=torch.long)
    for nb, md in BUCKET_CASES:
        for bi in (True, False):
            b = relative_position_bucket(rel, bi, nb, md)
            out["buckets.%d.%d.%s" % (nb, md, "bi" if bi else "causal")] = b.float()


def golden(root):
    d = os.path.join(root, "model", "t5", "testdata")
    out, meta = {}, {}
    for name, (cfg, seed, slen, tlen) in MODELS.items():
        golden_for(name, cfg, T5(cfg, random_weights(cfg, seed)), slen, tlen, out, meta=meta, seed=seed)
    bucket_tables(out)
    # A checkpoint written here in BF16, with what transformers' saved T5
    # files hold besides the parameters: the tied copies and the decoder's
    # unused cross-attention relative bias of old checkpoints.
    tc = t5_config(d_model=32, d_kv=8, d_ff=48, num_layers=1, num_decoder_layers=2, num_heads=4, vocab_size=120)
    w = random_weights(tc, 5)
    w = {k: v.to(torch.bfloat16).float() for k, v in w.items()}
    td = os.path.join(d, "tiny-t5")
    os.makedirs(td, exist_ok=True)
    with open(os.path.join(td, "config.json"), "w") as f:
        json.dump(tc, f, indent=2)
        f.write("\n")
    tensors = [(n, w[n]) for n, _ in param_shapes(tc)]
    tensors += [("encoder.embed_tokens.weight", w["shared.weight"]), ("decoder.embed_tokens.weight", w["shared.weight"]),
                ("lm_head.weight", w["shared.weight"]),
                ("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight", tensor_values("x", (32, 4), 5, 8))]
    write_safetensors(os.path.join(td, "model.safetensors"), tensors, "BF16")
    golden_for("tiny-t5", tc, T5(tc, w), 9, 7, out, greedy_n=8)
    write_safetensors(os.path.join(d, "golden.safetensors"), sorted(out.items()), metadata=meta)


LARGE = {"t5-small": (t5_config(), 7), "flan-t5-small": (flan_config(), 8)}


def golden_large(d):
    os.makedirs(d, exist_ok=True)
    out, meta = {}, {}
    for name, (cfg, seed) in LARGE.items():
        golden_for(name, cfg, T5(cfg, random_weights(cfg, seed)), 20, 12, out, greedy_n=32, cols=2048, meta=meta, seed=seed)
    write_safetensors(os.path.join(d, "golden-large.safetensors"), sorted(out.items()), metadata=meta)


def bench(argv):
    cfg, seed = LARGE["t5-small"]
    refcommon.bench(argv, cfg, lambda: T5(cfg, random_weights(cfg, seed)))


def attentions(root):
    """refcommon.attentions of every model in MODELS, written to
    model/t5/testdata/attention.safetensors."""
    refcommon.attentions(os.path.join(root, "model", "t5", "testdata", "attention.safetensors"), MODELS,
                         lambda cfg, seed: T5(cfg, random_weights(cfg, seed)), lambda cfg: cfg["vocab_size"],
                         "SelfAttention")


if __name__ == "__main__":
    refcommon.main(__doc__, golden, golden_large, attentions, bench)
