#!/usr/bin/python3
"""PyTorch reference for loupe's perplexity package: golden.json.

The model is model/gpt2/testdata/reference.py's plain-PyTorch GPT-2 (what
transformers' modeling_gpt2.py computes, float32) on the tiny checkpoint
model/gpt2/testdata/tiny (2 layers, 64 wide, vocab 100, 32 positions).

For each case (a prefix of IDS, max_length, stride) the windows are those of
transformers' guide "Perplexity of fixed-length models": begin = 0, stride,
2*stride, ...; end = min(begin + max_length, n); trg_len = end - prev_end;
labels before the last trg_len positions are -100; the logits are shifted
against the labels (a window's first token is never a target); the loop
stops at the first window that reaches n. Each target's negative
log-likelihood is the cross entropy of its float32 logits computed in
float64, summed over all targets of all windows and divided by their number
("nll": exact per token). "guide_nll" is the guide's own accumulation
(window mean loss times the number of labels minus one), for comparison.

Regenerate from the repository root with Debian's python3-torch:

    /usr/bin/python3 perplexity/testdata/ppl_ref.py > perplexity/testdata/golden.json
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "model", "gpt2", "testdata"))
import reference  # noqa: E402


def stream(n, vocab, seed=12345):
    """n token ids from a 64-bit LCG (Knuth's MMIX constants), top bits mod vocab."""
    ids, x = [], seed
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        ids.append((x >> 33) % vocab)
    return ids


def perplexity(model, ids, max_length, stride):
    n = len(ids)
    nll_sum, count, windows = 0.0, 0, 0
    guide_sum, guide_count = 0.0, 0
    prev_end = 0
    for begin in range(0, n, stride):
        end = min(begin + max_length, n)
        trg_len = end - prev_end
        window = torch.tensor([ids[begin:end]], dtype=torch.long)
        labels = window.clone()
        labels[:, :-trg_len] = -100
        windows += 1
        with torch.inference_mode():
            logits, _ = model.forward(window)
        shift_logits = logits[0, :-1].double()
        shift_labels = labels[0, 1:]
        valid = int((shift_labels != -100).sum())
        if valid > 0:
            s = F.cross_entropy(shift_logits, shift_labels, ignore_index=-100, reduction="sum").item()
            nll_sum += s
            count += valid
            # The guide: mean loss of the window times (labels - batch size).
            num_loss = int((labels != -100).sum()) - 1
            guide_sum += s / valid * num_loss
            guide_count += num_loss
        prev_end = end
        if end == n:
            break
    nll = nll_sum / count
    return {"nll": nll, "perplexity": math.exp(nll), "tokens": count, "windows": windows,
            "guide_nll": guide_sum / guide_count}


def main():
    cfg, w = reference.load_checkpoint(os.path.join(ROOT, "model", "gpt2", "testdata", "tiny"))
    model = reference.GPT2(cfg, w)
    ids = stream(100, cfg["vocab_size"])
    cases = []
    for n, max_length, stride in [
        (100, 32, 32),  # disjoint windows, a last partial one of 4 tokens
        (100, 32, 16),  # the guide's half overlap
        (100, 32, 10),  # overlap, last window 30 tokens with 2 targets
        (100, 20, 7),
        (100, 32, 1),   # one target per window
        (97, 32, 32),   # last window of one token: nothing scored there
        (25, 32, 16),   # one window shorter than max_length
        (2, 32, 32),    # the shortest stream
    ]:
        r = perplexity(model, ids[:n], max_length, stride)
        r.update({"n": n, "max_length": max_length, "stride": stride})
        cases.append(r)
    json.dump({"model": "model/gpt2/testdata/tiny", "ids": ids, "cases": cases}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
