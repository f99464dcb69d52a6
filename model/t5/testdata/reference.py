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
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def uniform01(seed, n):
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) * (2.0 ** -24)


def tensor_values(name, shape, seed, dkv):
    """The values t5.Random gives tensor `name` (d_kv: the query scale)."""
    n = int(np.prod(shape))
    u = uniform01((fnv1a64(name) ^ seed) & MASK64, n) - 0.5
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


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        if dtype == "BF16":
            b = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        else:
            b = t.numpy().astype({"F32": np.float32, "F16": np.float16}[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = dict(metadata or {}, format="pt")
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


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

    def greedy(self, src, n):
        enc = self.encode(src)
        tok = torch.tensor([[self.cfg["decoder_start_token_id"]]])
        past, ids, margins = None, [], []
        for _ in range(n):
            logits, past, _ = self.decode(tok, enc, past=past)
            top = torch.topk(logits[0, -1], 2)
            ids.append(int(top.indices[0]))
            margins.append(float(top.values[0] - top.values[1]))
            tok = top.indices[:1].view(1, 1)
        return ids, margins


# ---------------------------------------------------------------------------
# Golden files.

def ids_for(n, vocab, salt):
    return [(i * 7919 + salt * 104729 + 3) % (vocab - 3) + 3 for i in range(n)]


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


def golden_for(name, cfg, model, slen, tlen, out, greedy_n=32, cols=None, meta=None, seed=None):
    if meta is not None:
        meta[name + ".config"] = json.dumps(cfg)
        meta[name + ".seed"] = str(seed)
    V = cfg["vocab_size"]
    src = ids_for(slen, V, 1)
    tgt = [cfg["decoder_start_token_id"]] + ids_for(tlen - 1, V, 2)
    with torch.no_grad():
        enc = model.encode(torch.tensor([src]))
        logits, _, crosses = model.decode(torch.tensor([tgt]), enc)
        lg = logits[0] if cols is None else logits[0, :, :cols]
        out[name + ".src"] = torch.tensor(src, dtype=torch.float32)
        out[name + ".tgt"] = torch.tensor(tgt, dtype=torch.float32)
        out[name + ".logits"] = lg.contiguous()
        out[name + ".argmax"] = logits[0].argmax(-1).float()
        out[name + ".cross_last"] = crosses[-1][0].contiguous()
        ids, margins = model.greedy(torch.tensor([src]), greedy_n)
        out[name + ".greedy"] = torch.tensor(ids, dtype=torch.float32)
        out[name + ".margins"] = torch.tensor(margins, dtype=torch.float32)
        if cols is not None:
            return
        s2 = ids_for(slen - 5, V, 3)
        pad = cfg["pad_token_id"]
        srcs = torch.tensor([src, s2 + [pad] * 5])
        mask = torch.tensor([[1] * slen, [1] * (slen - 5) + [0] * 5])
        t2 = [cfg["decoder_start_token_id"]] + ids_for(tlen - 1, V, 4)
        enc = model.encode(srcs, mask)
        logits, _, _ = model.decode(torch.tensor([tgt, t2]), enc, enc_mask=mask)
        out[name + ".padded.src1"] = torch.tensor(s2, dtype=torch.float32)
        out[name + ".padded.tgt1"] = torch.tensor(t2, dtype=torch.float32)
        out[name + ".padded.logits"] = logits.contiguous()


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
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--src-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg, seed = LARGE["t5-small"]
    model = T5(cfg, random_weights(cfg, seed))
    src = torch.tensor([ids_for(a.src_len, cfg["vocab_size"], 1)])
    best, best_enc, ids = 0.0, 0.0, None
    with torch.no_grad():
        for _ in range(a.reps):
            t0 = time.perf_counter()
            enc = model.encode(src)
            t1 = time.perf_counter()
            tok = torch.tensor([[cfg["decoder_start_token_id"]]])
            past, outs = None, []
            for _ in range(a.new_tokens):
                logits, past, _ = model.decode(tok, enc, past=past)
                tok = logits[:, -1].argmax(-1).view(1, 1)
                outs.append(int(tok))
            t2 = time.perf_counter()
            best = max(best, a.new_tokens / (t2 - t1))
            best_enc = max(best_enc, a.src_len / (t1 - t0))
            ids = outs
    print(json.dumps({"threads": a.threads, "decode_tok_s": best, "encode_tok_s": best_enc, "greedy_ids": ids}))


def attentions(root):
    """Encoder and decoder self-attention probabilities (what transformers
    returns with output_attentions=True as encoder_attentions and
    decoder_attentions) of a teacher-forced pass of every model in MODELS,
    written to attention.safetensors: NAME.src, NAME.tgt, NAME.enc_self
    [L_enc, heads, S, S] and NAME.dec_self [L_dec, heads, T, T] (causal:
    zero above the diagonal), with each model's config and seed."""
    d = os.path.join(root, "model", "t5", "testdata")
    out, meta = {}, {}
    for name, (cfg, seed, slen, tlen) in MODELS.items():
        meta[name + ".config"] = json.dumps(cfg)
        meta[name + ".seed"] = str(seed)
        model = T5(cfg, random_weights(cfg, seed))
        V = cfg["vocab_size"]
        src = ids_for(slen, V, 1)
        tgt = [cfg["decoder_start_token_id"]] + ids_for(tlen - 1, V, 2)
        model.keep = []
        with torch.no_grad():
            enc = model.encode(torch.tensor([src]))
            model.decode(torch.tensor([tgt]), enc)
        enc_self = [a[0] for p, a in model.keep if p.startswith("encoder.") and "SelfAttention" in p]
        dec_self = [a[0] for p, a in model.keep if p.startswith("decoder.") and "SelfAttention" in p]
        out[name + ".src"] = torch.tensor(src, dtype=torch.float32)
        out[name + ".tgt"] = torch.tensor(tgt, dtype=torch.float32)
        out[name + ".enc_self"] = torch.stack(enc_self).contiguous()
        out[name + ".dec_self"] = torch.stack(dec_self).contiguous()
    write_safetensors(os.path.join(d, "attention.safetensors"), sorted(out.items()), metadata=meta)


if __name__ == "__main__":
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    if len(sys.argv) >= 2 and sys.argv[1] == "golden":
        golden(root)
    elif len(sys.argv) >= 3 and sys.argv[1] == "golden-large":
        golden_large(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "attention":
        attentions(root)
    elif len(sys.argv) >= 2 and sys.argv[1] == "bench":
        bench(sys.argv[2:])
    else:
        sys.exit(__doc__)
