#!/usr/bin/python3
"""PyTorch reference for loupe's BART, mBART and Marian (model/bart) and its golden files.

The networks are written out in plain PyTorch as Hugging Face transformers'
modeling_bart.py (BartForConditionalGeneration), modeling_mbart.py
(MBartForConditionalGeneration) and modeling_marian.py (MarianMTModel) compute
them in eval mode (transformers itself is not
needed): token embeddings times sqrt(d_model) when scale_embedding is set;
positions learned with an offset of 2 (BART) or sinusoidal with the sine half
first and the cosine half second (Marian, MarianSinusoidalPositionalEmbedding);
BART's and mBART's layernorm_embedding; post-LayerNorm encoder and decoder
layers (mBART: pre-LayerNorm, and a final layer_norm after each stack) whose
attention scales q_proj's output by head_dim**-0.5 and adds finfo.min where the
attention mask is 0 (padding) or the target is in the future; fc1, the
activation (gelu = erf form, gelu_new = tanh form, relu, swish = silu), fc2;
logits = lm_head(h) + final_logits_bias. Decoding uses past key/values as
transformers does: the self-attention cache grows by one row per step, the
cross-attention keys/values are computed once from the encoder output.

Weights are not drawn from torch's RNG: every tensor is filled by a splitmix64
stream seeded from the FNV-1a hash of its name (Hugging Face name without the
"model." prefix), exactly as bart.Random does, so the Go tests rebuild the
same model without a checkpoint file. The plumbing the reference scripts share
(that fill, the safetensors writer, the golden values of one model, the
attention file, the benchmark loop) is internal/goldentest/refcommon.py.

Regenerate the golden files (from the repository root):

    /usr/bin/python3 model/bart/testdata/reference.py golden

It writes under model/bart/testdata:
  golden.safetensors   logits and greedy ids of the models in MODELS (see golden())
  tiny-bart/, tiny-marian/   small checkpoints in Hugging Face layout written
                       here (not by loupe): tiny-bart F32 with a stored tied
                       lm_head copy and no "model." prefix on nothing; tiny-marian
                       F16 with separate source/target vocabularies and an
                       untied lm_head.

The opus-mt-en-de geometry (d_model 512, 6+6 layers, vocab 58101) is too large
to keep golden logits for in full; `golden-large DIR` writes a golden file for
it to DIR (the Go test reads it when LOUPE_BART_LARGE=DIR is set).

The benchmark (bench/seq2seq.sh) runs

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
from refcommon import centred, write_safetensors  # noqa: E402


def tensor_values(name, shape, seed):
    """The values bart.Random gives tensor `name` (HF name without "model.")."""
    u = centred(name, shape, seed)
    if name.endswith("layer_norm.weight") or name.endswith("layernorm_embedding.weight"):
        v = 1.0 + u * 0.25
    elif name.endswith(".bias") or name == "final_logits_bias":
        v = u * 0.125
    else:
        v = u * 0.2
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


# ---------------------------------------------------------------------------
# Configurations (Hugging Face config.json fields).

def bart_config(**kw):
    c = dict(model_type="bart", architectures=["BartForConditionalGeneration"], d_model=256,
             encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
             encoder_ffn_dim=1024, decoder_ffn_dim=1024, max_position_embeddings=128, vocab_size=1000,
             activation_function="gelu", scale_embedding=False, tie_word_embeddings=True,
             pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
             forced_bos_token_id=0, forced_eos_token_id=2, normalize_before=False,
             add_final_layer_norm=False, is_encoder_decoder=True)
    c.update(kw)
    return c


def mbart_config(**kw):
    c = bart_config(model_type="mbart", architectures=["MBartForConditionalGeneration"],
                    normalize_before=True, add_final_layer_norm=True, scale_embedding=True)
    c.update(kw)
    return c


def marian_config(**kw):
    c = dict(model_type="marian", architectures=["MarianMTModel"], d_model=512,
             encoder_layers=6, decoder_layers=6, encoder_attention_heads=8, decoder_attention_heads=8,
             encoder_ffn_dim=2048, decoder_ffn_dim=2048, max_position_embeddings=512, vocab_size=58101,
             decoder_vocab_size=58101, activation_function="swish", scale_embedding=True,
             share_encoder_decoder_embeddings=True, tie_word_embeddings=True,
             static_position_embeddings=True, normalize_embedding=False,
             pad_token_id=58100, bos_token_id=0, eos_token_id=0, decoder_start_token_id=58100,
             forced_eos_token_id=0, normalize_before=False, add_final_layer_norm=False,
             is_encoder_decoder=True)
    c.update(kw)
    return c


def is_marian(cfg):
    return cfg["model_type"] == "marian"


def pre_ln(cfg):
    return cfg["model_type"] == "mbart"


def share(cfg):
    return not is_marian(cfg) or cfg.get("share_encoder_decoder_embeddings", True)


def dec_vocab(cfg):
    return cfg["vocab_size"] if share(cfg) else cfg.get("decoder_vocab_size") or cfg["vocab_size"]


def param_shapes(cfg):
    """(name without "model.", shape) of every stored tensor, as bart.Random lists them."""
    C = cfg["d_model"]
    out = []
    if not is_marian(cfg):
        P = cfg["max_position_embeddings"] + 2
        out += [("encoder.embed_positions.weight", (P, C)), ("decoder.embed_positions.weight", (P, C))]
        out += [("encoder.layernorm_embedding.weight", (C,)), ("encoder.layernorm_embedding.bias", (C,)),
                ("decoder.layernorm_embedding.weight", (C,)), ("decoder.layernorm_embedding.bias", (C,))]
    if pre_ln(cfg):
        out += [("encoder.layer_norm.weight", (C,)), ("encoder.layer_norm.bias", (C,)),
                ("decoder.layer_norm.weight", (C,)), ("decoder.layer_norm.bias", (C,))]

    def attn(p):
        r = []
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            r += [(p + proj + ".weight", (C, C)), (p + proj + ".bias", (C,))]
        return r

    def ln(p):
        return [(p + ".weight", (C,)), (p + ".bias", (C,))]

    for side, n, Fd in (("encoder", cfg["encoder_layers"], cfg["encoder_ffn_dim"]),
                        ("decoder", cfg["decoder_layers"], cfg["decoder_ffn_dim"])):
        for l in range(n):
            p = "%s.layers.%d." % (side, l)
            out += attn(p + "self_attn.") + ln(p + "self_attn_layer_norm")
            if side == "decoder":
                out += attn(p + "encoder_attn.") + ln(p + "encoder_attn_layer_norm")
            out += [(p + "fc1.weight", (Fd, C)), (p + "fc1.bias", (Fd,)),
                    (p + "fc2.weight", (C, Fd)), (p + "fc2.bias", (C,))]
            out += ln(p + "final_layer_norm")
    V, Vt = cfg["vocab_size"], dec_vocab(cfg)
    if share(cfg):
        out.append(("shared.weight", (V, C)))
    else:
        out += [("encoder.embed_tokens.weight", (V, C)), ("decoder.embed_tokens.weight", (Vt, C))]
    if not cfg.get("tie_word_embeddings", True):
        out.append(("lm_head.weight", (Vt, C)))
    out.append(("final_logits_bias", (1, Vt)))
    return out


def random_weights(cfg, seed):
    return {n: tensor_values(n, s, seed) for n, s in param_shapes(cfg)}


def sinusoidal(n_pos, dim):
    """MarianSinusoidalPositionalEmbedding._init_weight."""
    position_enc = np.array([[pos / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)] for pos in range(n_pos)])
    out = torch.empty(n_pos, dim)
    sentinel = dim // 2 if dim % 2 == 0 else (dim // 2) + 1
    out[:, 0:sentinel] = torch.FloatTensor(np.sin(position_enc[:, 0::2]))
    out[:, sentinel:] = torch.FloatTensor(np.cos(position_enc[:, 1::2]))
    return out


# ---------------------------------------------------------------------------
# Files in Hugging Face layout, written by hand.

def write_checkpoint(d, cfg, w, dtype="F32", extra=()):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    tensors = []
    for n, _ in param_shapes(cfg):
        name = n if n in ("lm_head.weight", "final_logits_bias") else "model." + n
        tensors.append((name, w[n]))
    tensors += list(extra)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype)


# ---------------------------------------------------------------------------
# The network, as modeling_bart.py / modeling_marian.py compute it.

ACT = {"gelu": F.gelu, "relu": F.relu, "swish": F.silu, "silu": F.silu,
       "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))}


class Seq2Seq:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        C = cfg["d_model"]
        self.act = ACT[cfg["activation_function"]]
        self.scale = math.sqrt(C) if cfg.get("scale_embedding", False) else 1.0
        if share(cfg):
            self.enc_emb = self.dec_emb = w["shared.weight"]
        else:
            self.enc_emb, self.dec_emb = w["encoder.embed_tokens.weight"], w["decoder.embed_tokens.weight"]
        self.lm_head = self.dec_emb if cfg.get("tie_word_embeddings", True) else w["lm_head.weight"]
        if is_marian(cfg):
            # Computed, unless the checkpoint stores them (transformers then
            # loads the stored values).
            self.pos = {s: w.get(s + ".embed_positions.weight") for s in ("encoder", "decoder")}
            for s in self.pos:
                if self.pos[s] is None:
                    self.pos[s] = sinusoidal(cfg["max_position_embeddings"], C)
            self.offset = 0
        else:
            self.pos = {s: w[s + ".embed_positions.weight"] for s in ("encoder", "decoder")}
            self.offset = 2

    def ln(self, x, p):
        return F.layer_norm(x, (x.size(-1),), self.w[p + ".weight"], self.w[p + ".bias"], 1e-5)

    def lin(self, x, p):
        return F.linear(x, self.w[p + ".weight"], self.w[p + ".bias"])

    def attention(self, p, h, kv, mask, heads, past=None, cache_kv=None):
        """h [B, T, C]; kv the key/value states (h itself for self-attention);
        mask additive [B, 1, T, S] or None. past: (k, v) to prepend (self) ;
        cache_kv: precomputed cross (k, v). Returns output, (k, v), probs."""
        B, T, C = h.shape
        hd = C // heads
        q = (self.lin(h, p + ".q_proj") * hd ** -0.5).view(B, T, heads, hd).transpose(1, 2)
        if cache_kv is not None:
            k, v = cache_kv
        else:
            k = self.lin(kv, p + ".k_proj").view(B, -1, heads, hd).transpose(1, 2)
            v = self.lin(kv, p + ".v_proj").view(B, -1, heads, hd).transpose(1, 2)
            if past is not None:
                k = torch.cat([past[0], k], dim=2)
                v = torch.cat([past[1], v], dim=2)
        a = torch.matmul(q, k.transpose(2, 3))
        if mask is not None:
            a = a + mask
        a = torch.softmax(a, dim=-1)
        if getattr(self, "keep", None) is not None:
            self.keep.append((p, a))
        o = torch.matmul(a, v).transpose(1, 2).reshape(B, T, C)
        return self.lin(o, p + ".out_proj"), (k, v), a

    def embed(self, side, ids, past_len):
        x = F.embedding(ids, self.enc_emb if side == "encoder" else self.dec_emb) * self.scale
        T = ids.size(1)
        x = x + self.pos[side][past_len + self.offset:past_len + self.offset + T]
        if not is_marian(self.cfg):
            x = self.ln(x, side + ".layernorm_embedding")
        return x

    def encode(self, ids, attention_mask=None):
        cfg = self.cfg
        x = self.embed("encoder", ids, 0)
        mask = None
        if attention_mask is not None:
            mask = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for l in range(cfg["encoder_layers"]):
            p = "encoder.layers.%d." % l
            x = self.sub(x, p + "self_attn_layer_norm",
                         lambda h: self.attention(p + "self_attn", h, h, mask, cfg["encoder_attention_heads"])[0])
            x = self.sub(x, p + "final_layer_norm", lambda h: self.lin(self.act(self.lin(h, p + "fc1")), p + "fc2"))
        if pre_ln(cfg):
            x = self.ln(x, "encoder.layer_norm")
        return x

    def sub(self, x, norm, f):
        """A residual sublayer: LN(x + f(x)) (BART, Marian) or x + f(LN(x)) (mBART)."""
        if pre_ln(self.cfg):
            return x + f(self.ln(x, norm))
        return self.ln(x + f(x), norm)

    def decode(self, ids, enc, enc_mask=None, past=None):
        """ids [B, T]; past: list per layer of ((k, v) self, (k, v) cross) or None.
        Returns logits [B, T, Vt], new past, cross probabilities per layer."""
        cfg = self.cfg
        B, T = ids.shape
        past_len = 0 if past is None else past[0][0][0].size(2)
        x = self.embed("decoder", ids, past_len)
        fmin = torch.finfo(torch.float32).min
        causal = torch.full((T, past_len + T), fmin).triu(diagonal=past_len + 1)[None, None]
        cmask = None
        if enc_mask is not None:
            cmask = (1.0 - enc_mask[:, None, None, :].float()) * fmin
        new_past, crosses = [], []
        for l in range(cfg["decoder_layers"]):
            p = "decoder.layers.%d." % l
            sp = None if past is None else past[l][0]
            cp = None if past is None else past[l][1]
            keep = {}

            def self_attn(h):
                a, keep["skv"], _ = self.attention(p + "self_attn", h, h, causal, cfg["decoder_attention_heads"], past=sp)
                return a

            def cross_attn(h):
                a, keep["ckv"], probs = self.attention(p + "encoder_attn", h, enc, cmask, cfg["decoder_attention_heads"], cache_kv=cp)
                crosses.append(probs)
                return a

            x = self.sub(x, p + "self_attn_layer_norm", self_attn)
            x = self.sub(x, p + "encoder_attn_layer_norm", cross_attn)
            x = self.sub(x, p + "final_layer_norm", lambda h: self.lin(self.act(self.lin(h, p + "fc1")), p + "fc2"))
            new_past.append((keep["skv"], keep["ckv"]))
        if pre_ln(cfg):
            x = self.ln(x, "decoder.layer_norm")
        logits = F.linear(x, self.lm_head) + self.w["final_logits_bias"]
        return logits, new_past, crosses


# ---------------------------------------------------------------------------
# Golden files.

MODELS = {
    # name: (config, seed, source length, target length)
    "bart": (bart_config(), 1, 14, 12),
    "mbart": (mbart_config(d_model=64, encoder_layers=2, decoder_layers=2, encoder_ffn_dim=128,
                           decoder_ffn_dim=128, vocab_size=700, max_position_embeddings=64), 3, 11, 9),
    "marian": (marian_config(d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                             decoder_attention_heads=4, encoder_ffn_dim=256, decoder_ffn_dim=256,
                             max_position_embeddings=96, vocab_size=600, decoder_vocab_size=600,
                             pad_token_id=599, decoder_start_token_id=599), 2, 13, 10),
}


def golden_for(name, cfg, model, slen, tlen, out, **kw):
    """refcommon.golden_for, target ids below the decoder's vocabulary."""
    refcommon.golden_for(name, cfg, model, slen, tlen, out, tgt_vocab=dec_vocab(cfg), **kw)


