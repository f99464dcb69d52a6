#!/usr/bin/python3
"""PyTorch side of the 4-beam row of bench/seq2seq.sh (BEAMS=4).

Beam search over the random opus-mt-en-de-shaped Marian model of
model/bart/testdata/reference.py (--model marian) or the t5-small-shaped
model of model/t5/testdata/reference.py (--model t5), the same weights as
bench/seq2seqspeed builds, eager, under torch.no_grad. It follows
transformers' GenerationMixin._beam_search (the vectorised one;
generate/testdata/beam_reference.py writes out its rules) for the settings
the benchmark uses: the encoder runs once on the source and its output is
repeated for every beam (_expand_inputs_for_generation); beam 0 starts
with score 0 and the others with -1e9; each step feeds the running beams'
last token with the past key/values, takes log_softmax of the float32
logits, bans the EOS (min_new_tokens = max_new_tokens: MinNewTokensLength
processor), adds the running scores, keeps the top 2·N of the N·V
continuations (torch.topk; beam = index // V, token = index % V), the N
best that did not finish run on, and the past key/values (self- and
cross-attention) are reordered with index_select on the batch dimension
as _reorder_cache / Cache.reorder_cache do. With the EOS banned every
sequence ends at max_new_tokens, all of the same length, so the finished
list is the top N of the last step's candidates scored
sum / new_tokens ** length_penalty (length_penalty 1, early_stopping
False: transformers' defaults). It prints JSON like reference.py bench:
decode_tok_s counts the best sequence's new tokens per second of the
search (the encoder excluded), "greedy_ids" holds the best sequence.

    /usr/bin/python3 bench/seq2seq_beam.py --model t5 --beams 4 --threads 1

--check N instead compares this cached search, N new tokens, with
generate/testdata/beam_reference.py's beam_search (the uncached one the
golden tests of loupe's beam search are made from) and exits 1 when the
best sequence or its score differ.
"""

import argparse
import importlib.util
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def module(pkg):
    path = os.path.join(ROOT, "model", pkg, "testdata", "reference.py")
    spec = importlib.util.spec_from_file_location(pkg + "_reference", path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def build(name):
    """Returns the model, its configuration and its source ids."""
    if name == "marian":
        r = module("bart")
        cfg = r.OPUS
        return r.Seq2Seq(cfg, r.random_weights(cfg, 7)), cfg, cfg["decoder_start_token_id"], cfg["eos_token_id"], \
            torch.tensor([r.ids_for(SRC_LEN, cfg["vocab_size"], 1)])
    if name == "t5":
        r = module("t5")
        cfg, seed = r.LARGE["t5-small"]
        return r.T5(cfg, r.random_weights(cfg, seed)), cfg, cfg["decoder_start_token_id"], cfg["eos_token_id"], \
            torch.tensor([r.ids_for(SRC_LEN, cfg["vocab_size"], 1)])
    sys.exit("--model %r: want marian or t5" % name)


def reorder(past, idx):
    """transformers' _reorder_cache: every cached key and value, self- and
    cross-attention, index_select-ed on the batch dimension."""
    return [tuple(tuple(t.index_select(0, idx) for t in kv) for kv in layer) for layer in past]


def beam_search(model, enc, start, eos, num_beams, new_tokens, length_penalty=1.0):
    """Returns the best sequence's ids and score."""
    enc = enc.repeat_interleave(num_beams, dim=0)
    scores = torch.full((num_beams,), -1e9)
    scores[0] = 0.0
    seqs = torch.full((num_beams, 1), start, dtype=torch.long)
    past = None
    k = max(2, 1 + 1) * num_beams
    for step in range(new_tokens):
        logits, past, _ = model.decode(seqs[:, -1:], enc, past=past)
        logp = F.log_softmax(logits[:, -1, :].float(), dim=-1)
        logp[:, eos] = -float("inf")  # min_new_tokens: EOS banned until the end
        vocab = logp.size(-1)
        cand = (logp + scores[:, None]).view(-1)
        top, idx = torch.topk(cand, k)
        beam, tok = idx // vocab, idx % vocab
        # None of the candidates is an EOS; all reach max_length at the last
        # step, when the first num_beams become the finished list.
        top, beam, tok = top[:num_beams], beam[:num_beams], tok[:num_beams]
        seqs = torch.cat([seqs.index_select(0, beam), tok[:, None]], dim=1)
        scores = top
        past = reorder(past, beam)
    final = scores / (new_tokens ** length_penalty)
    best = int(torch.argmax(final))
    return seqs[best, 1:].tolist(), float(final[best])


class Bound:
    """The decoder bound to one encoded source, uncached, as beam_reference's
    models are (seq2seq/testdata/reference.py's Bound)."""

    def __init__(self, model, enc, vocab):
        self.model, self.enc, self.cfg = model, enc, {"vocab_size": vocab}

    def forward(self, ids):
        logits, _, _ = self.model.decode(ids, self.enc.expand(ids.size(0), -1, -1))
        return logits, None


def check(model, cfg, start, eos, src, num_beams, n):
    sys.path.insert(0, os.path.join(ROOT, "generate", "testdata"))
    import beam_reference
    with torch.no_grad():
        enc = model.encode(src)
        ids, score = beam_search(model, enc, start, eos, num_beams, n)
        vocab = cfg.get("decoder_vocab_size") or cfg["vocab_size"]
        seqs, scores = beam_reference.beam_search(Bound(model, enc, vocab), [start], num_beams, n, [eos],
                                                  min_new_tokens=n)
    want, wscore = seqs[0][1:] if seqs[0][0] == start else seqs[0], float(scores[0])
    ok = ids == want and abs(score - wscore) < 1e-5
    print("cached: %s %.6f\nbeam_reference: %s %.6f\n%s" % (ids, score, want, wscore, "agree" if ok else "DIFFER"))
    return 0 if ok else 1


def main():
    global SRC_LEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="marian")
    ap.add_argument("--beams", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--src-len", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--check", type=int, default=0, metavar="N",
                    help="compare with beam_reference.py's search over N new tokens, then exit")
    a = ap.parse_args()
    SRC_LEN = a.src_len
    torch.set_num_threads(a.threads)
    model, cfg, start, eos, src = build(a.model)
    if a.check:
        sys.exit(check(model, cfg, start, eos, src, a.beams, a.check))
    best, best_enc, ids, score = 0.0, 0.0, None, None
    with torch.no_grad():
        for _ in range(a.reps):
            t0 = time.perf_counter()
            enc = model.encode(src)
            t1 = time.perf_counter()
            ids, score = beam_search(model, enc, start, eos, a.beams, a.new_tokens)
            t2 = time.perf_counter()
            best = max(best, a.new_tokens / (t2 - t1))
            best_enc = max(best_enc, a.src_len / (t1 - t0))
    print(json.dumps({"model": a.model, "threads": a.threads, "beams": a.beams, "decode_tok_s": best,
                      "encode_tok_s": best_enc, "greedy_ids": ids, "best_score": score}))


SRC_LEN = 64

if __name__ == "__main__":
    main()
