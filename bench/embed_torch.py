#!/usr/bin/python3
"""PyTorch anchor for bench/embed.sh: all-MiniLM-L6-v2-shaped BERT forward.

Same weights as loupe's BenchmarkMiniLMForward (splitmix64 weights from
model/bert/testdata/reference.py, vocab 30522), same token ids
((i*131 + j*17) % 30522 for sentence i, position j), batch 32 x 32 tokens,
float32, torch.inference_mode. Prints the best sentences/s over --reps runs
for the thread count given (set OMP_WAIT_POLICY=PASSIVE in the environment).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model", "bert", "testdata"))
import reference  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=32)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = reference.bert_config(30522, 384, 6, 12, 1536, 512)
    w = reference.make_weights(cfg, "", False)
    V = cfg["vocab_size"]
    ids = torch.tensor([[(i * 131 + j * 17) % V for j in range(a.seq)] for i in range(a.batch)])
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    best = float("inf")
    with torch.inference_mode():
        reference.bert_forward(cfg, w, "", ids, types, mask)  # warm-up
        for _ in range(a.reps):
            t = time.perf_counter()
            reference.bert_forward(cfg, w, "", ids, types, mask)
            best = min(best, time.perf_counter() - t)
    print(json.dumps({"threads": a.threads, "seconds_per_batch": best, "sentences_per_second": a.batch / best,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
