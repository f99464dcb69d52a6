#!/usr/bin/python3
"""PyTorch reference for loupe's encoder-decoder generation (package seq2seq).

transformers' generate() for an encoder-decoder (BART, Marian), in plain
PyTorch (transformers itself is not needed), for one source:

  - the source is encoded once (model/bart/testdata/reference.py's Seq2Seq,
    the network as modeling_bart.py / modeling_marian.py compute it); the
    decoder's input_ids start as [decoder_start_token_id], and max_length
    counts that token (max_new_tokens = max_length - 1);
  - greedy decoding and beam search are generate/testdata/beam_reference.py's
    (transformers' _sample without do_sample, and the vectorised
    _beam_search), run on the decoder's last logits over the full target
    each step (no cache), the encoder output repeated for every beam;
  - the logits processors in _get_logits_processor's order: repetition
    penalty, no-repeat n-gram, NoBadWordsLogitsProcessor (bad_words_ids,
    without the one-token sequences that are an EOS id: a one-token word is
    banned at every step, a longer one bans its last token when the ids end
    with the rest), min_length, ForcedBOSTokenLogitsProcessor (when the ids
    hold one token, every score but forced_bos_token_id's is -inf and its
    is 0), ForcedEOSTokenLogitsProcessor (when the ids hold max_length - 1
    tokens, every score but the forced EOS ids' is -inf and theirs 0); in
    beam search they run on the log-softmax, in greedy decoding on the raw
    logits.

The models are the tiny checkpoints of model/bart/testdata (tiny-bart,
tiny-marian) and model/t5/testdata (tiny-t5, BF16; model/t5/testdata/reference.py's
network), read from their model.safetensors; the settings of each case
are those of config.json (transformers' GenerationConfig.from_model_config:
decoder_start_token_id, forced_bos_token_id, forced_eos_token_id,
eos_token_id) with the case's overrides.

Regenerate from the repository root:

    /usr/bin/python3 seq2seq/testdata/reference.py > seq2seq/testdata/golden.json
"""

import importlib.util
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, *path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bartref = load_module("bartref", ("model", "bart", "testdata", "reference.py"))
t5ref = load_module("t5ref", ("model", "t5", "testdata", "reference.py"))
sys.path.insert(0, os.path.join(ROOT, "generate", "testdata"))
import beam_reference  # noqa: E402


def read_safetensors(path):
    """name -> float32 tensor (F32 and F16 files)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        if t["dtype"] == "BF16":
            arr = (np.frombuffer(data[a:b], dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            dt = {"F32": np.float32, "F16": np.float16}[t["dtype"]]
            arr = np.frombuffer(data[a:b], dtype=dt).astype(np.float32)
        arr = arr.reshape(t["shape"])
        key = name[len("model."):] if name.startswith("model.") else name
        out[key] = torch.from_numpy(arr.copy())
    return out


def load(name):
    if name == "tiny-t5":
        d = os.path.join(ROOT, "model", "t5", "testdata", name)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        return cfg, t5ref.T5(cfg, read_safetensors(os.path.join(d, "model.safetensors")))
    d = os.path.join(ROOT, "model", "bart", "testdata", name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = read_safetensors(os.path.join(d, "model.safetensors"))
    if "final_logits_bias" not in w:
        w["final_logits_bias"] = torch.zeros(1, bartref.dec_vocab(cfg))
    return cfg, bartref.Seq2Seq(cfg, w)


def dec_vocab(cfg):
    return cfg["vocab_size"] if cfg["model_type"] == "t5" else bartref.dec_vocab(cfg)


class Bound:
    """The decoder bound to one encoded source: forward(ids [B, T]) as
    beam_reference's models have it."""

    def __init__(self, cfg, model, src):
        self.model = model
        self.enc = model.encode(torch.tensor([src]))
        self.cfg = {"vocab_size": dec_vocab(cfg)}

    def forward(self, ids):
        enc = self.enc.expand(ids.size(0), -1, -1)
        logits, _, _ = self.model.decode(ids, enc)
        return logits, None


def bad_words_stage(words, eos):
    words = [w for w in words if not (len(w) == 1 and w[0] in eos)]

    def stage(ids, scores):
        scores = scores.clone()
        for w in words:
            if len(w) == 1 or (len(ids) >= len(w) - 1 and ids[len(ids) - len(w) + 1:] == w[:-1]):
                scores[w[-1]] = float("-inf")
        return scores
    return stage


def forced_stage(bos, eos_ids, max_length):
    def stage(ids, scores):
        if bos is not None and len(ids) == 1:
            scores = torch.full_like(scores, float("-inf"))
            scores[bos] = 0
        if eos_ids and len(ids) == max_length - 1:
            scores = torch.full_like(scores, float("-inf"))
            for e in eos_ids:
                scores[e] = 0
        return scores
    return stage