def golden(root):
    d = os.path.join(root, "model", "bart", "testdata")
    out, meta = {}, {}
    for name, (cfg, seed, slen, tlen) in MODELS.items():
        w = random_weights(cfg, seed)
        golden_for(name, cfg, Seq2Seq(cfg, w), slen, tlen, out, meta=meta, seed=seed)
    # Checkpoints written here, in layouts loupe's Save does not produce.
    tb = bart_config(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                     decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                     max_position_embeddings=40, vocab_size=120, activation_function="gelu_new",
                     scale_embedding=True)
    w = random_weights(tb, 3)
    write_checkpoint(os.path.join(d, "tiny-bart"), tb, w, "F32",
                     extra=[("model.encoder.embed_tokens.weight", w["shared.weight"]),
                            ("model.decoder.embed_tokens.weight", w["shared.weight"]),
                            ("lm_head.weight", w["shared.weight"])])
    golden_for("tiny-bart", tb, Seq2Seq(tb, w), 9, 7, out, greedy_n=8)
    tm = marian_config(d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=4,
                       decoder_attention_heads=2, encoder_ffn_dim=48, decoder_ffn_dim=80,
                       max_position_embeddings=40, vocab_size=130, decoder_vocab_size=90,
                       share_encoder_decoder_embeddings=False, tie_word_embeddings=False,
                       activation_function="relu", pad_token_id=89, decoder_start_token_id=89)
    w = random_weights(tm, 4)
    # Stored F16: the reference computes with the rounded values.
    w = {k: v.half().float() for k, v in w.items()}
    for side in ("encoder", "decoder"):
        w[side + ".embed_positions.weight"] = sinusoidal(40, 32).half().float()
    write_checkpoint(os.path.join(d, "tiny-marian"), tm, w, "F16",
                     extra=[("model.%s.embed_positions.weight" % s, w[s + ".embed_positions.weight"])
                            for s in ("encoder", "decoder")])
    golden_for("tiny-marian", tm, Seq2Seq(tm, w), 9, 7, out, greedy_n=8)
    write_safetensors(os.path.join(d, "golden.safetensors"), sorted(out.items()), metadata=meta)


OPUS = marian_config()


def golden_large(d):
    os.makedirs(d, exist_ok=True)
    out, meta = {}, {}
    model = Seq2Seq(OPUS, random_weights(OPUS, 7))
    golden_for("opus", OPUS, model, 20, 10, out, greedy_n=32, cols=2048, meta=meta, seed=7)
    write_safetensors(os.path.join(d, "golden-large.safetensors"), sorted(out.items()), metadata=meta)


def bench(argv):
    refcommon.bench(argv, OPUS, lambda: Seq2Seq(OPUS, random_weights(OPUS, 7)))


def attentions(root):
    """refcommon.attentions of every model in MODELS, written to
    model/bart/testdata/attention.safetensors."""
    refcommon.attentions(os.path.join(root, "model", "bart", "testdata", "attention.safetensors"), MODELS,
                         lambda cfg, seed: Seq2Seq(cfg, random_weights(cfg, seed)), dec_vocab, "self_attn")


if __name__ == "__main__":
    refcommon.main(__doc__, golden, golden_large, attentions, bench)
