"""What the PyTorch reference scripts of model/gpt2, model/bart and model/t5 share.

Each script (MODEL/testdata/reference.py) writes its model out as transformers
computes it; this module holds their plumbing, not their networks:

  - the deterministic weights: a splitmix64 stream seeded from the FNV-1a hash
    of a tensor's name xor a seed (hfckpt.Uniform in Go), so that the Go tests
    rebuild the same models without checkpoint files;
  - write_safetensors, a safetensors writer (F32, F16, BF16; atomic);
  - for the encoder-decoder references (bart, t5), whose model classes share
    one interface (cfg, encode, decode, keep): the deterministic token ids,
    greedy decoding with margins, the golden values of one model
    (golden_for), the self-attention golden file (attentions) and the greedy
    decoding benchmark (bench), and their command line (main).

The scripts import it with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "..", "internal", "goldentest"))
"""

import json
import os
import struct
import sys
import time

import numpy as np
import torch

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def uniform01(seed, n):
    """n float64 values in [0, 1): the top 24 bits of splitmix64(seed + i*GAMMA), i = 1..n."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float64) * (2.0 ** -24)


def centred(name, shape, seed):
    """The n = prod(shape) values in [-1/2, 1/2) of tensor `name`'s stream;
    each reference scales and shifts them per kind of tensor."""
    n = int(np.prod(shape))
    return uniform01((fnv1a64(name) ^ seed) & MASK64, n) - 0.5


def write_safetensors(path, tensors, dtype="F32", metadata=None):
    """tensors: list of (name, float32 torch tensor), written as dtype (F32,
    F16 or BF16) with metadata (and format "pt"), atomically."""
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
# Encoder-decoder references: a model has cfg, encode(src, mask=None),
# decode(tgt, enc, enc_mask=None, past=None) -> (logits, past, crosses) and
# keep (a list that, when set, collects (module path, attention
# probabilities)).

def ids_for(n, vocab, salt):
    """Deterministic token ids (no special-token meaning)."""
    return [(i * 7919 + salt * 104729 + 3) % (vocab - 3) + 3 for i in range(n)]


def greedy(model, src, n):
    """Greedy ids (n tokens after decoder_start_token_id, EOS ignored) and
    each step's margin between the best and second-best logit."""
    enc = model.encode(src)
    tok = torch.tensor([[model.cfg["decoder_start_token_id"]]])
    past, ids, margins = None, [], []
    for _ in range(n):
        logits, past, _ = model.decode(tok, enc, past=past)
        top = torch.topk(logits[0, -1], 2)
        ids.append(int(top.indices[0]))
        margins.append(float(top.values[0] - top.values[1]))
        tok = top.indices[:1].view(1, 1)
    return ids, margins


def golden_for(name, cfg, model, slen, tlen, out, tgt_vocab=None, greedy_n=32, cols=None, meta=None, seed=None):
    """Puts in out the golden values of model `name` (see goldentest.CheckModel
    and CheckPadded): ids, teacher-forced logits (the first cols columns),
    argmax, the last layer's cross-attention, greedy ids with margins and,
    without cols, a right-padded batch. Target ids are below tgt_vocab
    (default vocab_size); meta gets the config and seed."""
    if meta is not None:
        meta[name + ".config"] = json.dumps(cfg)
        meta[name + ".seed"] = str(seed)
    V = cfg["vocab_size"]
    Vt = V if tgt_vocab is None else tgt_vocab
    src = ids_for(slen, V, 1)
    tgt = [cfg["decoder_start_token_id"]] + ids_for(tlen - 1, Vt, 2)
    with torch.no_grad():
        enc = model.encode(torch.tensor([src]))
        logits, _, crosses = model.decode(torch.tensor([tgt]), enc)
        lg = logits[0] if cols is None else logits[0, :, :cols]
        out[name + ".src"] = torch.tensor(src, dtype=torch.float32)
        out[name + ".tgt"] = torch.tensor(tgt, dtype=torch.float32)
        out[name + ".logits"] = lg.contiguous()
        out[name + ".argmax"] = logits[0].argmax(-1).float()
        out[name + ".cross_last"] = crosses[-1][0].contiguous()  # [nh, T, S] of the last layer
        ids, margins = greedy(model, torch.tensor([src]), greedy_n)
        out[name + ".greedy"] = torch.tensor(ids, dtype=torch.float32)
        out[name + ".margins"] = torch.tensor(margins, dtype=torch.float32)
        if cols is not None:
            return
        # A right-padded batch with attention masks: source lengths slen and
        # slen-5, targets of length tlen.
        s2 = ids_for(slen - 5, V, 3)
        pad = cfg["pad_token_id"]
        srcs = torch.tensor([src, s2 + [pad] * 5])
        mask = torch.tensor([[1] * slen, [1] * (slen - 5) + [0] * 5])
        t2 = [cfg["decoder_start_token_id"]] + ids_for(tlen - 1, Vt, 4)
        enc = model.encode(srcs, mask)
        logits, _, _ = model.decode(torch.tensor([tgt, t2]), enc, enc_mask=mask)
        out[name + ".padded.src1"] = torch.tensor(s2, dtype=torch.float32)
        out[name + ".padded.tgt1"] = torch.tensor(t2, dtype=torch.float32)
        out[name + ".padded.logits"] = logits.contiguous()