# name, model, source ids, settings (generation_config.json names; the
# rest from config.json).
CASES = [
    ("bart/greedy", "tiny-bart", [0, 17, 42, 99, 5, 63, 2], dict(max_length=12)),
    ("bart/greedy_no_forced", "tiny-bart", [0, 17, 42, 99, 5, 63, 2],
     dict(max_length=10, forced_bos_token_id=None, forced_eos_token_id=None)),
    ("bart/greedy_rep", "tiny-bart", [0, 17, 42, 99, 5, 63, 2], dict(max_length=12, repetition_penalty=3.0)),
    ("bart/greedy_bad_words", "tiny-bart", [0, 17, 42, 99, 5, 63, 2],
     dict(max_length=12, repetition_penalty=3.0, bad_words_ids="picked")),
    ("bart/beam4", "tiny-bart", [0, 17, 42, 99, 5, 63, 2],
     dict(max_length=14, num_beams=4, length_penalty=2.0, no_repeat_ngram_size=2, num_return_sequences=4)),
    ("bart/beam4_min", "tiny-bart", [0, 8, 9, 10, 2],
     dict(max_length=12, num_beams=4, length_penalty=0.5, min_length=6, num_return_sequences=2)),
    ("bart/beam4_rep", "tiny-bart", [0, 30, 31, 32, 33, 2],
     dict(max_length=12, num_beams=4, length_penalty=2.0, repetition_penalty=2.0, no_repeat_ngram_size=2,
          num_return_sequences=3)),
    ("t5/greedy", "tiny-t5", [5, 17, 42, 99, 63, 1], dict(max_length=12)),
    ("t5/greedy_rep_bad", "tiny-t5", [5, 17, 42, 99, 63, 1],
     dict(max_length=12, repetition_penalty=2.0, bad_words_ids="picked")),
    ("t5/beam4", "tiny-t5", [5, 17, 42, 99, 63, 1],
     dict(max_length=12, num_beams=4, length_penalty=1.5, no_repeat_ngram_size=2, num_return_sequences=3)),
    ("t5/beam4_forced", "tiny-t5", [30, 31, 32, 1],
     dict(max_length=10, num_beams=4, forced_bos_token_id=9, forced_eos_token_id=1, num_return_sequences=2)),
    ("marian/greedy", "tiny-marian", [12, 77, 5, 101, 0], dict(max_length=12)),
    ("marian/greedy_rep_bad", "tiny-marian", [12, 77, 5, 101, 0],
     dict(max_length=12, repetition_penalty=2.0, bad_words_ids="picked")),
    ("marian/greedy_bad_pad", "tiny-marian", [12, 77, 5, 101, 0], dict(max_length=12, bad_words_ids=[[89]])),
    ("marian/beam4", "tiny-marian", [12, 77, 5, 101, 0],
     dict(max_length=14, num_beams=4, length_penalty=1.0, no_repeat_ngram_size=3, bad_words_ids=[[89]],
          num_return_sequences=3)),
    ("marian/beam4_forced_bos", "tiny-marian", [3, 4, 50, 0],
     dict(max_length=10, num_beams=4, length_penalty=2.0, forced_bos_token_id=7, no_repeat_ngram_size=2,
          num_return_sequences=2)),
]


def run(cfg, model, src, s):
    s = dict(s)
    start = cfg["decoder_start_token_id"]
    eos = [cfg["eos_token_id"]]
    bos = s.get("forced_bos_token_id", cfg.get("forced_bos_token_id"))
    feos = s.get("forced_eos_token_id", cfg.get("forced_eos_token_id"))
    feos = [] if feos is None else [feos]
    max_length = s["max_length"]
    bound = Bound(cfg, model, src)
    bad = None
    if s.get("bad_words_ids"):
        bad = bad_words_stage(s["bad_words_ids"], eos)
    forced = forced_stage(bos, feos, max_length)
    beams = s.get("num_beams", 1)
    kw = dict(eos=eos, ngram=s.get("no_repeat_ngram_size", 0), min_length=s.get("min_length", 0),
              rep_penalty=s.get("repetition_penalty", 1.0),
              bad=bad, forced=forced)
    if beams == 1:
        ids, lps = beam_reference.greedy(bound, [start], max_length - 1, **kw)
        return {"ids": ids}
    seqs, scores = beam_reference.beam_search(bound, [start], beams, max_length - 1,
                                              length_penalty=s.get("length_penalty", 1.0),
                                              num_return_sequences=s.get("num_return_sequences", 1), **kw)
    return {"sequences": seqs, "sequences_scores": scores}


def main():
    torch.set_grad_enabled(False)
    out = []
    models = {}
    for name, mname, src, s in CASES:
        if mname not in models:
            models[mname] = load(mname)
        cfg, model = models[mname]
        s = dict(s)
        if s.get("bad_words_ids") == "picked":
            # Ban a one-token word and a two-token word the unbanned run
            # takes (its third token, and its fifth after its fourth).
            ids = run(cfg, model, src, {k: v for k, v in s.items() if k != "bad_words_ids"})["ids"]
            s["bad_words_ids"] = [[ids[2]], [ids[3], ids[4]]]
        res = run(cfg, model, src, s)
        out.append({"name": name, "model": mname, "source": src, "settings": s, **res})
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