def attentions(path, models, build, tgt_vocab, self_attn):
    """Encoder and decoder self-attention probabilities (what transformers
    returns with output_attentions=True as encoder_attentions and
    decoder_attentions) of a teacher-forced pass of every model in models
    (name: (config, seed, source length, target length); build(cfg, seed)
    makes one, tgt_vocab(cfg) bounds its target ids, self_attn is in the
    module path of its self-attentions), written to path: NAME.src,
    NAME.tgt, NAME.enc_self [L_enc, heads, S, S] and NAME.dec_self [L_dec,
    heads, T, T] (causal: zero above the diagonal), with each model's config
    and seed."""
    out, meta = {}, {}
    for name, (cfg, seed, slen, tlen) in models.items():
        meta[name + ".config"] = json.dumps(cfg)
        meta[name + ".seed"] = str(seed)
        model = build(cfg, seed)
        V = cfg["vocab_size"]
        src = ids_for(slen, V, 1)
        tgt = [cfg["decoder_start_token_id"]] + ids_for(tlen - 1, tgt_vocab(cfg), 2)
        model.keep = []
        with torch.no_grad():
            enc = model.encode(torch.tensor([src]))
            model.decode(torch.tensor([tgt]), enc)
        enc_self = [a[0] for p, a in model.keep if p.startswith("encoder.") and self_attn in p]
        dec_self = [a[0] for p, a in model.keep if p.startswith("decoder.") and self_attn in p]
        out[name + ".src"] = torch.tensor(src, dtype=torch.float32)
        out[name + ".tgt"] = torch.tensor(tgt, dtype=torch.float32)
        out[name + ".enc_self"] = torch.stack(enc_self).contiguous()
        out[name + ".dec_self"] = torch.stack(dec_self).contiguous()
    write_safetensors(path, sorted(out.items()), metadata=meta)


def bench(argv, cfg, build):
    """The greedy decoding benchmark of bench/seq2seq.sh: --threads, --src-len,
    --new-tokens and --reps in argv; the model is build() at config cfg.
    Prints the best decoding and encoding speeds (tokens/s) and the greedy
    ids as JSON."""
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--src-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model = build()
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


def main(doc, golden, golden_large, attentions, bench):
    """The command line of an encoder-decoder reference: golden (golden(root)),
    golden-large DIR, attention (attentions(root)) or bench ARGS; else doc.
    root is the repository's."""
    root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    if len(sys.argv) >= 2 and sys.argv[1] == "golden":
        golden(root)
    elif len(sys.argv) >= 3 and sys.argv[1] == "golden-large":
        golden_large(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "attention":
        attentions(root)
    elif len(sys.argv) >= 2 and sys.argv[1] == "bench":
        bench(sys.argv[2:])
    else:
        sys.exit(doc)
